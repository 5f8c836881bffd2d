-- enumeration.lua: catalogue E-04, the timing twin of E-02. POST /login
-- through sec:handle for an unknown email and for a known email with a
-- wrong password (and a disabled account, and an account with an
-- unusable stored hash), N interleaved rounds at production argon2
-- parameters; prints the median CPU time of each path and its ratio to
-- the wrong-password path. Target: |ratio - 1| <= 10 %; exits 1 beyond.
-- Not a test (timing): the deterministic twin, one hash per attempt, is
-- E-02 in spec/60-catalogue_enumeration_spec.lua.
--
--   LUA_PATH="lua/?.lua;;" LUA_CPATH="build/lua54/?.so;;" lua5.4 bench/enumeration.lua [N=200]
--   LUA_PATH="lua/?.lua;;" LUA_CPATH="build/luajit/?.so;;" luajit bench/enumeration.lua 50
local fsec = require "fsec"
local cjson = require "cjson"

local clock = os.clock
local N = tonumber(arg and arg[1]) or 200
local TARGET = 0.10

local sec = fsec.new{ secret_key = string.rep("bench-key-", 4), password_salt = "bench-salt",
                      database = ":memory:", csrf_enabled = false, login_lockout_threshold = 0,
                      log = function() end }
local PW = "correct horse battery staple"
local ds = sec.datastore
assert(ds:create_user{ email = "known@example.com", password = assert(sec:hash_password(PW)), confirmed_at = 1 })
assert(ds:create_user{ email = "off@example.com", password = assert(sec:hash_password(PW)), active = false })
assert(ds:create_user{ email = "bang@example.com", password = "!" })

local function attempt(email, password)
  local res = sec:handle{ method = "POST", path = "/login", query = {}, cookies = {},
    headers = { ["content-type"] = "application/json", accept = "application/json" },
    body = cjson.encode{ email = email, password = password },
    remote_addr = "192.0.2.1", scheme = "http", host = "localhost" }
  assert(res.status == 400, "expected a failed login")
end

local PATHS = {
  { "wrong password", "known@example.com", "not the password" },
  { "unknown email", "nobody@example.com", "not the password" },
  { "disabled account", "off@example.com", PW },
  { "unusable stored hash", "bang@example.com", PW },
}

local times = {}
for i = 1, #PATHS do times[i] = {} end
for _ = 1, 3 do attempt(PATHS[1][2], PATHS[1][3]) end -- warm up
for r = 1, N do
  -- interleaved, in a rotating order, so drift hits every path alike
  for k = 0, #PATHS - 1 do
    local i = (r + k) % #PATHS + 1
    local t0 = clock()
    attempt(PATHS[i][2], PATHS[i][3])
    times[i][r] = clock() - t0
  end
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

local base = median(times[1])
local worst = 0
local rt = jit and jit.version or _VERSION
print(("# E-04 login timing, %s, N=%d interleaved rounds, argon2id t=2 m=64 MiB (production defaults)"):format(rt, N))
print()
print("| path | median (ms) | ratio to wrong password | target |")
print("|---|---|---|---|")
for i, p in ipairs(PATHS) do
  local m = median(times[i])
  local ratio = m / base
  if math.abs(ratio - 1) > worst then worst = math.abs(ratio - 1) end
  print(("| %s | %.2f | %.3f | %s |"):format(p[1], m * 1000, ratio, i == 1 and "" or "within 10 %"))
end
print()
print(("largest difference: %.1f %% (%s)"):format(worst * 100, worst <= TARGET and "ok" or "OVER TARGET"))
os.exit(worst <= TARGET and 0 or 1)
