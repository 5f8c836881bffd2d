--- Authorization: check() and Flask-Security's decorators as wrappers.
--
-- A spec is a table: `auth` (mechanisms that must authenticate the
-- request: "session", "token", "basic"), `within`/`grace` (freshness,
-- seconds), `realm` (Basic), `roles_required`, `roles_accepted`,
-- `permissions_required`, `permissions_accepted` (lists), `anonymous`
-- (anonymous_user_required). Denials answer as Flask-Security-Too does:
-- JSON clients get 401/403/400 with its envelope and messages; browsers a
-- redirect to the login page with `next` (or a 403).
-- @module fsec.authz

local http = require "fsec.http"
local flash = require "fsec.flash"
local auth = require "fsec.auth"
local csrf = require "fsec.csrf"
local forms = require "fsec.forms"
local i18n = require "fsec.i18n"
local userlib = require "fsec.user"

local type = type
local ipairs = ipairs
local error = error
local setmetatable = setmetatable


local _M = { _VERSION = "0.1.0" }

local SPEC_KEYS = { auth = true, within = true, grace = true, realm = true,
                    roles_required = true, roles_accepted = true,
                    permissions_required = true, permissions_accepted = true,
                    anonymous = true }


local function has(list, v)
  for _, x in ipairs(list or {}) do
    if x == v then return true end
  end
  return false
end


