-- The example app started for real (scripts/serve-example.sh: nginx and
-- fsec as a user runs them) and driven with curl from outside, for the
-- specs that attack it. The one module every such spec requires: start
-- and stop, one curl request builder (one request, or many at once), a
-- JSON client, polling, and what the app leaves on disk. Calls take an
-- options table. Not a spec itself (no _spec suffix).
local helpers = require "spec.helpers"
local cjson = require "cjson"

local read = helpers.read
local _M = {}

-- nginx's Lua is LuaJIT: these run in the LuaJIT pass, not under ASan.
local build = os.getenv("FSEC_BUILD_DIR") or "build"
_M.enabled = jit and not build:find("asan", 1, true)
  and helpers.sh("command -v nginx >/dev/null && test -f /usr/lib/nginx/modules/ngx_http_lua_module.so")

-- Two runs at once (a developer's and CI's) pick other ports.
math.randomseed(os.time() + math.floor(os.clock() * 1e6)
  + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)

--- A loopback port nothing listens on (below the kernel's ephemeral
-- range, 32768 up): the app's /hello must be its own, not another run's.
function _M.free_port()
  for _ = 1, 50 do
    local port = 20000 + math.random(0, 9999)
    if not helpers.sh(("ss -ltn | grep -q '127.0.0.1:%d '"):format(port)) then return port end
  end
  error("no free port")
end

--- Poll fn() every 0.05 s until it returns a true value or `seconds`
-- pass: its last value.
function _M.poll(seconds, fn)
  local deadline, v = os.time() + seconds
  repeat
    v = fn()
    if v then return v end
    helpers.sh("sleep 0.05")
  until os.time() > deadline
  return v
end

--- A shell command's output.
function _M.run(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

--- A fresh folder for an app, with var/ in it (to put files in before
-- start; pass it as opts.dir).
function _M.dir()
  local dir = helpers.tmpdir() .. "/app-" .. math.random(1e9)
  assert(helpers.sh("mkdir -p " .. dir .. "/var"))
  return dir
end

--- Start the app. opts: dir (a folder from _M.dir(); a new one if not);
-- workers (1); env, shell assignments for the app ("FSEC_THREAD_JOBS=2
-- ..."); umask, the shell's umask the script starts with ("022");
-- prepare(dir), run first with dir/var there to be filled (the app keeps
-- what it finds, a database made with the fsec command say); own_group,
-- a session and process group of its own (nginx's pid is the group's id),
-- as a terminal's foreground job is.
-- Returns { dir, port, pid, base, out } once /hello answers and the
-- script's banner (its last line "... stop: Ctrl-C", printed by a child of
-- nginx's master that then exits) is complete (30 s at most).
function _M.start(opts)
  return _M.wait_up(_M.launch(opts))
end

--- start's first half: the script started, not waited for (several apps
-- starting at once: launch each, then wait_up each).
function _M.launch(opts)
  opts = opts or {}
  local dir = opts.dir or (helpers.tmpdir() .. "/app-" .. math.random(1e9))
  if opts.prepare then
    assert(helpers.sh(("mkdir -p %s/var"):format(dir)))
    opts.prepare(dir)
  end
  local port = _M.free_port()
  local pid = _M.run(("umask %s; %s %s sh scripts/serve-example.sh %s %d %d > %s.out 2>&1 & echo $!")
    :format(opts.umask or "022", opts.env or "", opts.own_group and "setsid" or "", dir, port,
            opts.workers or 1, dir)):match("%d+")
  return { dir = dir, port = port, pid = pid, base = "http://127.0.0.1:" .. port, out = dir .. ".out" }
end

--- start's second half: the launched app once it answers (30 s at most;
-- at once when the script has ended: it failed).
function _M.wait_up(app)
  local dir = app.dir
  local up = _M.poll(30, function()
    if not helpers.sh("kill -0 " .. app.pid .. " 2>/dev/null") then return "ended" end
    return helpers.sh(("curl -sf %s/hello >/dev/null 2>&1"):format(app.base))
      and (read(app.out) or ""):find("stop: Ctrl-C", 1, true)
  end)
  if not up or up == "ended" then
    error("nginx did not start: " .. tostring(read(app.out)) .. tostring(read(dir .. "/logs/error.log")))
  end
  return app
