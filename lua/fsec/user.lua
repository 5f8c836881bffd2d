--- User and Role objects, and the anonymous user.
-- A User is a snapshot of a stored row: plain fields (`id`, `email`,
-- `username`, `password`, `active`, `confirmed_at`, `fs_uniquifier`,
-- `fs_token_uniquifier`, the tracking fields, `roles` (list of names),
-- `permissions` (set: name -> true) and `fields` (the application's own,
-- register_fields: name -> value; each also reads as `user.<name>`)),
-- plus methods. Datastore calls that
-- change a user update the object they were given.
--
-- Flask-Login's three properties are booleans, not methods:
-- `user.is_authenticated`, `user.is_anonymous` and `user.is_active` (read
-- from `active` each time, so a deactivation through the datastore shows
-- at once). A method there would be a trap: `if user.is_active then`
-- would hold for every user, active or not.
--
-- `user:get_auth_token()` and `user:verify_and_update_password(pw)` need
-- the Security the user belongs to. A user does not hold it in a field
-- (it would travel with copies, signals and thread hops); two weak maps
-- give it instead: the datastore a user came from (datastores pass
-- themselves to `user(row, ds)`), the Security that owns that datastore
-- (`fsec.new` adopts it), and users a Security handed out itself
-- (`current_user`). Lua modules only: the C core never calls back.
-- @module fsec.user

local type = type
local rawget = rawget
local setmetatable = setmetatable
local json = require("cjson.safe").new()
local tointeger = math.tointeger -- nil on LuaJIT


local _M = { _VERSION = "0.1.0" }


local function role_name(role)
  if type(role) == "table" then return role.name end
  return role
end
_M.role_name = role_name


local User = {}

-- user -> the datastore it was read from; datastore -> its Security;
-- user -> the Security that handed it out. Weak: they keep nothing alive.
local origin = setmetatable({}, { __mode = "k" })
local owner_of_store = setmetatable({}, { __mode = "k" })
local bound = setmetatable({}, { __mode = "k" })

-- The users' metatable. is_active is computed, never stored: a copy of
-- the row, a datastore that changes `active`, a user revived after a
-- thread hop all read the current value. __methods names the methods
-- table for tools that list an object's functions (spec/80).
local UserMT = {
  __index = function(u, k)
    if k == "is_active" then return rawget(u, "active") == true end
    local m = User[k]
    if m ~= nil then return m end
    -- the application's own fields (register_fields) read as columns, as
    -- on a Flask-Security model: user.display_name
    local f = rawget(u, "fields")
    if type(f) == "table" then return f[k] end
    return nil
  end,
  __methods = User,
}

