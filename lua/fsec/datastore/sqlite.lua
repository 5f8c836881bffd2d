--- The C store's datastore: the embedded SQLite file (fsec's default) or,
-- for a `postgresql://` URI, PostgreSQL (several nodes on one database).
-- See `fsec.datastore` for the interface every datastore implements.
-- @module fsec.datastore.sqlite

local core = require "fsec.core"
local base = require "fsec.datastore"
local userlib = require "fsec.user"

local type = type
local error = error
local setmetatable = setmetatable
local os_time = os.time
local unpack = table.unpack or unpack
local tostring = tostring


local _M = { _VERSION = "0.1.0" }

local SQLite = {}
SQLite.__index = SQLite


--- Open (create, migrate) a database file, or connect to PostgreSQL.
-- @tparam table opts `path` (required: a file, ":memory:" or a libpq
--   URI), `busy_timeout` (ms), `synchronous` ("FULL" or "NORMAL"),
--   `cache_kib`, `mmap_bytes`, `max_pages` (SQLite), `connect_timeout`,
--   `statement_timeout` (ms, PostgreSQL), `clock`
-- @return datastore, or nil, message, code
function _M.new(opts)
  local store, err, code = core.open_store{
    path = opts.path, busy_timeout = opts.busy_timeout,
    synchronous = opts.synchronous, cache_kib = opts.cache_kib,
    mmap_bytes = opts.mmap_bytes, max_pages = opts.max_pages,
    connect_timeout = opts.connect_timeout, statement_timeout = opts.statement_timeout,
  }
  if not store then return nil, err, code end
  return setmetatable({ _store = store, _clock = opts.clock or os_time }, SQLite)
end


local function now(self) return math.floor(self._clock()) end


-- Re-read a user into the object the caller holds (roles may have moved).
local function refresh(self, u)
  local row, err, code = self._store:find_user("id", u.id)
  if not row then return nil, err, code end
  for k in pairs(u) do u[k] = nil end
  for k, v in pairs(row) do u[k] = v end
  u.fields = userlib.decode_fields(u.fields) -- as find_user gives them: a table
  return true
end


local check_user = base.check_user


function SQLite:find_user(query)
  local key, value = base.one_key(query, "find_user")
  local row, err, code = self._store:find_user(key, value)
  if row then return userlib.user(row, self) end
  if code == "ENOTFOUND" then return nil end
  return nil, err, code
end


function SQLite:create_user(fields)
  base.check_create(fields, "create_user")
  local ok, err, code = base.nul_field(fields)
  if not ok then return nil, err, code end
  local id
  id, err, code = self._store:create_user{
    email = fields.email, username = fields.username,
    password = fields.password, active = fields.active ~= false,
    confirmed_at = base.whole(fields.confirmed_at, "create_user", "field 'confirmed_at'", true),
    fs_uniquifier = fields.fs_uniquifier,
    fs_token_uniquifier = fields.fs_token_uniquifier,
    fields = base.encode_fields(fields.fields, "create_user"),
    roles = base.role_names(fields.roles, "create_user"), now = now(self),
  }
  if not id then return nil, err, code end
  return self:find_user{ id = id }
end


function SQLite:delete_user(u)
  check_user(u, "delete_user")
  return self._store:delete_user(u.id)
end


local function set(self, u, column, value, fname)
  check_user(u, fname)
  local changed, err, code = self._store:set(u.id, column, value, now(self))
  if changed == nil then return nil, err, code end
  u[column] = value
  return changed
end

base.field_methods(SQLite, set)

local check_string = base.check_string


function SQLite:otp_advance(u, method, counter)
  check_user(u, "otp_advance")
  check_string(method, "otp_advance", "argument #2")
  return self._store:otp_advance(u.id, method, base.counter(counter, "otp_advance", "argument #3"))
end


function SQLite:swap_text(u, field, expected, value)
  check_user(u, "swap_text")
  if field ~= "email" and not base.TEXT_FIELDS[field] then
    error("bad argument #2 to 'swap_text' (unknown field '" .. tostring(field) .. "')", 2)
  end
  check_string(expected, "swap_text", "argument #3", true)
  check_string(value, "swap_text", "argument #4", true)
  local swapped, err, code = self._store:swap_text(u.id, field, expected, value, now(self))
  if swapped == nil then return nil, err, code end
  if swapped then u[field] = value end
  return swapped
end


function SQLite:track_login(u, ip)
  check_user(u, "track_login")
  check_string(ip, "track_login", "argument #2", true)
  local ok, err, code = self._store:track_login(u.id, ip, now(self))
  if not ok then return nil, err, code end
  return refresh(self, u)
end


