-- metrics_cost.lua: what fsec.metrics adds to protect()'s success path.
-- With metrics on, fsec.openresty wraps the two caches of authentication
-- lookups so that each lookup counts a hit or a miss in the worker's own
-- table (fsec.openresty.cache: counted); nothing else on that path
-- counts. This runs sec:check with a token, both caches hit, with plain
-- resty.lrucache caches and with the counted ones, alternating batches,
-- and prints the medians and the difference per request.
-- Run: luajit bench/metrics_cost.lua (LUA_PATH with lua/ and resty.lrucache,
-- LUA_CPATH with build/luajit), as scripts/bench.sh does.
local fsec = require "fsec"
local http = require "fsec.http"
-- resty.lrucache reads the time through ngx.now (entries' expiry): the
-- process clock stands in for it here
ngx = ngx or { now = os.time } -- luacheck: ignore
local lrucache = require "resty.lrucache"
local counted = require("fsec.openresty.cache").counted

local clock = os.clock
local BATCH, ROUNDS = 200000, 11

local sec = fsec.new{ secret_key = string.rep("bench-key-", 4), password_salt = "bench-salt",
                      database = ":memory:", password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
                      allow_weak_password_hash = true }
local user = assert(sec.datastore:create_user{ email = "bench@example.org", password = sec:hash_password("x") })
local token = assert(user:get_auth_token())
local spec = { auth = { "token" } }
local headers = { ["authentication-token"] = token }

local generation = 1
local function install(wrap)
  local tokens, users = lrucache.new(1000), lrucache.new(1000)
  if wrap then tokens, users = counted(tokens, "tokens"), counted(users, "users") end
  sec:set_cache{ tokens = tokens, users = users, ttl = 3600,
                 generation = function() return generation end,
                 invalidate = function() generation = generation + 1 end }
end

local res = http.new_response()
local function run(n)
  for _ = 1, n do
    local req = { method = "GET", path = "/api", headers = headers, cookies = {}, query = {} }
    if not sec:check(req, spec, res) then error("denied") end
  end
end

local plain, with = {}, {}
for r = 1, ROUNDS do
  for pass = 1, 2 do
    local wrap = (r + pass) % 2 == 0
    install(wrap)
    run(1000) -- warm: both caches hold the token and the user
    local t0 = clock()
    run(BATCH)
    local us = (clock() - t0) / BATCH * 1e6
    if wrap then with[#with + 1] = us else plain[#plain + 1] = us end
  end
end
table.sort(plain); table.sort(with)
local function median(t) return t[math.ceil(#t / 2)] end
local p, w = median(plain), median(with)
local rt = jit and jit.version or _VERSION
print(("| protect (token, cached)          | %-19s | %6.3f us |"):format(rt, p))
print(("| the same, lookups counted        | %-19s | %6.3f us |"):format(rt, w))
print(("| added by metrics per request     | %-19s | %6.3f us (%.1f%%) |"):format(rt, w - p, (w / p - 1) * 100))
