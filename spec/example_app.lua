-- The example app (examples/openresty) started in the real nginx for the
-- attack specs: start/stop on a free port, curl requests from a chosen
-- loopback address (127.0.0.2, 127.0.0.3, ... are other clients), and
-- shell helpers. Not a spec itself (no _spec suffix).
local helpers = require "spec.helpers"
local cjson = require "cjson"

local read = helpers.read
local _M = {}

local build = os.getenv("FSEC_BUILD_DIR") or "build"
-- nginx's Lua is LuaJIT: these run in the LuaJIT pass, not under ASan
_M.enabled = jit and not build:find("asan", 1, true)
  and helpers.sh("command -v nginx >/dev/null && test -f /usr/lib/nginx/modules/ngx_http_lua_module.so")

math.randomseed(os.time() + math.floor(os.clock() * 1e6))

-- A loopback port nothing listens on.
local function free_port()
  for _ = 1, 50 do
    local port = 20000 + math.random(0, 19999)
    if not helpers.sh(("ss -ltn | grep -q '127.0.0.1:%d '"):format(port)) then return port end
  end
  error("no free port")
end

--- Start the example app (workers, env: "NAME=value ..." for its
-- start); returns { dir, port, pid, base }. own_group: in a session and
-- process group of its own (nginx's pid is the group's id), as a
-- terminal's foreground job is.
function _M.start(workers, env, own_group)
  local dir = helpers.tmpdir() .. "/app-" .. math.random(1e9)
  local port = free_port()
  local p = io.popen(("%s %s sh scripts/serve-example.sh %s %d %d > %s.out 2>&1 & echo $!")
    :format(env or "", own_group and "setsid" or "", dir, port, workers, dir))
  local pid = p:read("*l")
  p:close()
  local app = { dir = dir, port = port, pid = pid, base = "http://127.0.0.1:" .. port }
  for _ = 1, 150 do
    if helpers.sh(("curl -sf %s/hello >/dev/null 2>&1"):format(app.base)) then return app end
    helpers.sh("sleep 0.1")
  end
  error("nginx did not start: " .. tostring(read(dir .. ".out")) .. tostring(read(dir .. "/logs/error.log")))
end

function _M.stop(app)
  helpers.sh("kill -QUIT " .. app.pid .. " 2>/dev/null; sleep 0.3")
end

--- fn(app) on a started app, stopped after; a failure shows error.log.
function _M.with_app(workers, env, fn)
  local app = _M.start(workers, env)
  local ok, err = pcall(fn, app)
  _M.stop(app)
  if not ok then
    error(tostring(err) .. "\n-- error.log:\n" .. tostring(read(app.dir .. "/logs/error.log")), 0)
  end
end

--- A shell command's output.
function _M.run(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

--- One request with curl: status, headers (lower-case names), body, JSON.
-- opts: headers, json (a table sent as the body), data_file (a file sent
-- as a JSON body), from (source address). 5th: curl's time_total, seconds.
function _M.http(app, jar, method, path, opts)
  opts = opts or {}
  local out, hdr = app.dir .. ".body", app.dir .. ".hdr"
  local args = { "curl -s -X " .. method, "-o " .. out, "-D " .. hdr, "-w '%{http_code} %{time_total}'" }
  if opts.from then args[#args + 1] = "--interface " .. opts.from end
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
  local status, took = _M.run(table.concat(args, " ")):match("^(%d+) ([%d.]+)")
  local headers = {}
  for line in (read(hdr) or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then headers[k:lower()] = v end
  end
  local body = read(out) or ""
  local ct = headers["content-type"]
  local j = ct and ct:find("json") and cjson.decode(body) or nil
  return tonumber(status), headers, body, j, tonumber(took)
end

--- A JSON client with a cookie jar and the CSRF token, from an address.
function _M.api(app, from)
  local jar = ("%s.%s.%d.jar"):format(app.dir, from or "default", math.random(1e9))
  local c = { jar = jar, from = from }
  local _, _, _, j = _M.http(app, jar, "GET", "/login", { headers = { Accept = "application/json" }, from = from })
  c.csrf = j.response.csrf_token
  function c.call(method, path, body, extra)
    local h = { Accept = "application/json", ["X-CSRF-Token"] = c.csrf }
    for k, v in pairs(extra or {}) do h[k] = v end
    local s, hd, b, jj, took = _M.http(app, jar, method, path, { headers = h, json = body, from = from })
    if jj and jj.response and jj.response.csrf_token then c.csrf = jj.response.csrf_token end
    return s, jj and jj.response, hd, b, took
  end
  return c
end

function _M.admin(app)
  return read(app.dir .. "/var/admin-password.txt"):match("^(%S+) (%S+)")
end

--- The messages in the app's development mailbox.
function _M.mails(app)
  return helpers.mails(app.dir .. "/var/mail")
end

--- A Security on the app's own database and secrets (to add users fast:
-- one hash for many), or nil when the secrets come from the environment.
function _M.security(app, extra)
  local function secret(name) return (read(app.dir .. "/var/" .. name) or ""):match("^(%S+)") end
  local cfg = { secret_key = secret("secret_key"), password_salt = secret("password_salt"),
                database = app.dir .. "/var/auth.db", database_busy_timeout = 20000 }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return require("fsec").new(cfg)
end

--- true once ready() holds, polled every 0.05 s until seconds pass.
function _M.poll(seconds, ready)
  local deadline = os.time() + seconds
  repeat
    if ready() then return true end
    helpers.sh("sleep 0.05")
  until os.time() > deadline
  return false
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
