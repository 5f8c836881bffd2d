--- Signals: Flask-Security's, connected to Lua functions. Receivers run
-- under pcall: one that raises is logged and the request goes on. Signals
-- observe; they never decide (policies do that: `fsec.policy`).
-- Payloads never carry passwords, password hashes or tokens.
-- @module fsec.signals

local pcall = pcall
local type = type
local error = error
local tostring = tostring
local setmetatable = setmetatable


local _M = { _VERSION = "0.1.0" }

--- Every signal name (Flask-Security-Too 5.x), with its payload fields.
_M.NAMES = {
  user_registered = "user, form_data",
  user_confirmed = "user",
  confirm_instructions_sent = "user",
  login_instructions_sent = "user",
  password_reset = "user",
  password_changed = "user",
  reset_password_instructions_sent = "user",
  user_authenticated = "user, authn_via",
  user_unauthenticated = "",
  user_failed_authn = "user, auth_type, tfa",
  user_not_registered = "user, existing_email, existing_username, form_data",
  tf_code_confirmed = "user, method",
  tf_profile_changed = "user, method",
  tf_disabled = "user",
  tf_security_token_sent = "user, method, phone_number",
  us_security_token_sent = "user, method, phone_number, send_magic_link",
  us_profile_changed = "user, methods, delete",
  wan_registered = "user, name",
  wan_deleted = "user, name",
  change_email_instructions_sent = "user, new_email",
  change_email_confirmed = "user, old_email",
  username_recovery_email_sent = "user",
  username_changed = "user, old_username",
}

local Signals = {}
Signals.__index = Signals


function _M.new(log)
  return setmetatable({ _receivers = {}, _log = log }, Signals)
end


--- Connect fn to a signal; returns fn (for disconnect).
function Signals:connect(name, fn)
  if not _M.NAMES[name] then error("unknown signal '" .. tostring(name) .. "'", 2) end
  if type(fn) ~= "function" then error("bad argument #2 to 'connect' (function expected)", 2) end
  local list = self._receivers[name] or {}
  list[#list + 1] = fn
  self._receivers[name] = list
  return fn
end


function Signals:disconnect(name, fn)
  local list = self._receivers[name]
  if not list then return false end
  for i = #list, 1, -1 do
    if list[i] == fn then
      table.remove(list, i)
      return true
    end
  end
  return false
end


--- Send a signal: each receiver in connection order, failures logged.
function Signals:send(name, payload)
  local list = self._receivers[name]
  local after = self._after
  if not list then
    if after then after(name, payload or {}) end
    return
  end
  payload = payload or {}
  payload.signal = name
  for i = 1, #list do
    local ok, err = pcall(list[i], payload)
    if not ok then
      self._log("error", "fsec: receiver of signal " .. name .. " failed: " .. tostring(err))
    end
  end
  -- the security event of this signal (fsec.events), after the receivers
  if after then after(name, payload) end
end


--- What runs after a signal's receivers, whether or not any is
-- connected: fn(name, payload) (fsec.events' bridge), or nil.
function Signals:_set_after(fn)
  self._after = fn
end


return _M
