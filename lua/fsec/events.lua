--- Security events: one JSON line per authentication outcome (a login
-- that succeeds or fails and why, a lockout, a password change, a second
-- factor...), written to a sink the application chooses: nginx's error
-- log, a file, syslog, or a Lua function. docs/events.md is the schema.
--
-- What an event may carry is fixed here, field by field: the user's store
-- id (never the email or username: personal data, and an identity typed
-- at a failed login may be a password typed in the wrong box), the
-- client's address, a bounded User-Agent, the request id, and short codes
-- (reason, method, via). No field is copied from a signal's payload or a
-- form as a whole, so a password, token, code or secret cannot reach a
-- sink (spec/44-events_spec.lua greps every flow's lines for them).
--
-- Every event also counts in fsec.metrics (fsec_events_total and the
-- login counters), whether or not a sink is set.
-- @module fsec.events

local cjson = require "cjson.safe"
local metrics = require "fsec.metrics"

local type = type
local pcall = pcall
local tostring = tostring
local pairs = pairs
local tonumber = tonumber
local error = error
local floor = math.floor
local ngx = ngx

local _M = { _VERSION = "0.1.0" }

local json = cjson.new()
json.encode_sparse_array(true)

-- Bounds: a client chooses its User-Agent and X-Request-Id
local UA_MAX, ID_MAX, CODE_MAX = 256, 64, 64

--- The events fsec emits, with the outcomes they can have.
_M.NAMES = {
  login = "success, failure", lockout = "success", logout = "success",
  password_change = "success", password_reset = "success", access_reset = "success",
  register = "success, failure", confirm = "success",
  tf_setup = "success", tf_disabled = "success", tf_code = "success, failure",
  recovery_code = "success, failure", us_setup = "success", us_removed = "success",
  email_change = "success", username_change = "success",
  role_added = "success", role_removed = "success", unlock = "success",
  instructions_sent = "success", throttled = "failure",
  wan_register = "success", wan_delete = "success", wan_clone = "failure",
}

-- Codes only: a string of letters, digits and _.-: (anything else is
-- dropped), bounded.
local function code(v)
  if type(v) == "number" then return v end
  if type(v) ~= "string" or #v > CODE_MAX or not v:match("^[%w_.:%-]+$") then return nil end
  return v
end

local function user_id(u)
  if type(u) ~= "table" then return nil end
  return code(u.id)
end

-- A printable, bounded copy of a header a client chose.
local function bounded(v, n)
  if type(v) == "table" then v = v[1] end
  if type(v) ~= "string" then return nil end
  if #v > n then v = v:sub(1, n) end
  return (v:gsub("[%z\1-\31\127]", "?"))
end

local function header(req, name)
  local h = type(req) == "table" and req.headers
  if type(h) ~= "table" then return nil end
  local v = h[name]
  if v == nil and type(h.get) == "function" then v = h:get(name) end
  return v
end

-- The request an event belongs to: the one handle() is answering (kept in
-- ngx.ctx under nginx, where requests interleave; on the instance
-- elsewhere, where one request runs at a time).
function _M.enter(sec, req)
  if ngx and ngx.get_phase and ngx.get_phase() ~= "timer" and ngx.get_phase() ~= "init_worker" then
    ngx.ctx.fsec_event_req = req
  else
    sec._event_req = req
  end
end

function _M.leave(sec)
  if not (ngx and ngx.get_phase and ngx.get_phase() ~= "timer" and ngx.get_phase() ~= "init_worker") then
    sec._event_req = nil
  end
end

local function current(sec)
  if ngx and ngx.get_phase then
    local phase = ngx.get_phase()
    if phase ~= "timer" and phase ~= "init_worker" and phase ~= "init" then
      return ngx.ctx.fsec_event_req
    end
    return nil
  end
  return sec._event_req
end

local function timestamp()
  local t = ngx and ngx.now() or os.time()
  local s = floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%03dZ"):format(floor((t - s) * 1000))
end

-- The request's fields: address, agent, id, endpoint.
local function request_fields(e, req)
  if type(req) ~= "table" then return end
  e.ip = bounded(req.remote_addr, ID_MAX)
  e.user_agent = bounded(header(req, "user-agent"), UA_MAX)
  local rid = header(req, "x-request-id")
  rid = type(rid) == "string" and #rid <= ID_MAX and rid:match("^[%w_.:%-]+$") and rid or nil
  if not rid and ngx and ngx.var then
    local ok, v = pcall(function() return ngx.var.request_id end)
    rid = ok and v or nil
  end
  e.request_id = rid
  e.endpoint = code(req._fsec_endpoint)
end

-- via: a list of short codes (authn_via), or one
local function via_of(v)
  if type(v) == "string" then return { code(v) } end
  if type(v) ~= "table" then return nil end
  local t = {}
  for i = 1, #v do t[#t + 1] = code(v[i]) end
  return t[1] and t or nil
end

--- Build, count and write one event. f: outcome, reason, user (a User or
-- { id = }), method, via, role, kind (each optional; anything else is
-- ignored). req: the request (default: the one being answered).
function _M.emit(sec, name, f, req)
  f = f or {}
  local outcome = f.outcome or "success"
  local reason = code(f.reason)
  metrics.event(name, outcome, reason)
  local sink = sec._events
  if not sink then return end
  local e = {
    ts = timestamp(), event = name, outcome = outcome, reason = reason,
    user_id = user_id(f.user), method = code(f.method), via = via_of(f.via),
    role = code(f.role), kind = code(f.kind),
  }
  request_fields(e, req or current(sec))
  local line = json.encode(e)
  if line then sink(line, e) end
end

-- Sinks: each fn(line, event), raising on failure (the caller logs once).

local function file_sink(path)
  local f
  return function(line)
    if not f then
      local err
      -- "a": O_APPEND, so the lines of several workers never overwrite;
      -- a full buffer larger than any line makes each line one write(2)
      f, err = io.open(path, "a")
      if not f then error(err, 0) end
      f:setvbuf("full", 65536)
    end
    local ok, err = f:write(line, "\n")
    if ok then ok, err = f:flush() end
    if not ok then
      f:close()
      f = nil
      error(err, 0)
    end
  end
end

-- syslog (RFC 3164 framing, as /dev/log expects): <PRI>TAG: message.
-- facility auth (4)... the application chooses; severity notice (5).
local FACILITIES = { auth = 4, authpriv = 10, daemon = 3, user = 1, local0 = 16, local1 = 17,
                     local2 = 18, local3 = 19, local4 = 20, local5 = 21, local6 = 22, local7 = 23 }

local function syslog_sink(address, facility, tag)
  local pri = (FACILITIES[facility or "authpriv"] or 10) * 8 + 5
  local prefix = "<" .. pri .. ">" .. (tag or "fsec") .. ": "
  local host, port = address:match("^udp:([^:]+):(%d+)$")
  local sock
  local function open()
    if ngx and ngx.socket and ngx.get_phase and ngx.get_phase() ~= "init_worker" then
      -- nginx's datagram cosocket (a unix socket too): never blocks the loop
      local s = ngx.socket.udp()
      local ok, err
      if host then ok, err = s:setpeername(host, tonumber(port))
      else ok, err = s:setpeername("unix:" .. address) end
      if not ok then error(err, 0) end
      return s, false
    end
    local okm, socket = pcall(require, "socket")
    if not okm then error("syslog: lua-socket is not installed", 0) end
    local s, err
    if host then
      s, err = socket.udp()
      if s then s:setpeername(host, tonumber(port)) end
    else
      local unix = require "socket.unix"
      s, err = unix.dgram()
      if s then
        local ok, e = s:connect(address)
        if not ok then error(e, 0) end
      end
    end
    if not s then error(err, 0) end
    return s, true
  end
  return function(line)
    -- under nginx a cosocket lives as long as its request: one per event
    local s, keep = sock, true
    if not s then s, keep = open() end
    local ok, err = s:send(prefix .. line)
    if not keep then s:close() elseif ok then sock = s end
    if not ok then
      if keep then s:close(); sock = nil end
      error(err, 0)
    end
  end
end

local function ngx_log_sink(level, log)
  return function(line)
    if ngx and ngx.log then
      -- never beside the request's line (a mailed link's token in it)
      require("fsec.log").ngx(level == "info" and ngx.INFO or level == "notice" and ngx.NOTICE or ngx.WARN,
                              "fsec-event: " .. line, true)
    else
      log("warn", "fsec-event: " .. line)
    end
  end
