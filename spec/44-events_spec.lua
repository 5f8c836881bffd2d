-- Security events (fsec.events, docs/events.md): every flow run with
-- known secrets (passwords, tokens, codes, keys), each event line checked
-- against the schema, and every line grepped for every secret, whole,
-- in fragments and in the usual encodings. Then the sinks: a file
-- written by several processes at once, syslog on a Unix socket, and a
-- sink that fails (the request still succeeds, logged once).
local helpers = require "spec.helpers"
local cjson = require "cjson"
local core = require "fsec.core"

local oath = helpers.oath

local PW = "Correct-Horse-Battery-7741"
local PW_NEW = "Second-Staple-Lantern-5520"
local PW_RESET = "Third-Quartz-Meadow-9138"
local PW_REG = "Register-Velvet-Orbit-3307"
local EMAIL = "eve.events@example.com"
local TOTP_SECRET = "a-totp-secret-of-some-length-events"

-- the documented schema: every field an event may carry
local FIELDS = { ts = true, event = true, outcome = true, reason = true, user_id = true, ip = true,
                 user_agent = true, request_id = true, endpoint = true, method = true, via = true,
                 role = true, kind = true }

local function app(extra)
  local lines = {}
  local cfg = {
    two_factor = true, totp_secrets = { ["1"] = TOTP_SECRET }, totp_issuer = "fsec-test",
    multi_factor_recovery_codes = true, two_factor_rescue_mail = "admin@example.com",
    unified_signin = true, us_enabled_methods = { "password", "email", "authenticator" },
    login_lockout_threshold = 3, login_lockout_window = 3600,
    events = function(line) lines[#lines + 1] = line end,
  }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  local a = helpers.app{ db = "events.db", clock = true, mail = true, endpoints = true, log = "keep",
                         extra = cfg, users = { { email = EMAIL, password = PW, confirmed = true } } }
  a.lines = lines
  return a
end

local function events_of(lines)
  local out = {}
  for _, l in ipairs(lines) do out[#out + 1] = cjson.decode(l) end
  return out
end

local function find(evs, name, outcome, reason)
  for _, e in ipairs(evs) do
    if e.event == name and (not outcome or e.outcome == outcome) and (not reason or e.reason == reason) then
      return e
    end
  end
end

-- Every way a secret could show up: whole, its 8-byte windows (long
-- ones), base64, base64url, hex, percent-encoded, JSON-escaped.
local function forms_of(secret)
  local f = { secret }
  local b64 = core.base64_encode and core.base64_encode(secret)
  if b64 then
    f[#f + 1] = b64:gsub("=+$", "")
    f[#f + 1] = (b64:gsub("+", "-"):gsub("/", "_"):gsub("=+$", ""))
  end
  f[#f + 1] = (secret:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
  f[#f + 1] = (secret:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end))
  f[#f + 1] = cjson.encode(secret):sub(2, -2)
  if #secret >= 12 then
    for i = 1, #secret - 7 do f[#f + 1] = secret:sub(i, i + 7) end
  end
  return f
end

local function assert_clean(lines, secrets)
  assert.is_true(#lines > 0)
  for _, line in ipairs(lines) do
    for name, s in pairs(secrets) do
      if #s >= 12 then
        for _, form in ipairs(forms_of(s)) do
          if #form >= 8 and line:find(form, 1, true) then
            error(("event line carries %s (as %q): %s"):format(name, form, line))
          end
        end
      else -- a short code: whole, as a number of its own
        assert.is_nil(line:find("%f[%w]" .. s .. "%f[%W]"), name .. " in " .. line)
      end
    end
  end
end

describe("security events", function()
  it("covers every flow, each line in the schema and free of every secret", function()
    local a = app()
    local sec, clock = a.sec, a.clock
    local secrets = { password = PW, new_password = PW_NEW, reset_password = PW_RESET, reg_password = PW_REG,
                      secret_key = helpers.KEY, salt = helpers.SALT, totp_secret = TOTP_SECRET }
    local function api() return helpers.api(sec) end
    local ua = { ["user-agent"] = "EventsSpec/1.0 " .. ("x"):rep(400), ["x-request-id"] = "req-42" }
    -- register
    local c = api()
    local res = c:call("POST", "/register", { email = "new.one@example.com", password = PW_REG,
                                              password_confirm = PW_REG }, nil, ua)
    assert.equals(200, res.status, res.body)
    res = api():call("POST", "/register", { email = EMAIL, password = PW_REG, password_confirm = PW_REG })
    assert.equals(400, res.status)
    -- login failures: unknown identity, bad password; then success with a token
    c = api()
    assert.equals(400, (c:call("POST", "/login", { email = "nobody@example.com", password = PW })).status)
    assert.equals(400, (c:call("POST", "/login", { email = EMAIL, password = PW_NEW })).status)
    local r
    res, r = c:call("POST", "/login", { email = EMAIL, password = PW }, { include_auth_token = "1" }, ua)
    assert.equals(200, res.status, res.body)
    local token = r.user.authentication_token
    assert.is_string(token)
    secrets.auth_token = token
    for k, v in pairs(c.jar) do secrets["cookie " .. k] = v end
    -- the token and HTTP Basic at a protected resource
    local tres = helpers.client():req{ headers = { ["authentication-token"] = token } }
    assert.is_true(sec:current_user(tres).is_authenticated)
    sec:check(helpers.request{ headers = { authorization = "Basic " .. core.base64_encode(EMAIL .. ":" .. PW_NEW) } },
              { auth = { "basic" } }, require("fsec.http").new_response())
    -- two-factor: an authenticator enrolled (its key a secret), a wrong
    -- code, the right one, recovery codes
    res, r = c:call("POST", "/tf-setup", { setup = "authenticator" })
    assert.equals(200, res.status, res.body)
    local key = r.tf_authr_key
    secrets.authr_key, secrets.authr_key_b32 = key, key:gsub("-", "")
    secrets.tf_state_token = r.tf_state_token
    local code = oath(key, clock.now)
    res = c:call("POST", "/tf-setup/" .. r.tf_state_token, { code = code })
    assert.equals(200, res.status, res.body)
    secrets.setup_code = code
    clock.now = clock.now + 30
    res, r = c:call("POST", "/mf-recovery-codes")
    assert.equals(200, res.status, res.body)
    for i, rc in ipairs(r.recovery_codes) do secrets["recovery " .. i] = rc end
    c:call("POST", "/logout")
    c:call("GET", "/login")
    c:call("POST", "/login", { email = EMAIL, password = PW })
    local wrong = ("%06d"):format((tonumber(oath(key, clock.now)) + 1) % 1000000)
    assert.equals(400, (c:call("POST", "/tf-validate", { code = wrong })).status)
    code = oath(key, clock.now)
    secrets.tf_code = code
    assert.equals(200, (c:call("POST", "/tf-validate", { code = code })).status)
    clock.now = clock.now + 30
    c:call("POST", "/logout")
    c:call("GET", "/login")
    c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(400, (c:call("POST", "/mf-recovery", { code = "0000-0000-0000" })).status)
    assert.equals(200, (c:call("POST", "/mf-recovery", { code = r.recovery_codes[2] })).status)
    -- change the password (the other sessions and tokens end)
    res = c:call("POST", "/change", { password = PW, new_password = PW_NEW, new_password_confirm = PW_NEW })
    assert.equals(200, res.status, res.body)
    -- two-factor off again, then unified sign-in by a mailed code
    res = c:call("POST", "/tf-setup", { setup = "disable" })
    assert.equals(200, res.status, res.body)
    res, r = c:call("POST", "/us-setup", { chosen_method = "email" })
    assert.equals(200, res.status, res.body)
    local mails = a.mails()
    local us_code = mails[#mails].text:match("code is: (%d+)")
    secrets.us_setup_code, secrets.us_state = us_code, r.state
    assert.equals(200, (c:call("POST", "/us-setup/" .. r.state, { passcode = us_code })).status)
    c:call("POST", "/logout")
    c:call("GET", "/us-signin")
    assert.equals(200, (c:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "email" })).status)
    mails = a.mails()
    us_code = mails[#mails].text:match("code is: (%d+)")
    secrets.us_code = us_code
    assert.equals(400, (c:call("POST", "/us-signin", { identity = EMAIL, passcode = "wrong-pass-code" })).status)
    assert.equals(200, (c:call("POST", "/us-signin", { identity = EMAIL, passcode = us_code })).status)
    c:call("POST", "/logout")
    -- forgot -> reset by the mailed link
    c = api()
    assert.equals(200, (c:call("POST", "/reset", { email = EMAIL })).status)
    mails = a.mails()
    local link = helpers.path_of(mails[#mails].link)
    secrets.reset_token = link:match("/reset/(.+)$")
    c:call("GET", link)
    res = c:call("POST", link, { password = PW_RESET, password_confirm = PW_RESET })
    assert.equals(200, res.status, res.body)
    -- lockout: three wrong passwords, then the right one refused
    c = api()
    for _ = 1, 3 do c:call("POST", "/login", { email = EMAIL, password = PW }) end
    c:call("POST", "/login", { email = EMAIL, password = PW_RESET })
    -- inactive
    local u = sec.datastore:find_user{ email = "new.one@example.com" }
    assert(sec.datastore:deactivate_user(u))
    api():call("POST", "/login", { email = "new.one@example.com", password = PW_REG })
    -- the application's own: a role added
    sec:emit_event("role_added", { user = u, role = "admin", password = PW })

    local evs = events_of(a.lines)
    if os.getenv("EV_DEBUG") then for _, l in ipairs(a.lines) do print(l) end end
    for _, e in ipairs(evs) do
      for k in pairs(e) do assert.is_true(FIELDS[k], "field " .. k .. " not in the schema") end
      assert.is_truthy(require("fsec.events").NAMES[e.event], e.event)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", e.ts)
      assert.is_truthy(e.outcome == "success" or e.outcome == "failure")
      assert.is_nil(e.email)
    end
    assert.is_truthy(find(evs, "register", "success"))
    assert.is_truthy(find(evs, "login", "failure", "unknown_identity"))
    assert.is_truthy(find(evs, "login", "failure", "bad_password"))
    -- HTTP Basic's failure names the client too
    local basic
    for _, e in ipairs(evs) do
      if e.event == "login" and e.outcome == "failure" and not e.endpoint then basic = e end
    end
    assert.equals("192.0.2.10", basic.ip)
    assert.is_truthy(find(evs, "login", "failure", "inactive"))
    assert.is_truthy(find(evs, "login", "failure", "locked"))
    assert.is_truthy(find(evs, "lockout", "success"))
    assert.is_truthy(find(evs, "tf_setup", "success"))
    assert.is_truthy(find(evs, "tf_code", "failure", "bad_code"))
    assert.is_truthy(find(evs, "tf_code", "success"))
    assert.is_truthy(find(evs, "tf_disabled", "success"))
    assert.is_truthy(find(evs, "recovery_code", "failure"))
    assert.is_truthy(find(evs, "recovery_code", "success"))
    assert.is_truthy(find(evs, "password_change", "success"))
    assert.is_truthy(find(evs, "password_reset", "success"))
    assert.is_truthy(find(evs, "us_setup", "success"))
    assert.is_truthy(find(evs, "logout", "success"))
    assert.is_truthy(find(evs, "access_reset", "success"))
    assert.is_truthy(find(evs, "role_added", "success"))
    -- the sign-in with the token: address, bounded agent, request id
    local ok
    for _, e in ipairs(evs) do
      if e.event == "login" and e.outcome == "success" and e.endpoint == "login" and not ok then ok = e end
    end
    assert.equals("192.0.2.10", ok.ip)
    assert.equals(256, #ok.user_agent)
    assert.equals("req-42", ok.request_id)
    assert.equals("login", ok.endpoint)
    assert.same({ "password" }, ok.via)
    assert.is_number(ok.user_id)
    -- unified sign-in's: via us's method
    local us_ok
    for _, e in ipairs(evs) do
      if e.event == "login" and e.outcome == "success" and e.endpoint == "us_signin" then us_ok = e end
    end
    assert.is_truthy(us_ok, "no sign-in event at /us-signin")
    assert_clean(a.lines, secrets)
  end)

  it("covers confirmation, passwordless links, email codes, change of email and username", function()
    local a = app{ confirmable = true, change_email = true, username_enable = true, change_username = true,
                   external_url = "http://localhost", two_factor_enabled_methods = { "email" } }
    local sec = a.sec
    local secrets = { password = PW, reg_password = PW_REG, secret_key = helpers.KEY, salt = helpers.SALT }
    local function last_link()
      local m = a.mails()
      return helpers.path_of(m[#m].link)
    end
    -- register, then sign in unconfirmed (refused), then confirm by the link
    local c = helpers.api(sec)
    assert.equals(200, (c:call("POST", "/register", { email = "conf@example.com", password = PW_REG,
                                                      password_confirm = PW_REG })).status)
    local link = last_link()
    secrets.confirm_token = link:match("/confirm/(.+)$")
    assert.equals(400, (helpers.api(sec):call("POST", "/login", { email = "conf@example.com",
                                                                  password = PW_REG })).status)
    local res = helpers.follow(sec, link, nil, { accept = "application/json" })
    assert.is_true(res.status == 200 or res.status == 302, res.body)
    -- two-factor by mailed codes
    c = helpers.api(sec)
    assert.equals(200, (c:call("POST", "/login", { email = EMAIL, password = PW })).status)
    assert.equals(200, (c:call("POST", "/tf-setup", { setup = "email" })).status)
    local m = a.mails()
    local code = m[#m].text:match("(%d%d%d%d%d%d)")
    secrets.tf_setup_code = code
    local _, r = c:call("GET", "/tf-setup")
    local state = r.tf_state_token
    if state then secrets.tf_state = state end
    -- change of email: the link to the new address
    res = c:call("POST", "/change-email", { email = "eve.new@example.com" })
    assert.equals(200, res.status, res.body)
    link = last_link()
    secrets.change_email_token = link:match("/change%-email/(.+)$")
    res = helpers.follow(sec, link, nil, { accept = "application/json" })
    assert.equals(200, res.status, res.body)
    -- change of username
    c = helpers.api(sec)
    assert.equals(200, (c:call("POST", "/login", { email = "conf@example.com", password = PW_REG })).status)
    assert.equals(200, (c:call("POST", "/change-username", { username = "confirmed_one" })).status)
    -- a passwordless link
    local b = app{ passwordless = true, external_url = "http://localhost" }
    assert.equals(200, (helpers.api(b.sec):call("POST", "/login", { email = EMAIL })).status)
    m = b.mails()
    link = helpers.path_of(m[#m].link)
    secrets.login_token = link:match("/login/(.+)$")
    res = helpers.follow(b.sec, link, nil, { accept = "application/json" })
    assert.equals(200, res.status, res.body)

    local evs = events_of(a.lines)
    assert.is_truthy(find(evs, "register", "success"))
    assert.is_truthy(find(evs, "login", "failure", "unconfirmed"))
    assert.is_truthy(find(evs, "confirm", "success"))
    assert.is_truthy(find(evs, "email_change", "success"))
    assert.is_truthy(find(evs, "username_change", "success"))
    assert.is_truthy(find(events_of(b.lines), "login", "success"))
    for _, l in ipairs(b.lines) do a.lines[#a.lines + 1] = l end
    for _, e in ipairs(events_of(a.lines)) do
      for k in pairs(e) do assert.is_true(FIELDS[k], "field " .. k .. " not in the schema") end
    end
    assert_clean(a.lines, secrets)
    -- no address, old or new, in any line
    for _, l in ipairs(a.lines) do
      assert.is_nil(l:find("@example.com", 1, true), l)
      assert.is_nil(l:find("confirmed_one", 1, true), l)
    end
  end)

  it("counts each event in the metrics, with or without a sink", function()
    local metrics = require "fsec.metrics"
    local before = metrics.render()
    local a = app{ events = false }
    local c = helpers.api(a.sec)
    c:call("POST", "/login", { email = EMAIL, password = "not-it-at-all" })
    local after = metrics.render()
    local function count(text)
      return tonumber(text:match('fsec_logins_total{outcome="failure",reason="bad_password"} (%d+)') or "0")
    end
    assert.equals(count(before) + 1, count(after))
    assert.equals(0, #a.lines)
  end)

  it("keeps requests going when the sink fails, logging once", function()
    local a = app{ events = function() error("sink down") end }
    for _ = 1, 3 do
      local res = helpers.api(a.sec):call("POST", "/login", { email = EMAIL, password = "not-it-at-all" })
      assert.equals(400, res.status)
    end
    local n = 0
    for _, l in ipairs(a.logs) do if l:find("events sink failed", 1, true) then n = n + 1 end end
    assert.equals(1, n)
  end)

  it("appends whole lines to a file from several processes at once", function()
    local path = helpers.tmpfile("events.log")
    local sink = require("fsec.events").sink({ sink = "file", path = path }, print)
    local line = cjson.encode({ event = "login", pad = ("p"):rep(3000) })
    -- four processes, 300 lines each, into the one file
    local script = helpers.tmpfile("writer.lua")
    local f = assert(io.open(script, "w"))
    f:write(([[
      package.path = "lua/?.lua;" .. package.path
      local sink = require("fsec.events").sink({ sink = "file", path = %q }, print)
      for _ = 1, 300 do sink(%q) end
    ]]):format(path, line))
    f:close()
    local lua = jit and "luajit" or "lua5.4"
    assert(helpers.sh(("for i in 1 2 3 4; do %s %s & done; wait"):format(lua, script)))
    sink(line)
    local n = 0
    for l in io.lines(path) do
      n = n + 1
      assert.equals(line, l)
    end
    assert.equals(1201, n)
  end)

  it("sends to syslog on a Unix datagram socket", function()
    if not pcall(require, "socket.unix") then
      pending("lua-socket (socket.unix) is not installed")
      return
    end
    local dir = helpers.tmpdir() .. "/syslog-" .. math.random(1e9)
    assert(helpers.sh("mkdir -p " .. dir))
    local sock, out = dir .. "/log.sock", dir .. "/syslog.out"
    local py = ([[
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(%q)
open(%q + ".ready", "w").close()
s.settimeout(30)
data = s.recv(65536)
# written whole, then renamed: the spec polls for the file and must never
# read it created but still empty
open(%q + ".tmp", "wb").write(data)
os.rename(%q + ".tmp", %q)
]]):format(sock, out, out, out, out)
    local pyf = dir .. "/recv.py"
    local f = assert(io.open(pyf, "w")); f:write(py); f:close()
    assert(helpers.sh("/usr/bin/python3 " .. pyf .. " &"))
    -- python's start may take seconds on a loaded machine
    for _ = 1, 400 do
      if helpers.read(out .. ".ready") then break end
      helpers.sh("sleep 0.05")
    end
    local a = app{ events = { sink = "syslog", address = sock, facility = "authpriv", tag = "fsec-spec" } }
    helpers.api(a.sec):call("POST", "/login", { email = EMAIL, password = "not-it-at-all" })
    local got
    for _ = 1, 400 do
      got = helpers.read(out)
      if got then break end
      helpers.sh("sleep 0.05")
    end
    assert.is_string(got, table.concat(a.logs, "\n"))
    -- authpriv (10) * 8 + notice (5) = 85
    local json = got:match("^<85>fsec%-spec: (.*)$")
    assert.is_string(json, got)
    assert.equals("login", cjson.decode(json).event)
  end)

  it("refuses a bad events setting, naming the key", function()
    for _, v in ipairs{ true, "nowhere", { sink = "file" }, { sink = "syslog", facility = "mail2" },
                        { sink = "ngx_log", colour = "red" } } do
      local ok, err = pcall(helpers.new, { events = v })
      assert.is_false(ok)
      assert.matches("events", err)
    end
  end)
end)
