-- hash_cost.lua: the verify budget's cost model (core/src/password.c)
-- against this machine. For each stored-hash scheme: the cost the model
-- gives (in new hashes: argon2id at fsec's defaults, 64 MiB t=2) and the
-- measured CPU time of one verify in the same unit (best of 3, so that
-- other processes' load does not count). Then POST /login through
-- sec:handle for a user whose stored hash is bcrypt cost 16, one with
-- pbkdf2-sha512 at 2,000,000 rounds, and an unknown user: with the budget
-- (default 5) and without it (password_verify_budget = false, the
-- behaviour before the budget).
-- Not a test (timing): spec/73-cli_attack_spec.lua checks the model
-- within 3x, and the login through the real nginx within 2x.
--
--   LUA_PATH="lua/?.lua;;" LUA_CPATH="build/lua54/?.so;;" lua5.4 bench/hash_cost.lua
local fsec = require "fsec"
local core = require "fsec.core"
local cjson = require "cjson"

local clock = os.clock
local CRYPT53 = "abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234"
local SALT16 = "c2FsdHNhbHRzYWx0c2FsdA"

local function best_cpu(fn)
  local best = math.huge
  for _ = 1, 3 do
    local t0 = clock()
    fn()
    best = math.min(best, clock() - t0)
  end
  return best
end

local e = assert(core.new{ secret_keys = { string.rep("k", 32) }, caps = { verify_budget = 0 } })
local unit = best_cpu(function() e:verify_password("pw", e:dummy_hash()) end)
print(("one new hash (argon2id 64 MiB t=2): %.1f ms CPU"):format(unit * 1000))
print(("%-34s %8s %9s %6s"):format("stored hash", "model", "measured", "ratio"))
for _, h in ipairs{
  "$2b$10$" .. CRYPT53, "$2b$12$" .. CRYPT53,
  "$pbkdf2-sha256$300000$c2FsdA$" .. ("A"):rep(43),
  "$pbkdf2-sha512$150000$c2FsdA$" .. ("A"):rep(86),
  "$5$rounds=300000$saltsalt$" .. ("A"):rep(43),
  "$6$rounds=300000$saltsalt$" .. ("A"):rep(86),
  "$argon2id$v=19$m=32768,t=6,p=4$" .. SALT16 .. "$" .. SALT16,
  "$argon2id$v=19$m=102400,t=10,p=8$" .. SALT16 .. "$" .. SALT16,
} do
  local model = assert(e:hash_cost(h))
  local measured = best_cpu(function() e:verify_password("pw", h) end) / unit
  print(("%-34s %8.2f %9.2f %6.2f"):format(h:sub(1, 34), model, measured, measured / model))
end

local COSTLY = { bcrypt16 = "$2b$16$" .. CRYPT53,
                 pbkdf2_2M = "$pbkdf2-sha512$2000000$c2FsdA$" .. ("A"):rep(86) }
for _, budget in ipairs{ false, 5 } do
  local sec = fsec.new{ secret_key = string.rep("bench-key-", 4), password_salt = "bench-salt",
                        database = ":memory:", csrf_enabled = false, login_lockout_threshold = 0,
                        password_verify_budget = budget, log = function() end }
  for name, h in pairs(COSTLY) do
    assert(sec.datastore:create_user{ email = name .. "@example.com", password = h, confirmed_at = 1 })
  end
  local function login(email)
    return best_cpu(function()
      local res = sec:handle{ method = "POST", path = "/login", query = {}, cookies = {},
        headers = { ["content-type"] = "application/json", accept = "application/json" },
        body = cjson.encode{ email = email, password = "a wrong guess" },
        remote_addr = "192.0.2.1", scheme = "http", host = "localhost" }
      assert(res.status == 400, res.status)
    end)
  end
  print(("POST /login, password_verify_budget = %s: bcrypt-16 user %.0f ms, pbkdf2-sha512 2M user %.0f ms,"
    .. " unknown user %.0f ms (CPU)"):format(tostring(budget), login("bcrypt16@example.com") * 1000,
    login("pbkdf2_2M@example.com") * 1000, login("nobody@example.com") * 1000))
end
