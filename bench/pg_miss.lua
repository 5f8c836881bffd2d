-- What a cache miss costs through nginx on PostgreSQL (issue 22): a
-- token-authenticated request with fsec's caches off (every request one
-- lookup, in the fsec_db thread pool) against the same with the caches on
-- (a hit), and a bare hello, one connection each (wrk -t1 -c1: latency,
-- not throughput). The difference miss - hit is the lookup as nginx sees
-- it; bench_pg's raw round trip for the same SELECT is the floor, and
-- what is left is the thread hop. Both apps share one PostgreSQL and one
-- folder of secrets.
--   luajit bench/pg_miss.lua [SECONDS]     (from the project root)
package.path = "./?.lua;./?/init.lua;" .. package.path
local cjson = require "cjson"
local example = require "spec.tools.example_app"
local postgres = require "spec.tools.postgres"

local secs = tonumber(arg[1] or "5")
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- wrk's mean latency in microseconds
local function latency(app, path, token)
  local out = example.run(("wrk -t1 -c1 -d%ds -H %s %s%s 2>&1"):format(secs,
    q("Authentication-Token: " .. token), app.base, path))
  local v, unit = out:match("Latency%s+([%d.]+)(%a+)")
  assert(v, "wrk said: " .. out)
  local scale = { us = 1, ms = 1000, s = 1e6 }
  local non2xx = out:match("Non%-2xx or 3xx responses: (%d+)")
  assert(not non2xx, path .. ": " .. tostring(non2xx) .. " answers were not 200")
  return tonumber(v) * scale[unit]
end

postgres.with({}, function(pg)
  local secrets = example.dir()
  local rows = {}
  for _, cache in ipairs{ "on", "off" } do
    local dir = example.dir()
    local uri = postgres.uri_with_passfile(pg, dir .. "/var/pgpass")
    local app = example.start{ dir = dir, workers = 1,
      env = ("FSEC_CACHE=%s FSEC_THROTTLE=off FSEC_SECRETS_DIR=%s FSEC_ADMIN_PASSWORD=bench-admin-pw "
             .. "FSEC_EXAMPLE_CONFIG=%s"):format(cache, q(secrets .. "/var"), q(cjson.encode{ database = uri })) }
    local ok, err = pcall(function()
      local c = example.api(app)
      local s, r = c.call("POST", "/login?include_auth_token",
                          { email = "admin@example.org", password = "bench-admin-pw" })
      assert(s == 200, "login: " .. tostring(s))
      local token = r.user.authentication_token
      rows[cache] = { hello = latency(app, "/bench/hello", token),
                      token = latency(app, "/bench/token-inline", token) }
    end)
    example.stop(app)
    assert(ok, err)
  end
  local hit, miss = rows.on.token - rows.on.hello, rows.off.token - rows.off.hello
  print(("| path (wrk -t1 -c1 -d%ds, mean latency) | caches on | caches off |"):format(secs))
  print("|---|---|---|")
  print(("| bare hello | %.1f us | %.1f us |"):format(rows.on.hello, rows.off.hello))
  print(("| token-authenticated hello | %.1f us | %.1f us |"):format(rows.on.token, rows.off.token))
  print(("| added by fsec | %.1f us (a hit) | %.1f us (a miss) |"):format(hit, miss))
  print(("\nA miss costs %.1f us more than a hit: the PostgreSQL round trip (bench_pg's raw figure) "
         .. "plus one thread hop."):format(miss - hit))
end)
