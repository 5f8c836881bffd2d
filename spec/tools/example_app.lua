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

_M.enabled = _M.available()

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

--- A fresh folder for an app, with var/ in it (to put files in before
-- start; pass it as opts.dir).
function _M.dir()
  local dir = helpers.tmpdir() .. "/app-" .. math.random(1e9)
  assert(helpers.sh("mkdir -p " .. dir .. "/var"))
  return dir
end

--- Start the app. opts: dir (a folder from _M.dir(); a new one if not); workers (1); env, shell assignments for the app
-- ("FSEC_THREAD_JOBS=2 ..."); umask, the shell's umask the script starts
-- with ("022"); prepare(dir), run first with dir/var there to be filled
-- (the app keeps what it finds, a database made with the fsec command
-- say); own_group, a session and process group of its own (nginx's pid is
-- the group's id), as a terminal's foreground job is.
-- Returns { dir, port, pid, base, out } once /hello answers.
function _M.start(opts)
  opts = opts or {}
  local dir = opts.dir or (helpers.tmpdir() .. "/app-" .. math.random(1e9))
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

local seq = 0
-- The files of one client: cookie jar, response body, request body, status.
local function files(app)
  seq = seq + 1
  local f = ("%s.c%d.%d"):format(app.dir, seq, math.random(1e9))
  return { jar = f .. ".jar", body = f .. ".body", req = f .. ".req", code = f .. ".code" }
end

-- The curl command line of one JSON request (its body written to a file);
-- it prints the status and the seconds the exchange took.
local function curl(app, f, method, path, body, csrf)
  local args = { "curl -s -X " .. method, "-o " .. f.body, "-w '%{http_code} %{time_total}'",
                 ("-b %s -c %s"):format(f.jar, f.jar), "-H 'Accept: application/json'" }
  if csrf then args[#args + 1] = "-H 'X-CSRF-Token: " .. csrf .. "'" end
  if body then
    local h = assert(io.open(f.req, "w"))
    h:write(cjson.encode(body))
    h:close()
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. f.req
  end
  args[#args + 1] = "'" .. app.base .. path .. "'"
  return table.concat(args, " ")
end

local function decoded(f)
  local ok, j = pcall(cjson.decode, read(f.body) or "")
  return ok and type(j) == "table" and j.response or nil
end

--- A JSON client of its own (cookie jar, CSRF token from GET /login,
-- kept up to date): c.call(method, path, json) -> status, the JSON
-- response, seconds the whole exchange took (curl's time_total).
function _M.client(app)
  local f = files(app)
  local c = { files = f, jar = f.jar }
  function c.call(method, path, body)
    local p = io.popen(curl(app, f, method, path, body, c.csrf))
    local status, secs = p:read("*a"):match("^(%d+) ([%d.]+)")
    p:close()
    local r = decoded(f)
    if r and r.csrf_token then c.csrf = r.csrf_token end
    return tonumber(status), r, tonumber(secs)
  end
  c.call("GET", "/login")
  return c
end

--- Send every request {method, path, json} at the same time, each from
-- its own client (own process, cookie jar and CSRF token). Returns a list
-- of {status, response} in the order given.
function _M.at_once(app, requests)
  local cmds, outs = {}, {}
  for i, r in ipairs(requests) do
    local c = _M.client(app)
    outs[i] = c.files
    cmds[i] = ("(%s > %s) &"):format(curl(app, c.files, r[1], r[2], r[3], c.csrf), c.files.code)
  end
  assert(helpers.sh(table.concat(cmds, "\n") .. "\nwait"))
  local res = {}
  for i, f in ipairs(outs) do
    res[i] = { status = tonumber((read(f.code) or ""):match("^%d+")), response = decoded(f) }
  end
  return res
end

--- at_once, and again for the requests the app could not take then (503
-- from a full hashing queue, 429 from throttling: neither says anything
-- about the request itself) until each has a real answer, for up to
-- `seconds` (60). Raises when some never got one.
function _M.answered(app, requests, seconds)
  local res, todo = {}, {}
  for i = 1, #requests do todo[i] = i end
  local deadline = os.time() + (seconds or 60)
  while #todo > 0 do
    local batch = {}
    for k, i in ipairs(todo) do batch[k] = requests[i] end
    local again = {}
    for k, r in ipairs(_M.at_once(app, batch)) do
      res[todo[k]] = r
      if r.status == 503 or r.status == 429 or not r.status or r.status == 0 then again[#again + 1] = todo[k] end
    end
    todo = again
    if #todo > 0 then
      assert(os.time() < deadline, #todo .. " requests never answered but with 503/429")
      helpers.sh("sleep 1")
    end
  end
  return res
end

--- The mails the app wrote (spec.helpers.mails of its folder).
function _M.mails(app) return helpers.mails(app.dir .. "/var/mail") end

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
