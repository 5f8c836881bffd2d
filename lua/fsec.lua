--- fsec: Flask-Security for Lua. `require "fsec"` gives this module.
-- This file is the façade over the C engine (`fsec.core`): configuration,
-- password hashing and verification, signed tokens, random identifiers.
-- @module fsec

local core = require "fsec.core"
local config = require "fsec.config"
local cjson = require "cjson.safe"
local datastore = require "fsec.datastore"
local http = require "fsec.http"
local signals = require "fsec.signals"
local policy = require "fsec.policy"
local auth = require "fsec.auth"
local flask = require "fsec.flask"
local authz = require "fsec.authz"
local ratelimit = require "fsec.ratelimit"
local cache = require "fsec.cache"
local events = require "fsec.events"
local default_log = require("fsec.log").default

local type = type
local error = error
local floor = math.floor
local setmetatable = setmetatable
local pairs = pairs
local tointeger = math.tointeger -- nil on LuaJIT: no integer subtype there


local TOKEN_VALID = core.TOKEN_VALID
local TOKEN_EXPIRED = core.TOKEN_EXPIRED

-- A private cjson instance, so fsec's settings never change the
-- application's (and theirs never change ours).
local jsonexact = require "fsec.jsonexact"
local json = cjson.new()
json.encode_sparse_array(false)
json.encode_invalid_numbers(false)
json.decode_max_depth(32)
json.encode_max_depth(32) -- no token that could never be read back


local _M = { _VERSION = "0.1.0", core_version = core.version }

local Security = {}
Security.__index = Security


local function argerror(n, fname, want, v)
  error(("bad argument #%d to '%s' (%s expected, got %s)")
    :format(n, fname, want, type(v)), 4) -- level 4: the caller of the method
end


local function check_string(v, n, fname)
  if type(v) ~= "string" then argerror(n, fname, "string", v) end
end


-- cjson decodes every number as a float; under Lua 5.4 turn integral
-- values back into integers so that data round-trips as it was given.
local fix_integers
if tointeger then
  fix_integers = function(v)
    if type(v) == "table" then
      for k, x in pairs(v) do v[k] = fix_integers(x) end
      return v
    end
    if type(v) == "number" then return tointeger(v) or v end
    return v
  end
else
  fix_integers = function(v) return v end
end


-- Map the validated configuration to the engine's fields.
local function engine_config(c)
  local keys = type(c.secret_key) == "table" and c.secret_key or { c.secret_key }
  local argon2 = c.password_hash_options.argon2 or {}
  local caps = {} -- the engine's caps: password_hash_caps and the verify budget
  for k, v in pairs(c.password_hash_caps) do caps[k] = v end
  caps.verify_budget = c.password_verify_budget or 0
  return {
    secret_keys = keys,
    password_salt = c.password_salt,
    normalize = c.password_normalize_form or "none",
    password_max_bytes = c.password_max_bytes,
    argon2_time = argon2.time_cost or config.DEFAULT_ARGON2_TIME,
    argon2_memory_kib = argon2.memory_cost or config.DEFAULT_ARGON2_MEMORY_KIB,
    schemes = c.password_schemes,
    caps = caps,
    token_skew = c.token_clock_skew,
    token_max_length = c.token_max_length,
    argon2_helper = c.argon2_helper or nil,
  }
end


