-- Crash-test writer: registers users in a loop on a shared database and
-- appends each email to an acknowledgement log only after create_user has
-- returned (i.e. after COMMIT). Killed with SIGKILL by the spec. A store
-- that is unreachable or busy (PostgreSQL restarting) is asked again; a
-- retried user that exists already was committed by the lost attempt.
-- Usage: register.lua DB ACKLOG TAG
local fsec = require "fsec"
local db, acklog, tag = arg[1], arg[2], arg[3]
local sec = fsec.new{
  -- helpers.SALT: the spec opens the same database (fsec.saltcheck)
  secret_key = string.rep("k", 32), password_salt = "salty-pepper",
  database = db, database_busy_timeout = 10000,
  password_hash_options = { argon2 = { time_cost = 1, memory_cost = 8 } },
  allow_weak_password_hash = true,
}
local log = assert(io.open(acklog, "a"))
log:setvbuf("no")
local hash = sec:hash_password("password-1")
local function create(email)
  local retried = false
  while true do
    local u, err, code = sec.datastore:create_user{ email = email, password = hash }
    if u or (retried and code == "EEXIST") then return end
    if code ~= "EUNAVAILABLE" and code ~= "EBUSY" then io.stderr:write(err, "\n"); os.exit(1) end
    retried = true
    os.execute("sleep 0.1")
  end
end
for i = 1, 1000000 do
  local email = ("%s-%d@example.org"):format(tag, i)
  create(email)
  log:write(email, "\n")
end
