--- fsec.openresty's cache of authentication lookups, on two levels: a
-- small per-worker resty.lrucache.pureffi cache (L1: the decoded Lua
-- entries of the hot users) in front of one lua_shared_dict every worker
-- shares (L2, `cache_dict`, default fsec_cache: compact string records),
-- revoked through a generation counter that every worker shares (memory
-- mapped in init, before the fork), given to the worker's Security
-- object through its seam, Security:set_cache (fsec.cache;
-- docs/cache.md). A logout, password change or deactivation in any
-- worker takes effect in all of them at once: a record or entry read
-- under another generation is a miss. Reading the generation costs one
-- atomic load. Changes made outside nginx (the command line) are seen
-- within cache_ttl seconds (default 2). After a reload the new workers
-- share a new counter and a new record key (the old records are never
-- found again), and start with empty L1 caches; workers of the old
-- configuration only finish their requests. Without the dict, each
-- worker keeps cache_size entries per cache itself (no L2).
-- A part of fsec.openresty.
-- @module fsec.openresty.cache

local core = require "fsec.core"
local metrics = require "fsec.metrics"
local userlib = require "fsec.user"

local ngx = ngx
local type = type
local pairs = pairs
local tonumber = tonumber
local byte = string.byte
local find = string.find
local sub = string.sub
local format = string.format
local concat = table.concat
local floor = math.floor
local setmetatable = setmetatable
local add_metric = metrics.add


local _M = { _VERSION = "0.1.0" }


