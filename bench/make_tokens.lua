-- Auth tokens for the first N users of the example app's database, one
-- a line, signed with the app's key (FSEC_SECRET_KEY in the environment):
-- bench/nginx.sh sends them in turn to fill fsec's user cache and SQLite's
-- page cache before it measures memory.
-- Usage (from the checkout, before nginx opens the database):
--   luajit bench/make_tokens.lua PREFIX N OUT
local prefix, n, out = arg[1], tonumber(arg[2]), arg[3]
assert(prefix and n and out, "usage: make_tokens.lua PREFIX N OUT")
package.path = "lua/?.lua;lua/?/init.lua;examples/openresty/?.lua;" .. package.path
package.cpath = "build/luajit/?.so;" .. package.cpath
local fsec = require "fsec"
local sec = fsec.new(require("fsec_example").config(prefix))
local f = assert(io.open(out, "w"))
local count = 0
for user in sec.datastore:each_user() do
  f:write(assert(sec:get_auth_token(user)), "\n")
  count = count + 1
  if count >= n then break end
end
f:close()
sec:close()
io.stderr:write(("made %d tokens\n"):format(count))
