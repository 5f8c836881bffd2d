--- Keyed rate limits: how many hits a key (a client address, an account,
-- a mail address) may make per window, counted in a backend that every
-- process serving the site shares where it can.
--
-- The count is a sliding window, approximated from two fixed windows (the
-- current one's count plus the previous one's, weighted by how much of it
-- the sliding window still covers): one counter per key and window, kept
-- with an atomic increment, so it holds across nginx workers without a
-- lock, and a burst at a window's edge cannot pass twice the limit as it
-- would with fixed windows. A hit over the limit is not counted (it is
-- given back): a client that keeps trying is let in again as soon as its
-- earlier hits age out, as with nginx's limit_req.
--
-- Backends: { incr = function(key, by, ttl) -> new value, get =
-- function(key) -> value or nil }. `memory()` is a Lua table (one
-- process: plain Lua, tests); fsec.openresty uses an ngx.shared dict
-- (`shared(dict)`), shared by the workers.
-- @module fsec.ratelimit

local floor = math.floor
local ceil = math.ceil
local tostring = tostring

local _M = { _VERSION = "0.1.0" }


-- The Lua table backend's bound: past it, expired keys are swept, then
-- the oldest windows' keys go (a flood of distinct addresses cannot grow
-- the process without bound; a key dropped early only forgets hits).
local MEMORY_MAX_KEYS = 100000

--- A backend in this process's memory (values expire with their ttl).
function _M.memory(clock, max_keys)
  max_keys = max_keys or MEMORY_MAX_KEYS
  local values, expires, n = {}, {}, 0
  local function sweep(now)
    for k, e in pairs(expires) do
      if e <= now then values[k], expires[k], n = nil, nil, n - 1 end
    end
    while n >= max_keys do -- still full: drop any (next() order)
      local k = next(expires)
      values[k], expires[k], n = nil, nil, n - 1
    end
  end
  local b = {}
  function b.get(key)
    local e = expires[key]
    if e and e > clock() then return values[key] end
    return nil
  end
  function b.incr(key, by, ttl)
    local now = clock()
    local e = expires[key]
    if not e or e <= now then
      if not e then
        if n >= max_keys then sweep(now) end
        n = n + 1
      end
      values[key], expires[key] = 0, now + ttl
    end
    local v = values[key] + by
    values[key] = v
    return v
  end
  function b.count() return n end
  return b
end


--- A backend on an ngx.shared dict: its incr is atomic across workers,
-- and a full dict evicts its least recently used keys.
function _M.shared(dict)
  local b = {}
  function b.get(key) return (dict:get(key)) end
  function b.incr(key, by, ttl)
    local v, err = dict:incr(key, by, 0, ttl)
    if not v then error("fsec.ratelimit: shared dict: " .. tostring(err), 0) end
    return v
  end
  return b
end


local Limiter = {}
Limiter.__index = Limiter

--- A limiter on a backend; clock() gives the time in seconds (fractions
-- welcome).
function _M.new(backend, clock)
  return setmetatable({ backend = backend, clock = clock }, Limiter)
end


-- The sliding count once this hit is in: cur is the current window's
-- count, prev the previous one's, weight the share of it still covered.
local function estimate(prev, cur, weight) return prev * weight + cur end

--- Count one hit of key against limit per window (seconds).
-- @return true; or false and the whole seconds to wait (Retry-After)
function Limiter:hit(key, limit, window)
  if not limit or limit <= 0 then return true end
  local now = self.clock()
  local slot = floor(now / window)
  local into = now - slot * window
  local weight = (window - into) / window
  local b = self.backend
  local cur_key = key .. "|" .. slot
  local cur = b.incr(cur_key, 1, 2 * window)
  local prev = b.get(key .. "|" .. (slot - 1)) or 0
  if estimate(prev, cur, weight) <= limit then return true end
  b.incr(cur_key, -1, 2 * window) -- refused hits are not counted
  cur = cur - 1
  -- when the count falls to limit - 1: within this window as the previous
  -- one's share shrinks, or in the next one as this one's does
  local wait
  if cur <= limit - 1 and prev > 0 then
    wait = (estimate(prev, cur, weight) - (limit - 1)) * window / prev
  else
    wait = (window - into) + window * (1 - (limit - 1) / math.max(cur, 1))
  end
  return false, math.max(1, ceil(wait))
end

--- Count a hit against several limits at once: { key, limit, window }
-- each. All are checked, so a refused hit counts against none of them.
-- @return true; or false and the longest wait
function Limiter:hit_all(list)
  local taken = {}
  for i = 1, #list do
    local l = list[i]
    local ok, wait = self:hit(l[1], l[2], l[3])
    if not ok then
      for j = 1, #taken do self:forget(taken[j][1], taken[j][3]) end
      return false, wait
    end
    taken[#taken + 1] = l
  end
  return true
end

--- Give back one hit of key (counted by hit, refused by a later limit).
function Limiter:forget(key, window)
  local slot = floor(self.clock() / window)
  self.backend.incr(key .. "|" .. slot, -1, 2 * window)
end


--- A key for an untrusted value (an identity, an email): a fixed-size
-- digest, so a long value cannot make a long key.
function _M.key(kind, value, digest)
  return kind .. ":" .. digest(tostring(value))
end

return _M
