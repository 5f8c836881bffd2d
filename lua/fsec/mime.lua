--- MIME messages (RFC 5322, 2045-2047): what fsec's SMTP sender puts in
-- DATA. A message is { to, from, subject, text, html, kind }: text and
-- html are UTF-8 bodies (either may be nil, not both), quoted-printable
-- encoded; with both, multipart/alternative. Headers carry Date,
-- Message-ID (stable: made once, when the message is queued, so that a
-- receiver can drop a copy sent again) and MIME-Version; non-ASCII
-- header text is RFC 2047 encoded. A CR, LF or other control character
-- in any header value is refused: no header can be injected.
-- @module fsec.mime

local core = require "fsec.core"

local byte, format, concat = string.byte, string.format, table.concat
local floor = math.floor

local _M = { _VERSION = "0.1.0" }

local CRLF = "\r\n"

-- Day and month names of RFC 5322 (never the C library's locale's).
local DAYS = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" }
local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }

--- RFC 5322 date of a Unix time, in UTC.
function _M.date(t)
  local d = os.date("!*t", floor(t))
  return format("%s, %02d %s %04d %02d:%02d:%02d +0000", DAYS[d.wday], d.day, MONTHS[d.month], d.year,
                d.hour, d.min, d.sec)
end

-- No control character (CR, LF, NUL, DEL, ...) in a header value.
local function clean(v, what)
  if type(v) ~= "string" then return nil, what .. " must be a string" end
  if v:find("[%z\1-\31\127]") then return nil, what .. " contains a control character (CR, LF, ...)" end
  return v
end
_M.clean = clean

