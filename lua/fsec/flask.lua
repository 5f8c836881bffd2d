--- Flask-Security's own credentials: its auth tokens, Flask's session
-- cookie and Flask-Login's remember cookie, signed with the Flask app's
-- SECRET_KEY (config flask_secret_key). The signatures are checked in C
-- (core/src/itsdangerous.c); this file reads what they carry and finds
-- the user it names. docs/migration.md, "Flask-Security's tokens and
-- cookies", says what is accepted and how it is revoked.
--
-- Told apart from fsec's own credentials by their form, never by trying
-- one and then the other: fsec's tokens and cookies are base64url alone,
-- an itsdangerous value always holds a '.', and a remember cookie a '|'.
-- @module fsec.flask

local core = require "fsec.core"
local cjson = require("cjson.safe").new()
local http = require "fsec.http"
local userlib = require "fsec.user"

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local floor = math.floor

local _M = { _VERSION = "0.1.0" }

local COOKIE_MAX = 4096 -- a browser keeps no longer cookie
local TOKEN_MAX = 8192
local SESSION_SALT = "cookie-session" -- Flask's SecureCookieSessionInterface
local WTF_SALT = "wtf-csrf-token" -- Flask-WTF's generate_csrf / validate_csrf
local UNIQUIFIER_MAX = 64

cjson.decode_max_depth(32)


--- The user a Flask credential names: one query ({ fs_uniquifier = },
-- { fs_token_uniquifier = } or { id = }) to the Flask app's own database
-- when flask_users is set (fsec.flaskusers, examples/flask-edge), else to
-- fsec's store (fsec.flaskusers may answer plain tables shaped like
-- fsec's users: they become User objects). Returns what the datastore's
-- find_user returns: a user,
-- nil (none), or nil, err, code (the caller fails closed on it).
function _M.find_user(sec, query)
  local uri = sec._cfg.flask_users
  if uri then
    local users = sec._flask_users
    if not users then
      users = require("fsec.flaskusers").new(sec, uri)
      sec._flask_users = users
    end
    local user, err, code = users:find(query)
    -- a plain table shaped like fsec's user gets the User methods
    if type(user) == "table" and not userlib.is_user(user) then user = userlib.user(user) end
    return user, err, code
  end
  local ds = sec.datastore
  if not ds then return nil end
  return ds:find_user(query)
end


--- The keys that verify, newest first: SECRET_KEY, then the fallbacks
-- from the last (itsdangerous tries its list in reverse, and Flask lists
-- the current key after the fallbacks). nil when the feature is off.
function _M.keys(cfg)
  if not cfg.flask_secret_key then return nil end
  local keys = { cfg.flask_secret_key }
  local fb = cfg.flask_secret_key_fallbacks or {}
  for i = #fb, 1, -1 do keys[#keys + 1] = fb[i] end
  return keys
end


-- Flask's tagged JSON (flask/json/tag.py): a one-key object whose key is
-- a tag stands for another type. fsec only reads the session, so each
-- becomes the nearest Lua value.
local DAYS_BEFORE = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 }
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8,
                 Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- "Tue, 14 Nov 2023 22:13:20 GMT" -> seconds since the epoch (UTC).
local function http_date(s)
  if type(s) ~= "string" then return nil end
  local d, mon, y, h, mi, se = s:match("^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  local m = MONTHS[mon]
  if not m then return nil end
  y, d = tonumber(y), tonumber(d)
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  local yd = DAYS_BEFORE[m] + d - 1 + ((leap and m > 2) and 1 or 0)
  local days = (y - 1970) * 365 + floor((y - 1969) / 4) - floor((y - 1901) / 100) + floor((y - 1601) / 400) + yd
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
end

local UNTAG = {
  [" t"] = function(v) return v end, -- tuple: a list
  [" b"] = function(v) return type(v) == "string" and core.base64_decode(v) or nil end,
  [" m"] = function(v) return v end, -- Markup: its text
  [" u"] = function(v) return v end, -- UUID: 32 hex digits
  [" d"] = http_date,
  [" di"] = function(v) -- a dict whose one key looked like a tag
    if type(v) ~= "table" then return nil end
    local k, inner = next(v)
    if type(k) ~= "string" or next(v, k) ~= nil or k:sub(-2) ~= "__" then return nil end
    return { [k:sub(1, -3)] = inner }
  end,
}

-- Inner values first, as Flask's object_hook does.
local function untag(v, depth)
  if type(v) ~= "table" or depth > 32 then return v end
  for k, x in pairs(v) do v[k] = untag(x, depth + 1) end
  local k = next(v)
  if k ~= nil and next(v, k) == nil and UNTAG[k] then return UNTAG[k](v[k]) end
  return v
end

--- A Flask session's JSON as a table (tags undone), or nil.
function _M.load_session(json)
  local t = cjson.decode(json)
  if type(t) ~= "table" then return nil end
  t = untag(t, 0)
  return type(t) == "table" and t or nil
end


local function now(sec)
  local c = sec._clock
  if c then return c() end
  return os.time()
end

local function short_string(v)
  return type(v) == "string" and #v > 0 and #v <= UNIQUIFIER_MAX and v or nil
end

local function usable(user)
  return user and user.active and user or nil
end


-- Too's lookups: the token uniquifier, then fs_uniquifier (an app
-- without the column put that in its tokens).
local function by_uniquifier(sec, uq, check_store)
  local user = check_store(_M.find_user(sec, { fs_token_uniquifier = uq }))
  if user then return usable(user) end
  return usable(check_store(_M.find_user(sec, { fs_uniquifier = uq })))
