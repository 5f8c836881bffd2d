--- The SQLite (and PostgreSQL) datastore's WebAuthn credentials
-- (passkeys, schema 13): the methods fsec.datastore lists, on the C
-- store's webauthn_* calls. Split from fsec.datastore.sqlite to keep
-- each file one concept.
-- @module fsec.datastore.sqlite_webauthn

local base = require "fsec.datastore"
local userlib = require "fsec.user"

local type = type

local _M = { _VERSION = "0.1.0" }

local check_user = base.check_user
local check_string = base.check_string

--- Add the WebAuthn methods to the SQLite store's class; h: its helpers (now).
function _M.install(SQLite, h)
  local now = h.now

  -- WebAuthn credentials (schema 13).
  -- Lookup keys the store refuses to look up (too long, not text, empty):
  -- no credential or user has them.
  local NO_SUCH_KEY = { EINVAL = true, ETOOLONG = true, EUTF8 = true, ENUL = true }

  -- Rows come from the C store with the transports as their comma list.
  local function cred_of(row)
    row.transports = base.transports_list(row.transports)
    return row
  end

  function SQLite:set_webauthn_user_handle(u, handle)
    check_user(u, "set_webauthn_user_handle")
    check_string(handle, "set_webauthn_user_handle", "argument #2", true)
    local new = handle or base.webauthn_handle()
    -- compare-and-set from none: of two racing registrations one handle wins
    local swapped, err, code = self._store:swap_text(u.id, "fs_webauthn_user_handle", nil, new, now(self))
    if swapped == nil then return nil, err, code end
    if not swapped then
      local row
      row, err, code = self._store:find_user("id", u.id)
      if not row then return nil, err, code end
      new = row.fs_webauthn_user_handle
    end
    u.fs_webauthn_user_handle = new
    return new
  end

  function SQLite:find_user_by_webauthn_handle(handle)
    check_string(handle, "find_user_by_webauthn_handle", "argument #1")
    local row, err, code = self._store:find_user("fs_webauthn_user_handle", handle)
    if row then return userlib.user(row, self) end
    -- a browser's userHandle is any bytes: one no handle can be is no user
    if code == "ENOTFOUND" or NO_SUCH_KEY[code] then return nil end
    return nil, err, code
  end

  function SQLite:create_webauthn(u, fields)
    check_user(u, "create_webauthn")
    local transports, err, code = base.webauthn_fields(fields, "create_webauthn")
    if not transports then return nil, err, code end
    local t = now(self)
    local id
    id, err, code = self._store:webauthn_create{
      user_id = u.id, credential_id = fields.credential_id, public_key = fields.public_key,
      sign_count = fields.sign_count or 0, transports = transports, name = fields.name,
      usage = fields.usage, backup_state = fields.backup_state or false,
      device_type = fields.device_type, user_handle = fields.user_handle,
      create_datetime = fields.create_datetime or t, lastuse_datetime = fields.lastuse_datetime or t,
    }
    if id then return self:find_webauthn(fields.credential_id) end
    if code == "EEXIST" then return base.webauthn_taken(self, fields.credential_id) end
    return nil, err, code
  end

  function SQLite:find_webauthn(credential_id)
    check_string(credential_id, "find_webauthn", "argument #1")
    local row, err, code = self._store:webauthn_find(credential_id)
    if row then return cred_of(row) end
    if code == "ENOTFOUND" or NO_SUCH_KEY[code] then return nil end
    return nil, err, code
  end

  function SQLite:webauthn_credentials(u)
    check_user(u, "webauthn_credentials")
    local list, after = {}, 0
    while true do
      local row, err, code = self._store:webauthn_next(u.id, after)
      if row == nil and err then return nil, err, code end
      if not row then return list end
      list[#list + 1] = cred_of(row)
      after = row.id
    end
  end

  function SQLite:find_user_from_webauthn(cred)
    if type(cred) ~= "table" then base.argerror("find_user_from_webauthn", "argument #1", "table", cred) end
    return self:find_user{ id = cred.user_id }
  end

  local function check_cred(cred, fname)
    if type(cred) ~= "table" or type(cred.id) ~= "number" then
      base.argerror(fname, "argument #1", "credential", cred)
    end
  end

  function SQLite:webauthn_used(cred, count, t)
    check_cred(cred, "webauthn_used")
    count = base.counter(count, "webauthn_used", "argument #2")
    t = base.whole(t, "webauthn_used", "argument #3", true) or now(self)
    local changed, err, code = self._store:webauthn_used(cred.id, cred.sign_count, count, t)
    if changed == nil then return nil, err, code end
    if changed then cred.sign_count, cred.lastuse_datetime = count, t end
    return changed
  end

  function SQLite:delete_webauthn(cred)
    check_cred(cred, "delete_webauthn")
    return self._store:webauthn_delete(cred.id)
  end

  function SQLite:webauthn_reset(u)
    check_user(u, "webauthn_reset")
    local ok, err, code = self._store:webauthn_reset(u.id, now(self))
    if not ok then return nil, err, code end
    u.fs_webauthn_user_handle = nil
    return true
  end
end

return _M
