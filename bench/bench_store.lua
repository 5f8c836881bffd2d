-- bench_store.lua: sec.datastore:find_user{ email = ... } through Lua (the
-- C lookup plus building the User table), per call, median of batches.
-- Usage: bench_store.lua DB USERS   (DB made by bench_store)
local fsec = require "fsec"

local db, users = arg[1], tonumber(arg[2])
local clock = os.clock
local BATCH, ROUNDS = 20000, 7

local sec = fsec.new{ secret_key = string.rep("bench-key-", 4), password_salt = "s", database = db }
local ds = sec.datastore
local keys = {}
math.randomseed(42)
for i = 1, 4096 do
  keys[i] = ("User%08d@Example.org"):format(math.random(0, users - 1))
end

local t = {}
for r = 1, ROUNDS do
  local t0 = clock()
  for i = 1, BATCH do
    local u = ds:find_user{ email = keys[i % 4096 + 1] }
    if not u then error("missing user") end
  end
  t[r] = (clock() - t0) / BATCH * 1e6
end
table.sort(t)
print(("| find_user via Lua | %-19s | %7d users | %6.2f us |"):format(
  jit and jit.version or _VERSION, users, t[(ROUNDS + 1) / 2]))
