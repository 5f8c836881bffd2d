-- The example app started for real (scripts/serve-example.sh: nginx and
-- fsec as a user runs them) and driven with curl from outside, for the
-- specs that attack it: one module other spec files require instead of
-- copying the start-up.
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

-- Two runs at once (a developer's and CI's) pick other ports.
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)

-- A loopback port nothing listens on: the app's /hello must be its own,
-- not another run's.
local function free_port()
  for _ = 1, 50 do
    local port = 20000 + math.random(0, 9999)
    if not helpers.sh(("ss -ltn | grep -q '127.0.0.1:%d '"):format(port)) then return port end
  end
  error("no free port")
end

--- Poll fn() every 0.1 s until it returns a true value or seconds pass;
-- its last value.
function _M.poll(seconds, fn)
  local v
  for _ = 1, math.ceil(seconds * 10) do
    v = fn()
    if v then return v end
    helpers.sh("sleep 0.1")
  end
  return v
end

--- Start the app. opts: workers (1); env, shell assignments for the app
-- ("FSEC_THREAD_JOBS=2 ..."); umask, the shell's umask the script starts
-- with ("022"); prepare(dir), run first with dir/var there to be filled
-- (the app keeps what it finds, a database made with the fsec command
-- say); own_group, a session and process group of its own (nginx's pid is
-- the group's id), as a terminal's foreground job is.
-- Returns { dir, port, pid, base, out } once /hello answers.
function _M.start(opts)
  opts = opts or {}
  local dir = helpers.tmpdir() .. "/app-" .. math.random(1e9)
  if opts.prepare then
    assert(helpers.sh(("mkdir -p %s/var"):format(dir)))
    opts.prepare(dir)
  end
  local port = free_port()
  local p = io.popen(("umask %s; %s %s sh scripts/serve-example.sh %s %d %d > %s.out 2>&1 & echo $!")
    :format(opts.umask or "022", opts.env or "", opts.own_group and "setsid" or "", dir, port,
            opts.workers or 1, dir))
  local pid = p:read("*l")
  p:close()
  local app = { dir = dir, port = port, pid = pid, base = "http://127.0.0.1:" .. port, out = dir .. ".out" }
  local up = _M.poll(10, function()
    return helpers.sh(("curl -sf %s/hello >/dev/null 2>&1"):format(app.base))
  end)
  if not up then
    error("nginx did not start: " .. tostring(read(app.out)) .. tostring(read(dir .. "/logs/error.log")))
  end
  return app
end

--- Stop it (nginx's graceful QUIT) and wait until its master has gone.
function _M.stop(app)
  helpers.sh("kill -QUIT " .. app.pid .. " 2>/dev/null")
  _M.poll(5, function() return not helpers.sh("kill -0 " .. app.pid .. " 2>/dev/null") end)
end

--- fn(app) on an app started with opts, stopped after; a failure comes
-- with the app's error.log.
function _M.with_app(opts, fn)
  local app = _M.start(opts)
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

--- One request with curl: status, headers (lower-case names), body, JSON.
-- opts.headers, opts.json (a body) or opts.data_file (a JSON body's
-- file), opts.jar (a cookie file), opts.url
-- (in place of app.base .. path), opts.curl (more curl arguments).
function _M.http(app, method, path, opts)
  opts = opts or {}
  local out, hdr = app.dir .. ".body", app.dir .. ".hdr"
  local args = { "curl -s -X " .. method, "-o " .. out, "-D " .. hdr, "-w '%{http_code}'", opts.curl or "" }
  if opts.jar then args[#args + 1] = ("-b %s -c %s"):format(opts.jar, opts.jar) end
  for k, v in pairs(opts.headers or {}) do args[#args + 1] = ("-H '%s: %s'"):format(k, v) end
  if opts.json then
    local f = assert(io.open(app.dir .. ".req", "w"))
    f:write(cjson.encode(opts.json))
    f:close()
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. app.dir .. ".req"
  elseif opts.data_file then
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. opts.data_file
  end
  args[#args + 1] = "'" .. (opts.url or (app.base .. path)) .. "'"
  local p = io.popen(table.concat(args, " "))
  local status = tonumber(p:read("*a"))
  p:close()
  local headers = {}
  for line in (read(hdr) or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then headers[k:lower()] = v end
  end
  local body = read(out) or ""
  local ok, j = false, nil
  if (headers["content-type"] or ""):find("json", 1, true) then ok, j = pcall(cjson.decode, body) end
  return status, headers, body, ok and j or nil
end

--- A JSON client with a cookie jar that follows the CSRF token:
-- c.call(method, path, body) -> status, response.
function _M.api(app, jar)
  local c = {}
  local _, _, _, j = _M.http(app, "GET", "/login", { jar = jar, headers = { Accept = "application/json" } })
  c.csrf = j.response.csrf_token
  function c.call(method, path, body)
    local s, _, _, jj = _M.http(app, method, path, { jar = jar, json = body,
      headers = { Accept = "application/json", ["X-CSRF-Token"] = c.csrf } })
    if jj and jj.response and jj.response.csrf_token then c.csrf = jj.response.csrf_token end
    return s, jj and jj.response
  end
  return c
end

function _M.admin_password(app)
  return read(app.dir .. "/var/admin-password.txt"):match("^%S+ (%S+)")
end

--- The nginx worker's pid (with one worker).
function _M.worker_pid(app)
  local p = io.popen("pgrep -P $(cat " .. app.dir .. "/logs/nginx.pid)")
  local pid = p:read("*a"):match("%d+")
  p:close()
  return pid
end

return _M