-- A list of names: a sequence of non-empty strings and nothing else. A
-- string or a set ({ admin = true }) would read as "no constraint" to the
-- ipairs loops below, allowing everyone: refused. (An empty list is no
-- constraint, as an empty roles_required() is in Flask-Security.)
local function check_names(spec, k, level)
  local v = spec[k]
  if v == nil then return end
  local bad = type(v) ~= "table" or (k == "auth" and #v == 0)
  if not bad then
    for key, x in pairs(v) do
      if type(key) ~= "number" or key < 1 or key > #v or key % 1 ~= 0 or type(x) ~= "string" or x == "" then
        bad = true
        break
      end
    end
  end
  if bad then
    error(("bad argument #2 to 'check' (%s must be a list of names, got %s)"):format(k,
      type(v) == "table" and "a table of another shape" or type(v)), level + 1)
  end
end

local NAME_LISTS = { "auth", "roles_required", "roles_accepted", "permissions_required", "permissions_accepted" }

local function check_spec(spec, level)
  level = level or 3
  if type(spec) ~= "table" then error("bad argument #2 to 'check' (table expected)", level) end
  for k in pairs(spec) do
    if not SPEC_KEYS[k] then error("bad argument #2 to 'check' (unknown key '" .. tostring(k) .. "')", level) end
  end
  for _, k in ipairs(NAME_LISTS) do check_names(spec, k, level) end
  for _, m in ipairs(spec.auth or {}) do
    if not auth.MECHANISMS[m] then error("unknown authentication mechanism '" .. tostring(m) .. "'", level) end
  end
  for _, k in ipairs{ "within", "grace" } do
    if spec[k] ~= nil and type(spec[k]) ~= "number" then
      error(("bad argument #2 to 'check' (%s must be a number of seconds, got %s)"):format(k, type(spec[k])), level)
    end
  end
  if spec.realm ~= nil and type(spec.realm) ~= "string" then
    error("bad argument #2 to 'check' (realm must be a string)", level)
  end
end


-- Specs already checked (by prepare or a guard): check() skips them. A
-- spec must not change once prepared.
local prepared = setmetatable({}, { __mode = "k" })

--- Check a spec once, so that check() does not on every request (a
-- loop over the spec on the hot path also keeps LuaJIT from compiling
-- it). Raises on a bad spec.
function _M.prepare(spec)
  check_spec(spec, 3)
  prepared[spec] = true
  return spec
end

--- Was spec checked by prepare (a guard's spec is)?
function _M.is_prepared(spec) return prepared[spec] == true end


local function url(sec, key)
  return sec._cfg.url_prefix .. sec._cfg[key]
end


local function deny_unauthn(sec, req, res, spec)
  local wait = req._fsec_throttled -- HTTP Basic over its limits (fsec.throttle)
  if wait then return require("fsec.throttle").refuse(res, http.wants_json(req), wait) end
  sec.signals:send("user_unauthenticated", {})
  local msg = i18n.msg_for(sec, req, "UNAUTHENTICATED")
  local basic = has(spec.auth, "basic")
  if basic then
    res:set_header("WWW-Authenticate",
                   'Basic realm="' .. (spec.realm or sec._cfg.default_http_auth_realm) .. '"')
  end
  if http.wants_json(req) then
    res:json(401, { errors = { msg } })
  elseif basic then
    res:text(401, msg)
  else
    -- Flask-Login's unauthorized() as Flask-Security configures it
    flash.add(sec, req, res, "info", "LOGIN")
    res:redirect(url(sec, "login_url") .. "?next=" .. http.quote(http.full_path(req)))
  end
  return res
end


local function deny_unauthz(sec, req, res)
  local msg = i18n.msg_for(sec, req, "UNAUTHORIZED")
  if http.wants_json(req) then
    res:json(403, { errors = { msg } })
  elseif sec._cfg.unauthorized_view then
    -- as Flask-Security's unauthz_handler: the page it lands on says why
    flash.add(sec, req, res, "error", "UNAUTHORIZED")
    res:redirect(sec._cfg.unauthorized_view)
  else
    -- a page in fsec's style, with its Home link (a way back), whatever
    -- Accept says: Flask-Security's abort(403) answers every client but
    -- a JSON one with an HTML page
    require("fsec.pages").respond(sec, res, 403, "message",
      { title = "Forbidden", title_key = "TITLE_FORBIDDEN", message = msg, flashes = flash.take(sec, req, res) },
      req)
  end
  return res
end


local function deny_anonymous_required(sec, req, res)
  if http.wants_json(req) then
    res:json(400, { errors = { i18n.msg_for(sec, req, "ANONYMOUS_USER_REQUIRED") } })
  else
    res:redirect(sec._cfg.post_login_view)
  end
  return res
end


local function deny_reauth(sec, req, res)
  if http.wants_json(req) then
    -- the keys Flask-Security-Too's clients read (no unified sign-in or
    -- WebAuthn here)
    res:json(401, { errors = { i18n.msg_for(sec, req, "REAUTHENTICATION_REQUIRED") }, reauth_required = true,
                    unified_signin_enabled = false, has_webauthn_verify_credential = false })
  else
    flash.add(sec, req, res, "error", "REAUTHENTICATION_REQUIRED")
    res:redirect(url(sec, "verify_url") .. "?next=" .. http.quote(http.full_path(req)))
  end
  return res
end


-- Is name one of list's? The first three are compared one by one, the
-- rest in a loop: a user has a role or two, and a loop over them inside
-- the loop over a spec's list kept LuaJIT from compiling the check
-- ("inner loop in root trace": interpreted, about 1,700 instructions a
-- request with one required role; bench/callgrind's lua_paths counts it).
local function holds(list, name)
  local v = list[1]
  if v == name then return true elseif v == nil then return false end
  v = list[2]
  if v == name then return true elseif v == nil then return false end
  v = list[3]
  if v == name then return true elseif v == nil then return false end
  for i = 4, #list do
    if list[i] == name then return true end
  end
  return false
end

-- Loops only when the spec has lists (the common specs have none: no
-- loop on the hot path, see prepare). A spec's lists hold names
-- (check_names): user:has_role's answer, without its call.
local function roles_ok(user, spec)
  local list = spec.roles_required
  if list then
    local roles = user.roles
    for _, r in ipairs(list) do
      if not holds(roles, r) then return false end
    end
  end
  list = spec.roles_accepted
  if list and #list > 0 then
    local roles, any = user.roles, false
    for _, r in ipairs(list) do
      if holds(roles, r) then any = true; break end
    end
    if not any then return false end
  end
  list = spec.permissions_required
  if list then
    for _, p in ipairs(list) do
      if not user:has_permission(p) then return false end
    end
  end
  list = spec.permissions_accepted
  if list and #list > 0 then
    for _, p in ipairs(list) do
      if user:has_permission(p) then return true end
    end
    return false
  end
  return true
end
_M.roles_ok = roles_ok -- fsec.openresty's cache-hit check


------------------------------------------------------------------------
-- Methods mixed into Security
------------------------------------------------------------------------

local Security = {}
_M.methods = Security


-- The denial when the store cannot answer (a fault, "EBUSY: ..."): 503
-- with Retry-After, logged; fail closed.
-- @return false, status, body, res
local function unavailable(sec, req, res, e)
  sec._log("error", tostring(e))
  res:set_header("Retry-After", "1")
  if http.wants_json(req) then
    res:json(503, { errors = { "Service temporarily unavailable" } })
  else
    res:text(503, "Service temporarily unavailable")
  end
  return false, res.status, res.body, res
end
_M.unavailable = unavailable


local check_inner

--- Decide a request against a spec.
-- @return true, user, via — or false, status, body, res (the denial; 503
-- when the store cannot answer)
function Security:check(req, spec, res)
  if not prepared[spec] then check_spec(spec) end
  res = res or http.new_response()
  local ok, a, b, c, d = pcall(check_inner, self, req, spec, res)
  if ok then return a, b, c, d end
  if auth.is_unavailable(a) then return unavailable(self, req, res, a) end
  error(a, 0)
end


check_inner = function(self, req, spec, res)
  local user, via, data
  if spec.anonymous then
    user = self:current_user(req, res)
    if user.is_authenticated then
      deny_anonymous_required(self, req, res)
      return false, res.status, res.body, res
    end
    return true, user, nil
  end
  if spec.auth then
    user, via, data = auth.authenticate(self, req, spec.auth, res)
    if not user then
      deny_unauthn(self, req, res, spec)
      return false, res.status, res.body, res
    end
    if not auth.is_fresh(self, req, res, via, data, spec.within, spec.grace) then
      deny_reauth(self, req, res)
      return false, res.status, res.body, res
    end
  else
    -- Role and permission checks alone do not authenticate: an anonymous
    -- caller is refused (403), as in Flask-Security.
    user, via = auth.authenticate(self, req, self._cfg.auth_mechanisms, res)
    user = user or userlib.anonymous
  end
  -- As Flask-Security's decorators (handle_csrf): a state-changing
  -- request signed in by a mechanism a browser sends by itself (a
  -- session cookie, cached Basic credentials) must carry a CSRF token,
  -- or another site's form could act with them.
  if via and csrf.needed(self, req, via) then
    local ok, key = csrf.check(self, req, forms.input(req, self._cfg.max_body_bytes) or {})
    if not ok then
      csrf.deny(self, req, res, key)
      return false, res.status, res.body, res
    end
  end
  if not roles_ok(user, spec) then
    deny_unauthz(self, req, res)
    return false, res.status, res.body, res
  end
  local ok = self._policy:run("access", user, req, spec)
  if not ok then
    deny_unauthz(self, req, res)
    return false, res.status, res.body, res
  end
  return true, user, via
end


-- Guards: callables that wrap a handler. Wrapping an already guarded
-- handler stacks as Flask-Security's decorators do: every spec must pass
-- on its own (outer first), so roles_accepted("admin") over
-- roles_accepted("editor") needs both, and freshness the strictest.
local guarded = setmetatable({}, { __mode = "k" })

local function guard(sec, spec)
  _M.prepare(spec)
  local g = { spec = spec }
  function g.check(req, res) return sec:check(req, spec, res) end
  return setmetatable(g, { __call = function(_, handler)
    if type(handler) ~= "function" then error("a guard wraps a function", 2) end
    local inner = guarded[handler]
    local specs, fn = { spec }, handler
    if inner then
      for _, s in ipairs(inner.specs) do specs[#specs + 1] = s end
      fn = inner.handler
    end
    local n = #specs
    local wrapped = function(req, res, ...)
      local ok, a, b, c
      for i = 1, n do
        ok, a, b, c = sec:check(req, specs[i], res)
        if not ok then return a, b, c end
      end
      return fn(req, a, res, ...)
    end
    guarded[wrapped] = { specs = specs, handler = fn }
    return wrapped
  end })
end
_M.guard = guard


local function list(...)
  local t = {}
  for i = 1, select("#", ...) do t[i] = select(i, ...) end
  return t
end

-- The names given to roles_required(...) and the like: strings only (a
-- nil, from a misspelt constant, would leave the list empty: no check).
local function names(fname, ...)
  local t = list(...)
  for i = 1, select("#", ...) do
    if type(t[i]) ~= "string" then
      error(("bad argument #%d to '%s' (string expected, got %s)"):format(i, fname, type(t[i])), 3)
    end
  end
  return t
end


--- auth_required("token", "session", { within = s, grace = s }); the
-- mechanisms may also come as one list: auth_required({ "token" }).
function Security:auth_required(...)
  local args, spec = list(...), {}
  local mechs = {}
  for i = 1, select("#", ...) do
    local a = args[i]
    if type(a) == "table" and a[1] ~= nil then -- a list of mechanisms
      for _, m in ipairs(a) do mechs[#mechs + 1] = m end
    elseif type(a) == "table" then -- the options: a typo must not drop a check
      for k in pairs(a) do
        if k ~= "within" and k ~= "grace" then
          error("bad argument #" .. i .. " to 'auth_required' (unknown option '" .. tostring(k) .. "')", 2)
        end
      end
      spec.within, spec.grace = a.within, a.grace
    else
      mechs[#mechs + 1] = a
    end
  end
  spec.auth = #mechs > 0 and mechs or self._cfg.auth_mechanisms
  return guard(self, spec)
end

function Security:login_required() return guard(self, { auth = self._cfg.auth_mechanisms }) end
function Security:auth_token_required() return guard(self, { auth = { "token" } }) end
function Security:http_auth_required(realm)
  return guard(self, { auth = { "basic" }, realm = realm })
end
function Security:roles_required(...) return guard(self, { roles_required = names("roles_required", ...) }) end
function Security:roles_accepted(...) return guard(self, { roles_accepted = names("roles_accepted", ...) }) end
function Security:permissions_required(...)
  return guard(self, { permissions_required = names("permissions_required", ...) })
end
function Security:permissions_accepted(...)
  return guard(self, { permissions_accepted = names("permissions_accepted", ...) })
end
function Security:anonymous_user_required() return guard(self, { anonymous = true }) end


return _M
