-- The example app started for real (scripts/serve-example.sh: nginx and
-- fsec as a user runs them) and driven with curl, for attack specs: the
-- way spec/40-openresty_spec.lua starts it, as a module other spec files
-- can require instead of copying it.
local helpers = require "spec.helpers"
local cjson = require "cjson"

local read = helpers.read
local _M = {}

math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)

-- A loopback port nothing listens on.
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

--- Start the app: opts.workers (1), opts.env ("NAME=value ..." put before
-- the command), opts.umask (the shell's umask the script starts with).
-- Returns { dir, port, pid, base, out } once /hello answers.
function _M.start(opts)
  opts = opts or {}
  local dir = helpers.tmpdir() .. "/app-" .. math.random(1e9)
  local port = free_port()
  local p = io.popen(("umask %s; %s sh scripts/serve-example.sh %s %d %d > %s.out 2>&1 & echo $!")
    :format(opts.umask or "022", opts.env or "", dir, port, opts.workers or 1, dir))
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

--- Stop it (nginx's graceful QUIT) and wait until the port is free.
function _M.stop(app)
  helpers.sh("kill -QUIT " .. app.pid .. " 2>/dev/null")
  _M.poll(5, function() return not helpers.sh("kill -0 " .. app.pid .. " 2>/dev/null") end)
end

--- fn(app) on a started app, stopped after; a failure comes with the
-- app's error.log.
function _M.with_app(opts, fn)
  local app = _M.start(opts)
  local ok, err = pcall(fn, app)
  _M.stop(app)
  if not ok then
    error(tostring(err) .. "\n-- error.log:\n" .. tostring(read(app.dir .. "/logs/error.log")), 0)
  end
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
