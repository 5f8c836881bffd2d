--- Authentication: session and remember cookies, auth tokens, HTTP Basic;
-- login_user, logout_user, current_user, freshness. Mixed into Security.
--
-- Session cookie: a "session" token carrying { s = session id,
-- u = fs_uniquifier, a = time of the last primary authentication,
-- g = grace expiry }, re-signed as the user stays active (idle timeout =
-- its maximum age). The session id names a server-side record (the
-- datastore's sessions), so logout, password change, deactivation and
-- deletion end it for real; its expiry is the absolute lifetime.
-- Remember cookie: a "remember" token { s, u } for the same record.
-- Auth token: an "auth" token { u = fs_token_uniquifier, a, e = expiry }.
--
-- Over 600 lines on purpose: one concept, who the request is. The
-- cookie readers, the cached lookups, the password check with its lockout
-- (the one home of the lockout's bookkeeping: reserve, unlock, the
-- checks) and login_user share the session's private helpers and
-- Security's cache fields, which no file but this and lua/fsec.lua may
-- touch (spec/42-reshape_spec.lua checks it).
-- @module fsec.auth

local events = require "fsec.events"
local metrics = require "fsec.metrics"
local core = require "fsec.core"
local http = require "fsec.http"
local userlib = require "fsec.user"
local datastore = require "fsec.datastore"
local throttle = require "fsec.throttle"
local phone = require "fsec.phone"
local flask = require "fsec.flask"

local type = type
local pairs = pairs
local rawget = rawget
local ipairs = ipairs
local floor = math.floor


local COOKIE_MAX = 4096


-- A store that cannot answer (busy past its timeout, I/O error) must not
-- turn into "no such user": the request fails as unavailable (503).
local Unavailable = {}
Unavailable.__index = Unavailable
Unavailable.__tostring = function(e) return "fsec: unavailable: " .. tostring(e.message) end

local NOT_A_FAULT = { ENOTFOUND = true, EIDENTITY = true, ETOOLONG = true, ENUL = true, EEXIST = true,
                      EUTF8 = true, EINVAL = true }

--- Raise Unavailable for a store failure (a code that is not about the input).
local function check_store(v, err, code)
  if v == nil and code and not NOT_A_FAULT[code] then
    metrics.inc("fsec_store_errors_total", { code = code })
    error(setmetatable({ code = code, message = err }, Unavailable), 0)
  end
  return v, err, code
end
-- Run fn in one write transaction of ds: a login's writes (the old
-- session out, the new one in, tracking) then cost one commit, so one
-- fsync under synchronous=FULL on the worker's event loop, not three.
-- A transaction that cannot start (store busy) is Unavailable like any
-- other store fault.
-- deferred: use the datastore's transaction_deferred when it has one
-- (the commit's fsync made off this thread, see fsec.datastore.sqlite).
local function in_transaction(ds, fn, deferred)
  local run = deferred and ds.transaction_deferred or ds.transaction
  local ok, a, b, c = pcall(run, ds, fn)
  if ok then return a, b, c end
  if type(a) == "string" then
    local code = a:match("^(E%u+):")
    if code then check_store(nil, a, code) end
  end
  error(a, 0)
end

local REFRESH_AFTER = 60 -- re-sign a session cookie at most once a minute


local _M = { _VERSION = "0.1.0" }
_M.REFRESH_AFTER = REFRESH_AFTER -- fsec.hit leaves such a session to the whole check


-- The clock gives whole seconds (fsec.new wraps a configured clock in
-- floor; nginx's ngx.time is whole already): no floor on the request path.
local function now(sec)
  local c = sec._clock
  if c then return c() end
  return os.time()
end


local function secure(sec, req)
  local s = sec._cfg.session_cookie_secure
  if s == "auto" then return req.scheme == "https" end
  return s
end


-- __Host- prefix when the cookie is Secure, host-only and Path=/.
local function cookie_name(sec, req, base)
  if secure(sec, req) and not sec._cfg.session_cookie_domain then
    return "__Host-" .. base
  end
  return base
end


local function cookie_opts(sec, req, max_age)
  local c = sec.config
  return { path = "/", domain = c.session_cookie_domain, secure = secure(sec, req),
           http_only = c.session_cookie_httponly, same_site = c.session_cookie_samesite,
           max_age = max_age }
end


-- Fields that never leave in a signal or a log: the password hash and the
-- second factors' secrets (sealed or hashed at rest, but a secret still).
local PRIVATE_FIELDS = { password = true, tf_totp_secret = true, us_totp_secrets = true,
                         mf_recovery_codes = true }

--- A copy of a user for signals and logs: no password hash, no
-- second-factor secret.
function _M.public_user(user)
  if not userlib.is_user(user) then return user end
  userlib.full(user) -- a thin (cached) user: every field, for the copy
  local t = {}
  for k, v in pairs(user) do
    if not PRIVATE_FIELDS[k] then t[k] = v end
  end
  return userlib.user(t, userlib.origin(user))
end


-- get_token_status, remembered per exact token string when a cache is
-- installed (the answer depends only on the bytes and the time, so it is
-- kept until the token would expire). The entry: { data, iat, until,
-- earliest, purpose, user, generation, user until }; the last three are
-- an auth token's user (token_user), kept in the same entry: no second
-- lookup, no second entry. Returns the entry as a fifth value.
local function token_status(sec, tok, purpose, max_age)
  local cache = sec._cache
  if not cache then return sec:get_token_status(tok, purpose, max_age) end
  -- keyed by the token alone (no concatenation on the hot path); the
  -- entry names its purpose
  local hit = cache:get(tok)
  local t = now(sec)
  if hit and hit[5] == purpose and t < hit[3] and t >= hit[4] then
    -- shared: callers that change token data copy it first (copy_data)
    return false, false, hit[1], hit[2], hit
  end
  local expired, invalid, data, iat = sec:get_token_status(tok, purpose, max_age)
  if not expired and not invalid and iat and type(data) == "table" then
    local until_ = max_age and (iat + max_age + 1) or (t + 3600)
    if type(data.e) == "number" and data.e > 0 then until_ = math.min(until_, data.e) end
    local copy = {}
    for k, v in pairs(data) do copy[k] = v end
    local entry = { copy, iat, until_, iat - sec._cfg.token_clock_skew, purpose, false, false, 0 }
    cache:set(tok, entry, until_ - t)
    return expired, invalid, data, iat, entry
  end
  return expired, invalid, data, iat
end


-- The loader of sec's thin users (fsec.user): the full user by id,
-- through the datastore sec has then; a store fault raises Unavailable.
local function user_loader(sec)
  local load = sec._user_loader
  if not load then
    load = function(id)
      local ds = sec.datastore
      return ds and check_store(ds:find_user{ id = id }) or nil
    end
    sec._user_loader = load
  end
  return load
end


-- A user looked up for authentication, remembered while no write went
-- through fsec (the adapter's generation counter) and for at most
-- cache_ttl seconds (writes by other programs). key is a random id (a
-- session id, a token uniquifier); check, when given, must equal what
-- was stored with it (the session's uniquifier). What is kept is a thin
-- user (fsec.user.thin: id, active, shared role and permission lists,
-- ~250 bytes with its entry, against ~1.2 KB for the row): a check on a
-- hit reads nothing else, and any other field loads the row once.
-- Also returns the thin user kept (or false) and until when it may be
-- kept (the entry's fourth field: a session's cookie entry copies the
-- user, no longer than this).
local function cached_user(sec, key, check, lookup, a, b)
  local cache = sec._users
  if not cache then return check_store(lookup(a, b)) end
  local gen = sec._generation()
  local hit = cache:get(key)
  local t = now(sec)
  -- past its until by fsec's clock, an entry is stale even where the
  -- cache's own clock keeps it a little longer (resty.lrucache expires by
  -- ngx.now(), to the millisecond; fsec counts whole seconds): a session
  -- entry copying that until would miss on every request until then
  if hit and hit[2] == gen and hit[3] == check and (hit[4] or t + 1) > t then
    return hit[1], hit[1], hit[4]
  end
  local user = check_store(lookup(a, b))
  local thin = user and userlib.thin(user, user_loader(sec)) or false
  local until_ = t + sec._cache_ttl
  cache:set(key, { thin, gen, check, until_ }, sec._cache_ttl)
  return user, thin, until_
end


local function by_session(ds, data) return ds:find_user_by_session(data.s, data.u) end
local function by_token_uniquifier(ds, uq) return ds:find_user{ fs_token_uniquifier = uq } end


-- The user kept in the token (or cookie) tok's cache entry, while the
-- generation stays the same and before its until; else load(sec, x, t)
-- gives the user, its thin copy and its until, kept in the entry, which
-- is set again so that a cache shared by processes keeps the user too.
local function entry_user(sec, tok, entry, load, x)
  local gen = sec._generation()
  local t = now(sec)
  if entry[7] == gen and t < entry[8] then return entry[6] end
  local user, thin, until_ = load(sec, x, t)
  entry[6], entry[7], entry[8] = thin or false, gen, until_ or t
  if entry[3] > t then sec._cache:set(tok, entry, entry[3] - t) end
  return user
end

-- The user an auth token tok names (its uniquifier uq), kept in the
-- token's own cache entry (token_status) under the same rules as
-- cached_user: while the generation stays the same and for at most
-- cache_ttl seconds. One entry per token, not one more per user. The
-- filled entry is set again, so that a cache shared by processes (the
-- OpenResty adapter's lua_shared_dict) keeps the user too. Without a
-- users cache (or an entry), cached_user decides.
local function load_by_token(sec, uq, t)
  local user = check_store(by_token_uniquifier(sec.datastore, uq))
  return user, user and userlib.thin(user, user_loader(sec)), t + sec._cache_ttl
end

local function token_user(sec, tok, entry, uq)
  if not entry or not sec._users then
    return cached_user(sec, uq, false, by_token_uniquifier, sec.datastore, uq)
  end
  return entry_user(sec, tok, entry, load_by_token, uq)
end


-- The user a session cookie tok names (its session data.s, uniquifier
-- data.u), kept in the cookie's own cache entry as token_user keeps a
-- token's: a cache hit (fsec.hit) then reads one entry, not two. Filled
-- from the users cache, per session id (a re-signed cookie is a new
-- entry for the same session: no store read), kept while the generation
-- stays the same and no longer than that users entry. Without an entry
-- (a remember cookie) or a users cache, cached_user decides.
local function load_by_session(sec, data)
  return cached_user(sec, data.s, data.u, by_session, sec.datastore, data)
end

local function session_user(sec, tok, entry, data)
  if not entry or not sec._users then return load_by_session(sec, data) end
  return entry_user(sec, tok, entry, load_by_session, data)
end


-- Token data may be shared with the cache: change a copy.
local function copy_data(data)
  local t = {}
  for k, v in pairs(data) do t[k] = v end
  return t
end


local function read_token_cookie(sec, req, base, purpose, max_age)
  local v = http.request_cookie(req, cookie_name(sec, req, base), COOKIE_MAX)
  if not v then return nil end
  local expired, invalid, data, iat, entry = token_status(sec, v, purpose, max_age)
  if expired or invalid or type(data) ~= "table" or type(data.s) ~= "string"
     or type(data.u) ~= "string" then
    return nil
  end
  return data, iat, v, entry
end


local function read_session(sec, req)
  return read_token_cookie(sec, req, sec._cfg.session_cookie_name, "session",
                           sec._cfg.session_idle_timeout)
end


local function read_remember(sec, req)
  return read_token_cookie(sec, req, sec._cfg.remember_cookie_name, "remember",
                           sec._cfg.remember_cookie_duration)
end


-- The server-side session ids the request's signed cookies name, at any
-- age: to end them. A cookie past its idle time no longer signs in, but
-- its session may live on in a copy refreshed elsewhere (a stolen
-- cookie): logout and login must still end it.
local function cookie_sessions(sec, req)
  local a = read_token_cookie(sec, req, sec._cfg.session_cookie_name, "session", nil)
  local b = read_token_cookie(sec, req, sec._cfg.remember_cookie_name, "remember", nil)
  a, b = a and a.s, b and b.s
  if a == b then b = nil end
  return a, b
end


local function set_session_cookie(sec, req, res, data)
  local tok = assert(sec:generate_token("session", data))
  res:set_cookie(cookie_name(sec, req, sec._cfg.session_cookie_name), tok,
                 cookie_opts(sec, req))
end


local function authenticate_session(sec, req, res)
  local data, iat, tok, entry = read_session(sec, req)
  local via, t = "session", now(sec)
  local refresh = false
  if not data then
    local r = read_remember(sec, req)
    -- neither of fsec's cookies: maybe the Flask app's (fsec.flask)
    if not r then
      local user, fdata = flask.session_user(sec, req, check_store)
      return user, "session", fdata
    end
    -- A remembered login is not a fresh one: a = 0.
    data, via, refresh, entry = { s = r.s, u = r.u, a = 0 }, "remember", true, nil
  elseif t - iat >= REFRESH_AFTER then
    refresh = true
  end
  if not sec.datastore then return nil end
  local user = session_user(sec, tok, entry, data)
  if not user or not user.active then return nil end
  if refresh and res then set_session_cookie(sec, req, res, data) end
  return user, via, data
end


local function request_token(sec, req)
  local key = sec._cfg.token_authentication_key
  local body = http.json_body(req, sec._cfg.max_body_bytes)
  local tok = body and body[key]
  if tok == nil then tok = http.single(req.query, key, 8192) end
  if tok == nil then tok = http.header(req, sec._token_header) end
  return type(tok) == "string" and tok or nil
end


local function authenticate_token(sec, req)
  local tok = request_token(sec, req)
  if not tok then return nil end
  -- itsdangerous always has a '.', fsec's base64url never does
  if tok:find(".", 1, true) then
    local user, data = flask.token_user(sec, tok, check_store, sec._cache)
    return user, "token", data
  end
  if not sec.datastore then return nil end
  local expired, invalid, data, _, entry = token_status(sec, tok, "auth", sec._cfg.token_max_age)
  if expired or invalid or type(data) ~= "table" or type(data.u) ~= "string" then return nil end
  local e = data.e
  if type(e) ~= "number" or (e > 0 and e < now(sec)) then return nil end
  local user = token_user(sec, tok, entry, data.u)
  if not user or not user.active then return nil end
  return user, "token", data
end


--- The user an identity names, trying each identity attribute in order.
function _M.lookup_identity(sec, identity)
  if type(identity) ~= "string" or not sec.datastore then return nil end
  for _, attr in ipairs(sec._cfg.identity_attributes) do
    local value = identity
    -- a phone number as people write it: stored in E.164 (fsec.phone)
    if attr == "us_phone_number" then value = phone.canonical(identity, sec._cfg.phone_region_default) end
    local u = value and check_store(sec.datastore:find_user{ [attr] = value })
    if u then return u end
  end
  return nil
end


-- Stored hashes that cannot run (unusable "!", malformed, over the caps,
-- scheme not enabled).
local STORED_HASH_UNUSABLE = { EHASHFMT = true, EHASHCAP = true, ESCHEME = true }
-- Hashing that could not run at all (the argon2 helper failed, no memory):
-- neither a match nor a wrong password. The request fails as unavailable
-- (503) and no failure is counted against the account.
-- EBUSY: the thread pool's queue was full for too long (fsec.openresty).
local HASH_FAULT = { EHELPER = true, ENOMEM = true, ECRYPTO = true, EBUSY = true }

local function check_hash(ok, err, code)
  if not ok and HASH_FAULT[code] then
    error(setmetatable({ code = code, message = err }, Unavailable), 0)
  end
  return ok, err, code
end

--- The results of a password check, passed through; a hashing fault
-- raises Unavailable (503) instead of reading as a wrong password.
_M.check_hash = check_hash


--- A new hash of password; a hashing fault raises Unavailable (503),
-- anything else (a password the engine refuses) a plain error.
function _M.new_hash(sec, password)
  return assert(check_hash(sec:hash_password(password)))
end


--- Is the account locked out (login_lockout_threshold failures within
-- login_lockout_window)? As the user was read: the decision that counts
-- is the store's reservation (check_user_password).
function _M.lockout_active(sec, user)
  local n = sec._cfg.login_lockout_threshold
  if n <= 0 or not user then return false end
  local w = user.failed_login_window
  return (user.failed_login_count or 0) >= n and w ~= nil and w > now(sec) - sec._cfg.login_lockout_window
end


--- Unlock an account: its failed logins (and reservations) cleared. A
-- password reset unlocks (catalogue L-04); a verified password gives its
-- reservation back so.
-- @return true, or nil, "ECODE: message", code (the store's failure)
function _M.unlock(sec, user)
  return sec.datastore:reset_failed_logins(user)
end


-- Refusals the hashing makes before it hashes: the password cannot be
-- right (too long for password_max_bytes, a NUL byte, not UTF-8).
local HOPELESS = { ETOOLONG = true, ENUL = true, EUTF8 = true, EINVAL = true }

-- An attempt that cannot be right and costs nothing to refuse: it runs no
-- hash and counts against no one (catalogue W19-03). Counting it let
-- anyone lock any account for nothing: ten over-long passwords, 17 ms.
local function hopeless(sec, password)
  if type(password) ~= "string" then return true end
  local ok, _, code = sec._engine:normalize_password(password)
  return not ok and HOPELESS[code] == true
end
_M.hopeless = hopeless

-- One hash that matches nothing: the cost of a check where there is no
-- real hash to check (no such user, no usable password, locked).
local function spend(sec, password)
  check_hash(sec:verify_password(password, sec._dummy))
end
_M.spend = spend

-- The key an identity that names no account is metered under: a keyed
-- hash of its folded form (the store never holds the address itself).
local function attempt_key(sec, identity)
  local key = sec._attempt_key
  if not key then
    local secret = sec._cfg.secret_key
    if type(secret) == "table" then secret = secret[1] end
    key = core.digest(tostring(secret) .. "\0fsec login attempts")
    sec._attempt_key = key
  end
  identity = tostring(identity)
  local folded = core.fold_email(identity) or core.fold_username(identity) or identity
  return core.digest(folded, key)
end

-- Reserve one password check before its hash: the store's one atomic
-- statement counts it as a failure unless the account is locked, so
-- however many guesses arrive at once, on however many workers, at most
-- login_lockout_threshold hashes run per window (catalogue W19-01).
-- true when the check may run (lockout off: always).
local function reserve(sec, user)
  local cfg = sec._cfg
  if cfg.login_lockout_threshold <= 0 then return true end
  local n = check_store(sec.datastore:reserve_login(user, cfg.login_lockout_threshold,
                                                    cfg.login_lockout_window))
  return n ~= false and n ~= nil
end


--- Check a password for an identity at the cost of exactly one hash,
-- whether or not the user exists, has a usable password or is locked out
-- (catalogue E-02, E-03), and with the same write: an unknown identity's
-- attempt is reserved under its keyed hash as a known one's is on its
-- account (W19-08: no timing oracle where generic responses are on).
-- @return user when the password verifies, else nil, why ("unknown",
-- "locked", "password"), user (or nil)
function _M.check_password(sec, identity, password, keep_count)
  local user = _M.lookup_identity(sec, identity)
  if user then return _M.check_user_password(sec, user, password, keep_count) end
  if hopeless(sec, password) then return nil, "unknown", nil end
  local cfg = sec._cfg
  if cfg.login_lockout_threshold > 0 then
    check_store(sec.datastore:reserve_attempt(attempt_key(sec, identity), cfg.login_lockout_threshold,
                                              cfg.login_lockout_window))
  end
  spend(sec, password) -- same work, no match
  events.emit(sec, "login", { outcome = "failure", reason = "unknown_identity" })
  return nil, "unknown", nil
end


--- THE check of a known user's password: every path that takes one (the
-- login form, HTTP Basic, /verify, /change, and any later one) goes
-- through here. It costs one hash at most, counts the failure, honours
-- the lockout and is metered (catalogue W19-01, W19-02): the attempt is
-- reserved in the store before the hash and given back (the count reset)
-- when the password verifies. A locked account is refused even with the
-- right password, after a hash that matches nothing. An attempt that
-- cannot be right (hopeless) runs no hash and counts for nothing.
-- keep_count(user), when given and true for this user, keeps the
-- reservation when the password verifies: a second factor follows, and
-- only its success gives the attempts back (a password known to an
-- attacker must not reset the meter of the codes guessed after it).
-- reserved: the caller reserved this attempt already (unified sign-in's
-- passcode, checked as codes first under the same reservation).
-- @return user, or nil, why ("locked", "password"), user
function _M.check_user_password(sec, user, password, keep_count, reserved)
  if hopeless(sec, password) then return nil, "password", user end
  if not reserved and not reserve(sec, user) then
    spend(sec, password)
    events.emit(sec, "login", { outcome = "failure", reason = "locked", user = user })
    return nil, "locked", user
  end
  if type(user.password) ~= "string" then
    spend(sec, password) -- no usable password: same work, no match
    return nil, "password", user
  end
  local ok, err, code = sec:verify_and_update_password(password, user)
  if not ok and HASH_FAULT[code] then
    -- the check never ran (503): it counts against no one
    if sec._cfg.login_lockout_threshold > 0 then check_store(sec.datastore:release_login(user)) end
    check_hash(ok, err, code)
  end
  if not ok then
    -- an unusable stored hash ran nothing: run the one hash it would have
    if STORED_HASH_UNUSABLE[code] then spend(sec, password) end
    sec.signals:send("user_failed_authn", { user = _M.public_user(user),
                                            auth_type = "password", tfa = false })
    -- the failure that reached the threshold locks the account: once
    local threshold = sec._cfg.login_lockout_threshold
    if threshold > 0 and user.failed_login_count == threshold then
      events.emit(sec, "lockout", { user = user })
    end
    return nil, "password", user
  end
  if keep_count and keep_count(user) then return user end
  if (user.failed_login_count or 0) > 0 then -- give the reservation back
    check_store(_M.unlock(sec, user))
  end
  return user
end


--- Whether this user must confirm the address before signing in.
function _M.requires_confirmation(sec, user)
  return sec._cfg.confirmable and not user.confirmed_at and not sec._cfg.login_without_confirmation
end


-- HTTP Basic is a password login on every request: the throttle hook runs
-- before the hash and the login hook after it, and an unconfirmed
-- account is refused, as at /login (Flask-Security lets it in here).
local function authenticate_basic(sec, req)
  local h = http.header(req, "authorization")
  local b64 = h and h:match("^%s*[Bb][Aa][Ss][Ii][Cc]%s+(%S+)%s*$")
  local creds = b64 and core.base64_decode(b64)
  local identity, password = nil, nil
  if creds then identity, password = creds:match("^([^:]*):(.*)$") end
  if not identity then return nil end
  if not sec._policy:run("throttle", req, "basic") then return nil end
  -- the client's and the account's limits, before the hash: over them the
  -- request stays unauthenticated and is answered 429 (fsec.authz)
  local allowed, wait = throttle.credential(sec, req, identity)
  if not allowed then
    req._fsec_throttled = wait
    events.emit(sec, "login", { outcome = "failure", reason = "throttled", via = "basic" }, req)
    return nil
  end
  -- Basic carries one factor: an account that needs two is refused, and
  -- its right password is still counted (no free password oracle)
  local tf = require "fsec.twofactor"
  local function two(u) return tf.required(sec, u) end
  -- the events of the check name this request (only here: a Basic
  -- request hashes anyway, the other mechanisms pay nothing)
  events.enter(sec, req)
  local user = _M.check_password(sec, identity, password, two)
  events.leave(sec)
  if not user then return nil end
  local why = not user.active and "inactive" or _M.requires_confirmation(sec, user) and "unconfirmed"
    or two(user) and "two_factor_required" or not sec._policy:run("login", user, req) and "policy"
  if why then
    events.emit(sec, "login", { outcome = "failure", reason = why, user = user, via = "basic" }, req)
    return nil
  end
  return user, "basic", nil
end


local AUTHENTICATORS = {
  session = authenticate_session,
  token = authenticate_token,
  basic = authenticate_basic,
}
_M.MECHANISMS = { session = true, token = true, basic = true }


-- Each mechanism's result is kept on the request itself, in three fields
-- (user or false, via, data): no table per request, since the check runs
-- on every request and its garbage was a large part of its cost in nginx.
-- An absent field means "not tried yet".
local RESULT_KEYS = {
  session = { "_fsec_session", "_fsec_session_via", "_fsec_session_data" },
  token = { "_fsec_token", "_fsec_token_via", "_fsec_token_data" },
  basic = { "_fsec_basic", "_fsec_basic_via", "_fsec_basic_data" },
}

local function keep_result(req, mech, user, via, data)
  local k = RESULT_KEYS[mech]
  req[k[1]] = user or false
  req[k[2]] = user and via or nil
  req[k[3]] = user and data or nil
end

-- Forget every mechanism's result (after a login, logout or re-sign).
local function forget_results(req)
  for _, k in pairs(RESULT_KEYS) do
    req[k[1]], req[k[2]], req[k[3]] = nil, nil, nil
  end
end


-- One mechanism, its result kept on the request.
local function try_mechanism(sec, req, mech, res)
  local k = RESULT_KEYS[mech]
  local hit = rawget(req, k[1])
  if hit == nil then
    local user, via, data = AUTHENTICATORS[mech](sec, req, res)
    if user and not sec._policy:run("authenticate", user, req, via) then user = nil end
    keep_result(req, mech, user, via, data)
    if user then return user, via, data end
    return nil
  end
  if hit then return hit, rawget(req, k[2]), rawget(req, k[3]) end
  return nil
end


--- The user the request authenticates as through the given mechanisms
-- (in order), or nil. Results are cached on the request.
-- @return user, via ("session", "remember", "token", "basic"), data
function _M.authenticate(sec, req, mechanisms, res)
  -- Unrolled for the usual one or two mechanisms: a loop here would stop
  -- LuaJIT from compiling the request path that calls it (a root trace
  -- cannot hold an inner loop), and that path runs on every request.
  local m = mechanisms[1]
  if not m then return nil end
  local user, via, data = try_mechanism(sec, req, m, res)
  if user then return user, via, data end
  m = mechanisms[2]
  if not m then return nil end
  user, via, data = try_mechanism(sec, req, m, res)
  if user then return user, via, data end
  for i = 3, #mechanisms do
    user, via, data = try_mechanism(sec, req, mechanisms[i], res)
    if user then return user, via, data end
  end
  return nil
end


------------------------------------------------------------------------
-- Methods mixed into Security
------------------------------------------------------------------------

local Security = {}
_M.methods = Security


--- The signed-in user, or the anonymous user (never nil).
-- @tparam table req the request
-- @tparam[opt] Response res to refresh the session cookie on
function Security:current_user(req, res)
  local user = _M.authenticate(self, req, self._cfg.auth_mechanisms, res)
  if user then return userlib.bind(user, self) end
  return userlib.anonymous
end


--- How the current user was authenticated ("session", "remember", "token",
-- "basic"), or nil.
function Security:authn_via(req)
  local _, via = _M.authenticate(self, req, self._cfg.auth_mechanisms)
  return via
end


--- Sign a user in: a new server-side session, a new session cookie (and
-- a remember cookie), login tracking, the user_authenticated signal.
-- @tparam table req the request
-- @tparam Response res gets the cookies
-- @tparam User user
-- @tparam[opt] table opts remember (default: default_remember_me), authn_via (list)
-- @return true, or nil and the reason (inactive, denied by policy, store error)
function Security:login_user(req, res, user, opts)
  opts = opts or {}
  if not userlib.is_user(user) then error("bad argument #3 to 'login_user' (User expected)", 2) end
  if not user.active then
    events.emit(self, "login", { outcome = "failure", reason = "inactive", user = user }, req)
    return nil, "EINACTIVE: account is disabled", "EINACTIVE"
  end
  local ok, reason = self._policy:run("login", user, req)
  if not ok then
    events.emit(self, "login", { outcome = "failure", reason = "policy", user = user }, req)
    return nil, "EPOLICY: " .. tostring(reason), "EPOLICY"
  end
  local ds, t = self.datastore, now(self)
  -- A new session id on every login: end the one the request came with
  -- (session fixation), whoever it belonged to.
  local old1, old2 = cookie_sessions(self, req)
  local remember = opts.remember
  if remember == nil then remember = self._cfg.default_remember_me end
  local sid = core.random_id(16)
  local lifetime = remember and self._cfg.remember_cookie_duration or self._cfg.session_lifetime
  local err, code
  local tracked, terr
  -- deferred: under nginx the commit's fsync runs in the thread pool
  ok, err, code = in_transaction(ds, function()
    if old1 then ds:delete_session(old1) end
    if old2 then ds:delete_session(old2) end
    local made, e, c = check_store(ds:create_session(user, sid, t + lifetime))
    if not made then return nil, e, c end
    if self._cfg.trackable then
      tracked, terr = ds:track_login(user, http.single(req, "remote_addr", 64))
    end
    return true
  end, true)
  if not ok then return nil, err, code end
  local data = { s = sid, u = user.fs_uniquifier, a = t }
  set_session_cookie(self, req, res, data)
  local rname = cookie_name(self, req, self._cfg.remember_cookie_name)
  if remember then
    res:set_cookie(rname, assert(self:generate_token("remember", { s = sid, u = user.fs_uniquifier })),
                   cookie_opts(self, req, self._cfg.remember_cookie_duration))
  elseif http.request_cookie(req, rname) then
    res:delete_cookie(rname, cookie_opts(self, req))
  end
  if self._cfg.trackable and not tracked then
    self._log("error", "fsec: login tracking failed: " .. tostring(terr))
  end
  forget_results(req)
  keep_result(req, "session", user, "session", data)
  require("fsec.csrf").signed_in(self, req, res) -- (required here: fsec.csrf requires this module)
  self.signals:send("user_authenticated", { user = _M.public_user(user),
                                            authn_via = opts.authn_via or { "password" } })
  return true
end


--- Sign out: the server-side session ends (so replayed cookies fail) and
-- both cookies are expired.
function Security:logout_user(req, res)
  local ds = self.datastore
  local s1, s2 = cookie_sessions(self, req)
  if ds and s1 then ds:delete_session(s1) end
  if ds and s2 then ds:delete_session(s2) end
  res:delete_cookie(cookie_name(self, req, self._cfg.session_cookie_name), cookie_opts(self, req))
  res:delete_cookie(cookie_name(self, req, self._cfg.remember_cookie_name), cookie_opts(self, req))
  -- a sign-in left half done (the second factor not given) ends too
  local tf = cookie_name(self, req, self._cfg.two_factor_state_cookie_name)
  if http.request_cookie(req, tf) then res:delete_cookie(tf, cookie_opts(self, req)) end
  flask.logout(self, req, res)
  require("fsec.csrf").signed_out(self, req, res)
  forget_results(req)
  return true
end


--- End every other session of a user (after a password change), keeping
-- the one of this request; with rotate, also give the user new
-- uniquifiers (ending tokens and remember cookies) and re-sign this
-- request's session cookie, and its remember cookie, with the new one.
function Security:end_other_sessions(req, res, user, rotate)
  local data = read_session(self, req)
  local keep = data and data.s
  -- the remember cookie of the kept session: it names the old uniquifier
  local r = rotate and read_remember(self, req)
  local remembered = r and keep and r.s == keep
  local ds = self.datastore
  local ok, err, code
  if rotate then
    ok, err, code = datastore.revoke_all(ds, user, keep)
    if ok ~= nil then events.emit(self, "access_reset", { user = user }, req) end
  else
    ok, err, code = ds:delete_user_sessions(user, keep)
  end
  if ok == nil then return nil, err, code end
  if data and res then
    data = copy_data(data)
    data.u = user.fs_uniquifier
    set_session_cookie(self, req, res, data)
    -- as Flask-Security signs the user in again: "remember me" outlives
    -- the change on this browser (only here: the others end)
    if remembered then
      res:set_cookie(cookie_name(self, req, self._cfg.remember_cookie_name),
                     assert(self:generate_token("remember", { s = keep, u = data.u })),
                     cookie_opts(self, req, self._cfg.remember_cookie_duration))
    end
    forget_results(req)
    keep_result(req, "session", user, "session", data)
  end
  return true
end


--- Mark the request's session as freshly authenticated (after /verify).
-- Re-authentication starts a new server-side session (catalogue S-02): the
-- session cookie from before it, and a remember cookie naming the old
-- session, stop working; this response carries their replacements.
-- @return true, or false (no session), or nil, err, code (store)
function Security:mark_fresh(req, res)
  -- the session of the session cookie, or of a remember cookie alone
  local data, r = read_session(self, req), read_remember(self, req)
  if not data and r then data = { s = r.s, u = r.u } end
  if not data then return false end
  local user = _M.authenticate(self, req, { "session" }, res)
  if not user then return false end
  local ds, t = self.datastore, now(self)
  -- the application's session data goes on with the new session
  local carried = ds.get_session_data and check_store(ds:get_session_data(data.s)) or nil
  local rname = cookie_name(self, req, self._cfg.remember_cookie_name)
  -- only a valid remember cookie of this very session keeps the long
  -- lifetime: any cookie of that name would turn a plain session into a
  -- 30-day one (catalogue S-04)
  local remembered = r ~= nil and r.s == data.s
  local lifetime = remembered and self._cfg.remember_cookie_duration or self._cfg.session_lifetime
  local sid = core.random_id(16)
  local ok, err, code = in_transaction(ds, function()
    local made, e, c = check_store(ds:create_session(user, sid, t + lifetime))
    if not made then return nil, e, c end
    check_store(ds:delete_session(data.s))
    return true
  end, true)
  if not ok then return nil, err, code end
  -- after the commit: under nginx on PostgreSQL a write inside the
  -- transaction would run before the new session's row exists
  if carried then check_store(ds:set_session_data(sid, carried, 0)) end
  data = { s = sid, u = data.u, a = t }
  set_session_cookie(self, req, res, data)
  if remembered then
    res:set_cookie(rname, assert(self:generate_token("remember", { s = sid, u = data.u })),
                   cookie_opts(self, req, self._cfg.remember_cookie_duration))
  end
  forget_results(req)
  keep_result(req, "session", user, "session", data)
  require("fsec.csrf").signed_in(self, req, res) -- (required here: fsec.csrf requires this module)
  return true
end


--- An auth token for a user (Flask-Security's user.get_auth_token()).
-- @tparam User user
-- @tparam[opt] table opts expires_in (seconds; default: no expiry)
function Security:get_auth_token(user, opts)
  if type(user) ~= "table" or type(user.fs_uniquifier) ~= "string" then
    error("bad argument #1 to 'get_auth_token' (User expected)", 2)
  end
  local t = now(self)
  local e = opts and opts.expires_in and (t + floor(opts.expires_in)) or 0
  return self:generate_token("auth", { u = user.fs_token_uniquifier or user.fs_uniquifier,
                                       a = t, e = e })
end


--- An auth token in Flask-Security-Too's format ([fs_token_uniquifier]),
-- signed with flask_secret_key, that a Flask-Security app sharing that
-- key accepts (docs/migration.md); nil when flask_secret_key is not set.
-- @tparam User user
function Security:flask_auth_token(user)
  if type(user) ~= "table" or type(user.fs_uniquifier) ~= "string" then
    error("bad argument #1 to 'flask_auth_token' (User expected)", 2)
  end
  return flask.auth_token(self, user)
end


--- Is the request's authentication fresh enough (Flask-Security-Too's
-- within/grace)? Extends the grace period on res when it is.
function _M.is_fresh(sec, req, res, via, data, within, grace)
  if within == nil or within < 0 or via == "basic" then return true end
  if via ~= "session" or type(data) ~= "table" then return false end
  local t = now(sec)
  grace = grace or sec._cfg.freshness_grace_period
  local age = t - (tonumber(data.a) or 0)
  local fresh
  if within == 0 then
    -- "reauthenticate every time" (Flask-Security's within 0): only the
    -- grace period after a reauthentication lets through, so /verify is
    -- not asked for again at once
    fresh = age < grace
  else
    fresh = age < within or (type(data.g) == "number" and t < data.g)
  end
  if fresh and within ~= 0 then
    -- a Flask session is the Flask app's cookie: fsec writes none for it
    if grace > 0 and res and not data.flask then
      data = copy_data(data)
      data.g = t + grace
      set_session_cookie(sec, req, res, data)
    end
  end
  return fresh
end


_M.Unavailable = Unavailable
_M.check_store = check_store
_M.user_loader = user_loader -- for caches that rebuild thin users (fsec.openresty.cache)
_M.cookie_name = cookie_name
_M.cookie_opts = cookie_opts
_M.reserve = reserve
_M.in_transaction = in_transaction

--- Is an error raised by fsec an unavailable store?
function _M.is_unavailable(e)
  return getmetatable(e) == Unavailable
end

return _M