end

local SINKS = { ngx_log = true, file = true, syslog = true, stderr = true }

--- Check the `events` configuration key: nil or an error message.
function _M.check(v)
  local t = type(v)
  if t == "boolean" and v == false then return nil end
  if t == "function" then return nil end
  if t == "string" then
    v = { sink = v }
  elseif t ~= "table" then
    return "a sink name, a table or a function expected"
  end
  local s = v.sink
  if type(s) == "function" then return nil end
  if not SINKS[s] then return "sink must be ngx_log, file, syslog, stderr or a function" end
  if s == "file" and (type(v.path) ~= "string" or v.path == "") then return "the file sink needs path" end
  if s == "syslog" and v.address ~= nil and type(v.address) ~= "string" then return "address must be a string" end
  if s == "syslog" and v.facility ~= nil and not FACILITIES[v.facility] then return "unknown syslog facility" end
  if v.level ~= nil and v.level ~= "warn" and v.level ~= "notice" and v.level ~= "info" then
    return "level must be warn, notice or info"
  end
  for k in pairs(v) do
    if k ~= "sink" and k ~= "path" and k ~= "address" and k ~= "facility" and k ~= "tag" and k ~= "level" then
      return "unknown field '" .. tostring(k) .. "'"
    end
  end
  return nil
