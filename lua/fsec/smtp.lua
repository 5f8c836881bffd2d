--- A small SMTP client (RFC 5321) on LuaSocket, with LuaSec for TLS:
-- implicit TLS (mail_use_ssl, port 465) or STARTTLS (mail_use_tls,
-- RFC 3207), AUTH PLAIN (RFC 4616) only over TLS, the certificate
-- checked against mail_tls_ca_file (or the system's) and the server's
-- name. It blocks: fsec runs it from `fsec mail drain`, sec:drain_mail()
-- or, under nginx, in a worker thread (fsec.outbox), never in an event loop.
-- @module fsec.smtp

local socket = require "socket"

local concat, format = table.concat, string.format

local _M = { _VERSION = "0.1.0" }

local SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"

local Session = {}
Session.__index = Session

-- One reply (multi-line ones joined): code, text, or nil and why.
local function reply(self)
  local lines = {}
  for _ = 1, 100 do
    local line, err = self.sock:receive("*l")
    if not line then return nil, "connection: " .. tostring(err) end
    local code, sep = line:match("^(%d%d%d)([ -]?)")
    if not code then return nil, "not an SMTP reply: " .. line:sub(1, 200) end
    lines[#lines + 1] = line:sub(5)
    if sep ~= "-" then return tonumber(code), concat(lines, "\n") end
  end
  return nil, "an SMTP reply of over 100 lines"
end

-- Send a command, read its reply; ok when the code is in want (a
-- pattern of codes). Fails as nil, message, permanent (a 5xx).
local function command(self, line, want)
  if line then
    local ok, err = self.sock:send(line .. "\r\n")
    if not ok then return nil, "connection: " .. tostring(err) end
  end
  local code, text = reply(self)
  if not code then return nil, text end
  if not tostring(code):find(want) then
    -- never echo the command: AUTH's carries the password
    local verb = line and line:match("^%u+") or "greeting"
    return nil, format("%s: %d %s", verb, code, text:sub(1, 300)), code >= 500
  end
  return code, text
end

-- A name a certificate's dNSName matches: exact, or "*." + one label.
local function name_matches(pattern, host)
  pattern, host = pattern:lower(), host:lower()
  if pattern == host then return true end
  local rest = pattern:match("^%*%.(.+)$")
  return rest ~= nil and host:match("^[^.]+%.(.+)$") == rest
end

-- The server's certificate names host (RFC 6125): its subjectAltName
-- entries (dNSName, iPAddress); the common name only when it has none.
local function check_name(conn, host)
  local cert = conn:getpeercertificate()
  if not cert then return nil, "the server sent no certificate" end
  local ext = cert:extensions() or {}
  local san = ext["2.5.29.17"]
  if san then
    for _, n in ipairs(san.dNSName or {}) do
      if name_matches(n, host) then return true end
    end
    for _, ip in ipairs(san.iPAddress or {}) do
      if ip == host then return true end
    end
    return nil, "the server's certificate does not name " .. host
  end
  for _, e in ipairs(cert:subject()) do
    if e.name == "commonName" and name_matches(e.value, host) then return true end
  end
  return nil, "the server's certificate does not name " .. host
end

local function start_tls(self, cfg)
  local ssl = require "ssl"
  local verify = cfg.mail_tls_verify ~= false
  local conn, err = ssl.wrap(self.sock, {
    mode = "client", protocol = "any",
    options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
    verify = verify and { "peer", "fail_if_no_peer_cert" } or "none",
    cafile = verify and (cfg.mail_tls_ca_file or SYSTEM_CA) or nil,
  })
  if not conn then return nil, "TLS: " .. tostring(err) end
  conn:sni(cfg.mail_server)
  conn:settimeout(cfg.mail_timeout or 10)
  local ok
  ok, err = conn:dohandshake()
  if not ok then return nil, "TLS handshake: " .. tostring(err) end
  if verify then
    ok, err = check_name(conn, cfg.mail_server)
    if not ok then return nil, "TLS: " .. err end
  end
  self.sock, self.tls = conn, true
  return true
end

local function ehlo(self)
  local code, text, perm = command(self, "EHLO " .. self.helo, "^250$")
  if not code then return nil, text, perm end
  self.ext = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    local word, rest = line:match("^(%S+)%s*(.*)$")
    if word then self.ext[word:upper()] = rest:upper() end
  end
  return true
end

local function auth(self, cfg)
  if not self.tls then
    -- the password would cross the network in the clear
    return nil, "mail_username needs mail_use_tls or mail_use_ssl (AUTH only over TLS)", false
  end
  local mime = require "fsec.mime"
  local token = mime.base64("\0" .. cfg.mail_username .. "\0" .. (cfg.mail_password or ""))
  return command(self, "AUTH PLAIN " .. token, "^235$")
end

--- Open a session: connect, greet, TLS, log in. cfg holds fsec's mail_*
-- keys. Returns a session or nil, why.
function _M.open(cfg)
  local self = setmetatable({ helo = cfg.mail_helo_name or "localhost" }, Session)
  local sock = socket.tcp()
  sock:settimeout(cfg.mail_timeout or 10)
  local ok, err = sock:connect(cfg.mail_server, cfg.mail_port or 25)
  if not ok then
    sock:close()
    return nil, format("connect to %s:%s: %s", cfg.mail_server, tostring(cfg.mail_port or 25), tostring(err))
  end
  self.sock = sock
  local steps = {
    function()
      if not cfg.mail_use_ssl then return true end
      return start_tls(self, cfg)
    end,
    function() return command(self, nil, "^220$") end,
    function() return ehlo(self) end,
    function()
      if not cfg.mail_use_tls or cfg.mail_use_ssl then return true end
      if not self.ext.STARTTLS then return nil, "the server offers no STARTTLS (mail_use_tls)" end
      local code, text = command(self, "STARTTLS", "^220$")
      if not code then return nil, text end
      local done, e = start_tls(self, cfg)
      if not done then return nil, e end
      return ehlo(self)
    end,
    function()
      if not cfg.mail_username then return true end
      return auth(self, cfg)
    end,
  }
  for _, step in ipairs(steps) do
    local r, e = step()
    if not r then
      self:close()
      return nil, e
    end
  end
  return self
end

-- DATA's transparency (RFC 5321 4.5.2): a line starting "." gets another.
local function dot_stuff(data)
  data = data:gsub("\r?\n", "\r\n")
  if data:sub(-2) ~= "\r\n" then data = data .. "\r\n" end
  return (data:gsub("^%.", ".."):gsub("\r\n%.", "\r\n.."))
end

--- Send one message: true after the server's 250 to the end of DATA, or
-- nil, why, permanent (a 5xx to RCPT, DATA or the data: sending this
-- message again would fail the same way).
function Session:send(from, to, data)
  if from:find("[%c<>]") or to:find("[%c<>]") then return nil, "bad envelope address", true end
  local utf8 = (from .. to):find("[\128-\255]") and self.ext.SMTPUTF8 and " SMTPUTF8" or ""
  local steps = {
    { "MAIL FROM:<" .. from .. ">" .. utf8, "^250$" },
    { "RCPT TO:<" .. to .. ">", "^25[01]$" },
    { "DATA", "^354$" },
  }
  for i, s in ipairs(steps) do
    local code, err, perm = command(self, s[1], s[2])
    if not code then
      self:reset()
      -- a 5xx to MAIL FROM (530 authentication required, 550 sender
      -- refused) is the session's or the configuration's, not this
      -- message's: retried, so a wrong setting never gives up the queue
      return nil, err, perm and i > 1
    end
  end
  local ok, err = self.sock:send(dot_stuff(data) .. ".\r\n")
  if not ok then return nil, "connection: " .. tostring(err) end
  local code, text, perm = command(self, nil, "^250$")
  if not code then return nil, "DATA: " .. tostring(text), perm end
  return true
end

-- After a refused MAIL or RCPT the session may go on: RSET.
function Session:reset()
  if self.sock then command(self, "RSET", "^250$") end
end

function Session:close()
  if self.sock then
    pcall(command, self, "QUIT", "^221$")
    self.sock:close()
    self.sock = nil
  end
end

return _M
