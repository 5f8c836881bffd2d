-- bench/compare_flask.sh: the benchmark users of the fsec side, made in
-- the example app's folder before it starts (the same users the Flask
-- side's `app.py init` makes): role "member", user00001@example.org ..
-- userN@example.org, confirmed, all with PASSWORD, hashed by fsec with
-- the example app's configuration. The app's own bootstrap then adds the
-- admin user.
-- Usage: luajit fsec_users.lua PREFIX N PASSWORD   (LUA_PATH reaching
--        lua/ and examples/openresty/, LUA_CPATH the luajit build)
local prefix, n, password = arg[1], tonumber(arg[2]), arg[3]
local fsec = require "fsec"

for _, name in ipairs{ "secret_key", "password_salt", "totp_secret" } do
  local path = prefix .. "/var/" .. name
  local f = io.open(path)
  if f then f:close() else
    f = assert(io.open(path, "w"))
    f:write(fsec.random_id(32), "\n")
    f:close()
  end
end

local sec = fsec.new(require("fsec_example").config(prefix))
local ds = sec.datastore
assert(ds:find_or_create_role("member", { description = "Benchmark users" }))
for i = 1, n do
  local email = ("user%05d@example.org"):format(i)
  if not ds:find_user{ email = email } then
    assert(ds:create_user{ email = email, password = assert(sec:hash_password(password)),
                           roles = { "member" }, confirmed_at = os.time() })
  end
end
sec:close()
