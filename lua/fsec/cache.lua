--- The seam between Security and a cache of authentication lookups
-- (`Security:set_cache`): what a cache gives, checked once, and the view
-- of the datastore that tells the cache about every write that may make
-- a cached user stale. fsec.openresty plugs in per-worker LRU caches and a
-- generation counter shared by the workers; a cluster can plug in the
-- same shape with a generation another node moves (PostgreSQL's
-- LISTEN/NOTIFY: `invalidate` sends NOTIFY, the listener moves what
-- `generation` reads). docs/cache.md is the guide.
--
-- Internal to fsec: Security calls it; applications call set_cache.
-- @module fsec.cache

local datastore = require "fsec.datastore"

local type = type
local error = error
local pcall = pcall
local ipairs = ipairs
local pairs = pairs
local tostring = tostring
local setmetatable = setmetatable
local rawset = rawset


local _M = { _VERSION = "0.1.0" }

-- Datastore writes after which no cached user is stale: a new role
-- (assigning it is another write), a session's creation, and the
-- failed-login count with its reservations (the lockout is read from the
-- store, never from a cached user), the one-time code counters and the
-- WebAuthn credentials (kept in their own tables, never in a user: a
-- passkey sign-in's count must not empty every cache; the handle, in the
-- user, invalidates). Every other write of the interface
-- invalidates, so that a write added to the interface later does too.
_M.KEEPS_CACHE = { create_role = true, create_session = true,
                   record_failed_login = true, reset_failed_logins = true,
                   reserve_login = true, release_login = true, reserve_attempt = true,
                   otp_advance = true, create_webauthn = true, webauthn_used = true,
                   delete_webauthn = true }

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = (type(v) == "table" or type(v) == "userdata") and getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

-- a store of entries: get(self, key) and set(self, key, value, ttl), as
-- resty.lrucache has them
local function is_store(v)
  return (type(v) == "table" or type(v) == "userdata") and is_callable(v.get) and is_callable(v.set)
end

local FIELDS = { tokens = true, users = true, ttl = true, generation = true, invalidate = true }

--- nil, or what is wrong with a cache given to set_cache (the first
-- problem found, naming the field).
function _M.check(c)
  if type(c) ~= "table" then return "a table expected, got " .. type(c) end
  for k in pairs(c) do
    if not FIELDS[k] then return "unknown field '" .. tostring(k) .. "'" end
  end
  if c.tokens ~= nil and not is_store(c.tokens) then return "tokens must have get and set methods" end
  if c.users ~= nil and not is_store(c.users) then return "users must have get and set methods" end
  if c.ttl ~= nil and not (type(c.ttl) == "number" and c.ttl > 0 and c.ttl < math.huge) then
    return "ttl must be a number of seconds over 0"
  end
  if c.generation ~= nil and not is_callable(c.generation) then return "generation must be a function" end
  if c.invalidate ~= nil and not is_callable(c.invalidate) then return "invalidate must be a function" end
  -- a cached user is dropped only when the generation moves: without one
  -- a write would leave everyone's cached user standing
  if c.users ~= nil and c.generation == nil then return "users needs generation" end
  if c.users ~= nil and c.invalidate == nil then return "users needs invalidate" end
  if c.invalidate ~= nil and c.generation == nil then return "invalidate needs generation" end
end


-- A transaction during which the generation moved invalidates once more,
-- after its COMMIT (and fsync): inside it, a write's "after" comes before
-- the COMMIT, and a reader between the two would keep the old user under
-- the new generation. One that rolled back has nothing new to drop.
-- (The store runs under pcall: it raises faults at level 2, naming no Lua
-- frame, so "EBUSY: ..." reaches the caller as it was raised.)
local function transaction_method(ds, fn, invalidate, generation)
  local function after(g, ok, ...)
    if not ok then error((...), 0) end
    if generation() ~= g then invalidate() end
    return ...
  end
  return function(_, ...) return after(generation(), pcall(fn, ds, ...)) end
end

-- A write that may make a cached user stale: invalidate before (a commit
-- is durable only after its fsync, which may wait in a thread pool, and
-- meanwhile other readers must not keep serving the old user) and after
-- (for what they cached between the first call and the commit).
local function write_method(ds, fn, invalidate)
  return function(_, ...)
    invalidate()
    local a, b, c = fn(ds, ...)
    invalidate()
    return a, b, c
  end
end

--- A view of ds whose writes call invalidate (and a transaction, once
-- more after its COMMIT when the generation moved). ds itself is left as
-- it was: every method is the store's, called on the store. Fields and
-- methods outside the interface (set_wal_syncer, memory) are the store's
-- too, through the view.
function _M.observed(ds, invalidate, generation)
  local view = {}
  local writes = {}
  for _, name in ipairs(datastore.WRITES) do
    if not _M.KEEPS_CACHE[name] then writes[name] = true end
  end
  local function method(name)
    local fn = ds[name]
    if type(fn) ~= "function" then return end
    if name == "transaction" or name == "transaction_deferred" then
      view[name] = transaction_method(ds, fn, invalidate, generation)
    elseif writes[name] then
      view[name] = write_method(ds, fn, invalidate)
    else
      view[name] = function(_, ...) return fn(ds, ...) end
    end
  end
  for _, name in ipairs(datastore.METHODS) do method(name) end
  for _, name in ipairs(datastore.OPTIONAL) do method(name) end
  method("transaction_deferred")
  return setmetatable(view, {
    __index = function(t, k)
      local v = ds[k]
      if type(v) ~= "function" then return v end
      local bound = function(_, ...) return v(ds, ...) end
      rawset(t, k, bound)
      return bound
    end,
  })
end


return _M