function SQLite:create_role(fields)
  if type(fields) ~= "table" then base.argerror("create_role", "argument #1", "table", fields) end
  check_string(fields.name, "create_role", "field 'name'")
  check_string(fields.description, "create_role", "field 'description'", true)
  local perms = base.permission_list(fields.permissions, "create_role")
  local id, err, code = self._store:create_role(fields.name, fields.description,
                                                base.csv(perms), now(self))
  if not id then return nil, err, code end
  return self:find_role(fields.name)
end

function SQLite:find_role(name)
  check_string(name, "find_role", "argument #1")
  local row, err, code = self._store:find_role(name)
  if row then return userlib.role(row) end
  if code == "ENOTFOUND" then return nil end
  return nil, err, code
end

function SQLite:find_or_create_role(name, fields)
  local role, err, code = self:find_role(name)
  if role or err then return role, err, code end
  fields = fields or {}
  return self:create_role{ name = name, description = fields.description,
                           permissions = fields.permissions }
end

function SQLite:delete_role(role)
  return self._store:delete_role(base.role_name(role, "delete_role"))
end

local function user_role(self, u, role, add, fname)
  check_user(u, fname)
  local name = base.role_name(role, fname)
  local changed, err, code
  if add then
    changed, err, code = self._store:add_role(u.id, name)
  else
    changed, err, code = self._store:remove_role(u.id, name)
  end
  if changed == nil then return nil, err, code end
  if changed then refresh(self, u) end
  return changed
end

function SQLite:add_role_to_user(u, role) return user_role(self, u, role, true, "add_role_to_user") end
function SQLite:remove_role_from_user(u, role) return user_role(self, u, role, false, "remove_role_from_user") end

local function change_permissions(self, role, perms, add, fname)
  local name = base.role_name(role, fname)
  local change = base.permission_list(perms, fname)
  local current, err, code = self:find_role(name)
  if not current then
    if err then return nil, err, code end
    return false
  end
  local merged = base.merge_permissions(current.permissions, change, add)
  local ok
  ok, err, code = self._store:set_permissions(name, base.csv(merged), now(self))
  if ok == nil then return nil, err, code end
  if type(role) == "table" then role.permissions = merged end
  return true
end

function SQLite:add_permissions_to_role(role, perms)
  return change_permissions(self, role, perms, true, "add_permissions_to_role")
end

function SQLite:remove_permissions_from_role(role, perms)
  return change_permissions(self, role, perms, false, "remove_permissions_from_role")
end


function SQLite:record_failed_login(u, window)
  check_user(u, "record_failed_login")
  window = base.whole(window, "record_failed_login", "argument #2")
  local n, err, code = self._store:failed_login(u.id, now(self), window)
  if not n then return nil, err, code end
  u.failed_login_count = n
  return n
end

function SQLite:reserve_login(u, threshold, window)
  check_user(u, "reserve_login")
  window = base.whole(window, "reserve_login", "argument #3")
  threshold = base.whole(threshold, "reserve_login", "argument #2")
  local n, err, code = self._store:reserve_login(u.id, now(self), window, threshold)
  if n == nil then return nil, err, code end
  if n then u.failed_login_count = n end
  return n
end

function SQLite:release_login(u)
  check_user(u, "release_login")
  local ok, err, code = self._store:release_login(u.id)
  if not ok then return nil, err, code end
  if (u.failed_login_count or 0) > 0 then u.failed_login_count = u.failed_login_count - 1 end
  return true
end

function SQLite:reserve_attempt(key, threshold, window)
  base.check_string(key, "reserve_attempt", "argument #1")
  window = base.whole(window, "reserve_attempt", "argument #3")
  threshold = base.whole(threshold, "reserve_attempt", "argument #2")
  local n, err, code = self._store:reserve_attempt(key, now(self), window, threshold)
  if n == nil then return nil, err, code end
  return n
end

function SQLite:reset_failed_logins(u)
  check_user(u, "reset_failed_logins")
  local ok, err, code = self._store:reset_failed_logins(u.id)
  if not ok then return nil, err, code end
  u.failed_login_count, u.failed_login_window = 0, nil
  return true
end

--- Iterate over users in id order, optionally only those with a role.
function SQLite:each_user(role)
  check_string(role, "each_user", "argument #1", true)
  local after = 0
  return function()
    local row, err = self._store:next_user(after, role)
    if row == nil and err then error(err, 2) end
    if not row then return nil end
    after = row.id
    return userlib.user(row, self)
  end
end