-- Standard base64 (padding kept) of short header text.
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = floor(n / 262144) % 64, floor(n / 4096) % 64
    local c3, c4 = floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1)
      .. (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
  end
  return concat(out)
end
local base64 = b64
_M.base64 = b64

-- UTF-8 characters of s, whole (an encoded word never splits one).
local function chars(s)
  local out, i = {}, 1
  while i <= #s do
    local c = byte(s, i)
    local n = c < 0x80 and 1 or c < 0xE0 and 2 or c < 0xF0 and 3 or 4
    out[#out + 1] = s:sub(i, i + n - 1)
    i = i + n
  end
  return out
end

--- RFC 2047 encoded words ("=?UTF-8?B?...?=", each at most 75
-- characters) for text, folded with CRLF SP; text of printable ASCII
-- alone comes back folded at spaces, unencoded.
function _M.encode_header_text(text)
  if not text:find("[\128-\255]") and #text <= 900 then
    -- fold at spaces so that lines stay near 78 characters
    local lines, line = {}, ""
    for word in text:gmatch("%S+%s*") do
      if #line > 0 and #line + #word > 70 then
        lines[#lines + 1] = line:gsub("%s+$", "")
        line = ""
      end
      line = line .. word
    end
    lines[#lines + 1] = line
    if text:find("^%s") then lines[1] = " " .. lines[1] end
    return concat(lines, CRLF .. " ")
  end
  -- 36 bytes of UTF-8 make 48 base64 characters: 60 with the wrapper, so
  -- that a line with "Subject: " before it stays under 78 characters
  local words, cur = {}, ""
  for _, c in ipairs(chars(text)) do
    if #cur + #c > 36 then
      words[#words + 1] = "=?UTF-8?B?" .. base64(cur) .. "?="
      cur = ""
    end
    cur = cur .. c
  end
  if cur ~= "" or #words == 0 then words[#words + 1] = "=?UTF-8?B?" .. base64(cur) .. "?=" end
  return concat(words, CRLF .. " ")
end

--- An address "Name <addr>" or "addr": the address and the display
-- name (nil when none), or nil and why. The address has no space, angle bracket or
-- control character and one "@" with text either side.
function _M.parse_address(v)
  local ok, err = clean(v, "address")
  if not ok then return nil, err end
  local name, addr = v:match("^%s*(.-)%s*<([^<>]*)>%s*$")
  if not addr then name, addr = nil, v:match("^%s*(.-)%s*$") end
  if addr == "" or addr:find("[%s<>,;\"()\\]") or not addr:find("^[^@]+@[^@]+$") then
    return nil, "not an address: " .. v
  end
  if name == "" then name = nil end
  if name and name:find("^\".*\"$") then name = name:sub(2, -2) end
  return addr, name
end

-- A header's address: the name encoded (or quoted) when there is one.
local function address_header(name, addr)
  if not name then return addr end
  if name:find("[\128-\255]") then return _M.encode_header_text(name) .. " <" .. addr .. ">" end
  if name:find("^[%w !#$%%&'*+/=?^_`{|}~-]+$") then return name .. " <" .. addr .. ">" end
  return '"' .. name:gsub('[\\"]', "\\%0") .. '" <' .. addr .. ">"
end

--- Quoted-printable (RFC 2045 6.7) of UTF-8 text: lines end CRLF, none
-- longer than 76 characters, "=" and every byte outside printable ASCII
-- escaped (so the body never holds "=_", which starts fsec's boundaries),
-- spaces at the end of a line escaped.
function _M.quoted_printable(text)
  local out = {}
  text = text:gsub("\r\n", "\n"):gsub("\r", "\n")
  for line in (text .. "\n"):gmatch("(.-)\n") do
    local enc = line:gsub("[^\33-\60\62-\126 \t]", function(c) return format("=%02X", byte(c)) end)
    enc = enc:gsub("([ \t])$", function(c) return format("=%02X", byte(c)) end)
    -- soft breaks: at most 75 characters and "=", never inside "=XX"
    while #enc > 76 do
      local cut = 75
      if enc:sub(cut - 1, cut - 1) == "=" then cut = cut - 2
      elseif enc:sub(cut, cut) == "=" then cut = cut - 1 end
      out[#out + 1] = enc:sub(1, cut) .. "="
      enc = enc:sub(cut + 1)
    end
    out[#out + 1] = enc
  end
  if out[#out] == "" then out[#out] = nil end
  return concat(out, CRLF) .. CRLF
end

local function part(ctype, body)
  return "Content-Type: " .. ctype .. "; charset=utf-8" .. CRLF
    .. "Content-Transfer-Encoding: quoted-printable" .. CRLF .. CRLF .. _M.quoted_printable(body)
end

--- The domain of Message-IDs: the sender's.
local function domain_of(addr) return addr:match("@([^@]+)$") end

--- Build a message. opts: { now = Unix time, message_id = "<...>" (nil:
-- a new one) }. Returns { message_id, sender, recipient, data } (sender
-- and recipient for the SMTP envelope, data the message with CRLF line
-- ends), or nil and why.
function _M.build(msg, opts)
  opts = opts or {}
  local from, from_name = _M.parse_address(msg.from)
  if not from then return nil, "from: " .. tostring(from_name) end
  local to, to_name = _M.parse_address(msg.to)
  if not to then return nil, "to: " .. tostring(to_name) end
  local subject, err = clean(msg.subject or "", "subject")
  if not subject then return nil, err end
  local kind = msg.kind or "mail"
  if not kind:find("^[%w_.-]+$") then return nil, "kind must be letters, digits, '_', '.' or '-'" end
  if msg.text == nil and msg.html == nil then return nil, "a message needs text or html" end
  for _, k in ipairs{ "text", "html" } do
    if msg[k] ~= nil and type(msg[k]) ~= "string" then return nil, k .. " must be a string" end
    if msg[k] and (msg[k]:find("%z") or not core.check_text(msg[k], #msg[k] + 1)) then
      return nil, k .. " must be UTF-8 text without NUL bytes"
    end
  end
  local mid = opts.message_id or format("<%s.%d@%s>", core.random_id(16), floor(opts.now or os.time()),
                                        domain_of(from))
  local head = {
    "Date: " .. _M.date(opts.now or os.time()),
    "From: " .. address_header(from_name, from),
    "To: " .. address_header(to_name, to),
    "Subject: " .. _M.encode_header_text(subject),
    "Message-ID: " .. mid,
    "MIME-Version: 1.0",
    "Auto-Submitted: auto-generated", -- RFC 3834: no auto-replies to it
    "X-Fsec-Kind: " .. kind,
  }
  -- the language the mail was composed in (fsec.i18n), when it is a
  -- plain tag: nothing else may reach a header line
  local lang = msg.lang
  if type(lang) == "string" and #lang <= 35 and lang:find("^%a[%w-]*$") then
    head[#head + 1] = "Content-Language: " .. lang
  end
  local body
  if msg.text and msg.html then
    local boundary = "=_fsec_" .. core.random_id(16)
    head[#head + 1] = 'Content-Type: multipart/alternative; boundary="' .. boundary .. '"'
    body = concat{ CRLF, "--", boundary, CRLF, part("text/plain", msg.text),
                   "--", boundary, CRLF, part("text/html", msg.html), "--", boundary, "--", CRLF }
  else
    local ctype = msg.text and "text/plain" or "text/html"
    head[#head + 1] = "Content-Type: " .. ctype .. "; charset=utf-8"
    head[#head + 1] = "Content-Transfer-Encoding: quoted-printable"
    body = CRLF .. _M.quoted_printable(msg.text or msg.html)
  end
  return { message_id = mid, sender = from, recipient = to, data = concat(head, CRLF) .. CRLF .. body }
end

return _M
