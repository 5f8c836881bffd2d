--- User and Role objects, and the anonymous user.
-- A User is a snapshot of a stored row: plain fields (`id`, `email`,
-- `username`, `password`, `active`, `confirmed_at`, `fs_uniquifier`,
-- `fs_token_uniquifier`, the tracking fields, `roles` (list of names) and
-- `permissions` (set: name -> true)), plus methods. Datastore calls that
-- change a user update the object they were given.
-- @module fsec.user

local type = type
local setmetatable = setmetatable


local _M = { _VERSION = "0.1.0" }


local function role_name(role)
  if type(role) == "table" then return role.name end
  return role
end
_M.role_name = role_name


local User = {}
User.__index = User

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

function User:is_active() return self.active == true end

User.is_authenticated = true
User.is_anonymous = false

function User:__tostring()
  return "fsec.User(" .. tostring(self.id) .. ", " .. tostring(self.email) .. ")"
end


--- Wrap a row (as the store returns it) into a User; the row is reused.
function _M.user(row)
  row.roles = row.roles or {}
  row.permissions = row.permissions or {}
  return setmetatable(row, User)
end

function _M.is_user(v)
  return type(v) == "table" and getmetatable(v) == User
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
function _M.revive(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return v end
  if v.fs_uniquifier ~= nil and v.email ~= nil then return _M.user(v) end
  if v.name ~= nil and v.permissions ~= nil and v.id ~= nil then return _M.role(v) end
  return v
end


--- The anonymous user: what `current_user` is when nobody is signed in.
local Anonymous = {
  is_authenticated = false,
  is_anonymous = true,
  active = false,
  roles = setmetatable({}, { __newindex = function() error("read-only", 2) end }),
  permissions = setmetatable({}, { __newindex = function() error("read-only", 2) end }),
}
Anonymous.__index = Anonymous
function Anonymous.has_role() return false end
function Anonymous.has_permission() return false end
function Anonymous.is_active() return false end
function Anonymous.__tostring() return "fsec.AnonymousUser" end
_M.anonymous = setmetatable({}, Anonymous)


return _M