end

--- Stop it (nginx's graceful QUIT) and wait until its master has gone.
function _M.stop(app)
  helpers.sh("kill -QUIT " .. app.pid .. " 2>/dev/null")
  _M.poll(5, function() return not helpers.sh("kill -0 " .. app.pid .. " 2>/dev/null") end)
end

--- A spec's own nginx: the prefix dir (conf/nginx.conf written), the
-- compiled-in module path (FSEC_BUILD_DIR's luajit/, absolute), started in
-- the background; raises unless probe_url answers within 10 s.
function _M.module_dir()
  local cwd = os.getenv("PWD")
  return (os.getenv("FSEC_BUILD_DIR") or "build"):gsub("^([^/])", cwd .. "/%1") .. "/luajit"
end

--- Copies of the Lua tree and the LuaJIT modules in dir (dir/code/lua,
-- dir/code/so), for a conf of a test's own: nginx's workers (user nobody
-- when the tests run as root) read them, and a clone in a folder only its
-- owner may enter (a home folder, a `mktemp -d`) would refuse them.
-- Returns the two folders.
function _M.code_copy(dir)
  local cwd = os.getenv("PWD")
  local code = dir .. "/code"
  assert(helpers.sh(("mkdir -p %s/so && cp -R %s/lua %s/lua && cp -R %s/. %s/so && chmod -R a+rX %s")
    :format(code, cwd, code, _M.module_dir(), code, code)))
  return code .. "/lua", code .. "/so"
end

function _M.start_nginx(dir, probe_url)
  helpers.sh(("nginx -p %s -c conf/nginx.conf -e logs/error.log >%s/nginx.out 2>&1 &"):format(dir, dir))
  assert(_M.poll(10, function()
    return helpers.sh(("curl -s -o /dev/null %s"):format(probe_url))
  end), "nginx did not start: " .. tostring(read(dir .. "/nginx.out")) .. tostring(read(dir .. "/logs/error.log")))
end

--- Stop the nginx start_nginx started in dir (QUIT, then up to 5 s).
function _M.stop_nginx(dir)
  local npid = dir and (read(dir .. "/logs/nginx.pid") or ""):match("%d+")
  if not npid then return end
  helpers.sh("kill -QUIT " .. npid)
  _M.poll(5, function() return not helpers.sh("kill -0 " .. npid .. " 2>/dev/null") end)
end

--- fn() against a running app: a failure comes with the app's error.log.
function _M.logged(app, fn)
  local ok, err = pcall(fn)
  if not ok then
    error(tostring(err) .. "\n-- error.log:\n" .. tostring(read(app.dir .. "/logs/error.log")), 0)
  end
end

--- fn(app) on an app started with opts (see start), stopped after; a
-- failure comes with the app's error.log.
function _M.with_app(opts, fn)
  local app = _M.start(opts)
  local ok, err = pcall(fn, app)
  _M.stop(app)
  if not ok then _M.logged(app, function() error(err, 0) end) end
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Each request's files: out.body, out.hdr, out.req (a JSON body), out.code.
local seq = 0
local function next_out(app)
  seq = seq + 1
  return ("%s.r%d"):format(app.dir, seq)
end

-- The curl command line of one request; it prints the status and the
-- seconds the exchange took (time_total). o: method ("GET"), path; jar (a
-- cookie file, read and written; only read with jar_read_only: requests
-- at once that share a jar); from (the source address: 127.0.0.2,
-- 127.0.0.3, ... are other clients); user ("email:password" for Basic);
-- headers (name -> value); lines (header lines sent as written, repeats
-- included) and header_file (a file of more); a body: json (a value,
-- encoded), data_file (a file sent as a JSON body) or form (a raw
-- urlencoded body); curl (more curl arguments); app (another app to send
-- it to: one of several nodes).
local function command(app, o, out)
  local args = { "curl -s -X " .. (o.method or "GET"), "-o " .. out .. ".body", "-D " .. out .. ".hdr",
                 "-w '%{http_code} %{time_total}'" }
  if o.curl then args[#args + 1] = o.curl end
  if o.from then args[#args + 1] = "--interface " .. o.from end
  if o.jar then args[#args + 1] = "-b " .. o.jar .. (o.jar_read_only and "" or " -c " .. o.jar) end
  if o.user then args[#args + 1] = "-u " .. q(o.user) end
  for k, v in pairs(o.headers or {}) do args[#args + 1] = "-H " .. q(k .. ": " .. v) end
  for _, l in ipairs(o.lines or {}) do args[#args + 1] = "-H " .. q(l) end
  if o.header_file then args[#args + 1] = "-H @" .. o.header_file end
  if o.json ~= nil then
    local f = assert(io.open(out .. ".req", "w"))
    f:write(cjson.encode(o.json))
    f:close()
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. out .. ".req"
  elseif o.data_file then
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. o.data_file
  elseif o.form then
    args[#args + 1] = "-H 'Content-Type: application/x-www-form-urlencoded' --data-binary " .. q(o.form)
  end
  args[#args + 1] = q((o.app or app).base .. o.path)
  return table.concat(args, " ")
end

-- The answer curl left in out.* (written: what it printed): { status,
-- time (seconds), headers (lower-case names), set_cookie (every
-- Set-Cookie line), body, json (a JSON body decoded) }.
local function answer(out, written)
  local status, took = (written or ""):match("^(%d+) ([%d.]+)")
  local r = { status = tonumber(status), time = tonumber(took), headers = {}, set_cookie = {},
              body = read(out .. ".body") or "" }
  for line in (read(out .. ".hdr") or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then
      k = k:lower()
      r.headers[k] = v
      if k == "set-cookie" then r.set_cookie[#r.set_cookie + 1] = v end
    end
  end
  if (r.headers["content-type"] or ""):find("json", 1, true) then
    local ok, j = pcall(cjson.decode, r.body)
    if ok then r.json = j end
  end
  return r
end

--- One request (o: see command above): its answer, { status, time,
-- headers, set_cookie, body, json }.
function _M.request(app, o)
  local out = next_out(app)
  return answer(out, _M.run(command(app, o, out)))
end

--- Many requests at once (one curl process each, started together): the
-- answers in the order given.
function _M.parallel(app, list)
  local outs, script = {}, {}
  for i, o in ipairs(list) do
    outs[i] = next_out(app)
    script[#script + 1] = command(app, o, outs[i]) .. " > " .. outs[i] .. ".code &"
  end
  script[#script + 1] = "wait"
  local file = next_out(app) .. ".sh"
  local f = assert(io.open(file, "w"))
  f:write(table.concat(script, "\n"), "\n")
  f:close()
  assert(helpers.sh("sh " .. file))
  local res = {}
  for i, out in ipairs(outs) do res[i] = answer(out, read(out .. ".code")) end
  return res
end

--- One request as values: status, headers, body, JSON, time_total.
-- opts: as request's o (jar, from, headers, json, ...).
function _M.http(app, method, path, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.method, o.path = method, path
  local r = _M.request(app, o)
  return r.status, r.headers, r.body, r.json, r.time
end

--- A JSON client: a cookie jar (opts.jar, a new file if not), a source
-- address (opts.from) and the CSRF token from GET /login, kept up to
-- date. c.call(method, path, json, more_headers) -> status, the JSON
-- response, headers, body, seconds the exchange took (curl's time_total).
-- c.at(other) is the same call sent to another app (a node sharing the
-- database and secrets), with the same cookies and token.
function _M.api(app, opts)
  opts = opts or {}
  local c = { jar = opts.jar or (next_out(app) .. ".jar"), from = opts.from }
  local function call_at(target, method, path, body, extra)
    local h = { Accept = "application/json", ["X-CSRF-Token"] = c.csrf }
    for k, v in pairs(extra or {}) do h[k] = v end
    local r = _M.request(app, { app = target, method = method, path = path, jar = c.jar, from = c.from,
                                headers = h, json = body })
    local res = type(r.json) == "table" and r.json.response or nil
    if res and res.csrf_token then c.csrf = res.csrf_token end
    return r.status, res, r.headers, r.body, r.time
  end
  local function call(...) return call_at(app, ...) end
  call("GET", "/login")
  c.call = call
  c.at = function(target) return function(...) return call_at(target, ...) end end
  return c
end

-- Every request {method, path, json} at the same time, each from a JSON
-- client of its own (own cookie jar and CSRF token): { status, response }
-- in the order given.
local function at_once(app, requests)
  local list = {}
  for i, r in ipairs(requests) do
    local c = _M.api(app)
    list[i] = { method = r[1], path = r[2], json = r[3], jar = c.jar,
                headers = { Accept = "application/json", ["X-CSRF-Token"] = c.csrf } }
  end
  local res = {}
  for i, a in ipairs(_M.parallel(app, list)) do
    res[i] = { status = a.status, response = type(a.json) == "table" and a.json.response or nil }
  end
  return res
end

--- Every request at once, and again for the requests the app could not
-- take then (503 from a full hashing queue, 429 from throttling: neither
-- says anything about the request itself) until each has a real answer,
-- for up to `seconds` (60). Raises when some never got one.
function _M.answered(app, requests, seconds)
  local res, todo = {}, {}
  for i = 1, #requests do todo[i] = i end
  local deadline = os.time() + (seconds or 60)
  while #todo > 0 do
    local batch = {}
    for k, i in ipairs(todo) do batch[k] = requests[i] end
    local again = {}
    for k, r in ipairs(at_once(app, batch)) do
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

--- The admin's email and password (the app's first start made them).
function _M.admin(app)
  return read(app.dir .. "/secrets/admin-password.txt"):match("^(%S+) (%S+)")
end

function _M.admin_password(app)
  return (select(2, _M.admin(app)))
end

--- The messages in the app's development mailbox (spec.helpers.mails).
function _M.mails(app) return helpers.mails(app.dir .. "/var/mail") end

--- The path of the newest mailed link to `to` (nil when none).
function _M.link_to(app, to)
  for name in _M.run("ls -1t " .. app.dir .. "/var/mail"):gmatch("[^\n]+") do
    local text = read(app.dir .. "/var/mail/" .. name) or ""
    if text:find("To: " .. to, 1, true) then
      return text:match("X%-Fsec%-Link: https?://[^/]+(%S+)")
    end
  end
end

--- The nginx worker's pid (with one worker; not another child of the
-- master, as the script's banner printer is for a moment).
function _M.worker_pid(app)
  return _M.run("pgrep -f -P $(cat " .. app.dir .. "/logs/nginx.pid) '^nginx: worker'"):match("%d+")
end

--- A Security on the app's own database and secrets (to add users fast:
-- one hash for many), or nil when the secrets come from the environment.
function _M.security(app, extra)
  local function secret(name) return (read(app.dir .. "/secrets/" .. name) or ""):match("^(%S+)") end
  local cfg = { secret_key = secret("secret_key"), password_salt = secret("password_salt"),
                database = app.dir .. "/var/auth.db", database_busy_timeout = 20000 }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return require("fsec").new(cfg)
end

--- The wall clock, in seconds with a fraction (date +%s.%N).
function _M.now()
  return tonumber(_M.run("date +%s.%N"))
end

--- The median of a list of numbers.
function _M.median(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  table.sort(t)
  local n = #t
  if n % 2 == 1 then return t[(n + 1) / 2] end
  return (t[n / 2] + t[n / 2 + 1]) / 2
end

return _M
