-- First start of the example app: secrets, database, the admin user.
-- Usage: bootstrap.lua PREFIX   (run with the same fsec build nginx uses)
-- Every file made here is 0600 whatever the umask (core.create_private_file):
-- the secret key signs every token, the salt and the admin's password
-- are as sensitive.
-- Several nodes may start at once on one database and one secrets folder
-- (scripts/run-cluster.sh; fsec_example.paths): whichever makes a secret
-- or the admin first, the others take what it made.
local prefix = arg[1]
local fsec = require "fsec"
local core = require "fsec.core"
local example = require "fsec_example"

local paths = example.paths(prefix)

-- A whole first line, waiting a moment for one that another node has
-- just created (created empty, then written).
local function settled(path)
  for _ = 1, 100 do
    local f = io.open(path)
    local text = f and f:read("*a") or ""
    if f then f:close() end
    if text:find("\n", 1, true) then return true end
    os.execute("sleep 0.05")
  end
  error("bootstrap: " .. path .. " stays empty (a node died while writing it?)", 0)
end

local function ensure_secret(name)
  local path = paths.secrets .. "/" .. name
  local ok, err, code = core.create_private_file(path, fsec.random_id(32) .. "\n")
  if not ok and code ~= "EEXIST" then error("bootstrap: " .. err, 0) end
  settled(path)
end
ensure_secret("secret_key")
ensure_secret("password_salt")
ensure_secret("totp_secret") -- seals two-factor secrets at rest

local sec = fsec.new(example.config(prefix))
local ds = sec.datastore
-- a role another node made in the meantime is found the second time
local admin_role = { description = "Administrators", permissions = { "user-read", "user-write" } }
if not ds:find_or_create_role("admin", admin_role) then
  assert(ds:find_role("admin"), "bootstrap: the admin role could not be made")
end
local email = os.getenv("FSEC_ADMIN_EMAIL") or "admin@example.org"
if not ds:find_user{ email = email } then
  local password = os.getenv("FSEC_ADMIN_PASSWORD") or fsec.random_id(16)
  local made, err = ds:create_user{ email = email, password = assert(sec:hash_password(password)),
                                    roles = { "admin" }, confirmed_at = os.time() }
  if made then
    local file = paths.secrets .. "/admin-password.txt"
    os.remove(file) -- a stale one (a database removed by hand) is replaced
    assert(core.create_private_file(file, email .. " " .. password .. "\n"))
    print(("created the admin user %s with password %s (also in %s)"):format(email, password, file))
  elseif not ds:find_user{ email = email } then -- else another node made it first
    error("bootstrap: creating the admin user: " .. tostring(err), 0)
  end
end
sec:close()
