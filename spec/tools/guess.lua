-- Lockout concurrency: N wrong-password logins through sec:handle on a
-- shared database, as one of several processes at once.
-- Usage: guess.lua DB N
local fsec = require "fsec"
local cjson = require "cjson"
local sec = fsec.new{
  -- helpers.SALT: the spec made the database with it (fsec.saltcheck)
  secret_key = string.rep("k", 32), password_salt = "salty-pepper", database = arg[1],
  database_busy_timeout = 20000, csrf_enabled = false, login_lockout_threshold = 1000,
  password_hash_options = { argon2 = { time_cost = 1, memory_cost = 8 } },
  allow_weak_password_hash = true,
}
for _ = 1, tonumber(arg[2]) do
  local res = sec:handle{ method = "POST", path = "/login", query = {}, cookies = {},
    headers = { ["content-type"] = "application/json", accept = "application/json" },
    body = cjson.encode{ email = "victim@example.com", password = "wrong-guess" },
    remote_addr = "192.0.2.1", scheme = "http", host = "localhost" }
  if res.status ~= 400 then io.stderr:write("unexpected ", res.status, "\n"); os.exit(1) end
end
