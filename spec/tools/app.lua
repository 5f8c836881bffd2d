-- The example app (scripts/serve-example.sh) started in a real nginx for a
-- spec, and curl clients of it: shared by the specs that attack it
-- through HTTP (spec/40, spec/70).
local helpers = require "spec.helpers"
local cjson = require "cjson"

local read = helpers.read

-- Start the example app; returns a handle with :url(), :stop(), .dir, .pid
-- own_group: in a session and process group of its own (nginx's pid is
-- the group's id), as a terminal's foreground job is
math.randomseed(os.time()) -- two runs at once (a developer's and CI's) pick other ports

-- A loopback port nothing listens on: the app's /hello must be its own,
-- not another run's.
local function free_port()
  for _ = 1, 50 do
    local port = 20000 + math.random(0, 9999)
    if not helpers.sh(("ss -ltn | grep -q '127.0.0.1:%d '"):format(port)) then return port end
  end
  error("no free port")
end

local function start(workers, env, own_group)
  local dir = helpers.tmpdir() .. "/app-" .. math.random(1e9)
  local port = free_port()
  local p = io.popen(("%s %s sh scripts/serve-example.sh %s %d %d > %s.out 2>&1 & echo $!")
    :format(env or "", own_group and "setsid" or "", dir, port, workers, dir))
  local pid = p:read("*l")
  p:close()
  local app = { dir = dir, port = port, pid = pid, base = "http://127.0.0.1:" .. port }
  for _ = 1, 100 do
    if helpers.sh(("curl -sf %s/hello >/dev/null 2>&1"):format(app.base)) then return app end
    helpers.sh("sleep 0.1")
  end
  error("nginx did not start: " .. tostring(read(dir .. ".out")) .. tostring(read(dir .. "/logs/error.log")))
end

local function stop(app)
  helpers.sh("kill -QUIT " .. app.pid .. " 2>/dev/null; sleep 0.3")
end

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

-- One HTTP request with curl: status, headers (lower-case), body.
local function http(app, jar, method, path, opts)
  opts = opts or {}
  local out = app.dir .. ".body"
  local hdr = app.dir .. ".hdr"
  local args = { "curl -s -X " .. method, "-o " .. out, "-D " .. hdr, "-w '%{http_code}'" }
  if jar then args[#args + 1] = ("-b %s -c %s"):format(jar, jar) end
  for k, v in pairs(opts.headers or {}) do args[#args + 1] = ("-H '%s: %s'"):format(k, v) end
  if opts.json then
    local f = io.open(app.dir .. ".req", "w")
    f:write(cjson.encode(opts.json))
    f:close()
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. app.dir .. ".req"
  elseif opts.data_file then
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. opts.data_file
  end
  args[#args + 1] = "'" .. app.base .. path .. "'"
  local p = io.popen(table.concat(args, " "))
  local status = tonumber(p:read("*a"))
  p:close()
  local headers = {}
  for line in (read(hdr) or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then headers[k:lower()] = v end
  end
  local body = read(out) or ""
  local j = headers["content-type"] and headers["content-type"]:find("json") and cjson.decode(body)
  return status, headers, body, j
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

return {
  free_port = free_port, start = start, stop = stop, status_of = status_of,
  with_app = with_app, http = http, api = api, admin_password = admin_password,
}
