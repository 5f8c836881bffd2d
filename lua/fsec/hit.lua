--- The cache-hit check: the user a request's auth token or session
-- cookie names, answered from fsec's caches alone (no store read, no
-- write, no table made), or nil.
--
-- nil is not a denial: it means "not answered here" (nothing cached,
-- stale, a session cookie due for re-signing, a remember cookie, a
-- Flask credential, an inactive user) and the caller runs the whole
-- check (fsec.auth's authenticate), which then gives the answer. On a
-- hit the answer is the one the whole check gives: the same cache
-- entries (fsec.auth's token_status, token_user and session_user write
-- them, and their layout is read here), the same time and generation
-- rules. fsec.openresty's protect() asks here first, only where the
-- whole check has nothing more to do: GET or HEAD (no CSRF, no body),
-- no query string (a token there wins over the header), no
-- `authenticate` or `access` policy hook, no freshness requirement.
--
-- Why a second path at all: on a hit, the whole check's generality
-- (the request table, the mechanisms' loop and results, the pcall that
-- turns a store fault into 503, the hooks) cost about 3,000 instructions
-- per request in nginx, three times the check itself (docs/performance.md).
-- Internal to fsec.
-- @module fsec.hit

local auth = require "fsec.auth"
local authz = require "fsec.authz"

local type = type
local setmetatable = setmetatable
local os_time = os.time

local _M = { _VERSION = "0.1.0" }

-- as fsec.auth: a session cookie older than this is re-signed (by the
-- whole check), and a cookie over 4096 bytes is no cookie
local REFRESH_AFTER = auth.REFRESH_AFTER
_M.REFRESH_AFTER = REFRESH_AFTER
local COOKIE_MAX = 4096
local HEADER_MAX = 8192

local function now(sec)
  local c = sec._clock
  if c then return c() end
  return os_time()
end


-- A token or session entry of the tokens cache (fsec.auth's token_status:
-- { data, iat, until, earliest, purpose, user, generation, user until })
-- valid now for purpose, or nil.
local function entry_for(sec, key, purpose, t)
  local e = sec._cache:get(key)
  -- (fsec.flask keeps `true` under its own keys, never a request's value)
  if type(e) ~= "table" or e[5] ~= purpose or not (t < e[3] and t >= e[4]) then return nil end
  return e
end


-- What the cache-hit check does for a prepared spec, made once (a spec
-- does not change once prepared): { mechanism ("token" or "session"),
-- roles (does it name roles or permissions to check?) }, or false: the
-- whole check runs for any other spec (no auth, anonymous, a freshness
-- requirement, several mechanisms). Kept so that a request reads two
-- slots, not the spec's four absent lists.
local KIND = setmetatable({}, { __mode = "k" })

local function has_names(list) return list ~= nil and #list > 0 end

local function kind_of(spec)
  local k = KIND[spec]
  if k ~= nil then return k end
  -- an unprepared spec is checked by the whole check (it raises on a bad one)
  if not authz.is_prepared(spec) then return false end
  local a = spec.auth
  k = false
  if not spec.anonymous and spec.within == nil and type(a) == "table" and a[2] == nil
     and (a[1] == "token" or a[1] == "session") then
    -- (an empty roles_required list is no constraint, as in authz.roles_ok)
    k = { a[1], has_names(spec.roles_required) or has_names(spec.roles_accepted)
                or has_names(spec.permissions_required) or has_names(spec.permissions_accepted) }
  end
  KIND[spec] = k
  return k
end

--- The mechanism to try here for spec ("token" or "session") and whether
-- its roles or permissions are to be checked (hit.allowed), or nil when
-- only the whole check can answer: an unprepared spec or one it does
-- more for, or an authenticate or access hook to run.
function _M.kind(sec, spec)
  local k = kind_of(spec)
  if not k or sec._policy._gated then return nil end
  return k[1], k[2]
end

--- Does user pass spec's roles and permissions (as the whole check)?
_M.allowed = authz.roles_ok


--- The user of an fsec auth token, from the cache, or nil.
function _M.token(sec, tok)
  -- An itsdangerous (Flask) token, with its '.', is never an "auth"
  -- entry: fsec's own verification made every one (no find here).
  if type(tok) ~= "string" or #tok > HEADER_MAX or not sec._users or not sec.datastore then return nil end
  local t = now(sec)
  local e = entry_for(sec, tok, "auth", t)
  if not e then return nil end
  local data = e[1]
  if type(data) ~= "table" or type(data.u) ~= "string" then return nil end
  local x = data.e
  if type(x) ~= "number" or (x > 0 and x < t) then return nil end
  if e[7] ~= sec._generation() or t >= e[8] then return nil end
  local user = e[6]
  if not user or not user.active then return nil end
  return user, data
end


local HOST_PREFIXED = setmetatable({}, { __index = function(t, base)
  local v = "__Host-" .. base
  t[base] = v
  return v
end })

--- The session cookie's name for a request whose scheme() is asked only
-- when the cookie's Secure flag is "auto" (as fsec.auth's cookie_name).
function _M.session_cookie_name(sec, scheme)
  local cfg = sec._cfg
  local s = cfg.session_cookie_secure
  if s == "auto" then s = scheme() == "https" end
  if s and not cfg.session_cookie_domain then return HOST_PREFIXED[cfg.session_cookie_name] end
  return cfg.session_cookie_name
end


--- The user of an fsec session cookie's value, from the caches, or nil.
function _M.session(sec, cookie)
  local users = sec._users
  if type(cookie) ~= "string" or #cookie > COOKIE_MAX or not users or not sec.datastore then
    return nil
  end
  local t = now(sec)
  local e = entry_for(sec, cookie, "session", t)
  if not e then return nil end
  local data = e[1]
  if type(data) ~= "table" or type(data.s) ~= "string" or type(data.u) ~= "string" then return nil end
  if t - e[2] >= REFRESH_AFTER then return nil end -- re-signed by the whole check
  -- the session's user, kept in the same entry (fsec.auth's session_user)
  if e[7] ~= sec._generation() or t >= e[8] then return nil end
  local user = e[6]
  if not user or not user.active then return nil end
  return user, data
end


return _M
