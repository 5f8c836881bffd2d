-- Run a command with a real PostgreSQL (spec/tools/postgres.lua) started
-- for it: FSEC_TEST_PG_URI names the database (its password in a 0600
-- file the URI names). The server is stopped and removed after, and the
-- command's exit status is ours. ctest core.store_pg runs the C store
-- tests so:  lua spec/tools/with-postgres.lua build/core/test_store
package.path = "./?.lua;./?/init.lua;" .. package.path
local postgres = require "spec.tools.postgres"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

if not postgres.available() then
  io.stderr:write("with-postgres: PostgreSQL is not installed (apt-get install postgresql)\n")
  os.exit(1)
end
local cmd = {}
for i = 1, #arg do cmd[#cmd + 1] = q(arg[i]) end
local status
postgres.with({}, function(pg)
  local ok, _, code = os.execute("FSEC_TEST_PG_URI=" .. q(pg.uri) .. " " .. table.concat(cmd, " "))
  status = (ok == true or ok == 0) and 0 or (code or 1)
end)
os.exit(status)
