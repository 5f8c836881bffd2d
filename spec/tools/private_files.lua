-- A new fsec store and development mailer in DIR, under whatever umask
-- the caller gave this process: prints "MODE PATH" for the database, its
-- -wal and -shm (while the store is open: SQLite removes them at close),
-- the mail folders and each message.
-- Usage: private_files.lua DIR
local dir = arg[1]
local sec = require("fsec").new{
  -- helpers.SALT: the spec opens the same database (fsec.saltcheck)
  secret_key = string.rep("k", 32), password_salt = "salty-pepper",
  database = dir .. "/auth.db", mail_dir = dir .. "/mail/new",
  password_hash_options = { argon2 = { time_cost = 1, memory_cost = 8 } },
  allow_weak_password_hash = true,
}
local user = assert(sec.datastore:create_user{ email = "a@example.org", password = sec:hash_password("password-1") })
assert(require("fsec.mail").send(sec, "reset", user, "http://127.0.0.1/reset/x"))
local p = io.popen("cd " .. dir .. " && stat -c '%a %n' auth.db auth.db-wal auth.db-shm mail mail/new mail/new/*.eml")
io.write(p:read("*a"))
p:close()
sec:close()