end

-- Flask-Login's _user_id (a string): fs_uniquifier, or 3.0's id.
-- A Flask id names a user of the Flask app's database (flask_users):
-- fsec's store numbers users its own way (an import too), so there the
-- id alone could name someone else. Only 3.0's token, whose password hash
-- pins the one user, may look an id up in fsec's store (any_store).
local function by_user_id(sec, uid, check_store, any_store)
  if type(uid) == "number" and uid == floor(uid) then uid = tostring(floor(uid)) end
  uid = short_string(uid)
  if not uid then return nil end
  local cfg = sec._cfg
  if cfg.flask_user_id == "id" then
    if not (cfg.flask_users or any_store) then return nil end
    if #uid > 15 or not uid:find("^[1-9]%d*$") then return nil end
    return usable(check_store(_M.find_user(sec, { id = tonumber(uid) })))
  end
  return usable(check_store(_M.find_user(sec, { fs_uniquifier = uid })))
end


-- 3.0's token [str(id), hash_data(password)]: the id's user, whose
-- stored password hash the second element is a passlib hash of. A new
-- password (or fsec's upgrade of the hash at a login) ends the token.
-- That hash (sha256_crypt, 535,000 rounds) would run on every request:
-- with a cache (set_cache's token store, which auth.lua hands in), a
-- match is remembered under the pair of hashes, so a new stored hash
-- misses it.
local HASH_DATA_TTL = 3600
local function by_id_and_hash(sec, data, check_store, cache)
  local user = by_user_id(sec, data[1], check_store, true)
  local h, stored = data[2], user and user.password
  if type(stored) ~= "string" or type(h) ~= "string" or #h > 512 then return nil end
  local key = cache and ("fsec.flask.hash_data\0" .. h .. "\0" .. stored)
  if cache and cache:get(key) == true then return user end
  if sec._engine:verify_data(stored, h) ~= true then return nil end
  if cache then cache:set(key, true, HASH_DATA_TTL) end
  return user
end


--- The user of a Flask-Security auth token (a text holding a '.'), and
-- the token's data, or nil. Forms: Too's [uniquifier], Too 3.x's
-- [id, hash, uniquifier], 3.0's [id, hash] (with flask_user_id = "id"),
-- and Too >= 5.4's { ver, uid, fs_paa, exp }. cache: set_cache's token
-- store, or nil.
function _M.token_user(sec, tok, check_store, cache)
  local keys = sec._flask_keys
  if not keys or #tok > TOKEN_MAX then return nil end
  local cfg = sec._cfg
  local status, json = core.itsd_verify(keys, cfg.remember_salt, "django-concat", tok,
                                        cfg.token_max_age, now(sec))
  if status ~= "valid" then return nil end
  local data = cjson.decode(json)
  if type(data) ~= "table" then return nil end
  local user
  if data.ver ~= nil or data.uid ~= nil then
    local exp = data.exp
    if type(data.ver) ~= "string" or type(exp) ~= "number" then return nil end
    if exp > 0 and exp < now(sec) then return nil end
    local uq = short_string(data.uid)
    user = uq and by_uniquifier(sec, uq, check_store)
  elseif #data == 1 or #data >= 3 then
    local uq = short_string(data[#data == 1 and 1 or 3])
    user = uq and by_uniquifier(sec, uq, check_store)
  elseif #data == 2 and cfg.flask_user_id == "id" then
    user = by_id_and_hash(sec, data, check_store, cache)
  end
  if not user then return nil end
  return user, { flask = true, a = tonumber(data.fs_paa) or 0 }
end


local function session_cookie(sec, req, check_store)
  local cfg = sec._cfg
  local v = http.request_cookie(req, cfg.flask_session_cookie_name, COOKIE_MAX)
  if not v or not v:find(".", 1, true) then return nil end
  local status, json = core.itsd_verify(sec._flask_keys, SESSION_SALT, "hmac", v,
                                        cfg.flask_session_lifetime, now(sec))
  if status ~= "valid" then return nil end
  local s = _M.load_session(json)
  if not s or s._user_id == nil then return nil end
  local user = by_user_id(sec, s._user_id, check_store)
  if not user then return nil end
  -- fs_paa: when Flask-Security last saw the password (or another
  -- primary factor); fsec's freshness reads it as its own "a".
  -- wtf: the session's Flask-WTF value (false: none), which the form's
  -- CSRF token must sign (wtf_csrf); only a session cookie carries it.
  local wtf = s.csrf_token
  return user, { flask = true, a = tonumber(s.fs_paa) or 0,
                 wtf = type(wtf) == "string" and wtf ~= "" and wtf or false }
end


local function remember_cookie(sec, req, check_store)
  local v = http.request_cookie(req, sec._cfg.flask_remember_cookie_name, COOKIE_MAX)
  if not v or not v:find("|", 1, true) then return nil end
  local uid = core.remember_verify(sec._flask_keys, v)
  if not uid then return nil end
  local user = by_user_id(sec, uid, check_store)
  -- a remembered sign-in is not a fresh one
  return user, user and { flask = true, a = 0 } or nil
end


--- The user of the request's Flask session cookie, else of its Flask-
-- Login remember cookie (as Flask-Login falls back), and the data
-- ({ flask = true, a = time of the primary authentication }), or nil.
function _M.session_user(sec, req, check_store)
  if not sec._flask_keys then return nil end
  local user, data = session_cookie(sec, req, check_store)
  if user then return user, data end
  return remember_cookie(sec, req, check_store)
end


--- Flask-WTF's CSRF token (tok) for a request signed in by a Flask
-- session cookie (data: what session_user returned for it). As Flask-WTF
-- 1.x's validate_csrf: itsdangerous's URLSafeTimedSerializer with
-- WTF_CSRF_SECRET_KEY or SECRET_KEY (flask_csrf_secret_key, else
-- flask_secret_key; never the fallbacks), salt "wtf-csrf-token", age at
-- most flask_csrf_time_limit; its value must be the session's csrf_token,
-- compared in constant time. Anything else (fsec's own sessions, a
-- remember cookie, a session without csrf_token) is refused.
-- @return true, or nil and the message key (CSRF_INVALID / CSRF_EXPIRED)
function _M.wtf_csrf(sec, data, tok)
  local keys = sec._flask_csrf_keys
  if not keys or type(data) ~= "table" or data.flask ~= true or type(data.wtf) ~= "string"
     or type(tok) ~= "string" or #tok > TOKEN_MAX then
    return nil, "CSRF_INVALID"
  end
  local limit = sec._cfg.flask_csrf_time_limit
  local status, json = core.itsd_verify(keys, WTF_SALT, "django-concat", tok,
                                        limit or nil, now(sec))
  if status == "expired" then return nil, "CSRF_EXPIRED" end
  if status ~= "valid" then return nil, "CSRF_INVALID" end
  local v = cjson.decode(json)
  if type(v) ~= "string" or not core.equal(v, data.wtf) then return nil, "CSRF_INVALID" end
  return true
end


--- At a logout, delete the Flask app's session and remember cookies the
-- request carries, under their own names (fsec's may differ, or carry
-- __Host-): left behind, they would sign the browser in again. They stay
-- valid elsewhere until revoked (docs/migration.md), as in Flask.
function _M.logout(sec, req, res)
  if not sec._flask_keys then return end
  local cfg = sec._cfg
  for _, name in ipairs{ cfg.flask_session_cookie_name, cfg.flask_remember_cookie_name } do
    local set = false -- fsec's own of that name, already deleted
    for _, line in ipairs(res.cookies or {}) do
      if line:sub(1, #name + 1) == name .. "=" then set = true end
    end
    if not set and http.request_cookie(req, name, COOKIE_MAX) then res:delete_cookie(name, { path = "/" }) end
  end
end


--- A Flask-Security-Too auth token for user, signed with
-- flask_secret_key (as itsdangerous signs with the newest key), for a
-- Flask-Security app behind fsec. The list form [uniquifier]: Too 4.0
-- to 5.3 read only it, and >= 5.4 still reads it; it carries no expiry
-- (the app's TOKEN_MAX_AGE bounds it). nil when the feature is off.
function _M.auth_token(sec, user)
  local cfg, keys = sec._cfg, sec._flask_keys
  if not keys then return nil end
  local uq = user.fs_token_uniquifier or user.fs_uniquifier
  return core.itsd_sign(keys[1], cfg.remember_salt, "django-concat", cjson.encode({ uq }), now(sec))
end


return _M
