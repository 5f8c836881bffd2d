--- Roles of an import that exist here already: what they would gain
-- (permissions, members), refused unless the caller says so (merge_roles:
-- fsec import --merge-roles). Internal to fsec.import.
-- @module fsec.import.roles

local datastore = require "fsec.datastore"

local _M = { _VERSION = "0.1.0" }


-- The permissions of a source role that the role of the same name here
-- lacks (the import would grant them to everyone who has it).
local function added_permissions(existing, perms)
  local have, new = {}, {}
  for _, p in ipairs(existing.permissions or {}) do have[p] = true end
  for _, p in ipairs(datastore.permission_list(perms, "import")) do
    if not have[p] then new[#new + 1] = p; have[p] = true end
  end
  return new
end

-- The roles that exist here already and that users this import makes
-- would join ("admin (2 new members)"): a source that links its users
-- to "admin" must not make them this site's administrators unasked. A
-- user the import skips (present by email or uniquifier) joins nothing.
function _M.joined(ds, users, user_roles, has_uq)
  local count, names = {}, {}
  for _, u in ipairs(users) do
    local list = user_roles[u.id]
    local uq = has_uq and u.fs_uniquifier ~= "" and u.fs_uniquifier or nil
    if list and type(u.email) == "string" and u.email ~= "" and not ds:find_user{ email = u.email }
       and not (uq and ds:find_user{ fs_uniquifier = uq }) then
      for _, name in ipairs(list) do
        if type(name) == "string" and ds:find_role(name) then
          if not count[name] then names[#names + 1] = name end
          count[name] = (count[name] or 0) + 1
        end
      end
    end
  end
  local out = {}
  for i, name in ipairs(names) do out[i] = ("%s (%d new members)"):format(name, count[name]) end
  return out
end

-- Refuse, before anything is written, an import that would add
-- permissions or members to existing roles unless merge_roles: one
-- error naming every such role and what it would gain.
function _M.check(ds, roles, merge, joined)
  local found = {}
  for _, r in ipairs(roles) do
    local existing = type(r.name) == "string" and ds:find_role(r.name)
    local new = existing and added_permissions(existing, r.permissions) or {}
    if #new > 0 then found[#found + 1] = ("%s (%s)"):format(r.name, table.concat(new, ",")) end
  end
  if (#found > 0 or #joined > 0) and not merge then
    local parts = {}
    if #found > 0 then parts[#parts + 1] = "add permissions to existing roles: " .. table.concat(found, "; ") end
    if #joined > 0 then parts[#parts + 1] = "add members to existing roles: " .. table.concat(joined, "; ") end
    error("the import would " .. table.concat(parts, ", and ")
      .. "; nothing imported (check them, then run again with --merge-roles)", 0)
  end
  return found
end


return _M
