-- After bench/load.sh: is every registration that was answered 200 in
-- the app's database? Opens it through fsec (the example's secrets).
-- Usage: check.lua APPDIR ACKFILE...   prints counts; exits 1 if any is missing
local fsec = require "fsec"

local dir = assert(arg[1], "usage: check.lua APPDIR ACKFILE...")
local function first_line(path)
  local f = assert(io.open(path))
  local v = f:read("*l")
  f:close()
  return v
end

local sec = fsec.new{ secret_key = first_line(dir .. "/secrets/secret_key"),
                      password_salt = first_line(dir .. "/secrets/password_salt"),
                      database = dir .. "/var/auth.db" }
local ds = sec.datastore
local acked, missing = 0, 0
for i = 2, #arg do
  local f = io.open(arg[i])
  if f then
    for email in f:lines() do
      acked = acked + 1
      if not ds:find_user{ email = email } then
        missing = missing + 1
        if missing <= 10 then io.stderr:write("load: registration answered 200 but missing: ", email, "\n") end
      end
    end
    f:close()
  end
end
local users = ds:counts()
local ok = ds:integrity_check()
print(("registrations answered 200: %d, missing from the database: %d, users in the database: %d, integrity_check: %s")
  :format(acked, missing, users, ok and "ok" or "FAILED"))
sec:close()
os.exit((missing == 0 and ok) and 0 or 1)
