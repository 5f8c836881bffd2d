-- First start of the example app: secrets, database, the admin user.
-- Usage: bootstrap.lua PREFIX   (run with the same fsec build nginx uses)
-- Every file made here is 0600 whatever the umask (core.create_private_file):
-- the secret key signs every token, the salt and the admin's password
-- are as sensitive.
local prefix = arg[1]
local fsec = require "fsec"
local core = require "fsec.core"

local function ensure_secret(name)
  local path = prefix .. "/var/" .. name
  local f = io.open(path)
  if f then f:close(); return end
  assert(core.create_private_file(path, fsec.random_id(32) .. "\n"))
end
ensure_secret("secret_key")
ensure_secret("password_salt")

local cfg = require("fsec_example").config(prefix)
local sec = fsec.new(cfg)
local ds = sec.datastore
ds:find_or_create_role("admin", { description = "Administrators", permissions = { "user-read", "user-write" } })
local email = os.getenv("FSEC_ADMIN_EMAIL") or "admin@example.org"
if not ds:find_user{ email = email } then
  local password = os.getenv("FSEC_ADMIN_PASSWORD") or fsec.random_id(16)
  assert(ds:create_user{ email = email, password = assert(sec:hash_password(password)),
                         roles = { "admin" }, confirmed_at = os.time() })
  local file = prefix .. "/var/admin-password.txt"
  os.remove(file) -- a stale one (a database removed by hand) is replaced
  assert(core.create_private_file(file, email .. " " .. password .. "\n"))
  print(("created the admin user %s with password %s (also in %s/var/admin-password.txt)")
    :format(email, password, prefix))
end
sec:close()