--- Iterate over roles in id order (fsec's own store: the command line).
function SQLite:each_role()
  local after = 0
  return function()
    local row, err = self._store:next_role(after)
    if row == nil and err then error(err, 2) end
    if not row then return nil end
    after = row.id
    return userlib.role(row)
  end
end

--- Facts about the database itself (fsec.saltcheck): the value recorded
-- under key, or nil; add_meta records one unless one is there (the first
-- writer wins) -> added.
function SQLite:get_meta(key)
  check_string(key, "get_meta", "argument #1")
  return self._store:meta_get(key)
end

function SQLite:add_meta(key, value)
  check_string(key, "add_meta", "argument #1")
  check_string(value, "add_meta", "argument #2")
  return self._store:meta_add(key, value)
end

local TRACKING = { last_login_at = "number", current_login_at = "number", login_count = "number",
                   last_login_ip = "string", current_login_ip = "string" }

--- Set login-tracking fields (imports): { last_login_at, current_login_at,
-- last_login_ip, current_login_ip, login_count }.
function SQLite:set_tracking(u, fields)
  check_user(u, "set_tracking")
  for k, v in pairs(fields) do
    if not TRACKING[k] or type(v) ~= TRACKING[k] then
      error("bad field '" .. tostring(k) .. "' to 'set_tracking'", 2)
    end
    local ok, err, code = set(self, u, k, TRACKING[k] == "number" and math.floor(v) or v, "set_tracking")
    if ok == nil then return nil, err, code end
  end
  return true
end

function SQLite:create_session(u, sid, expires_at)
  check_user(u, "create_session")
  check_string(sid, "create_session", "argument #2")
  expires_at = base.whole(expires_at, "create_session", "argument #3")
  return self._store:create_session(sid, u.id, now(self), expires_at)
end

function SQLite:find_user_by_session(sid, uq)
  check_string(sid, "find_user_by_session", "argument #1")
  check_string(uq, "find_user_by_session", "argument #2")
  local row, err, code = self._store:find_user_by_session(sid, uq, now(self))
  if row then return userlib.user(row, self) end
  if code == "ENOTFOUND" then return nil end
  return nil, err, code
end

function SQLite:get_session_data(sid)
  check_string(sid, "get_session_data", "argument #1")
  return self._store:session_data(sid, now(self))
end

function SQLite:set_session_data(sid, data, version)
  check_string(sid, "set_session_data", "argument #1")
  check_string(data, "set_session_data", "argument #2", true)
  version = base.whole(version, "set_session_data", "argument #3")
  return self._store:set_session_data(sid, data, version, now(self))
end


-- WebAuthn credentials (schema 13): fsec.datastore.sqlite_webauthn.
require("fsec.datastore.sqlite_webauthn").install(SQLite, { now = now })


-- The mail outbox (fsec.outbox; schema 12).
local function check_outbox_row(m)
  if type(m) ~= "table" then base.argerror("outbox_add", "argument #1", "table", m) end
  for _, k in ipairs{ "message_id", "sender", "recipient", "kind", "message" } do
    check_string(m[k], "outbox_add", "field " .. k)
  end
end

function SQLite:outbox_add(m)
  check_outbox_row(m)
  return self._store:outbox_add(m.message_id, m.sender, m.recipient, m.kind, m.message, now(self))
end

function SQLite:outbox_claim(owner, lease)
  check_string(owner, "outbox_claim", "argument #1")
  return self._store:outbox_claim(owner, now(self), base.whole(lease, "outbox_claim", "argument #2"))
end

function SQLite:outbox_sent(id)
  return self._store:outbox_sent(base.whole(id, "outbox_sent", "argument #1"))
end

function SQLite:outbox_retry(id, owner, next_at, err)
  check_string(owner, "outbox_retry", "argument #2")
  if next_at ~= nil then next_at = base.whole(next_at, "outbox_retry", "argument #3") end
  check_string(err, "outbox_retry", "argument #4", true)
  return self._store:outbox_retry(base.whole(id, "outbox_retry", "argument #1"), owner, next_at, err)
end

function SQLite:outbox_counts() return self._store:outbox_counts() end

function SQLite:delete_session(sid)
  check_string(sid, "delete_session", "argument #1")
  return self._store:delete_session(sid)
end

function SQLite:delete_user_sessions(u, keep)
  check_user(u, "delete_user_sessions")
  check_string(keep, "delete_user_sessions", "argument #2", true)
  return self._store:delete_user_sessions(u.id, keep)
end


-- fn(...) inside the transaction begin opened; commit, or roll back and
-- re-raise. Returns fn's results packed: their count n and the table res.
local function run_transaction(self, fn, ...)
  self._in_txn = true
  local ok, n, res = base.pack_pcall(fn, ...)
  self._in_txn = false
  if not ok then
    self._store:rollback()
    error(res[1], 0)
  end
  local err
  ok, err = self._store:commit()
  if not ok then error(err, 3) end
  return n, res
end


--- Run fn(...) in one write transaction; on error roll back and re-raise.
-- Nested calls join the outer transaction.
function SQLite:transaction(fn, ...)
  if type(fn) ~= "function" then base.argerror("transaction", "argument #1", "function", fn) end
  if self._in_txn then return fn(...) end
  local ok, err = self._store:begin()
  if not ok then error(err, 2) end
  local n, res = run_transaction(self, fn, ...)
  return unpack(res, 1, n)
end


--- The same, with the fsync of the commit made by the syncer given to
-- set_wal_syncer instead of by this thread: the commit is written at
-- synchronous NORMAL, then the syncer makes the WAL durable, and only
-- then are fn's results returned (a syncer that fails raises, EDB). The
-- OpenResty adapter's syncer runs in nginx's thread pool, so a login's
-- commit does not hold the worker's event loop for an fsync. Without a
-- syncer, or inside another transaction, this is transaction().
function SQLite:transaction_deferred(fn, ...)
  local sync = self._wal_syncer
  if not sync or self._in_txn then return self:transaction(fn, ...) end
  if type(fn) ~= "function" then base.argerror("transaction_deferred", "argument #1", "function", fn) end
  local ok, deferred = self._store:begin_deferred() -- nil, message on failure
  if not ok then error(deferred, 2) end
  local n, res = run_transaction(self, fn, ...)
  if deferred then
    local pok, synced, err = pcall(sync, self._wal_path)
    if not (pok and synced) then
      err = tostring(pok and err or synced)
      error(err:match("^E%u+:") and err or ("EDB: " .. err), 2)
    end
  end
  return unpack(res, 1, n)
end


--- Give the function that makes commits durable for transaction_deferred
-- and for every write method called outside a transaction (see below):
-- syncer(wal_path) -> true, or nil and a message (core.sync_wal does it
-- on the calling thread). false when this database cannot defer (not a
-- file in WAL mode at synchronous FULL); nil removes the syncer.
-- With a syncer this connection checkpoints only past 4000 WAL pages, a
-- backstop: the syncer is expected to checkpoint first, off the thread
-- that commits (fsec.openresty.thread does at 1000, SQLite's default).
function SQLite:set_wal_syncer(syncer)
  if syncer ~= nil and type(syncer) ~= "function" then
    base.argerror("set_wal_syncer", "argument #1", "function", syncer)
  end
  local path = self._store:wal_path()
  if syncer and not path then return false end
  local ok, err = self._store:set_autocheckpoint(syncer and 4000 or 1000)
  if not ok then error(err, 2) end
  self._wal_syncer, self._wal_path = syncer, path
  return true
end


-- With a syncer, a write made outside a transaction is its own deferred
-- transaction: under nginx a registration, a wrong password's count or a
-- logout no longer holds the worker's event loop for an fsync, as a
-- login's writes do not. The method's failure (nil, message, code) rolls
-- its writes back, so a method of several statements writes all or
-- nothing, and a syncer that fails is the method's failure (EDB); an
-- argument error still raises.
local Failed = {} -- metatable of the error that rolls a failure back
local HERE = debug.getinfo(1, "S").short_src -- this file, as error positions name it

local function pack(...) return select("#", ...), { ... } end

local function deferred_write(write)
  local function run(self, ...)
    local n, res = pack(write(self, ...))
    if res[1] == nil and res[2] ~= nil then error(setmetatable(res, Failed), 0) end
    return unpack(res, 1, n)
  end
  return function(self, ...)
    if not self._wal_syncer or self._in_txn then return write(self, ...) end
    local ok, n, res = base.pack_pcall(self.transaction_deferred, self, run, self, ...)
    if ok then return unpack(res, 1, n) end
    local e = res[1]
    if getmetatable(e) == Failed then return nil, e[2], e[3] end
    if type(e) == "string" then
      local code = e:match("^(E%u+):")
      if code then return nil, e, code end
      -- an argument error names the line that called the method, which
      -- is run() above, in this file: name the caller's again, as
      -- without a syncer
      local msg = e:sub(1, #HERE) == HERE and e:match("^:%d+: (bad argument .*)$", #HERE + 1)
      if msg then error(msg, 2) end
    end
    error(e, 0)
  end
end

for _, name in ipairs(base.WRITES) do
  SQLite[name] = deferred_write(assert(SQLite[name], name))
end
SQLite.set_tracking = deferred_write(SQLite.set_tracking) -- imports: not in the interface
SQLite.outbox_add = deferred_write(SQLite.outbox_add) -- as durable as the change that queued it


function SQLite:counts() return self._store:counts() end
function SQLite:integrity_check() return self._store:integrity_check() end
function SQLite:schema_version() return self._store:schema_version() end
--- The revocation epoch (moved by the database at every revoking write).
function SQLite:revocation_epoch() return self._store:revocation_epoch() end
--- "sqlite" or "postgresql".
function SQLite:backend() return self._store:backend() end
--- SQLite's memory: { cache_bytes, statement_bytes, sqlite_heap_bytes }.
function SQLite:memory() return self._store:memory() end
function SQLite:close() self._store:close() end


return _M
