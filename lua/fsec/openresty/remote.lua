--- fsec.openresty's datastore for PostgreSQL: every call runs in nginx's
-- thread pool (fsec.openresty.thread keeps one connection per worker
-- thread Lua state, its prepared statements kept), so no network wait
-- ever happens in the event loop. Plain Lua and the SQLite file call the
-- store directly; this is only for a `postgresql://` database under nginx.
--
-- A transaction cannot travel to another thread as a Lua function, so
-- `transaction(fn)` records fn's writes and sends them together, at its
-- end, as one job that runs them in one database transaction: all or
-- nothing, as everywhere. Inside it a write answers true at once (its
-- own result comes with the commit: a failure raises from transaction,
-- and the caller's user objects are updated after it), and a read is
-- sent at once and sees the database as it was before the transaction.
-- fsec's own transactions only write; an application that reads its own
-- writes inside one must read after it (docs/openresty.md).
-- A part of fsec.openresty.
-- @module fsec.openresty.remote

local datastore = require "fsec.datastore"
local userlib = require "fsec.user"
local jobs = require "fsec.openresty.jobs"

local type = type
local next = next
local concat = table.concat
local error = error
local pairs = pairs
local ipairs = ipairs
local select = select
local setmetatable = setmetatable
local getmetatable = getmetatable
local tostring = tostring
local unpack = table.unpack or unpack


local _M = { _VERSION = "0.1.0" }

local THREAD_MODULE = "fsec.openresty.thread"
local semaphore -- ngx.semaphore, loaded in nginx only (new)

local Remote = {}
Remote.__index = Remote

local WRITES = {}
for _, name in ipairs(datastore.WRITES) do WRITES[name] = true end
WRITES.add_meta = true
WRITES.outbox_add = true -- queued with the transaction's other writes


local function pack(...) return { n = select("#", ...), ... } end

-- Arguments as they travel: tables without their metatables (a User's
-- methods stay here; its fields go).
local function plain_args(args)
  local out = { n = args.n }
  for i = 1, args.n do
    local a = args[i]
    if type(a) == "table" then
      userlib.full(a) -- a thin (cached) user travels whole
      local t = {}
      for k, v in pairs(a) do t[k] = v end
      a = t
    end
    out[i] = a
  end
  return out
end

local revive = userlib.revive -- a user or role that came back: methods again

-- The caller's own tables get the state their copies had after the call
-- (a datastore updates the user object it is given).
local function write_back(args, after)
  for i = 1, args.n do
    local a, b = args[i], after and after[i]
    if type(a) == "table" and type(b) == "table" then
      local mt = getmetatable(a)
      for k in pairs(a) do a[k] = nil end
      for k, v in pairs(b) do a[k] = v end
      if mt then setmetatable(a, mt) end
    end
  end
end

-- One job: ok, results list, the arguments after, per call; or raises
-- what the datastore raised, or answers unavailable (no thread, pool busy).
local function run(self, txn, calls)
  local ok, status, res, after = jobs.run(self._pool, self._jobs, nil, THREAD_MODULE, "store",
                                           self._db, txn, calls)
  if not ok then
    local msg = "EUNAVAILABLE: store unreachable: " .. tostring(status)
    return false, msg
  end
  if status == "raise" then
    -- a fault keeps its "ECODE: " first (a position prefix would hide it)
    error(res:match("^[^\n]-:%d+: (E%u+: .*)$") or res, 0)
  end
  if status == "fail" then return false, res, after end
  return true, res, after
end

-- Inside a transaction, what the caller reads back from its user object
-- before the commit must already be there: a new uniquifier (the session
-- cookie made in the same transaction names it) is drawn here, and set on
-- the caller's object at once; the commit's write-back agrees with it.
local UNIQUIFIERS = { set_uniquifier = "fs_uniquifier", set_token_uniquifier = "fs_token_uniquifier" }

local function eager(name, args)
  local field = UNIQUIFIERS[name]
  if not field or type(args[1]) ~= "table" then return end
  local uq = args[2]
  if uq == nil or uq == "" then
    uq = datastore.random_id()
    args[2], args.n = uq, math.max(args.n, 2)
  end
  if type(uq) == "string" then args[1][field] = uq end
end

-- Lookups of the same thing at the same time share one job. When the
-- revocation epoch moves, every worker empties its cache and every
-- request in flight for a user misses at once: without this, each would
-- post its own lookup of that user, and past the queue the rest would be
-- answered 503. The key is the method and its arguments (one-field
-- queries, strings, numbers); anything else is not shared.
local SHARED = { find_user = true, find_user_by_session = true, find_role = true,
                 get_meta = true, revocation_epoch = true }

local function key_of(name, wire)
  local parts = { name }
  for i = 1, wire.n do
    local a = wire[i]
    local t = type(a)
    if t == "table" then
      local k, v = next(a)
      if k == nil or next(a, k) ~= nil or type(v) == "table" then return nil end
      parts[#parts + 1] = "t" .. tostring(k) .. "=" .. tostring(v)
    elseif t == "string" or t == "number" or t == "boolean" then
      parts[#parts + 1] = t:sub(1, 1) .. tostring(a)
    elseif a == nil then
      parts[#parts + 1] = "n"
    else
      return nil
    end
  end
  return concat(parts, "\0")
end

-- A copy of a result for each request that shared it (a request may
-- change the user object it is given; the others must not see that).
local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

local function answer(self, res, after, args)
  write_back(args, after and after[1])
  local r = res[1]
  local out = { n = r.n }
  for i = 1, r.n do out[i] = revive(copy(r[i]), self) end
  return unpack(out, 1, out.n)
end

local function lookup(self, name, wire, args)
  local key = SHARED[name] and key_of(name, wire)
  local flight = key and self._flights[key]
  if flight then -- the same lookup is on its way: wait for its answer
    flight.waiters = flight.waiters + 1
    local got = flight.sema:wait(jobs.wait_seconds())
    if not got or not flight.ok then
      local msg = flight.err or "EUNAVAILABLE: store unreachable: the shared lookup did not answer in time"
      return nil, msg, msg:match("^(E%u+):")
    end
    return answer(self, flight.res, flight.after, args)
  end
  if key then
    flight = { waiters = 0, sema = semaphore.new(0) }
    self._flights[key] = flight
  end
  -- whatever happens (a raise included), the flight lands and its
  -- waiters are woken
  local pok, ok, res, after = pcall(run, self, false, { { name, wire } })
  local raised = not pok and ok
  if flight then
    self._flights[key] = nil
    if not pok then ok, res = false, "EDB: " .. tostring(ok) end
    flight.ok, flight.res, flight.after, flight.err = ok, res, after, not ok and res or nil
    if flight.waiters > 0 then flight.sema:post(flight.waiters) end
  end
  if not pok then error(raised, 0) end
  if not ok then return nil, res, res:match("^(E%u+):") end
  return answer(self, res, after, args)
end

-- Writes whose answer is a decision the caller acts on (a code accepted,
-- a recovery code spent): inside a transaction a write answers true at
-- once and its own result comes with the commit, which would accept
-- every code. They raise there instead; call them on their own.
local DECIDES = { otp_advance = true, swap_text = true, webauthn_used = true,
                  create_webauthn = true, set_webauthn_user_handle = true }

local function call(self, name, ...)
  local args = pack(...)
  if self._batch and DECIDES[name] then
    error(name .. ": not available inside transaction() under nginx on PostgreSQL"
          .. " (its answer would come only with the commit); call it on its own", 2)
  end
  if self._batch and WRITES[name] then eager(name, args) end
  local wire = plain_args(args)
  if self._batch and WRITES[name] then
    self._batch[#self._batch + 1] = { name, wire, args }
    return true -- its own result comes with the commit
  end
  if SHARED[name] then return lookup(self, name, wire, args) end
  local ok, res, after = run(self, false, { { name, wire } })
  if not ok then
    local code = res:match("^(E%u+):")
    return nil, res, code
  end
  write_back(args, after and after[1])
  local r = res[1]
  for i = 1, r.n do r[i] = revive(r[i], self) end
  return unpack(r, 1, r.n)
end


for _, name in ipairs(datastore.METHODS) do
  if name ~= "transaction" and name ~= "close" then
    Remote[name] = function(self, ...) return call(self, name, ...) end
  end
end
-- the thread's store (fsec.datastore.sqlite) has the optional ones
for _, name in ipairs(datastore.OPTIONAL) do
  Remote[name] = function(self, ...) return call(self, name, ...) end
end
for _, name in ipairs{ "get_meta", "add_meta", "revocation_epoch", "backend", "integrity_check",
                       "schema_version" } do
  Remote[name] = function(self, ...) return call(self, name, ...) end
end


--- Run fn's writes as one database transaction (see the module's note).
function Remote:transaction(fn, ...)
  if type(fn) ~= "function" then datastore.argerror("transaction", "argument #1", "function", fn) end
  if self._batch then return fn(...) end -- nested: joins the outer one
  self._batch = {}
  local r = pack(pcall(fn, ...))
  local batch = self._batch
  self._batch = nil
  if not r[1] then error(r[2], 0) end
  if #batch > 0 then
    local calls = {}
    for i, c in ipairs(batch) do calls[i] = { c[1], c[2] } end
    local ok, res, after = run(self, true, calls)
    if not ok then error(res, 0) end
    for i, c in ipairs(batch) do write_back(c[3], after[i]) end
  end
  return unpack(r, 2, r.n)
end


--- Lists go through the fsec command, not through nginx's thread pool.
function Remote.each_user() error("each_user: not available under nginx on PostgreSQL (use the fsec command)", 2) end
function Remote.each_role() error("each_role: not available under nginx on PostgreSQL (use the fsec command)", 2) end

--- The connections belong to the threads' Lua states: nothing to close.
function Remote.close() end


--- A datastore whose calls run in thread pool `pool` (at most `njobs`
-- at once per worker, at most `queue` requests waiting for one), on
-- database `db` ({ path, connect_timeout, statement_timeout }).
function _M.new(pool, njobs, queue, db)
  jobs.set_queue(pool, queue)
  semaphore = semaphore or require("ngx.semaphore")
  return setmetatable({ _pool = pool, _jobs = njobs, _db = db, _flights = {} }, Remote)
end


return _M
