--- An in-memory datastore in plain Lua: the second implementation of the
-- `fsec.datastore` interface (proving it is real), and a quick store for
-- tests and scripts. Same checks as the SQLite store: identities are
-- validated and folded by the engine (core.fold_email: IDNA domains, NFC
-- lowercase local parts), values length-capped.
-- Not shared between processes; nothing survives the process.
-- @module fsec.datastore.memory

local core = require "fsec.core"
local base = require "fsec.datastore"
local userlib = require "fsec.user"

local type = type
local error = error
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local setmetatable = setmetatable
local os_time = os.time
local unpack = table.unpack or unpack


-- The SQLite store's limits (core.LIMITS, from the C headers), by field.
local L = core.LIMITS
local LIMITS = { password = L.hash, fs_uniquifier = L.uniquifier,
                 fs_token_uniquifier = L.uniquifier, ip = L.ip,
                 role = L.role_name, description = L.description,
                 permissions = L.permissions, text = L.text,
                 session_id = L.uniquifier, session_data = L.session_data,
                 fields = L.fields }

local _M = { _VERSION = "0.1.0" }

local Memory = {}
Memory.__index = Memory


local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end


function _M.new(opts)
  opts = opts or {}
  return setmetatable({
    _clock = opts.clock or os_time,
    _next_id = 1,
    _users = {},      -- id -> row (with role_names set)
    _roles = {},      -- name -> row
    _role_ids = 0,
    _sessions = {},   -- sid -> { user_id, expires_at }
    _attempts = {},   -- key -> { n, started, expires } (reserve_attempt)
    _otp = {},        -- user id -> { method -> counter } (otp_advance)
    _outbox = {},     -- row id -> outbox row (fsec.outbox)
    _outbox_id = 0,
    _wan = {},        -- row id -> WebAuthn credential (memory_webauthn)
    _wan_id = 0,
  }, Memory)
end


local function now(self) return math.floor(self._clock()) end

local function fail(code, msg) return nil, code .. ": " .. msg, code end

local function check_text(v, max, what)
  if v == nil then return true end
  local ok, _, code = core.check_text(v, max)
  if not ok then
    if code == "ETOOLONG" then return fail(code, what .. " is longer than " .. max .. " bytes") end
    if code == "ENUL" then return fail(code, what .. " contains a NUL byte") end
    return fail(code, what .. " is not valid UTF-8")
  end
  return true
end

local function fold(kind, v)
  local f, _, code = (kind == "email" and core.fold_email or core.fold_username)(v)
  if f then return f end
  if code == "ETOOLONG" then return fail(code, kind .. " is too long") end
  if code == "ENUL" then return fail(code, kind .. " contains a NUL byte") end
  if code == "EUTF8" then return fail(code, kind .. " is not valid UTF-8") end
  return fail("EIDENTITY", kind .. " is not valid")
end


