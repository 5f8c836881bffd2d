--- The memory datastore's WebAuthn credentials (passkeys): rows in this
-- process only, as the rest of fsec.datastore.memory, with the limits
-- and answers of the SQLite and PostgreSQL stores (spec/10).
-- @module fsec.datastore.memory_webauthn

local core = require "fsec.core"
local base = require "fsec.datastore"

local type = type
local pairs = pairs
local tostring = tostring
local table_sort = table.sort

local _M = { _VERSION = "0.1.0" }

local L = core.LIMITS
local SIGN_COUNT_MAX = 4294967295 -- 32 bits, unsigned (WebAuthn signCount)
local check_string = base.check_string


local function copy(row)
  local c = {}
  for k, v in pairs(row) do c[k] = v end
  c.transports = base.transports_list(row.transports)
  return c
end

local function check_cred(cred, fname)
  if type(cred) ~= "table" or type(cred.id) ~= "number" then
    base.argerror(fname, "argument #1", "credential", cred)
  end
end

--- Add the WebAuthn methods to the memory store's class; h: its helpers
-- (now, fail, check_text). Rows live in self._wan (id -> row), ids from
-- self._wan_id; the user handle in the user's row.
function _M.install(Memory, h)
  local now, fail, check_text = h.now, h.fail, h.check_text

  local function bytes(v, max, what)
    if #v == 0 then return fail("EINVAL", what .. " is empty") end
    if #v > max then return fail("ETOOLONG", what .. " is longer than " .. max .. " bytes") end
    return true
  end

  -- The C store's checks (core/src/store.c: check_new_webauthn).
  local function check_new(fields, transports)
    local ok, err, code = bytes(fields.credential_id, L.webauthn_id, "credential id")
    if ok then ok, err, code = bytes(fields.public_key, L.webauthn_key, "public key") end
    local n = fields.sign_count or 0
    if ok and (n < 0 or n > SIGN_COUNT_MAX) then
      ok, err, code = fail("EINVAL", "sign count must be 0..4294967295")
    end
    if ok then ok, err, code = check_text(fields.name, L.webauthn_name, "credential name") end
    if ok and fields.name == "" then ok, err, code = fail("EINVAL", "credential name is empty") end
    if ok and fields.name:find("[%c\127]") then
      ok, err, code = fail("EINVAL", "credential name has a control character")
    end
    if ok then ok, err, code = check_text(transports, L.webauthn_text, "transports") end
    if ok then ok, err, code = check_text(fields.device_type, L.webauthn_text, "device type") end
    if ok then ok, err, code = check_text(fields.user_handle, L.webauthn_handle, "user handle") end
    return ok, err, code
  end

  function Memory:set_webauthn_user_handle(u, handle)
    base.check_user(u, "set_webauthn_user_handle")
    check_string(handle, "set_webauthn_user_handle", "argument #2", true)
    local row = self._users[u.id]
    if not row then return fail("ENOTFOUND", "no such user") end
    if row.fs_webauthn_user_handle == nil then
      local new = handle or base.webauthn_handle()
      local ok, err, code = check_text(new, L.webauthn_handle, "value")
      if not ok then return nil, err, code end
      for id, other in pairs(self._users) do
        if id ~= row.id and other.fs_webauthn_user_handle == new then
          return fail("EEXIST", "user handle already exists")
        end
      end
      row.fs_webauthn_user_handle = new
      row.update_datetime = now(self)
    end
    u.fs_webauthn_user_handle = row.fs_webauthn_user_handle
    return row.fs_webauthn_user_handle
  end

  function Memory:find_user_by_webauthn_handle(handle)
    check_string(handle, "find_user_by_webauthn_handle", "argument #1")
    for _, row in pairs(self._users) do
      if row.fs_webauthn_user_handle == handle then return self:find_user{ id = row.id } end
    end
    return nil
  end

  function Memory:create_webauthn(u, fields)
    base.check_user(u, "create_webauthn")
    local transports, err, code = base.webauthn_fields(fields, "create_webauthn")
    if not transports then return nil, err, code end
    local ok
    ok, err, code = check_new(fields, transports)
    if not ok then return nil, err, code end
    if not self._users[u.id] then return fail("ENOTFOUND", "user " .. tostring(u.id) .. " does not exist") end
    for _, row in pairs(self._wan) do
      if row.credential_id == fields.credential_id then return nil, "credential_id_in_use", "EEXIST" end
    end
    for _, row in pairs(self._wan) do
      if row.user_id == u.id and row.name == fields.name then return nil, "name_in_use", "EEXIST" end
    end
    self._wan_id = self._wan_id + 1
    local t = now(self)
    self._wan[self._wan_id] = {
      id = self._wan_id, user_id = u.id, credential_id = fields.credential_id,
      public_key = fields.public_key, sign_count = math.floor(fields.sign_count or 0),
      transports = transports, name = fields.name, usage = fields.usage,
      backup_state = fields.backup_state or false, device_type = fields.device_type,
      user_handle = fields.user_handle, create_datetime = fields.create_datetime or t,
      lastuse_datetime = fields.lastuse_datetime or t,
    }
    return copy(self._wan[self._wan_id])
  end

  function Memory:find_webauthn(credential_id)
    check_string(credential_id, "find_webauthn", "argument #1")
    for _, row in pairs(self._wan) do
      if row.credential_id == credential_id then return copy(row) end
    end
    return nil
  end

  function Memory:webauthn_credentials(u)
    base.check_user(u, "webauthn_credentials")
    local list = {}
    for _, row in pairs(self._wan) do
      if row.user_id == u.id then list[#list + 1] = copy(row) end
    end
    table_sort(list, function(a, b) return a.id < b.id end)
    return list
  end

  function Memory:find_user_from_webauthn(cred)
    if type(cred) ~= "table" then base.argerror("find_user_from_webauthn", "argument #1", "table", cred) end
    return self:find_user{ id = cred.user_id }
  end

  function Memory:webauthn_used(cred, count, t)
    check_cred(cred, "webauthn_used")
    count = base.counter(count, "webauthn_used", "argument #2")
    t = base.whole(t, "webauthn_used", "argument #3", true) or now(self)
    if count < 0 or count > SIGN_COUNT_MAX then return fail("EINVAL", "sign count must be 0..4294967295") end
    local row = self._wan[cred.id]
    if not row or row.sign_count ~= cred.sign_count then return false end
    row.sign_count, row.lastuse_datetime = count, t
    cred.sign_count, cred.lastuse_datetime = count, t
    return true
  end

  function Memory:delete_webauthn(cred)
    check_cred(cred, "delete_webauthn")
    local found = self._wan[cred.id] ~= nil
    self._wan[cred.id] = nil
    return found
  end

  --- Delete the user's credentials (webauthn_reset; delete_user).
  function Memory:_drop_webauthn(user_id)
    for id, row in pairs(self._wan) do
      if row.user_id == user_id then self._wan[id] = nil end
    end
  end

  function Memory:webauthn_reset(u)
    base.check_user(u, "webauthn_reset")
    self:_drop_webauthn(u.id)
    local row = self._users[u.id]
    if row and row.fs_webauthn_user_handle ~= nil then
      row.fs_webauthn_user_handle = nil
      row.update_datetime = now(self)
    end
    u.fs_webauthn_user_handle = nil
    return true
  end
end


return _M
