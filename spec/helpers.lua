-- Fixtures shared by the specs. Loaded by busted before every spec file
-- (see .busted). Points package.cpath at the fsec.core built for the
-- running interpreter: build/lua54 or build/luajit (override the build
-- directory with FSEC_BUILD_DIR, e.g. for the sanitizer build).

local build = os.getenv("FSEC_BUILD_DIR") or "build"
local sub = jit and "luajit" or "lua54"
package.cpath = build .. "/" .. sub .. "/?.so;" .. package.cpath

local helpers = {}

helpers.KEY = "0123456789abcdef0123456789abcdef-spec-key"
helpers.KEY2 = "fedcba9876543210fedcba9876543210-spec-key2"
helpers.SALT = "salty-pepper"

--- A configuration with cheap argon2 parameters; `extra` overrides keys.
function helpers.config(extra)
  local c = {
    secret_key = helpers.KEY,
    password_salt = helpers.SALT,
    password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
    allow_weak_password_hash = true,
  }
  for k, v in pairs(extra or {}) do
    if v == "nil" then c[k] = nil else c[k] = v end
  end
  return c
end

function helpers.new(extra)
  return require("fsec").new(helpers.config(extra))
end

--- An app for a spec: a Security on a fresh store with the users it
-- asks for, and what the spec inspects (its clock, mail, log). Specs
-- call this with options instead of copying a setup() of their own
-- (two-factor, PostgreSQL: add an option here, not a copy there).
-- o.config    keys over helpers.config's ("nil" removes a key)
-- o.extra     keys over o.config's (a test's overrides of its spec's base)
-- o.datastore "sqlite" (default: a fresh database file named o.db) or
--             "memory" (fsec.datastore.memory, on the app's clock)
-- o.endpoints true: registerable, recoverable and changeable on
-- o.mail      true: the development mailer writes to app.maildir (fresh)
-- o.clock     true: an injected clock in app.clock, moved by hand
-- o.log       "keep": log lines in app.logs; "quiet": dropped; nil: default
-- o.roles     { { name =, permissions = }, ... } made first
-- o.users     { { email =, password = (plain, hashed here), confirmed =
--             true (confirmed now), ...other create_user fields }, ... }
-- @return app: { sec, clock, maildir, logs, users, user (the first),
--         mails() (helpers.mails of app.maildir) }
function helpers.app(o)
  o = o or {}
  local app = { users = {}, logs = {} }
  local cfg = {}
  if o.clock then
    app.clock = helpers.clock()
    cfg.clock = app.clock.fn
  end
  if o.datastore == "memory" then
    cfg.datastore = require("fsec.datastore.memory").new{ clock = cfg.clock }
  else
    cfg.database = helpers.tmpfile(o.db or "app.db")
  end
  if o.mail then
    app.maildir = helpers.tmpdir() .. "/mail-" .. tostring(math.random(1e9))
    cfg.mail_dir = app.maildir
  end
  if o.endpoints then
    cfg.registerable, cfg.recoverable, cfg.changeable = true, true, true
  end
  if o.log == "keep" then
    cfg.log = function(level, msg) app.logs[#app.logs + 1] = level .. ": " .. msg end
  elseif o.log == "quiet" then
    cfg.log = function() end
  end
  for k, v in pairs(o.config or {}) do cfg[k] = v end
  for k, v in pairs(o.extra or {}) do cfg[k] = v end
  app.sec = helpers.new(cfg)
  helpers.populate(app, o)
  function app.mails() return helpers.mails(app.maildir) end
  return app
end

--- The roles and users of helpers.app's options, in order.
function helpers.populate(app, o)
  local ds = app.sec.datastore
  for _, r in ipairs(o.roles or {}) do assert(ds:create_role(r)) end
  for i, spec in ipairs(o.users or {}) do
    local fields = {}
    for k, v in pairs(spec) do fields[k] = v end
    fields.password = app.sec:hash_password(spec.password)
    if spec.confirmed then
      fields.confirmed, fields.confirmed_at = nil, app.clock and app.clock.now or os.time()
    end
    app.users[i] = assert(ds:create_user(fields))
  end
  app.user = app.users[1]
end

--- The TOTP code of a base32 key (dashes allowed) at time t, computed
-- by oathtool: the specs never check fsec's codes with fsec's own code.
function helpers.oath(key, t)
  local p = assert(io.popen(("oathtool --totp -b %s -N @%d"):format(key:gsub("-", ""), t)))
  local code = p:read("*l")
  p:close()
  assert(code and code:match("^%d%d%d%d%d%d$"), "oathtool gave no code")
  return code
end

--- A copy of base with extra's keys over it (configurations).
function helpers.merged(base, extra)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

--- A clock the test moves by hand.
function helpers.clock(start)
  local t = { now = start or 1800000000 }
  t.fn = function() return t.now end
  return t
end

-- An object whose finalizer removes dir. busted loads this module again
-- for each spec file (its insulation), so each file has its folder; the
-- finalizer runs once a finished file's copy of the module is collected,
-- or at the end, since busted exits with os.exit(code, true), which
-- closes the Lua state. Without it every file left its folder (nginx
-- prefixes, copies of the example, databases) in /tmp for good: some
-- 600 MiB a whole run. FSEC_KEEP_TMP=1 keeps them, to look at after a
-- failure.
local function removed_at_exit(dir)
  if os.getenv("FSEC_KEEP_TMP") == "1" then return nil end
  local function rm() os.execute("rm -rf '" .. dir .. "'") end
  if newproxy then -- LuaJIT: a table's __gc never runs
    local p = newproxy(true)
    getmetatable(p).__gc = rm
    return p
  end
  return setmetatable({}, { __gc = rm })
end

--- A fresh path in this spec file's temporary folder, removed after the
-- file has run (each call gives a new file).
local tmpdir
local counter = 0
function helpers.tmpfile(name)
  if not tmpdir then
    -- world-traversable: nginx workers (user nobody) read the example app here
    local p = io.popen("d=$(mktemp -d /tmp/fsec-spec-XXXXXX) && chmod 755 $d && echo $d")
    tmpdir = p:read("*l")
    p:close()
    assert(tmpdir and tmpdir:match("^/tmp/fsec%-spec%-[%w]+$"), "mktemp gave no folder")
    helpers._tmpdir_sentinel = removed_at_exit(tmpdir) -- kept: its finalizer runs at the end
  end
  counter = counter + 1
  return ("%s/%d-%s"):format(tmpdir, counter, name)
end

--- A file's contents, or nil when it cannot be read.
function helpers.read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function helpers.tmpdir()
  helpers.tmpfile("x")
  return tmpdir
end

--- Output a terminal can show as text: no C0 but newline and tab, no DEL,
-- no C1 (as UTF-8), every other byte part of well-formed UTF-8 (Lua 5.4:
-- the `fsec` command's specs).
function helpers.assert_terminal_safe(out, what)
  assert(not out:find("[%z\1-\8\11-\31\127]"), what .. ": a raw C0 control or DEL in: " .. out)
  assert(not out:find("\194[\128-\159]"), what .. ": a raw C1 control in: " .. out)
  assert(utf8.len(out), what .. ": bytes that are not UTF-8 in: " .. out)
end

--- Run a shell command; true when it exits 0 (both Lua 5.1 and 5.4 forms).
function helpers.sh(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and c == 0
end

--- A request table as adapters build it.
function helpers.request(t)
  t = t or {}
  return { method = t.method or "GET", path = t.path or "/", query = t.query or {},
           headers = t.headers or {}, cookies = t.cookies or {}, body = t.body,
           remote_addr = t.remote_addr or "192.0.2.10", scheme = t.scheme or "http",
           host = "localhost", uri = t.uri }
end

--- A browser-like client: keeps the cookies responses set.
function helpers.client(scheme)
  local c = { jar = {}, scheme = scheme or "http" }
  function c:req(t)
    t = t or {}
    local r = helpers.request(t)
    r.scheme = t.scheme or self.scheme
    for k, v in pairs(self.jar) do
      if r.cookies[k] == nil then r.cookies[k] = v end
    end
    return r
  end
  function c:take(res)
    for _, sc in ipairs(res.cookies) do
      local name, value = sc:match("^([^=]+)=([^;]*)")
      if sc:find("Max-Age=0", 1, true) then self.jar[name] = nil else self.jar[name] = value end
    end
    return res
  end
  return c
end

--- The Set-Cookie line for a cookie name in a response, or nil.
function helpers.set_cookie(res, name)
  for _, sc in ipairs(res.cookies) do
    if sc:sub(1, #name + 1) == name .. "=" then return sc end
  end
end

--- A JSON client of sec:handle with a cookie jar that follows the CSRF
-- token: c:call(method, path, body, query, headers) -> res, response, json.
function helpers.api(sec, scheme)
  local cjson = require "cjson"
  local c = helpers.client(scheme)
  function c:call(method, path, body, query, headers)
    local h = { accept = "application/json" }
    if body then h["content-type"] = "application/json" end
    if self.csrf then h["x-csrf-token"] = self.csrf end
    for k, v in pairs(headers or {}) do h[k] = v end
    local res = sec:handle(self:req{ method = method, path = path, query = query or {}, headers = h,
                                     body = type(body) == "string" and body or (body and cjson.encode(body)) })
    assert(res, "no answer for " .. path)
    self:take(res)
    local ok, j = pcall(cjson.decode, res.body or "")
    if not ok or type(j) ~= "table" then j = {} end
    if type(j.response) == "table" and j.response.csrf_token then self.csrf = j.response.csrf_token end
    return res, j.response or {}, j
  end
  c:call("GET", "/login")
  return c
end

--- Follow a mailed link as its user does: GET it, and where a page (or a
-- JSON answer) asks for consent, POST it back with the CSRF token given.
-- client keeps the cookies (a new one when nil); headers go with both.
-- @return the last response, and the GET's when a POST followed it
function helpers.follow(sec, path, client, headers)
  local cjson = require "cjson"
  local c = client or helpers.client()
  local res = c:take(sec:handle(c:req{ path = path, headers = headers }))
  local json = headers and headers.accept == "application/json"
  local tok
  if json then
    local ok, j = pcall(cjson.decode, res.body or "")
    tok = ok and type(j) == "table" and j.response and j.response.consent_required and j.response.csrf_token
  elseif res.status == 200 then
    tok = (res.body or ""):match('name="csrf_token" value="([^"]+)"')
  end
  if not tok then return res end
  local h = { ["x-csrf-token"] = tok }
  for k, v in pairs(headers or {}) do h[k] = v end
  return c:take(sec:handle(c:req{ method = "POST", path = path, headers = h })), res
end

--- The messages the development mailer wrote to dir.
function helpers.mails(dir)
  local p = io.popen("ls " .. dir .. " 2>/dev/null")
  local out = {}
  for name in p:lines() do
    local text = helpers.read(dir .. "/" .. name)
    out[#out + 1] = { name = name, text = text, link = text:match("X%-Fsec%-Link: (%S+)"),
                      subject = text:match("Subject: ([^\n]+)"), to = text:match("To: ([^\n]+)"),
                      kind = text:match("X%-Fsec%-Kind: ([^\n]+)") }
  end
  p:close()
  return out
end

--- The path (and query) of an absolute link.
function helpers.path_of(link) return link:match("^https?://[^/]+(/.*)$") end

--- Race n processes (spec/tools/wan_racer.lua) on one WebAuthn credential
-- of the store at db: each applies sign count new_count to cred as read
-- (cred.sign_count), released together by a start file. Their answers:
-- { won = k, lost = m } (anything else raises).
function helpers.race_webauthn(db, cred, new_count, n)
  local LUA = jit and "luajit" or "lua5.4"
  local dir = helpers.tmpfile("wanrace") -- a fresh folder per race
  assert(helpers.sh("mkdir -p " .. dir))
  local start = dir .. "/start"
  local env = ("LUA_PATH=%q LUA_CPATH=%q "):format(package.path, package.cpath)
  for i = 1, n do
    assert(helpers.sh(("%s%s spec/tools/wan_racer.lua '%s' %d %d %d %s >%s/out-%d 2>&1 &")
      :format(env, LUA, db, cred.id, cred.sign_count, new_count, start, dir, i)))
  end
  helpers.sh("sleep 0.5") -- all connected and waiting
  assert(io.open(start, "w")):close()
  local got = { won = 0, lost = 0 }
  for i = 1, n do
    local out
    for _ = 1, 400 do -- up to 20 s
      out = helpers.read(("%s/out-%d"):format(dir, i))
      if out == "won" or out == "lost" or (out and out:find("error")) then break end
      helpers.sh("sleep 0.05")
    end
    assert(got[out], "racer " .. i .. ": " .. tostring(out))
    got[out] = got[out] + 1
  end
  return got
end

return helpers
