-- The example app (spec/tools/example_app.lua) with the positional calls
-- spec/40 was written with (start(workers, env), with_app(workers, env,
-- fn), http(app, jar, ...), api(app, jar)): shared by spec/40 and spec/70.
local helpers = require "spec.helpers"
local example = require "spec.tools.example_app"

local read = helpers.read

-- Start the example app; returns a handle
-- with .dir, .pid, .port, .base. own_group: in a session and process
-- group of its own (nginx's pid is the group's id), as a terminal's
-- foreground job is

local function start(workers, env, own_group)
  return example.start{ workers = workers, env = env, own_group = own_group }
end

local stop = example.stop

-- The status of a JSON client's GET of path with these header lines
-- (each sent as written, repeats included) and a file of more.
local function status_of(app, path, lines, file)
  local args = { "curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/json'" }
  for _, l in ipairs(lines) do args[#args + 1] = "-H '" .. l .. "'" end
  if file then args[#args + 1] = "-H @" .. file end
  args[#args + 1] = "'" .. app.base .. path .. "'"
  local p = io.popen(table.concat(args, " "))
  local code = tonumber(p:read("*a"))
  p:close()
  return code
end

-- Run fn(app) on a started app and stop it; a failure comes with the
-- app's error.log.
local function with_app(workers, env, fn)
  local app = start(workers, env)
  local ok, err = pcall(fn, app)
  stop(app)
  if not ok then
    error(tostring(err) .. "\n-- error.log:\n" .. tostring(read(app.dir .. "/logs/error.log")), 0)
  end
end

-- One HTTP request with curl: status, headers (lower-case), body, JSON
-- (spec/tools/example_app.lua's, with the cookie jar first).
local function http(app, jar, method, path, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.jar = jar
  return require("spec.tools.example_app").http(app, method, path, o)
end

local function api(app, jar)
  local c = { jar = jar }
  local _, _, _, j = http(app, jar, "GET", "/login", { headers = { Accept = "application/json" } })
  c.csrf = j.response.csrf_token
  function c.call(method, path, body, extra)
    local h = { Accept = "application/json", ["X-CSRF-Token"] = c.csrf }
    for k, v in pairs(extra or {}) do h[k] = v end
    local s, hd, b, jj = http(app, jar, method, path, { headers = h, json = body })
    if jj and jj.response and jj.response.csrf_token then c.csrf = jj.response.csrf_token end
    return s, jj and jj.response, hd, b
  end
  return c
end

local function admin_password(app)
  return read(app.dir .. "/var/admin-password.txt"):match("^%S+ (%S+)")
end

return { start = start, stop = stop, status_of = status_of, with_app = with_app, http = http,
         api = api, admin_password = admin_password }