-- A function that reads the shared generation: through FFI where there
-- is one (one atomic load, compiled into the check's trace), else
-- through the binding.
local function generation_reader(counter)
  local ok_ffi, ffi = pcall(require, "ffi")
  if ok_ffi and core.shared_counter_get_ptr then
    local get = ffi.cast("uint32_t (*)(const uint32_t *)", core.shared_counter_get_ptr)
    local p = ffi.cast("uint32_t * const *", counter)[0] -- the userdata holds the address
    return function() return get(p) end
  end
  local get = core.shared_counter_get
  return function() return get(counter) end
end


--- What Security:set_cache takes for the shared counter, without the
-- caches themselves: its generation, and an invalidate that bumps it
-- (every worker then drops the users it cached).
function _M.seam(counter)
  local bump = core.shared_counter_bump
  return {
    generation = generation_reader(counter),
    invalidate = function() bump(counter) end,
  }
end


-- The key of the records made under each counter: random, made in init
-- (prepare), before the fork, so that every worker of one configuration
-- names a record alike. A record's name in the dict is a keyed BLAKE2b
-- of the cache key under it: no token or session cookie (a bearer
-- credential) is kept in shared memory, nobody without the key can
-- compute a name (let alone two that collide), and the records of the
-- configuration before a reload (another counter, whose generations the
-- new one repeats) are never found.
local record_keys = setmetatable({}, { __mode = "k" })

--- Make the record key of counter's caches (init_by_lua, before the fork).
function _M.prepare(counter)
  record_keys[counter] = core.random_id(32)
end

function _M._record_key(counter) return record_keys[counter] end -- for the tests


-- The record codec. A record is a list of items, each a type letter and
-- its value: s<length>:<bytes>, i<integer>; n<number>; t, f (booleans).
-- Lists and tables are a count (an integer item) and their items. Every
-- record starts with a check: the first CHECK hex digits of a keyed
-- BLAKE2b of the record's name and body, so that a record altered or cut
-- short in memory (or stored under another name) reads as a miss.
local CHECK = 16
local MAX_ITEMS = 256 -- a count read back beyond it: not a record of ours
local S, I, N, T, F = byte("s"), byte("i"), byte("n"), byte("t"), byte("f")
local MAX_INT = 2 ^ 53

-- Append value v to buffer b; false when v has no encoding here (a
-- table, NaN, an infinity): the entry then stays in L1 only.
local function put(b, v)
  local tv = type(v)
  if tv == "string" then
    b[#b + 1] = "s" .. #v .. ":" .. v
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return false end
    if v == floor(v) and v > -MAX_INT and v < MAX_INT then
      b[#b + 1] = format("i%d;", v)
    else
      b[#b + 1] = format("n%.17g;", v)
    end
  elseif tv == "boolean" then
    b[#b + 1] = v and "t" or "f"
  else
    return false
  end
  return true
end

-- The item at position i of record r: its value and the next position,
-- or nil when there is no well-formed item there.
local function item(r, i)
  if not i then return nil end -- the item before was not well formed
  local t = byte(r, i)
  if t == S then
    local j = find(r, ":", i + 1, true)
    if not j or j - i > 6 then return nil end
    local lenstr = sub(r, i + 1, j - 1)
    if not find(lenstr, "^%d+$") then return nil end
    local e = j + tonumber(lenstr)
    if e > #r then return nil end
    return sub(r, j + 1, e), e + 1
  elseif t == I or t == N then
    local j = find(r, ";", i + 1, true)
    if not j then return nil end
    local text = sub(r, i + 1, j - 1)
    if not find(text, t == I and "^%-?%d+$" or "^[%-%+%.%deE]+$") then return nil end
    local v = tonumber(text)
    if v == nil then return nil end
    return v, j + 1
  elseif t == T then
    return true, i + 1
  elseif t == F then
    return false, i + 1
  end
  return nil
end

-- A count at position i (a whole number 0..MAX_ITEMS), and the next position.
local function count_at(r, i)
  local n, j = item(r, i)
  if type(n) ~= "number" or n < 0 or n > MAX_ITEMS or n ~= floor(n) then return nil end
  return n, j
end

-- The user fields a check reads (fsec.user.thin: id, active, the role
-- names, the permission names), appended to b; false when one has no
-- encoding.
local function put_user(b, u)
  if not (put(b, u.id) and put(b, u.active == true)) then return false end
  local roles, perms = u.roles or {}, u.permissions or {}
  if #roles > MAX_ITEMS then return false end -- read back, it would be refused
  b[#b + 1] = format("i%d;", #roles)
  for k = 1, #roles do
    if type(roles[k]) ~= "string" then return false end
    b[#b + 1] = "s" .. #roles[k] .. ":" .. roles[k]
  end
  local names = {}
  for name, on in pairs(perms) do
    if type(name) ~= "string" or on ~= true then return false end
    names[#names + 1] = name
  end
  if #names > MAX_ITEMS then return false end
  b[#b + 1] = format("i%d;", #names)
  for k = 1, #names do b[#b + 1] = "s" .. #names[k] .. ":" .. names[k] end
  return true
end

-- A user's fields at position i: a table { id, active, roles, permissions }
-- and the next position, or nil.
local function user_at(r, i)
  local id, active, n
  id, i = item(r, i)
  if type(id) ~= "number" and type(id) ~= "string" then return nil end
  active, i = item(r, i)
  if type(active) ~= "boolean" then return nil end
  n, i = count_at(r, i)
  if not n then return nil end
  local roles, perms = {}, {}
  for k = 1, n do
    roles[k], i = item(r, i)
    if type(roles[k]) ~= "string" then return nil end
  end
  n, i = count_at(r, i)
  if not n then return nil end
  for _ = 1, n do
    local name
    name, i = item(r, i)
    if type(name) ~= "string" then return nil end
    perms[name] = true
  end
  return { id = id, active = active, roles = roles, permissions = perms }, i
end


-- A token entry (fsec.auth's token_status: { data, iat, until, earliest,
-- purpose, user, generation, user until }) as a record body: purpose,
-- iat, until and earliest (after iat: a few digits, not ten), the
-- data's pairs, then the user (or f) with its generation and until
-- (after iat too). nil when a field has no encoding.
local function encode_token(e)
  local b = {}
  local iat = e[2]
  if type(e[5]) ~= "string" or type(e[1]) ~= "table" or type(iat) ~= "number"
     or type(e[3]) ~= "number" or type(e[4]) ~= "number" then
    return nil
  end
  if not (put(b, e[5]) and put(b, iat) and put(b, e[3] - iat) and put(b, e[4] - iat)) then return nil end
  local at = #b + 1
  b[at] = "" -- the data's count, once known
  local n = 0
  for k, v in pairs(e[1]) do
    if type(k) ~= "string" or not put(b, k) or not put(b, v) then return nil end
    n = n + 1
  end
  if n > MAX_ITEMS then return nil end
  b[at] = format("i%d;", n)
  if e[6] then
    if type(e[8]) ~= "number" or not (put_user(b, e[6]) and put(b, e[7]) and put(b, e[8] - iat)) then
      return nil
    end
  else
    b[#b + 1] = "f"
  end
  return concat(b)
end

-- The token entry of record body r (from position i), or nil. Its user is
-- kept only under the current generation gen and before its until:
-- else the entry has none (token_user reads the user again).
local function decode_token(r, i, t, gen, thin)
  local purpose, iat, until_, earliest, n
  purpose, i = item(r, i)
  if type(purpose) ~= "string" then return nil end
  iat, i = item(r, i)
  until_, i = item(r, i)
  if type(iat) ~= "number" or type(until_) ~= "number" then return nil end
  until_ = iat + until_
  if until_ <= t then return nil end
  earliest, i = item(r, i)
  if type(earliest) ~= "number" then return nil end
  earliest = iat + earliest
  n, i = count_at(r, i)
  if not n then return nil end
  local data = {}
  for _ = 1, n do
    local k, v
    k, i = item(r, i)
    if type(k) ~= "string" then return nil end
    v, i = item(r, i)
    if v == nil then return nil end
    data[k] = v
  end
  local entry = { data, iat, until_, earliest, purpose, false, false, 0 }
  if byte(r, i) == F and i == #r then return entry end
  local u, g, uu
  u, i = user_at(r, i)
  if not u then return nil end
  g, i = item(r, i)
  uu, i = item(r, i)
  if type(g) ~= "number" or type(uu) ~= "number" or i ~= #r + 1 then return nil end
  uu = iat + uu
  if g == gen and t < uu then entry[6], entry[7], entry[8] = thin(u), g, uu end
  return entry
end


-- A users entry (fsec.auth's cached_user: { user or false, generation,
-- check }) as a record body: its until (t + ttl), generation, check and
-- user (or f).
local function encode_user(e, until_)
  local b = {}
  if not (put(b, until_) and put(b, e[2]) and put(b, e[3])) then return nil end
  if e[1] then
    if not put_user(b, e[1]) then return nil end
  else
    b[#b + 1] = "f"
  end
  return concat(b)
end

-- The users entry of record body r, and its until; nil when it is
-- stale (another generation, past its until) or malformed.
local function decode_user(r, i, t, gen, thin)
  local until_, g, check
  until_, i = item(r, i)
  if type(until_) ~= "number" or until_ <= t then return nil end
  g, i = item(r, i)
  if g ~= gen then return nil end
  check, i = item(r, i)
  if type(check) ~= "string" and check ~= false then return nil end
  if byte(r, i) == F and i == #r then return { false, g, check, until_ }, until_ end
  local u
  u, i = user_at(r, i)
  if not u or i ~= #r + 1 then return nil end
  return { thin(u), g, check, until_ }, until_
end


_M._codec = { encode_token = encode_token, decode_token = decode_token,
              encode_user = encode_user, decode_user = decode_user } -- for the tests


-- A store of both levels: get answers from l1, else from the record in
-- dict (decoded, checked, then kept in l1); set keeps an entry in l1 and
-- its record in dict for ttl seconds. kind: "t" (token entries) or "u"
-- (users entries); ctx: { key = record key, now, generation, thin,
-- hit, miss, l2hit, l2miss (metric keys or nil) }. A value that is no
-- entry of this kind (fsec.flask's remembered hash matches) stays in l1
-- only: it holds a password hash, which never goes to shared memory.
-- Its methods are shared by every store (a table of fields, no closures
-- of its own): LuaJIT specialises a trace on the function it calls, so
-- a store's own closures made every trace through one store's lookup
-- exit, and then grow a side trace, for each other store's (the tokens'
-- and the users' caches, in each Security object).
local Tiered = {}
Tiered.__index = Tiered

local function record_name(self, k) return self.kind .. core.digest(k, self.rkey) end
local function record_check(self, name, body) return sub(core.digest(name .. "\0" .. body, self.rkey), 1, CHECK) end

local function from_l2(self, k)
  local name = record_name(self, k)
  local r = self.dict:get(name)
  if type(r) ~= "string" or #r <= CHECK then return nil end
  if not core.equal(sub(r, 1, CHECK), record_check(self, name, sub(r, CHECK + 1))) then return nil end
  local t = self.now()
  local entry, until_
  if self.kind == "t" then
    entry, until_ = decode_token(r, CHECK + 1, t, self.generation(), self.thin)
  else
    entry, until_ = decode_user(r, CHECK + 1, t, self.generation(), self.thin)
  end
  if not entry then return nil end
  until_ = until_ or entry[3]
  self.l1:set(k, entry, until_ - t)
  return entry
end

function Tiered:get(k)
  local v, stale = self.l1:get(k)
  local hit = self.hit
  if v ~= nil then
    if hit then add_metric(hit) end
    return v, stale
  end
  v = from_l2(self, k)
  if hit then
    add_metric(v ~= nil and self.l2hit or self.l2miss)
    add_metric(v ~= nil and hit or self.miss)
  end
  return v
end

function Tiered:set(k, v, ttl)
  self.l1:set(k, v, ttl)
  if type(v) ~= "table" or type(k) ~= "string" or not (ttl and ttl > 0) then return end
  local body
  if self.kind == "t" then body = encode_token(v) else body = encode_user(v, self.now() + ttl) end
  if not body then return end
  local name = record_name(self, k)
  -- set, not safe_set: a full dict drops its least recently used
  -- records, as an LRU cache does
  local ok, err = self.dict:set(name, record_check(self, name, body) .. body, ttl)
  if not ok and ngx then require("fsec.log").ngx(ngx.WARN, "fsec: cache_dict: " .. tostring(err)) end
end

function Tiered:count() return self.l1.count and self.l1:count() or 0 end

local function tiered(l1, dict, kind, ctx)
  return setmetatable({
    l1 = l1, dict = dict, kind = kind, rkey = ctx.key,
    now = ctx.now, generation = ctx.generation, thin = ctx.thin,
    hit = ctx.hit, miss = ctx.miss, l2hit = ctx.l2hit, l2miss = ctx.l2miss,
  }, Tiered)
end

_M.tiered = tiered -- for the tests


-- A cache that counts its lookups (fsec_cache_lookups_total: hit or
-- miss) in this worker's table of fsec.metrics: one table increment per
-- lookup, no shared memory touched on the request path. Shared methods,
-- as Tiered's.
local Counted = {}
Counted.__index = Counted

function Counted:get(k)
  local v, stale = self.lru:get(k)
  if v ~= nil then add_metric(self.hit) else add_metric(self.miss) end
  return v, stale
end

function Counted:set(k, v, ttl) return self.lru:set(k, v, ttl) end

function Counted:count() return self.lru.count and self.lru:count() or 0 end

local function counted(lru, name)
  return setmetatable({
    lru = lru,
    hit = metrics.key("fsec_cache_lookups_total", { cache = name, result = "hit" }),
    miss = metrics.key("fsec_cache_lookups_total", { cache = name, result = "miss" }),
  }, Counted)
end


_M.counted = counted -- for bench/metrics_cost.lua


-- The lookups' metric keys of one cache (fsec_cache_lookups_total):
-- name's hits and misses, and its L2's (name_l2) on an L1 miss.
local function metric_keys(ctx, name)
  local function key(c, result) return metrics.key("fsec_cache_lookups_total", { cache = c, result = result }) end
  ctx.hit, ctx.miss = key(name, "hit"), key(name, "miss")
  ctx.l2hit, ctx.l2miss = key(name .. "_l2", "hit"), key(name .. "_l2", "miss")
  return ctx
end


-- The lua_shared_dict of the L2 records, or nil (opts.cache_dict: a
-- name, false for none; default fsec_cache, used when nginx.conf has
-- it). A dict named but missing is said in the log.
local function shared_dict(opts)
  local name = opts.cache_dict
  if name == false then return nil end
  local dict = ngx and ngx.shared and ngx.shared[name or "fsec_cache"]
  if not dict and name then
    ngx.log(ngx.WARN, "fsec: no lua_shared_dict '", name, "': each worker caches alone (cache_size entries)")
  end
  return dict
end
_M.shared_dict = shared_dict


-- The load factor of a cache of size entries' hash buckets: 0.1 (at least
-- ten buckets an entry, rounded up to a power of two by lrucache, 4 bytes
-- each: 8,192 for 512 entries) for a small cache such as the L1, else
-- lrucache's own 0.5. An L1 in front of the dict churns (most of a large
-- working set misses it, and each miss evicts), and every lookup and
-- eviction walks a bucket's chain: LuaJIT grows a side trace for each
-- chain length a trace meets, the longer ones only after minutes of load.
-- With sparse buckets the soak's traces that began in lrucache halved
-- (88 to 43 of 588 and 440 compiled, docs/performance.md) for 56 KiB
-- more of the L1's slots per worker.
local function load_factor(size)
  if size <= 4096 then return 0.1 end
  return nil
end


--- Give s its caches, revoked through counter: with the dict (cache_dict)
-- a cache_l1_size-entry L1 per cache (default 512) in front of it, else
-- cache_size entries per cache (default 10000); users kept cache_ttl
-- seconds at most. Returns the bytes the caches' slots took at start
-- (lrucache allocates them up front), or nil when there is no
-- resty.lrucache (then nothing is cached). dict: for the tests (else
-- the one opts names).
function _M.install(s, counter, opts, dict)
  -- pureffi: its slots (key and value arrays, FFI nodes) are allocated
  -- up front, so an entry costs only its key and value in the Lua heap;
  -- resty.lrucache's own hash tables cost ~140 bytes more per entry.
  -- Its keys are strings, as fsec's are.
  local ok, lrucache = pcall(require, "resty.lrucache.pureffi")
  if not ok then ok, lrucache = pcall(require, "resty.lrucache") end
  if not ok then
    ngx.log(ngx.WARN, "fsec: no resty.lrucache: authentication is not cached")
    return nil
  end
  dict = dict or shared_dict(opts)
  local c = _M.seam(counter)
  local size = dict and (opts.cache_l1_size or 512) or (opts.cache_size or 10000)
  local before = collectgarbage("count")
  local lf = load_factor(size)
  c.tokens = assert(lrucache.new(size, lf)) -- token checks
  c.users = assert(lrucache.new(size, lf))  -- user lookups
  -- lrucache allocates its slots up front: part of the bounded user cache
  local bytes = math.floor((collectgarbage("count") - before) * 1024)
  local counting = opts.metrics_dict ~= false -- hits and misses counted (fsec.metrics)
  if dict then
    if not record_keys[counter] then _M.prepare(counter) end -- a test's counter
    local clock = s._clock or os.time
    local loader = require("fsec.auth").user_loader(s)
    local function thin(u) return userlib.thin(u, loader) end
    local function ctx(name)
      local t = { key = record_keys[counter], now = clock, generation = c.generation, thin = thin }
      return counting and metric_keys(t, name) or t
    end
    c.tokens = tiered(c.tokens, dict, "t", ctx("tokens"))
    c.users = tiered(c.users, dict, "u", ctx("users"))
    _M.dict = dict
  elseif counting then
    c.tokens, c.users = counted(c.tokens, "tokens"), counted(c.users, "users")
  end
  c.ttl = opts.cache_ttl or 2
  s:set_cache(c)
  return bytes
end


--- Entries in s's caches: tokens, users (0 without a cache); with the
-- dict, its L1 caches.
function _M.counts(s)
  local c = s and s:get_cache()
  local function n(store) return store and store.count and store:count() or 0 end
  return n(c and c.tokens), n(c and c.users)
end


--- The shared dict of the records: its bytes in use (capacity less free
-- pages), capacity and records, or nil without one. For accounting only:
-- counting the records lists every key, under the dict's lock.
function _M.shared_stats()
  local d = _M.dict
  if not (d and d.capacity and d.free_space) then return nil end
  local cap = d:capacity()
  return cap - d:free_space(), cap, #d:get_keys(0)
end


return _M
