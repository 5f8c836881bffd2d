---@meta fsec.user
-- LuaLS type stubs for `require "fsec.user"`: User and Role objects and
-- the anonymous user (lua/fsec/user.lua).

---A snapshot of a stored user row, with methods. Datastore calls that
---change a user update the object they were given.
---@class fsec.User
---@field id integer
---@field email string
---@field username? string
---@field password? string the stored hash
---@field active boolean
---@field confirmed_at? integer seconds
---@field fs_uniquifier string
---@field fs_token_uniquifier? string
---@field last_login_at? integer
---@field current_login_at? integer
---@field last_login_ip? string
---@field current_login_ip? string
---@field login_count? integer
---@field create_datetime? integer
---@field update_datetime? integer
---@field roles string[] role names
---@field permissions table<string, true> set of permission names
---@field fields table<string, string|number|boolean> the application's own fields (register_fields); each also reads as user.<name>
---@field fs_webauthn_user_handle? string the WebAuthn user handle of its passkeys (nil: none yet)
---@field is_authenticated true Flask-Login's properties: booleans, not methods
---@field is_anonymous false
---@field is_active boolean `active == true`, read at each access (never stored)
local User = {}

---True when the user has the role.
---@param role string|fsec.Role a name or a Role
---@return boolean
function User:has_role(role) end

---True when one of the user's roles grants the permission.
---@param permission string
---@return boolean
function User:has_permission(permission) end

---An auth token for this user, as `sec:get_auth_token(user, opts)`
---makes it (the Security whose datastore the user was read from, or
---that handed it out through `current_user`; raises for a user of none).
---@param opts? { expires_in?: integer }
---@return string
function User:get_auth_token(opts) end

---Check a password as a sign-in does: metered by the lockout (a wrong
---one counts; a locked account is refused even with the right one); on
---success an outdated stored hash is rewritten at the current default.
---@param password string
---@return boolean
function User:verify_and_update_password(password) end

---@return string
function User:__tostring() end

---A role.
---@class fsec.Role
---@field id integer
---@field name string
---@field description? string
---@field permissions string[]
local Role = {}

---The role's permissions as a list.
---@return string[]
function Role:get_permissions() end

---@return string
function Role:__tostring() end

---What `current_user` is when nobody is signed in: no roles, no
---permissions, read-only.
---@class fsec.AnonymousUser
---@field is_authenticated false
---@field is_anonymous true
---@field is_active false
---@field active false
---@field roles string[] empty
---@field permissions table<string, true> empty
local AnonymousUser = {}

---Always false.
---@param role string|fsec.Role
---@return false
function AnonymousUser.has_role(role) end

---Always false.
---@param permission string
---@return false
function AnonymousUser.has_permission(permission) end

---@return string
function AnonymousUser.__tostring() end

---The module.
---@class fsec.user
---@field anonymous fsec.AnonymousUser
local user = {}

---The application's fields from their stored JSON text ({} for none or
---for text that is not such an object; a table is returned as it is).
---@param v string|table|nil
---@return table<string, string|number|boolean>
function user.decode_fields(v) end

---Wrap a row (as the store returns it) into a User; the row is reused.
---@param row table
---@param ds? table the datastore it was read from (its Security answers user:get_auth_token)
---@return fsec.User
function user.user(row, ds) end

---The datastore a user was read from, or nil.
---@param u fsec.User
---@return table|nil
function user.origin(u) end

---Users read from datastore ds belong to sec (fsec.new calls it).
---@param ds table
---@param sec fsec.Security
function user.adopt(ds, sec) end

---This user belongs to sec (a user sec handed out itself); returns u.
---@param u fsec.User
---@param sec fsec.Security
---@return fsec.User
function user.bind(u, sec) end

---Is v a User (not the anonymous user, not a plain table)?
---@param v any
---@return boolean
function user.is_user(v) end

---Wrap a row into a Role.
---@param row table
---@return fsec.Role
function user.role(row) end

---A user or role that crossed a thread boundary as a plain table gets
---its methods again; anything else is returned as it is.
---@param v any
---@param ds? table the datastore it came back from
---@return any
function user.revive(v, ds) end

---A role's name, from a name or a Role.
---@param role string|fsec.Role
---@return string
function user.role_name(role) end

---A thin user for full user u, as the authentication caches keep it:
---id, active and shared role and permission lists; any other field is
---read through loader(id) once, on first use.
---@param u fsec.User
---@param loader fun(id: integer): fsec.User|nil
---@return fsec.User
function user.thin(u, loader) end

---The user with every field: a thin user is filled from the store (at
---most once); before copying a user with pairs.
---@param u fsec.User
---@return fsec.User
function user.full(u) end

---Is u a thin user not filled yet?
---@param u any
---@return boolean
function user.is_thin(u) end

return user
