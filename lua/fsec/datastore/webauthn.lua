--- WebAuthn credentials (passkeys) in a datastore: the methods a store
-- may have, and the checks the SQLite/PostgreSQL and memory
-- implementations share (installed into fsec.datastore).
--
-- WebAuthn credentials (passkeys; optional, as the outbox: a datastore
-- without them has no passkeys). A credential `cred` is a table
-- { id, user_id, credential_id (bytes), public_key (bytes: the COSE
-- key), sign_count, transports (list), name, usage ("first" |
-- "secondary"), backup_state, device_type, user_handle,
-- create_datetime, lastuse_datetime (Unix seconds) }:
-- set_webauthn_user_handle(user[, handle])         -> handle: the
--     user's WebAuthn user handle, a new random one (or handle, for
--     imports: at most 64 bytes, unique) stored only when the user has
--     none; the one stored otherwise
-- find_user_by_webauthn_handle(handle)             -> User | nil
-- create_webauthn(user, { credential_id, public_key, sign_count,
--     transports, name, usage, backup_state, device_type,
--     user_handle[, create_datetime, lastuse_datetime (imports;
--     default now)] })                             -> cred, or nil,
--     "credential_id_in_use" | "name_in_use", "EEXIST" (names are
--     unique per user; credential ids across users), or nil, err, code
-- find_webauthn(credential_id)                     -> cred | nil
-- webauthn_credentials(user)                       -> list of cred, in
--     creation order
-- find_user_from_webauthn(cred)                    -> User | nil
-- webauthn_used(cred, new_sign_count[, now])       -> true | false:
--     compare-and-set of the sign count read into cred: stored (with
--     lastuse_datetime, both set on cred) only while the credential
--     still has cred.sign_count; false when another request moved it
--     first (re-read it and apply the clone rule). Of racers that read
--     the same count, on any connections or nodes, exactly one gets true
-- delete_webauthn(cred)                            -> deleted
-- webauthn_reset(user)                             -> true: every
--     credential of the user deleted and the handle cleared
--     (reset_user_access does it; deleting the user deletes them;
--     deactivation keeps them)
-- @module fsec.datastore.webauthn

local core = require "fsec.core"

local type = type
local pairs = pairs
local ipairs = ipairs
local error = error
local concat = table.concat
local math_floor = math.floor

local _M = { _VERSION = "0.1.0" }

--- Add the shared WebAuthn checks to fsec.datastore (D).
function _M.install(D)
  local USAGES = { first = true, secondary = true }
  D.WEBAUTHN_FIELDS = { credential_id = "string", public_key = "string", sign_count = "number",
                         transports = "table", name = "string", usage = "string",
                         backup_state = "boolean", device_type = "string", user_handle = "string",
                         -- imports: the source's dates (default: now)
                         create_datetime = "number", lastuse_datetime = "number" }

  --- Check a new credential's fields: wrong types raise (at the caller of
  -- fname); values the store refuses (a transport with a comma, a usage
  -- other than first or secondary) give nil, "EINVAL: ...", "EINVAL".
  -- @return the transports as the stored comma list (or nil), or nil, err, code
  function D.webauthn_fields(fields, fname)
    if type(fields) ~= "table" then D.argerror(fname, "argument #2", "table", fields) end
    for k, v in pairs(fields) do
      local want = D.WEBAUTHN_FIELDS[k]
      if not want then error(("bad argument #2 to '%s' (unknown field '%s')"):format(fname, tostring(k)), 3) end
      if type(v) ~= want then D.argerror(fname, "field '" .. k .. "'", want, v) end
    end
    D.check_string(fields.credential_id, fname, "field 'credential_id'")
    D.check_string(fields.public_key, fname, "field 'public_key'")
    D.check_string(fields.name, fname, "field 'name'")
    if not USAGES[fields.usage] then
      return nil, "EINVAL: usage must be 'first' or 'secondary'", "EINVAL"
    end
    for _, k in ipairs{ "sign_count", "create_datetime", "lastuse_datetime" } do
      local v = fields[k]
      if v ~= nil and (v ~= v or v >= 2^53 or v <= -2^53 or v ~= math_floor(v)) then
        return nil, "EINVAL: " .. k .. " must be a whole number", "EINVAL"
      end
    end
    if fields.transports == nil then return "" end
    for i, t in ipairs(fields.transports) do
      if type(t) ~= "string" or t == "" or t:find("[,%c]") then
        return nil, "EINVAL: transport " .. i .. " must be a name without comma", "EINVAL"
      end
    end
    return concat(fields.transports, ",")
  end

  --- The stored comma list of transports as a list.
  function D.transports_list(csv)
    local list = {}
    for t in (csv or ""):gmatch("[^,]+") do list[#list + 1] = t end
    return list
  end

  --- The code and reason of a refused credential: which unique key it hit.
  function D.webauthn_taken(ds, credential_id)
    local found = ds:find_webauthn(credential_id)
    if found then return nil, "credential_id_in_use", "EEXIST" end
    return nil, "name_in_use", "EEXIST"
  end

  --- A new WebAuthn user handle (Flask-Security-Too uses uuid4().hex: 128
  -- random bits).
  function D.webauthn_handle() return core.random_id(16) end
end

return _M
