-- The example app (examples/openresty) in the real nginx, for attack
-- specs: start on a free port, stop, and curl requests from outside the
-- process (one at a time, or many at once). Not a spec (no _spec suffix).
local helpers = require "spec.helpers"
local cjson = require "cjson"

local read = helpers.read
local _M = {}

local build = os.getenv("FSEC_BUILD_DIR") or "build"
-- nginx's Lua is LuaJIT: run in the LuaJIT pass only, and not under ASan
_M.enabled = jit and not build:find("asan", 1, true)
  and helpers.sh("command -v nginx >/dev/null && test -f /usr/lib/nginx/modules/ngx_http_lua_module.so")

math.randomseed(os.time() + math.floor(os.clock() * 1e6))

local function free_port()
  for _ = 1, 50 do
    local port = 20000 + math.random(0, 19999)
    if not helpers.sh(("ss -ltn | grep -q '127.0.0.1:%d '"):format(port)) then return port end
  end
  error("no free port")
end

--- Start the example app with `workers` and env ("NAME=value ..."),
-- polling its /hello until it answers (30 s at most).
function _M.start(workers, env)
  local dir = helpers.tmpdir() .. "/app-" .. math.random(1e9)
  local port = free_port()
  local p = io.popen(("%s sh scripts/serve-example.sh %s %d %d > %s.out 2>&1 & echo $!")
    :format(env or "", dir, port, workers, dir))
  local pid = p:read("*l")
  p:close()
  local app = { dir = dir, port = port, pid = pid, base = "http://127.0.0.1:" .. port, n = 0 }
  for _ = 1, 300 do
    if helpers.sh(("curl -sf %s/hello >/dev/null 2>&1"):format(app.base)) then return app end
    helpers.sh("sleep 0.1")
  end
  error("nginx did not start: " .. tostring(read(dir .. ".out")) .. tostring(read(dir .. "/logs/error.log")))
end

function _M.stop(app)
  helpers.sh("kill -QUIT " .. app.pid .. " 2>/dev/null")
end

--- Run fn(app) on a started app, stop it; a failure comes with the
-- app's error.log.
function _M.with_app(workers, env, fn)
  local app = _M.start(workers, env)
  local ok, err = pcall(fn, app)
  _M.stop(app)
  if not ok then
    error(tostring(err) .. "\n-- error.log:\n" .. tostring(read(app.dir .. "/logs/error.log")), 0)
  end
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- The curl command line of one request. o: method, path, jar (a cookie
-- file, read and written; only read with jar_read_only: requests at once
-- that share a jar), headers (name -> value), json (a table) or form
-- (a raw urlencoded body), user ("email:password" for Basic).
local function command(app, o, out)
  local args = { "curl -s", "-X " .. (o.method or "GET"), "-o " .. out .. ".body", "-D " .. out .. ".hdr",
                 "-w '%{http_code}'" }
  if o.jar then args[#args + 1] = "-b " .. o.jar .. (o.jar_read_only and "" or " -c " .. o.jar) end
  if o.user then args[#args + 1] = "-u " .. q(o.user) end
  for k, v in pairs(o.headers or {}) do args[#args + 1] = "-H " .. q(k .. ": " .. v) end
  if o.json then
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary " .. q(cjson.encode(o.json))
  elseif o.form then
    args[#args + 1] = "-H 'Content-Type: application/x-www-form-urlencoded' --data-binary " .. q(o.form)
  end
  args[#args + 1] = q(app.base .. o.path)
  return table.concat(args, " ")
end

-- The answer curl left in out.*: { status, headers (lower-case names;
-- set_cookie: every Set-Cookie line), body, json }.
local function answer(out, status)
  local r = { status = tonumber(status), headers = {}, set_cookie = {}, body = read(out .. ".body") or "" }
  for line in (read(out .. ".hdr") or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then
      k = k:lower()
      r.headers[k] = v
      if k == "set-cookie" then r.set_cookie[#r.set_cookie + 1] = v end
    end
  end
  local ct = r.headers["content-type"] or ""
  if ct:find("json", 1, true) then
    local ok, j = pcall(cjson.decode, r.body)
    if ok then r.json = j end
  end
  return r
end

local function next_out(app)
  app.n = app.n + 1
  return ("%s.r%d"):format(app.dir, app.n)
end

--- One request (see command for o): the answer.
function _M.request(app, o)
  local out = next_out(app)
  local p = io.popen(command(app, o, out))
  local status = p:read("*a")
  p:close()
  return answer(out, status)
end

--- Many requests at once (one curl process each, started together): the
-- answers in order.
function _M.parallel(app, list)
  local outs, script = {}, {}
  for i, o in ipairs(list) do
    outs[i] = next_out(app)
    script[#script + 1] = command(app, o, outs[i]) .. " > " .. outs[i] .. ".code &"
  end
  script[#script + 1] = "wait"
  local f = assert(io.open(app.dir .. ".parallel.sh", "w"))
  f:write(table.concat(script, "\n"), "\n")
  f:close()
  assert(helpers.sh("sh " .. app.dir .. ".parallel.sh"))
  local res = {}
  for i, out in ipairs(outs) do res[i] = answer(out, read(out .. ".code")) end
  return res
end

--- A JSON client's CSRF token (GET /login into jar).
function _M.csrf(app, jar)
  return _M.request(app, { path = "/login", jar = jar, headers = { Accept = "application/json" } })
    .json.response.csrf_token
end

function _M.admin_password(app)
  return read(app.dir .. "/var/admin-password.txt"):match("^%S+ (%S+)")
end

--- The path of the newest mailed link to `to` (nil when none).
function _M.link_to(app, to)
  local p = io.popen("ls -1t " .. app.dir .. "/var/mail")
  for name in p:lines() do
    local text = read(app.dir .. "/var/mail/" .. name) or ""
    if text:find("To: " .. to, 1, true) then
      p:close()
      return text:match("X%-Fsec%-Link: https?://[^/]+(%S+)")
    end
  end
  p:close()
end

return _M
