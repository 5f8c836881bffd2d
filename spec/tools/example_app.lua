-- The example app in the real nginx, for the specs that drive it from
-- outside: start it on a free loopback port (optionally after preparing
-- its folder), talk JSON to it with curl, stop it.
local helpers = require "spec.helpers"
local cjson = require "cjson"

local _M = {}

local read = helpers.read

--- Can this run start the example (nginx with the Lua module, the LuaJIT
-- pass, not the sanitizer build)?
function _M.available()
  local build = os.getenv("FSEC_BUILD_DIR") or "build"
  return jit and not build:find("asan", 1, true)
    and helpers.sh("command -v nginx >/dev/null && test -f /usr/lib/nginx/modules/ngx_http_lua_module.so")
end

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

--- Start the app with `workers` nginx workers (1 by default). opts:
-- prepare(dir) runs first, with dir/var there to be filled (the app keeps
-- what it finds, a database made with the fsec command say); env, shell
-- assignments for the app (FSEC_THREAD_JOBS=2 ...); own_group, a session
-- and process group of its own (nginx's pid is the group's id), as a
-- terminal's foreground job is. Returns { dir, port, pid, base }.
function _M.start(workers, opts)
  opts = opts or {}
  local dir = helpers.tmpdir() .. "/app-" .. math.random(1e9)
  if opts.prepare then
    assert(helpers.sh(("mkdir -p %s/var"):format(dir)))
    opts.prepare(dir)
  end
  local port = free_port()
  local p = io.popen(("%s %s sh scripts/serve-example.sh %s %d %d > %s.out 2>&1 & echo $!")
    :format(opts.env or "", opts.own_group and "setsid" or "", dir, port, workers or 1, dir))
  local pid = p:read("*l")
  p:close()
  local app = { dir = dir, port = port, pid = pid, base = "http://127.0.0.1:" .. port }
  for _ = 1, 100 do
    if helpers.sh(("curl -sf %s/hello >/dev/null 2>&1"):format(app.base)) then return app end
    helpers.sh("sleep 0.1")
  end
  error("nginx did not start: " .. tostring(read(dir .. ".out")) .. tostring(read(dir .. "/logs/error.log")))
end

function _M.stop(app)
  helpers.sh("kill -QUIT " .. app.pid .. " 2>/dev/null; sleep 0.3")
end

--- Run fn(app) on a started app (start's workers and opts), then stop
-- it; a failure carries the app's error.log.
function _M.with(workers, opts, fn)
  local app = _M.start(workers, opts)
  local ok, err = pcall(fn, app)
  _M.stop(app)
  if not ok then
    error(tostring(err) .. "\n-- error.log:\n" .. tostring(read(app.dir .. "/logs/error.log")), 0)
  end
end

--- One JSON request with curl and a cookie jar: status, decoded body (or
-- nil), seconds the whole exchange took (curl's time_total).
function _M.json(app, jar, method, path, body, headers)
  local req = app.dir .. ".req." .. math.random(1e9)
  local out = req .. ".out"
  local args = { "curl -s -X " .. method, "-o " .. out, "-w '%{http_code} %{time_total}'",
                 ("-b %s -c %s"):format(jar, jar), "-H 'Accept: application/json'" }
  for k, v in pairs(headers or {}) do args[#args + 1] = ("-H '%s: %s'"):format(k, v) end
  if body then
    local f = assert(io.open(req, "w"))
    f:write(cjson.encode(body))
    f:close()
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. req
  end
  args[#args + 1] = "'" .. app.base .. path .. "'"
  local p = io.popen(table.concat(args, " "))
  local status, secs = p:read("*a"):match("^(%d+) ([%d.]+)")
  p:close()
  local text = read(out) or ""
  os.remove(req); os.remove(out)
  local ok, j = pcall(cjson.decode, text)
  return tonumber(status), ok and j or nil, tonumber(secs)
end

--- A JSON client with its own cookie jar and CSRF token:
-- c.call(method, path, body) -> status, response, seconds.
function _M.client(app)
  local c = { jar = app.dir .. ".jar." .. math.random(1e9) }
  local _, j = _M.json(app, c.jar, "GET", "/login")
  c.csrf = j and j.response and j.response.csrf_token
  function c.call(method, path, body)
    local status, jj, secs = _M.json(app, c.jar, method, path, body, { ["X-CSRF-Token"] = c.csrf })
    return status, jj and jj.response, secs
  end
  return c
end

return _M
