-- The example app in the real nginx, for attack specs: start it
-- (scripts/serve-example.sh, as the README's main command does), talk to it
-- as outside clients with curl (one cookie jar and CSRF token each), and
-- fire many requests at once from separate processes.
--   local app = require("spec.tools.example_app").start{ workers = 2 }
-- Runs in the LuaJIT pass only (nginx's Lua is LuaJIT), not under ASan.
local helpers = require "spec.helpers"
local cjson = require "cjson"

local M = {}

local build = os.getenv("FSEC_BUILD_DIR") or "build"
M.enabled = jit and not build:find("asan", 1, true)
  and helpers.sh("command -v nginx >/dev/null && test -f /usr/lib/nginx/modules/ngx_http_lua_module.so")

math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)

local function free_port()
  for _ = 1, 50 do
    local port = 20000 + math.random(0, 9999)
    if not helpers.sh(("ss -ltn | grep -q '127.0.0.1:%d '"):format(port)) then return port end
  end
  error("no free port")
end

--- A fresh folder for an app (to put files in before start).
function M.dir()
  local dir = helpers.tmpdir() .. "/app-" .. math.random(1e9)
  assert(helpers.sh("mkdir -p " .. dir .. "/var"))
  return dir
end

--- Start the app; opts: workers (1), env ("NAME=v ..."), dir (M.dir()).
-- Polls /hello until it answers (10 s).
function M.start(opts)
  opts = opts or {}
  local dir, port = opts.dir or M.dir(), free_port()
  local p = io.popen(("%s sh scripts/serve-example.sh %s %d %d > %s.out 2>&1 & echo $!")
    :format(opts.env or "", dir, port, opts.workers or 1, dir))
  local app = { dir = dir, port = port, pid = p:read("*l"), base = "http://127.0.0.1:" .. port }
  p:close()
  for _ = 1, 100 do
    if helpers.sh(("curl -sf %s/hello >/dev/null 2>&1"):format(app.base)) then return app end
    helpers.sh("sleep 0.1")
  end
  error("nginx did not start: " .. tostring(helpers.read(dir .. ".out")))
end

--- Stop the app (nginx's graceful QUIT) and wait until its port is free.
function M.stop(app)
  helpers.sh("kill -QUIT " .. app.pid .. " 2>/dev/null")
  for _ = 1, 50 do
    if not helpers.sh(("ss -ltn | grep -q '127.0.0.1:%d '"):format(app.port)) then return end
    helpers.sh("sleep 0.1")
  end
end

--- fn(app) on a started app, stopped after; a failure shows error.log.
function M.with(opts, fn)
  local app = M.start(opts)
  local ok, err = pcall(fn, app)
  M.stop(app)
  if not ok then
    error(tostring(err) .. "\n-- error.log:\n" .. tostring(helpers.read(app.dir .. "/logs/error.log")), 0)
  end
end

local seq = 0
local function files(app)
  seq = seq + 1
  local f = ("%s.%d"):format(app.dir, seq)
  return { jar = f .. ".jar", body = f .. ".body", req = f .. ".req", code = f .. ".code" }
end

-- The curl command line of one JSON request (body written to a file).
local function curl(app, f, method, path, body, csrf)
  local args = { "curl -s -X " .. method, "-o " .. f.body, "-w '%{http_code}'",
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
  local ok, j = pcall(cjson.decode, helpers.read(f.body) or "")
  return ok and type(j) == "table" and j.response or nil
end

--- A client of its own (cookie jar, CSRF token from GET /login):
-- c.call(method, path, json) -> status, the JSON response.
function M.client(app)
  local f = files(app)
  local c = {}
  local function run(method, path, body)
    local p = io.popen(curl(app, f, method, path, body, c.csrf))
    local status = tonumber(p:read("*a"))
    p:close()
    local r = decoded(f)
    if r and r.csrf_token then c.csrf = r.csrf_token end
    return status, r
  end
  run("GET", "/login")
  c.call = run
  c.files = f
  return c
end

--- Send every request {method, path, json} at the same time, each from
-- its own client (own process, cookie jar and CSRF token). Returns a list
-- of {status, response} in the order given.
function M.at_once(app, requests)
  local cmds, outs = {}, {}
  for i, r in ipairs(requests) do
    local c = M.client(app)
    outs[i] = c.files
    cmds[i] = ("(%s > %s) &"):format(curl(app, c.files, r[1], r[2], r[3], c.csrf), c.files.code)
  end
  assert(helpers.sh(table.concat(cmds, "\n") .. "\nwait"))
  local res = {}
  for i, f in ipairs(outs) do
    res[i] = { status = tonumber(helpers.read(f.code)), response = decoded(f) }
  end
  return res
end

--- M.at_once, and again for the requests the app could not take then
-- (503 from a full hashing queue, 429 from throttling: neither says
-- anything about the request itself) until each has a real answer, for
-- up to `seconds` (60). Raises when some never got one.
function M.answered(app, requests, seconds)
  local res, todo = {}, {}
  for i = 1, #requests do todo[i] = i end
  local deadline = os.time() + (seconds or 60)
  while #todo > 0 do
    local batch = {}
    for k, i in ipairs(todo) do batch[k] = requests[i] end
    local again = {}
    for k, r in ipairs(M.at_once(app, batch)) do
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
function M.mails(app) return helpers.mails(app.dir .. "/var/mail") end

--- The admin's password the app generated on first start.
function M.admin_password(app)
  return helpers.read(app.dir .. "/var/admin-password.txt"):match("^%S+ (%S+)")
end

return M