-- Does any enabled feature mail a link to this site (built from
-- external_url, else from the request's Host)?
local function mails_links(c)
  if c.recoverable or c.confirmable or c.passwordless or c.registerable or c.change_email
     or c.changeable or c.username_recovery then
    return true
  end
  if c.unified_signin then
    for _, m in ipairs(c.us_enabled_methods or {}) do
      if m == "email" then return true end
    end
  end
  return false
end


--- Create a Security instance.
-- @tparam table cfg configuration (see `fsec.config.schema`)
-- @treturn Security
-- @raise when the configuration is invalid; the message names the key
function _M.new(cfg)
  local c, err = config.validate(cfg)
  if not c then error("fsec.new: " .. err, 2) end
  local engine, msg = core.new(engine_config(c))
  if not engine then error("fsec.new: " .. msg, 2) end
  -- the breached-password list, mapped once here: under nginx before the
  -- workers fork, so they all read the one copy in the page cache
  local ok_list, breached = pcall(require("fsec.forms").open_breached, c)
  if not ok_list then
    engine:close()
    error("fsec.new: " .. tostring(breached), 2)
  end
  local ds = c.datastore
  if c.database then
    -- Fail loudly (never fall back to memory) when the file can't be used.
    ds, msg = require("fsec.datastore.sqlite").new{
      path = c.database, busy_timeout = c.database_busy_timeout,
      synchronous = c.database_synchronous, cache_kib = c.database_cache_kib,
      mmap_bytes = c.database_mmap_bytes, max_pages = c.database_max_pages,
      connect_timeout = c.database_connect_timeout, statement_timeout = c.database_statement_timeout,
      clock = c.clock,
    }
    if not ds then
      engine:close()
      error("fsec.new: database: " .. msg, 2)
    end
    -- the salt this database's users were hashed with (fsec.saltcheck;
    -- one argon2id verify: a new database in memory has nothing to check)
    local ok = true
    if c.database ~= ":memory:" then
      ok, msg = require("fsec.saltcheck").check(engine_config(c), ds, c.log or default_log)
    end
    if not ok then
      ds:close()
      engine:close()
      error("fsec.new: " .. msg, 2)
    end
  elseif ds then
    local ok
    ok, msg = datastore.check(ds)
    if not ok then
      engine:close()
      error("fsec.new: datastore: " .. msg, 2)
    end
  end
  c.datastore = nil -- the object is sec.datastore, not configuration
  -- Secrets stay in the engine's guarded memory only: the readable
  -- configuration keeps no copy of them.
  c.secret_key = nil
  c.password_salt = nil
  -- the Flask app's keys (fsec.flask), likewise kept out of sight
  local flask_keys = flask.keys(c)
  -- Flask-WTF signs with WTF_CSRF_SECRET_KEY or SECRET_KEY alone (no
  -- fallbacks: it hands itsdangerous one key)
  local flask_csrf_keys = flask_keys and { c.flask_csrf_secret_key or c.flask_secret_key }
  c.flask_secret_key, c.flask_secret_key_fallbacks, c.flask_csrf_secret_key = nil, nil, nil
  local log = c.log or default_log
  c.log = nil
  local event_sink = events.sink(c.events, log)
  c.events = nil -- a function or a table of the application's: not configuration to read back
  if mails_links(c) and not c.external_url then
    -- a client chooses its Host: a reset link, a unified sign-in's magic
    -- link (whose code signs in) could name another site
    log("warn", "fsec: external_url is not set: links in mail are built from the request's Host header" ..
                " (any client's choice); set it to this site's scheme://host[:port]")
  end
  local self = setmetatable({
    config = config.freeze(c),
    _cfg = c, -- the same values, plain, for fsec's own hot paths
    datastore = ds,
    signals = signals.new(log),
    _engine = engine,
    -- whole seconds, so that the request path needs no floor (auth.lua)
    _clock = c.clock and function() return floor(c.clock()) end,
    _log = log,
    _policy = policy.new(log),
    _breached = breached,
    -- verified against when there is no real hash: one argon2 run at the
    -- current parameters, never a match
    _dummy = engine:dummy_hash(),
    _token_header = c.token_authentication_header:lower(),
    _flask_keys = flask_keys,
    _flask_csrf_keys = flask_csrf_keys,
  }, Security)
  -- throttling's counters (fsec.throttle): this process's memory until an
  -- adapter gives a shared backend (fsec.openresty: an ngx.shared dict)
  -- users read from this datastore answer user:get_auth_token() with
  -- this instance (fsec.user)
  if ds then require("fsec.user").adopt(ds, self) end
  -- security events (fsec.events): the signals' own, and fsec's others
  self._events = event_sink
  self.signals:_set_after(events.bridge(self))
  -- Flask-Security's messages by key, in the language of the request
  -- being answered (fsec.i18n; the default language outside one)
  self.msg = require("fsec.i18n").msg(self)
  local clock = self._clock or os.time
  self._limiter = ratelimit.new(ratelimit.memory(clock), clock)
  return self