-- Thin users: what a cache of authentication lookups keeps (fsec.auth's
-- cached_user), so that 10,000 cached users cost a few MiB, not 20. A
-- thin user holds only what a check reads on a cache hit (id, active,
-- roles, permissions: the lists of the row it was made from, never
-- shared with another user, so an application that edits one user's
-- list changes no other's), and is a User like any other: the first
-- read of any other field (email, fields, the password hash...) loads
-- the full row through its loader, once, into the object itself. A thin
-- user's metatable is its loader's (made once per loader, so a thin user
-- costs no side table entry); filled, it takes the users' metatable.
local thin_mts = setmetatable({}, { __mode = "k" }) -- metatable -> its loader
local mt_of = setmetatable({}, { __mode = "k" })    -- loader -> metatable
local materialize

--- A thin user for full user u: id, active, roles and permissions; any
-- other field is read through loader(id) (it returns the full User, nil
-- when there is none, or raises) on first use.
local function thin_mt(loader)
  local mt = mt_of[loader]
  if mt then return mt end
  mt = {
    __index = function(u, k)
      if k == "is_active" then return rawget(u, "active") == true end
      local m = User[k]
      if m ~= nil then return m end
      materialize(u)
      return u[k] -- a User now: its fields, or the application's
    end,
    __methods = User,
    __tostring = User.__tostring,
  }
  mt_of[loader], thin_mts[mt] = mt, loader
  return mt
end

function _M.thin(u, loader)
  return setmetatable({ id = u.id, active = u.active, roles = u.roles, permissions = u.permissions },
                      thin_mt(loader))
end

-- Fill thin user u from its full row: fields u does not hold yet (a
-- datastore call may have set some since). A user gone from the store
-- stays as it is.
materialize = function(u)
  local loader = thin_mts[getmetatable(u) or false]
  if not loader then return u end
  local full = loader(rawget(u, "id")) -- may raise (store unavailable): u stays thin
  setmetatable(u, UserMT)
  if full == nil then return u end
  for k, v in pairs(full) do
    if rawget(u, k) == nil then rawset(u, k, v) end
  end
  if origin[u] == nil then origin[u] = origin[full] end
  return u
end

--- A user with every field (a thin user is filled from the store, at most
-- once): before copying a user field by field (pairs).
_M.full = materialize

--- Is u a thin user not filled yet?
function _M.is_thin(u) return type(u) == "table" and thin_mts[getmetatable(u) or false] ~= nil end


--- True when the user has the role (a name or a Role).
function User:has_role(role)
  local name = role_name(role)
  for _, r in ipairs(self.roles) do
    if r == name then return true end
  end
  return false
end

--- True when one of the user's roles grants the permission.
function User:has_permission(permission)
  return self.permissions[permission] == true
end

User.is_authenticated = true
User.is_anonymous = false


-- The Security this user belongs to, or raise naming the way out.
local function security_of(u, fname)
  materialize(u) -- a thin user learns its datastore from its row
  local sec = bound[u] or owner_of_store[origin[u] or false]
  if not sec then
    error(fname .. ": this user belongs to no Security (read it through sec.datastore or "
          .. "sec:current_user, or call sec:" .. fname .. "(user, ...))", 3)
  end
  return sec
end


--- An auth token for this user, as `sec:get_auth_token(user, opts)`
-- makes it (Flask-Security's `user.get_auth_token()`).
-- @tparam[opt] table opts expires_in (seconds)
-- @treturn string
function User:get_auth_token(opts)
  return security_of(self, "get_auth_token"):get_auth_token(self, opts)
end


--- Check a password for this user, as a sign-in does: metered by the
-- lockout (a wrong one counts, a locked account is refused even with the
-- right one), and on success an outdated stored hash (another scheme,
-- weaker argon2 parameters) is rewritten at the current default
-- (Flask-Security's `user.verify_and_update_password(password)`).
-- A hashing fault raises (fsec.auth's Unavailable), as at /login.
-- @tparam string password
-- @treturn boolean
function User:verify_and_update_password(password)
  local sec = security_of(self, "verify_and_update_password")
  if type(password) ~= "string" then
    error("bad argument #1 to 'verify_and_update_password' (string expected, got " .. type(password) .. ")", 2)
  end
  return require("fsec.auth").check_user_password(sec, self, password) ~= nil
end

function User:__tostring()
  return "fsec.User(" .. tostring(self.id) .. ", " .. tostring(self.email) .. ")"
end
UserMT.__tostring = User.__tostring


--- The application's fields from their stored JSON text: a table of
-- name -> string, number or boolean ({} for none; a table is kept). A
-- stored value that is not such an object reads as {} (never raises:
-- a row is a row).
function _M.decode_fields(v)
  if type(v) == "table" then return v end
  if type(v) ~= "string" then return {} end
  local t = json.decode(v)
  if type(t) ~= "table" then return {} end
  local out = {}
  for k, x in pairs(t) do
    local tx = type(x)
    -- whole numbers as integers where the runtime has them (Lua 5.4;
    -- cjson decodes every number as a float there)
    if tx == "number" and tointeger then x = tointeger(x) or x end
    if type(k) == "string" and (tx == "string" or tx == "number" or tx == "boolean") then out[k] = x end
  end
  return out
end


--- Wrap a row (as the store returns it) into a User; the row is reused.
-- @tparam table row
-- @param[opt] ds the datastore it was read from (its Security answers
-- the user's get_auth_token and verify_and_update_password)
function _M.user(row, ds)
  row.fields = _M.decode_fields(row.fields)
  row.roles = row.roles or {}
  row.permissions = row.permissions or {}
  if ds ~= nil then origin[row] = ds end
  return setmetatable(row, UserMT)
end

--- The datastore a user was read from (nil: unknown).
function _M.origin(u) return origin[u] end

--- Users read from datastore ds belong to sec (fsec.new calls it).
function _M.adopt(ds, sec)
  owner_of_store[ds] = sec
end

--- This user belongs to sec (a user handed out by sec itself).
function _M.bind(u, sec)
  if bound[u] == nil then bound[u] = sec end
  return u
end

function _M.is_user(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return mt == UserMT or (mt ~= nil and thin_mts[mt] ~= nil)
end


local Role = {}
Role.__index = Role

--- The role's permissions as a list.
function Role:get_permissions() return self.permissions end

function Role:__tostring() return "fsec.Role(" .. self.name .. ")" end

function _M.role(row)
  row.permissions = row.permissions or {}
  return setmetatable(row, Role)
end


--- A user or role that crossed a thread boundary as a plain table (its
-- metatable left behind) gets its methods again; anything else as is.
-- ds (optional): the datastore it came back from (see `user`).
function _M.revive(v, ds)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return v end
  if v.fs_uniquifier ~= nil and v.email ~= nil then return _M.user(v, ds) end
  if v.name ~= nil and v.permissions ~= nil and v.id ~= nil then return _M.role(v) end
  return v
end


--- The anonymous user: what `current_user` is when nobody is signed in.
local Anonymous = {
  is_authenticated = false,
  is_anonymous = true,
  is_active = false,
  active = false,
  roles = setmetatable({}, { __newindex = function() error("read-only", 2) end }),
  permissions = setmetatable({}, { __newindex = function() error("read-only", 2) end }),
}
Anonymous.__index = Anonymous
function Anonymous.has_role() return false end
function Anonymous.has_permission() return false end
function Anonymous.__tostring() return "fsec.AnonymousUser" end
_M.anonymous = setmetatable({}, Anonymous)


return _M
