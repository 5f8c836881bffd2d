-- bench_token.lua: sec:get_token_status (decode + MAC + expiry + JSON) and
-- sec:generate_token through the Lua binding, per call, median of batches.
-- Run by scripts/bench.sh under lua5.4 and luajit.
local fsec = require "fsec"

local clock = os.clock
local BATCH, ROUNDS = 100000, 9

local sec = fsec.new{ secret_key = string.rep("bench-key-", 4), password_salt = "bench-salt" }
local tok = assert(sec:generate_token("auth", { uid = "Zx0nZ2fXq3m3b7Y1QmVh9A", n = 1 }))

local function per_call_us(fn)
  local t = {}
  for r = 1, ROUNDS do
    local t0 = clock()
    fn(BATCH)
    t[r] = (clock() - t0) / BATCH * 1e6
  end
  table.sort(t)
  return t[(ROUNDS + 1) / 2]
end

local verify = per_call_us(function(n)
  for _ = 1, n do
    local expired, invalid = sec:get_token_status(tok, "auth", 3600)
    if expired or invalid then error("bad token") end
  end
end)
local issue = per_call_us(function(n)
  for _ = 1, n do sec:generate_token("auth", { uid = "Zx0nZ2fXq3m3b7Y1QmVh9A", n = 1 }) end
end)

local rt = jit and jit.version or _VERSION
print(("| get_token_status | %-19s | %6.2f us | < 3 us |"):format(rt, verify))
print(("| generate_token   | %-19s | %6.2f us |        |"):format(rt, issue))