end


--- How mail leaves: fn(job) runs job() later, after the response (an
-- adapter's timer: fsec.openresty uses ngx.timer.at), so that sending
-- is off the response path; nil (the default) sends in the request.
function Security:set_deferrer(fn)
  self._defer = fn
end


--- Where the throttling counters live: a backend of fsec.ratelimit
-- ({ incr, get }), shared by every process that serves the site, and the
-- clock it counts with (seconds; default: the configured clock or
-- os.time).
function Security:set_limit_backend(backend, clock)
  clock = clock or self._clock or os.time
  self._limiter = ratelimit.new(backend, clock)
end


--- Current time for tokens: the configured clock, or nil (the C clock).
local function now(self)
  local clock = self._clock
  if clock then return clock() end -- whole seconds already (new)
  return nil
end


--- Hash a password with argon2id (after normalization and, with a
-- password salt, Flask-Security's HMAC pre-hash).
-- @treturn string|nil PHC string
-- @treturn string|nil error ("ETOOLONG: ...", "ENUL: ...", "EUTF8: ...")
-- @treturn string|nil error code
function Security:hash_password(password)
  check_string(password, 1, "hash_password")
  local h = self._hasher
  if h then return h.hash(password) end
  return self._engine:hash_password(password)
end


--- Verify a password against a stored hash of any supported format.
-- @treturn boolean
-- @treturn string|nil why it could not be checked (malformed hash, ...)
function Security:verify_password(password, hash)
  check_string(password, 1, "verify_password")
  check_string(hash, 2, "verify_password")
  local h = self._hasher
  if h then return h.verify(password, hash) end
  return self._engine:verify_password(password, hash)
end


--- Where the expensive work runs: by default inline, in this Lua state;
-- an adapter can move it off the event loop (fsec.openresty uses nginx's
-- thread pool). hasher = { hash = fn(pw), verify = fn(pw, hash) } with
-- the return conventions of hash_password / verify_password; nil resets.
function Security:set_hasher(hasher)
  self._hasher = hasher
end


--- Cache authentication lookups (token checks, the users of sessions
-- and tokens) through c, or stop caching (nil). fsec.openresty gives
-- per-worker LRU caches and a generation the workers share; docs/cache.md
-- says how to write another (a cluster's, driven by PostgreSQL's
-- LISTEN/NOTIFY). Fields, each optional:
-- tokens (get(self, key), set(self, key, value, ttl): the answers of
-- token checks, kept until the token would expire),
-- users (the same interface: users looked up by session or token, kept
-- while the generation stays and at most ttl seconds, default 2),
-- generation (function: a value that moves whenever cached users may be
-- stale; needed with users),
-- invalidate (function: called before and after every datastore write
-- that may make a cached user stale, a role or password change, a logout
-- of every session, and once more after a transaction's COMMIT when the
-- generation moved; it must move the generation; needed with users).
-- With invalidate, sec.datastore becomes a view of the store whose
-- writes call it (the store object itself is not changed).
-- Raises on a bad c, naming the field.
function Security:set_cache(c)
  if c ~= nil then
    local err = cache.check(c)
    if err then error("set_cache: " .. err, 2) end
  end
  local store = self._store or self.datastore
  self._store = store
  self.datastore = store
  self._cache, self._users, self._generation, self._cache_ttl = nil, nil, nil, nil
  self._cache_spec = c
  if c == nil then return end
  if c.invalidate and store then self.datastore = cache.observed(store, c.invalidate, c.generation) end
  self._cache, self._users = c.tokens, c.users
  self._generation, self._cache_ttl = c.generation, c.ttl or 2
end


--- What set_cache was last given (nil: no cache).
function Security:get_cache()
  return self._cache_spec
end


--- True when a stored hash is not argon2id with the configured parameters.
function Security:needs_update(hash)
  check_string(hash, 1, "needs_update")
  return self._engine:needs_update(hash)
end


local exact_numbers, same = jsonexact.exact_numbers, jsonexact.same

--- Mint a signed token carrying `data` (any JSON-encodable value whose
-- numbers have at most 14 significant digits: ids beyond go as strings).
-- @tparam string purpose e.g. "confirm", "reset", "login", "auth"
-- @param data the token's payload
-- @treturn string|nil token
-- @treturn string|nil error
function Security:generate_token(purpose, data)
  check_string(purpose, 1, "generate_token")
  local payload, err = json.encode(data == nil and json.null or data)
  if not payload then
    return nil, "EINVAL: token data is not JSON-encodable: " .. err, "EINVAL"
  end
  if not exact_numbers(data) then
    return nil, "EINVAL: token data has a number of more than 14 significant digits (send it as a string)", "EINVAL"
  end
  if type(data) == "table" and not same(data, json.decode(payload)) then
    return nil, "EINVAL: token data would not come back as given (a list with holes, or number and"
      .. " string keys in one table)", "EINVAL"
  end
  return self._engine:issue_token(purpose, payload, now(self))
end


--- Check a token, as Flask-Security's get_token_status does.
-- @tparam string token (anything else is simply invalid)
-- @tparam string purpose
-- @tparam[opt] number max_age seconds; nil means no limit
-- @treturn boolean expired: the signature is valid but the token is too old
-- @treturn boolean invalid: malformed, forged, other purpose or from the future
-- @treturn any data, when the signature is valid (also when expired)
-- @treturn number|nil issued-at time, when the signature is valid
function Security:get_token_status(token, purpose, max_age)
  check_string(purpose, 2, "get_token_status")
  -- a negative max_age would read as "no limit" in C: refused, never open
  if max_age ~= nil and (type(max_age) ~= "number" or max_age ~= floor(max_age) or max_age < 0) then
    argerror(3, "get_token_status", "non-negative integer or nil", max_age)
  end
  -- over the limit: invalid before C sizes a payload buffer for it
  if type(token) ~= "string" or #token > self._cfg.token_max_length then return false, true, nil end
  local status, payload, iat =
    self._engine:verify_token(purpose, token, max_age, now(self))
  if status ~= TOKEN_VALID and status ~= TOKEN_EXPIRED then
    return false, true, nil
  end
  local data = json.decode(payload)
  if data == nil then return false, true, nil end -- cannot happen unforged
  if data == json.null then data = nil end
  return status == TOKEN_EXPIRED, false, fix_integers(data), iat
end


--- Verify a user's password and, when it verifies and the stored hash is
-- of another scheme or weaker parameters, rewrite it with the current
-- default (Flask-Security's verify_and_update_password).
-- @tparam string password
-- @tparam User user
-- @treturn boolean
-- @treturn string|nil why it could not be checked or updated
function Security:verify_and_update_password(password, user)
  check_string(password, 1, "verify_and_update_password")
  if type(user) ~= "table" then argerror(2, "verify_and_update_password", "User", user) end
  local stored = user.password
  if type(stored) ~= "string" then return false end
  local ok, err, code = self:verify_password(password, stored)
  if not ok then return false, err, code end
  if self._engine:needs_update(stored) then
    local h
    h, err, code = self:hash_password(password)
    if not h then return true, err, code end -- verified; the new hash failed
    if self.datastore then
      ok, err, code = self.datastore:set_password(user, h)
      if ok == nil then return true, err, code end -- verified; upgrade failed
    end
  end
  return true
end


--- How many expensive hash functions this instance has run (for tests).
function Security:hash_count()
  return self._engine:hash_count()
end


--- Random identifier: base64url of `nbytes` (16..64, default 16) bytes.
function Security.random_id(_, nbytes)
  return core.random_id(nbytes)
end


--- Send the mail outbox's due messages over SMTP (mail_server): for a
-- cron job or a loop of the application's own; { sent, retried,
-- given_up }, or nil and why. It blocks on the mail server: never call it
-- from an event loop (fsec.openresty drains from a worker thread).
function Security:drain_mail()
  return require("fsec.mail").drain(self)
end


--- Wipe the keys, release the engine and close the datastore; the
-- instance is unusable after.
function Security:close()
  self._engine:close()
  if self._breached then self._breached:close() end -- unmapped now, not at the next GC
  if self.datastore then self.datastore:close() end
end


--- Emit a security event (docs/events.md) for what the application did
-- itself: a role added or removed, an account unlocked, access reset.
-- name: one of fsec.events.NAMES; fields: outcome, reason, user, method,
-- via, role, kind (anything else is ignored); req: the request, if any.
function Security:emit_event(name, fields, req)
  check_string(name, 1, "emit_event")
  if not events.NAMES[name] then error("bad argument #1 to 'emit_event' (unknown event '" .. name .. "')", 2) end
  events.emit(self, name, fields, req)
end


--- Connect a receiver to a Flask-Security signal (see fsec.signals).
function Security:connect(name, fn)
  return self.signals:connect(name, fn)
end


--- Register a policy hook (see fsec.policy): point is "login",
-- "authenticate" or "access"; fn returns true to allow.
function Security:policy(point, fn)
  return self._policy:add(point, fn)
end


--- A new response object to collect status, headers and cookies.
function Security.new_response() return http.new_response() end


local ENDPOINT_URLS = {
  login = "login_url", logout = "logout_url", register = "register_url",
  reset_password = "reset_url", forgot_password = "reset_url",
  change_password = "change_url", confirm_email = "confirm_url",
  send_confirmation = "confirm_url", verify = "verify_url",
}

--- URL of a security endpoint, with query parameters
-- (Flask-Security's url_for_security).
function Security:url_for_security(endpoint, params)
  local key = ENDPOINT_URLS[endpoint]
  if not key then error("unknown security endpoint '" .. tostring(endpoint) .. "'", 2) end
  local u = self._cfg.url_prefix .. self._cfg[key]
  local q = params and http.encode_query(params) or ""
  return q ~= "" and (u .. "?" .. q) or u
end


--- The identity attributes logins are looked up by.
function Security:get_identity_attributes()
  local out = {}
  for i, a in ipairs(self._cfg.identity_attributes) do out[i] = a end
  return out
end


for k, fn in pairs(auth.methods) do Security[k] = fn end
for k, fn in pairs(authz.methods) do Security[k] = fn end
-- The endpoints' methods load fsec.views (and what it needs) at their
-- first call: a worker that only checks tokens and sessions never keeps
-- that code (docs/performance.md, "Memory"). A views that fails to load
-- raises from the call, naming the module.
for _, k in ipairs{ "handle", "csrf_protect", "take_flashes", "csrf_token" } do
  Security[k] = function(...)
    local fn = require("fsec.views").methods[k]
    Security[k] = fn
    return fn(...)
  end
end
for k, fn in pairs(require("fsec.sessiondata").methods) do Security[k] = fn end


--- The engine settings of a validated configuration (for adapters that
-- hash in worker threads: fsec.openresty.thread).
_M.engine_config = engine_config

_M.random_id = core.random_id
_M.Security = Security
_M.anonymous = require("fsec.user").anonymous

return _M
