--- Policy hooks: Lua functions that decide. Several per point, run in
-- registration order under pcall; the first that does not return `true`
-- denies. A hook that raises, returns nothing, or returns anything but
-- `true` denies (fail closed); its second return value is the reason.
--
-- Points:
--   login(user, req)             before a login is completed (login_user),
--                                and after each HTTP Basic password check
--   authenticate(user, req, via) on every request a user is recognised in
--   access(user, req, spec)      after the built-in checks of check()
--   throttle(req, endpoint)      before a credential is checked at an
--                                endpoint (a per-IP throttle): a denial
--                                answers 429; also before each HTTP
--                                Basic check (endpoint "basic"), where a
--                                denial leaves the request unauthenticated
-- @module fsec.policy

local pcall = pcall
local type = type
local error = error
local tostring = tostring
local setmetatable = setmetatable


local _M = { _VERSION = "0.1.0" }

_M.POINTS = { login = true, authenticate = true, access = true, throttle = true }

local Policy = {}
Policy.__index = Policy


-- _gated: is there an authenticate or access hook? fsec.hit reads it on
-- every request it answers (a field that is there is cheaper to read in
-- LuaJIT's trace than two absent keys of _hooks).
function _M.new(log)
  return setmetatable({ _hooks = {}, _log = log, _gated = false }, Policy)
end


function Policy:add(point, fn)
  if not _M.POINTS[point] then error("unknown policy point '" .. tostring(point) .. "'", 2) end
  if type(fn) ~= "function" then error("bad argument #2 to 'policy' (function expected)", 2) end
  local list = self._hooks[point] or {}
  list[#list + 1] = fn
  self._hooks[point] = list
  if point == "authenticate" or point == "access" then self._gated = true end
  return fn
end


--- Run the hooks of a point: true, or false and a reason.
function Policy:run(point, ...)
  local list = self._hooks[point]
  if not list then return true end
  for i = 1, #list do
    local ok, allow, reason = pcall(list[i], ...)
    if not ok then
      self._log("error", "fsec: " .. point .. " policy raised (denied): " .. tostring(allow))
      return false, "policy error"
    end
    if allow ~= true then
      return false, reason ~= nil and tostring(reason) or "denied by policy"
    end
  end
  return true
end


return _M
