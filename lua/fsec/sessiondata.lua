--- Per-session data: what a Flask app keeps in `session[...]`, for a
-- signed-in session. JSON text in the session's server-side record (the
-- datastore's optional get_session_data / set_session_data), never in a
-- cookie; bounded by session_data_max_bytes; ended with the session
-- (logout, password change, reset_user_access, deactivation, expiry), so
-- nothing here has to revoke it. Writes are a compare-and-set on the
-- session's version. Mixed into Security (sec:session_data,
-- sec:set_session_data); fsec.openresty has the same for the current
-- request. fsec.auth carries the data to the new session of a
-- re-authentication (mark_fresh).
-- @module fsec.sessiondata

local auth = require "fsec.auth"
local cjson_safe = require "cjson.safe"

local type = type
local pairs = pairs
local next = next
local tostring = tostring
local check_store = auth.check_store


-- Per-session data's JSON: its own instance (the settings stay here),
-- nesting bounded, NaN and infinities refused.
local jsonexact = require "fsec.jsonexact"
local json = cjson_safe.new()
json.encode_max_depth(32)
json.decode_max_depth(32)
json.encode_invalid_numbers(false)
json.decode_invalid_numbers(false)
local DATA_DEPTH = 32

-- a number that would not read back as itself (2^53 + 1, 0.1 + 0.2) is
-- refused rather than changed, so that the session gives back what it
-- was given
local function exact_numbers(v) return jsonexact.exact_numbers(v, DATA_DEPTH) end

-- compare-and-set rounds before a write gives up (EBUSY): each lost round
-- means another write landed, so this bounds only a storm of them
local SESSION_DATA_TRIES = 8


local _M = { _VERSION = "0.1.0" }

local Security = {}
_M.methods = Security


-- The server-side session of the request's signed-in user (session or
-- remember cookie), or nil: no data without a live session.
local function data_session(sec, req)
  local user, _, data = auth.authenticate(sec, req, { "session" })
  if not user or type(data) ~= "table" then return nil end
  return data.s
end

-- cjson reads every number as a float: under Lua 5.4 integral ones are
-- integers again, so that 12 comes back as 12, not 12.0.
local tointeger = math.tointeger
local function fix_integers(v)
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = fix_integers(x) end
  elseif type(v) == "number" and tointeger then
    return tointeger(v) or v
  end
  return v
end

local function decode_data(text)
  if type(text) ~= "string" then return {} end
  local t = json.decode(text)
  if type(t) ~= "table" then return {} end -- written by fsec; a tampered row reads as empty
  return fix_integers(t)
end

local NO_SESSION = "ENOSESSION: no signed-in session to keep data with"

--- The application's data of the request's session (Flask's
-- `session`), as a new table: changing it changes nothing stored (use
-- set_session_data). Empty when the request has no signed-in session.
-- @tparam table req
-- @treturn table
function Security:session_data(req)
  local ds = self.datastore
  local sid = ds and ds.get_session_data and data_session(self, req)
  if not sid then return {} end
  return decode_data((check_store(ds:get_session_data(sid))))
end


--- Set one key of the request's session data (value nil removes it),
-- stored server-side with the session and ended with it. A
-- compare-and-set on the session's version: a write racing another
-- (another worker, another request) reads the winner's data and applies
-- its key on it, so writes to different keys both land and the same key
-- keeps the last write.
-- @tparam table req
-- @tparam string key
-- @param value any JSON value (tables, strings, numbers, booleans)
-- @return true, or nil, "ECODE: message", code: ENOSESSION (no signed-in
-- session, or the datastore keeps no session data), ETOOLONG (over
-- session_data_max_bytes), EINVAL (not JSON), EUTF8 (a string that is
-- not UTF-8), EBUSY (lost SESSION_DATA_TRIES rounds)
function Security:set_session_data(req, key, value)
  if type(key) ~= "string" or key == "" then
    error("bad argument #2 to 'set_session_data' (non-empty string expected, got " .. type(key) .. ")", 2)
  end
  local ds = self.datastore
  local sid = ds and ds.set_session_data and data_session(self, req)
  if not sid then return nil, NO_SESSION, "ENOSESSION" end
  if not exact_numbers(value) then
    return nil, "EINVAL: session data holds a number JSON cannot carry exactly (over 14 digits, NaN, infinite)",
           "EINVAL"
  end
  -- a table JSON would give back changed (list and named keys at once:
  -- its numbers come back as strings; holes: nulls) is refused too
  if type(value) == "table" then
    local text = json.encode(value)
    if text and not jsonexact.same(fix_integers(json.decode(text)), value) then
      return nil, "EINVAL: session data would not read back as given (a table with both list and named keys,"
        .. " or holes)", "EINVAL"
    end
  end
  local max = self._cfg.session_data_max_bytes
  for _ = 1, SESSION_DATA_TRIES do
    local text, version = check_store(ds:get_session_data(sid))
    if text == nil then return nil, NO_SESSION, "ENOSESSION" end
    local t = decode_data(text)
    t[key] = value
    local out, err
    if next(t) ~= nil then
      out, err = json.encode(t)
      if not out then return nil, "EINVAL: session data is not JSON: " .. tostring(err), "EINVAL" end
      if #out > max then
        return nil, ("ETOOLONG: session data would be %d bytes, over session_data_max_bytes (%d)")
          :format(#out, max), "ETOOLONG"
      end
    end
    local ok, code
    ok, err, code = check_store(ds:set_session_data(sid, out, version))
    if ok then return true end
    if ok == nil then return nil, err, code end
    -- another write came first: read what it left and apply this key on it
  end
  return nil, "EBUSY: the session's data kept changing under this write", "EBUSY"
end



return _M
