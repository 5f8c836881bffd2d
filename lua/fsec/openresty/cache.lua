--- fsec.openresty's cache of authentication lookups: per-worker
-- resty.lrucache.pureffi caches, revoked through a generation counter that every
-- worker shares (memory mapped in init, before the fork), given to the
-- worker's Security object through its seam, Security:set_cache
-- (fsec.cache; docs/cache.md). A logout, password change or deactivation
-- in any worker takes effect in all of them at once. Reading the
-- generation costs one atomic load; a lua_shared_dict did the same with a
-- lock shared by all workers, on every request. Changes made outside
-- nginx (the command line) are seen within cache_ttl seconds (default 2).
-- After a reload the new workers share a new counter (and start with
-- empty caches); workers of the old configuration only finish their
-- requests. A part of fsec.openresty.
-- @module fsec.openresty.cache

local core = require "fsec.core"
local metrics = require "fsec.metrics"

local ngx = ngx


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


-- A cache that counts its lookups (fsec_cache_lookups_total: hit or
-- miss) in this worker's table of fsec.metrics: one table increment per
-- lookup, no shared memory touched on the request path.
local function counted(lru, name)
  local add = metrics.add
  local hit = metrics.key("fsec_cache_lookups_total", { cache = name, result = "hit" })
  local miss = metrics.key("fsec_cache_lookups_total", { cache = name, result = "miss" })
  return {
    get = function(_, k)
      local v, stale = lru:get(k)
      if v ~= nil then add(hit) else add(miss) end
      return v, stale
    end,
    set = function(_, k, v, ttl) return lru:set(k, v, ttl) end,
    count = lru.count and function() return lru:count() end,
  }
end


_M.counted = counted -- for bench/metrics_cost.lua


--- Give s its caches (cache_size entries each, users kept cache_ttl
-- seconds at most), revoked through counter. Returns the bytes the
-- caches' slots took at start (lrucache allocates them up front), or nil
-- when there is no resty.lrucache (then nothing is cached).
function _M.install(s, counter, opts)
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
  local c = _M.seam(counter)
  local before = collectgarbage("count")
  c.tokens = assert(lrucache.new(opts.cache_size or 10000)) -- token checks
  c.users = assert(lrucache.new(opts.cache_size or 10000))  -- user lookups
  if opts.metrics_dict ~= false then -- hits and misses counted (fsec.metrics)
    c.tokens, c.users = counted(c.tokens, "tokens"), counted(c.users, "users")
  end
  -- lrucache allocates its slots up front: part of the bounded user cache
  local bytes = math.floor((collectgarbage("count") - before) * 1024)
  c.ttl = opts.cache_ttl or 2
  s:set_cache(c)
  return bytes
end


--- Entries in s's caches: tokens, users (0 without a cache).
function _M.counts(s)
  local c = s and s:get_cache()
  local function n(store) return store and store.count and store:count() or 0 end
  return n(c and c.tokens), n(c and c.users)
end


return _M