end

--- The sink for a checked `events` value: fn(line, event) that never
-- raises (a failure is logged once, then every tenth thousand), or nil.
function _M.sink(v, log)
  if v == nil or v == false then return nil end
  if type(v) == "string" then v = { sink = v } end
  if type(v) == "function" then v = { sink = v } end
  local s = v.sink
  local write
  if type(s) == "function" then write = s
  elseif s == "file" then write = file_sink(v.path)
  elseif s == "syslog" then write = syslog_sink(v.address or "/dev/log", v.facility, v.tag)
  elseif s == "stderr" then write = function(line) io.stderr:write(line, "\n") end
  else write = ngx_log_sink(v.level, log) end
  local failures = 0
  return function(line, e)
    local ok, err = pcall(write, line, e)
    if not ok then
      failures = failures + 1
      metrics.inc("fsec_event_sink_errors_total")
      if failures == 1 or failures % 10000 == 0 then
        log("error", "fsec: the events sink failed (" .. failures .. " so far): " .. tostring(err))
      end
    end
  end
end

-- Signals that are events: the event and its fields from the payload
-- (only the fields named here; the payload may carry the form).
local BRIDGE = {
  user_authenticated = function(p) return "login", { user = p.user, via = p.authn_via } end,
  user_failed_authn = function(p)
    local t = p.auth_type
    if t == "password" then return "login", { outcome = "failure", reason = "bad_password", user = p.user } end
    if t == "passcode" then
      return "login", { outcome = "failure", reason = "bad_password", user = p.user, via = { "us" } }
    end
    if t == "recovery_code" then return "recovery_code", { outcome = "failure", reason = "bad_code", user = p.user } end
    if t == "webauthn" then
      if p.tfa then return "tf_code", { outcome = "failure", reason = "bad_key", user = p.user, method = t } end
      return "login", { outcome = "failure", reason = "bad_key", user = p.user, via = { "webauthn" } }
    end
    if p.tfa then return "tf_code", { outcome = "failure", reason = "bad_code", user = p.user, method = t } end
    return "login", { outcome = "failure", reason = "bad_code", user = p.user, method = t, via = { "us" } }
  end,
  password_changed = function(p) return "password_change", { user = p.user } end,
  password_reset = function(p) return "password_reset", { user = p.user } end,
  user_registered = function(p) return "register", { user = p.user } end,
  user_not_registered = function(p) return "register", { outcome = "failure", reason = "exists", user = p.user } end,
  user_confirmed = function(p) return "confirm", { user = p.user } end,
  tf_code_confirmed = function(p) return "tf_code", { user = p.user, method = p.method } end,
  tf_profile_changed = function(p) return "tf_setup", { user = p.user, method = p.method } end,
  tf_disabled = function(p) return "tf_disabled", { user = p.user } end,
  us_profile_changed = function(p)
    return p.delete and "us_removed" or "us_setup", { user = p.user, via = p.methods }
  end,
  wan_registered = function(p) return "wan_register", { user = p.user } end,
  wan_deleted = function(p) return "wan_delete", { user = p.user } end,
  change_email_confirmed = function(p) return "email_change", { user = p.user } end,
  username_changed = function(p) return "username_change", { user = p.user } end,
  confirm_instructions_sent = function(p) return "instructions_sent", { user = p.user, kind = "confirm" } end,
  reset_password_instructions_sent = function(p) return "instructions_sent", { user = p.user, kind = "reset" } end,
  login_instructions_sent = function(p) return "instructions_sent", { user = p.user, kind = "login" } end,
}

--- The receiver fsec.signals calls after a signal's receivers: the
-- signal's event, if it is one.
function _M.bridge(sec)
  return function(name, payload)
    local b = BRIDGE[name]
    if not b then return end
    local ev, f = b(payload)
    _M.emit(sec, ev, f)
  end
end

return _M