-- The row as the store would return it: a copy, roles and permissions set.
local function snapshot(self, row)
  local u = copy(row)
  u.email_norm, u.username_norm, u.role_names = nil, nil, nil
  u.roles, u.permissions = {}, {}
  for name in pairs(row.role_names) do
    local r = self._roles[name]
    if r then
      u.roles[#u.roles + 1] = name
      for _, p in ipairs(r.permissions) do u.permissions[p] = true end
    end
  end
  table.sort(u.roles)
  return userlib.user(u, self)
end

local function lookup(self, key, value)
  if key == "id" then
    return self._users[tonumber(value)]
  end
  local want = value
  if key == "us_phone_number" and #value > L.uniquifier then -- as the C store checks it
    return nil, "ETOOLONG: us_phone_number is longer than " .. L.uniquifier .. " bytes", "ETOOLONG"
  end
  if key == "email" or key == "username" then
    local f, err, code = fold(key, value)
    if not f then return nil, err, code end
    want = f
    key = key .. "_norm"
  end
  for _, row in pairs(self._users) do
    if row[key] == want then return row end
  end
  return nil
end

local function taken(self, field, value, except)
  if value == nil then return false end
  for id, row in pairs(self._users) do
    if id ~= except and row[field] == value then return true end
  end
  return false
end


function Memory:find_user(query)
  local key, value = base.one_key(query, "find_user")
  local row, err, code = lookup(self, key, value)
  if row then return snapshot(self, row) end
  return nil, err, code
end


function Memory:create_user(fields)
  base.check_create(fields, "create_user")
  local names = base.role_names(fields.roles, "create_user")
  local nul_ok, nul_err, nul_code = base.nul_field(fields) -- as the SQLite store answers
  if not nul_ok then return nil, nul_err, nul_code end
  local enorm, err, code = fold("email", fields.email)
  if not enorm then return nil, err, code end
  local unorm
  if fields.username then
    unorm, err, code = fold("username", fields.username)
    if not unorm then return nil, err, code end
  end
  for _, k in ipairs{ "password", "fs_uniquifier", "fs_token_uniquifier" } do
    local ok
    ok, err, code = check_text(fields[k], LIMITS[k], k)
    if not ok then return nil, err, code end
  end
  local extra = base.encode_fields(fields.fields, "create_user")
  do
    local ok
    ok, err, code = check_text(extra, L.fields, "fields")
    if not ok then return nil, err, code end
  end
  local uq = fields.fs_uniquifier or base.random_id()
  local tuq = fields.fs_token_uniquifier or base.random_id()
  if taken(self, "email_norm", enorm) then return fail("EEXIST", "email already exists") end
  if taken(self, "username_norm", unorm) then return fail("EEXIST", "username already exists") end
  if taken(self, "fs_uniquifier", uq) or taken(self, "fs_token_uniquifier", tuq) then
    return fail("EEXIST", "uniquifier already exists")
  end
  local role_names = {}
  for _, name in ipairs(names) do
    if not self._roles[name] then return fail("ENOTFOUND", "role '" .. name .. "' does not exist") end
    role_names[name] = true
  end
  local id = self._next_id
  self._next_id = id + 1
  local t = now(self)
  self._users[id] = {
    id = id, email = fields.email, email_norm = enorm,
    username = fields.username, username_norm = unorm,
    password = fields.password, active = fields.active ~= false,
    confirmed_at = fields.confirmed_at and math.floor(fields.confirmed_at),
    fs_uniquifier = uq, fs_token_uniquifier = tuq, login_count = 0,
    failed_login_count = 0, fields = extra,
    create_datetime = t, update_datetime = t, role_names = role_names,
  }
  return snapshot(self, self._users[id])
end


local check_user = base.check_user


function Memory:delete_user(u)
  check_user(u, "delete_user")
  if not self._users[u.id] then return false end
  self._users[u.id] = nil
  self._otp[u.id] = nil
  self:_drop_webauthn(u.id) -- as ON DELETE CASCADE
  for sid, sess in pairs(self._sessions) do
    if sess.user_id == u.id then self._sessions[sid] = nil end
  end
  return true
end


-- Set one column on the stored row and on the caller's object.
local function set(self, u, column, value, fname)
  check_user(u, fname)
  local row = self._users[u.id]
  if column == "email" or column == "username" then
    local norm, err, code
    if value ~= nil then
      norm, err, code = fold(column, value)
      if not norm then return nil, err, code end
      if row and taken(self, column .. "_norm", norm, row.id) then
        return fail("EEXIST", column .. " already exists")
      end
    end
    if row then row[column .. "_norm"] = norm end
  elseif type(value) == "string" then
    local ok, err, code = check_text(value, LIMITS[column] or LIMITS.text, "value")
    if not ok then return nil, err, code end
    if (column == "fs_uniquifier" or column == "fs_token_uniquifier" or
        column == "us_phone_number") and row and taken(self, column, value, row.id) then
      return fail("EEXIST", "uniquifier already exists")
    end
  end
  if not row then return false end
  local changed = row[column] ~= value
  if changed then
    row[column] = value
    row.update_datetime = now(self)
  end
  u[column] = value
  return changed
end

base.field_methods(Memory, set)

local check_string = base.check_string


-- The C store's rules: 1..32 bytes of [A-Za-z0-9_.:-], counter >= 0.
function Memory:otp_advance(u, method, counter)
  check_user(u, "otp_advance")
  check_string(method, "otp_advance", "argument #2")
  counter = base.counter(counter, "otp_advance", "argument #3")
  if #method == 0 or #method > core.LIMITS.otp_method or method:find("[^%w_.:%-]") then
    return fail("EINVAL", "method must be 1.." .. core.LIMITS.otp_method .. " bytes of ASCII letters, digits, _ . : -")
  end
  if counter < 0 then return fail("EINVAL", "counter must be >= 0") end
  if not self._users[u.id] then return fail("ENOTFOUND", "user " .. tostring(u.id) .. " does not exist") end
  local counters = self._otp[u.id] or {}
  self._otp[u.id] = counters
  local last = counters[method]
  if last and last >= counter then return false end
  counters[method] = counter
  return true
end


-- The email compares folded (as stored when it folds no more under today's
-- rules: its owner can still move away, as in the C store); the new one free.
local function swap_email(self, u, expected, value)
  if expected == nil or value == nil then return fail("EINVAL", "email cannot be removed") end
  local old_norm, err, code = fold("email", expected)
  if not old_norm and code ~= "EIDENTITY" then return nil, err, code end
  local norm, nerr, ncode = fold("email", value)
  if not norm then return nil, nerr, ncode end
  local row = self._users[u.id]
  if not row or (old_norm and row.email_norm ~= old_norm) or (not old_norm and row.email ~= expected) then
    return false
  end
  if taken(self, "email_norm", norm, row.id) then return fail("EEXIST", "email already exists") end
  row.email, row.email_norm, row.update_datetime = value, norm, now(self)
  u.email = value
  return true
end

function Memory:swap_text(u, field, expected, value)
  check_user(u, "swap_text")
  if field ~= "email" and not base.TEXT_FIELDS[field] then
    error("bad argument #2 to 'swap_text' (unknown field '" .. tostring(field) .. "')", 2)
  end
  check_string(expected, "swap_text", "argument #3", true)
  check_string(value, "swap_text", "argument #4", true)
  if field == "email" then return swap_email(self, u, expected, value) end
  local ok, err, code = check_text(expected, LIMITS.text, "expected value")
  if ok then ok, err, code = check_text(value, LIMITS.text, "value") end
  if not ok then return nil, err, code end
  local row = self._users[u.id]
  if not row or row[field] ~= expected then return false end
  if field == "us_phone_number" and value ~= nil and taken(self, field, value, row.id) then
    return fail("EEXIST", "uniquifier already exists")
  end
  row[field] = value
  row.update_datetime = now(self)
  u[field] = value
  return true
end


function Memory:track_login(u, ip)
  check_user(u, "track_login")
  check_string(ip, "track_login", "argument #2", true)
  local ok, err, code = check_text(ip, LIMITS.ip, "ip")
  if not ok then return nil, err, code end
  local row = self._users[u.id]
  if not row then return fail("ENOTFOUND", "no such user") end
  local t = now(self)
  row.last_login_at = row.current_login_at or t
  row.last_login_ip = row.current_login_at and row.current_login_ip or ip
  row.current_login_at, row.current_login_ip = t, ip
  row.login_count = row.login_count + 1
  for _, k in ipairs{ "last_login_at", "last_login_ip", "current_login_at",
                      "current_login_ip", "login_count" } do
    u[k] = row[k]
  end
  return true
end


local function role_snapshot(row) return userlib.role(copy(row)) end

function Memory:create_role(fields)
  if type(fields) ~= "table" then base.argerror("create_role", "argument #1", "table", fields) end
  check_string(fields.name, "create_role", "field 'name'")
  check_string(fields.description, "create_role", "field 'description'", true)
  local name = fields.name
  local ok, err, code = check_text(name, LIMITS.role, "role name")
  if not ok then return nil, err, code end
  -- C0, DEL, C1 (U+0080..U+009F: valid UTF-8 here) and the comma
  if name == "" or name:find("[%z\1-\31,\127]") or name:find("\194[\128-\159]") then
    return fail("EINVAL", "role name is empty or has a control character or comma")
  end
  ok, err, code = check_text(fields.description, LIMITS.description, "description")
  if not ok then return nil, err, code end
  local perms = base.permission_list(fields.permissions, "create_role")
  if #base.csv(perms) > LIMITS.permissions then return fail("ETOOLONG", "permissions too long") end
  if self._roles[name] then return fail("EEXIST", "role already exists") end
  self._role_ids = self._role_ids + 1
  self._roles[name] = { id = self._role_ids, name = name,
                        description = fields.description, permissions = perms,
                        update_datetime = now(self) }
  return role_snapshot(self._roles[name])
end

function Memory:find_role(name)
  check_string(name, "find_role", "argument #1")
  local r = self._roles[name]
  return r and role_snapshot(r) or nil
end

function Memory:find_or_create_role(name, fields)
  local role = self:find_role(name)
  if role then return role end
  fields = fields or {}
  return self:create_role{ name = name, description = fields.description,
                           permissions = fields.permissions }
end

function Memory:delete_role(role)
  local name = base.role_name(role, "delete_role")
  if not self._roles[name] then return false end
  self._roles[name] = nil
  for _, row in pairs(self._users) do row.role_names[name] = nil end
  return true
end

local function user_role(self, u, role, add, fname)
  check_user(u, fname)
  local name = base.role_name(role, fname)
  local clean, nerr, ncode = base.nul_role(name)
  if not clean then return nil, nerr, ncode end
  if not self._roles[name] then return fail("ENOTFOUND", "role '" .. name .. "' does not exist") end
  local row = self._users[u.id]
  if not row then
    if add then return fail("ENOTFOUND", "user " .. tostring(u.id) .. " does not exist") end
    return false
  end
  local has = row.role_names[name] == true
  if has == add then return false end
  row.role_names[name] = add or nil
  local fresh = snapshot(self, row)
  u.roles, u.permissions = fresh.roles, fresh.permissions
  return true
end

function Memory:add_role_to_user(u, role) return user_role(self, u, role, true, "add_role_to_user") end
function Memory:remove_role_from_user(u, role) return user_role(self, u, role, false, "remove_role_from_user") end

local function change_permissions(self, role, perms, add, fname)
  local name = base.role_name(role, fname)
  local change = base.permission_list(perms, fname)
  local r = self._roles[name]
  if not r then return false end
  local merged = base.merge_permissions(r.permissions, change, add)
  if #base.csv(merged) > LIMITS.permissions then return fail("ETOOLONG", "permissions too long") end
  r.permissions = merged
  r.update_datetime = now(self)
  if type(role) == "table" then role.permissions = copy(merged) end
  return true
end

function Memory:add_permissions_to_role(role, perms)
  return change_permissions(self, role, perms, true, "add_permissions_to_role")
end

function Memory:remove_permissions_from_role(role, perms)
  return change_permissions(self, role, perms, false, "remove_permissions_from_role")
end


function Memory:record_failed_login(u, window)
  check_user(u, "record_failed_login")
  window = base.whole(window, "record_failed_login", "argument #2")
  if window <= 0 then return fail("EINVAL", "window must be positive") end -- as the SQLite store
  local row = self._users[u.id]
  if not row then return fail("ENOTFOUND", "no such user") end
  local t = now(self)
  if not row.failed_login_window or row.failed_login_window <= t - window then
    row.failed_login_count, row.failed_login_window = 1, t
  else
    row.failed_login_count = row.failed_login_count + 1
  end
  u.failed_login_count, u.failed_login_window = row.failed_login_count, row.failed_login_window
  return row.failed_login_count
end

-- The window of a { count, started } pair at time t, as the SQLite
-- store's statements count it: a new window, or one more in this one, or
-- nil when threshold failures stand in it.
local function reserve(count, started, t, window, threshold)
  if not started or started <= t - window then return 1, t end
  if count >= threshold then return nil end
  return count + 1, started
end

local function check_meter(fname, window, threshold)
  window = base.whole(window, fname, "argument #2")
  threshold = base.whole(threshold, fname, "argument #3")
  if window <= 0 or threshold <= 0 then return nil end
  return window, threshold
end

function Memory:reserve_login(u, threshold, window)
  check_user(u, "reserve_login")
  window, threshold = check_meter("reserve_login", window, threshold)
  if not window then return fail("EINVAL", "window and threshold must be positive") end
  local row = self._users[u.id]
  if not row then return false end
  local n, started = reserve(row.failed_login_count, row.failed_login_window, now(self), window, threshold)
  if not n then return false end
  row.failed_login_count, row.failed_login_window = n, started
  u.failed_login_count, u.failed_login_window = n, started
  return n
end

function Memory:release_login(u)
  check_user(u, "release_login")
  local row = self._users[u.id]
  if row and row.failed_login_count > 0 then row.failed_login_count = row.failed_login_count - 1 end
  if (u.failed_login_count or 0) > 0 then u.failed_login_count = u.failed_login_count - 1 end
  return true
end

function Memory:reserve_attempt(key, threshold, window)
  check_string(key, "reserve_attempt", "argument #1")
  window, threshold = check_meter("reserve_attempt", window, threshold)
  if not window then return fail("EINVAL", "window and threshold must be positive") end
  local t, a = now(self), self._attempts
  -- prune rows past their own end, never by this caller's window (a short
  -- one would delete a longer one's row); a store for tests, small sites
  for k, v in pairs(a) do
    if v[3] <= t then a[k] = nil end
  end
  local row = a[key] or {}
  local n, started = reserve(row[1], row[2], t, window, threshold)
  if not n then return false end
  local expires = started + window
  a[key] = { n, started, started == row[2] and math.max(row[3], expires) or expires }
  return n
end

function Memory:reset_failed_logins(u)
  check_user(u, "reset_failed_logins")
  local row = self._users[u.id]
  if row then row.failed_login_count, row.failed_login_window = 0, nil end
  u.failed_login_count, u.failed_login_window = 0, nil
  return true
end

function Memory:create_session(u, sid, expires_at)
  check_user(u, "create_session")
  check_string(sid, "create_session", "argument #2")
  expires_at = base.whole(expires_at, "create_session", "argument #3")
  if sid == "" then return fail("EINVAL", "session id is empty") end -- as the SQLite store
  local ok, err, code = check_text(sid, LIMITS.session_id, "session id")
  if not ok then return nil, err, code end
  if not self._users[u.id] then return fail("ENOTFOUND", "user " .. tostring(u.id) .. " does not exist") end
  if self._sessions[sid] then return fail("EEXIST", "session id already exists") end
  local t = now(self)
  for id, sess in pairs(self._sessions) do -- purge the user's expired ones
    if sess.user_id == u.id and sess.expires_at <= t then self._sessions[id] = nil end
  end
  self._sessions[sid] = { user_id = u.id, expires_at = math.floor(expires_at) }
  return true
end

function Memory:find_user_by_session(sid, uq)
  check_string(sid, "find_user_by_session", "argument #1")
  check_string(uq, "find_user_by_session", "argument #2")
  local sess = self._sessions[sid]
  if not sess or sess.expires_at <= now(self) then return nil end
  local row = self._users[sess.user_id]
  if not row or row.fs_uniquifier ~= uq then return nil end
  return snapshot(self, row)
end

function Memory:get_session_data(sid)
  check_string(sid, "get_session_data", "argument #1")
  local sess = self._sessions[sid]
  if not sess or sess.expires_at <= now(self) then return nil end
  return sess.data or false, sess.data_version or 0
end

function Memory:set_session_data(sid, data, version)
  check_string(sid, "set_session_data", "argument #1")
  check_string(data, "set_session_data", "argument #2", true)
  version = base.whole(version, "set_session_data", "argument #3")
  local ok, err, code = check_text(data, LIMITS.session_data, "session data")
  if not ok then return nil, err, code end
  local sess = self._sessions[sid]
  if not sess or sess.expires_at <= now(self) or (sess.data_version or 0) ~= version then return false end
  sess.data, sess.data_version = data, version + 1
  return true
end


-- The mail outbox (fsec.outbox): its own file
require("fsec.datastore.memory_outbox").install(Memory, { now = now, fail = fail, check_text = check_text })
require("fsec.datastore.memory_webauthn").install(Memory, { now = now, fail = fail, check_text = check_text })

function Memory:delete_session(sid)
  check_string(sid, "delete_session", "argument #1")
  local had = self._sessions[sid] ~= nil
  self._sessions[sid] = nil
  return had
end

function Memory:delete_user_sessions(u, keep)
  check_user(u, "delete_user_sessions")
  check_string(keep, "delete_user_sessions", "argument #2", true)
  local n = 0
  for sid, sess in pairs(self._sessions) do
    if sess.user_id == u.id and sid ~= keep then
      self._sessions[sid] = nil
      n = n + 1
    end
  end
  return n
end


--- Snapshot the whole state; restore it if fn raises.
function Memory:transaction(fn, ...)
  if type(fn) ~= "function" then base.argerror("transaction", "argument #1", "function", fn) end
  if self._in_txn then return fn(...) end
  local saved = { copy(self._users), copy(self._roles), self._next_id, self._role_ids,
                  copy(self._sessions), copy(self._attempts), copy(self._otp),
                  copy(self._outbox), self._outbox_id, copy(self._wan), self._wan_id }
  self._in_txn = true
  local ok, n, res = base.pack_pcall(fn, ...)
  self._in_txn = false
  if not ok then
    self._users, self._roles, self._next_id, self._role_ids = saved[1], saved[2], saved[3], saved[4]
    self._sessions, self._attempts, self._otp = saved[5], saved[6], saved[7]
    self._outbox, self._outbox_id = saved[8], saved[9]
    self._wan, self._wan_id = saved[10], saved[11]
    error(res[1], 0)
  end
  return unpack(res, 1, n)
end


function Memory:counts()
  local u, r = 0, 0
  for _ in pairs(self._users) do u = u + 1 end
  for _ in pairs(self._roles) do r = r + 1 end
  return u, r
end

function Memory.close() end -- nothing to let go of (a method: ds:close())


return _M
