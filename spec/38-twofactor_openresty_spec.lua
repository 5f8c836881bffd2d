-- Two-factor sign-in end to end in the real nginx (Debian's nginx +
-- lua-nginx-module, 2 workers): the example app driven with curl from
-- outside, codes computed with Debian's oathtool from the key the app
-- gave (never with fsec's own code), email codes read from the mailbox
-- the app writes (var/mail), each usable even in the 30 s step of the
-- code before it. And the attacks from outside: a replayed
-- code, wrong codes until the account locks, the same valid code (and the
-- same recovery code) sent by several clients at once.
-- Runs in the LuaJIT pass only (nginx's Lua is LuaJIT), not under ASan.
local helpers = require "spec.helpers"
local example = require "spec.tools.example_app"

local PW = "correct horse battery"
local NEW_PW = "staple battery horse"

-- The app's settings for these tests (merged over the example's own):
-- a short lockout window (the default threshold, 10 attempts), so that a
-- lockout and its end both fit in a test.
local SETTINGS = '{"login_lockout_window":6}'
local THRESHOLD = 10

local oath = helpers.oath

-- Each test signs in from addresses of its own (127.0.N.x): nginx's
-- per-address limits (one credential POST at a time, 20 a minute after
-- a burst of 10) count each test apart.
local net = 20
local function new_net()
  net = net + 1
  return net
end

--- A confirmed user in the app's own store (the fsec API: one hash).
local function add_user(app, email)
  local sec = example.security(app)
  assert(sec.datastore:create_user{ email = email, password = assert(sec:hash_password(PW)),
                                    confirmed_at = os.time() })
  sec:close()
end

--- A JSON client (own cookie jar) from 127.0.n.host; without host, from
-- another address of 127.0.n.100-199 at each call (one browser whose
-- requests come through several proxies: nginx's per-address limits are
-- spec/71's, not in the way here).
local function client(app, n, host)
  local c = example.api(app, { from = ("127.0.%d.%d"):format(n, host or 100) })
  if not host then
    local call, k = c.call, 0
    c.call = function(...)
      k = k + 1
      c.from = ("127.0.%d.%d"):format(n, 100 + k % 100)
      return call(...)
    end
  end
  return c
end

local function login(c, email, password, extra)
  local body = { email = email, password = password or PW }
  for k, v in pairs(extra or {}) do body[k] = v end
  return c.call("POST", "/login", body)
end

-- Sign out, and take the new CSRF token (the old session's ended).
local function logout(c)
  assert.equals(200, (c.call("POST", "/logout")))
  c.call("GET", "/login")
end

--- Is the client signed in? (the example's /profile, session only)
local function signed_in(app, c)
  return (example.http(app, "GET", "/profile", { jar = c.jar, from = c.from })) == 200
end

--- Enrol an authenticator for a signed-in client: /tf-setup, then the
-- code at /tf-setup/<state>. Returns the key (base32, dashed).
local function enrol(c, t)
  local s, r = c.call("POST", "/tf-setup", { setup = "authenticator" })
  assert.equals(200, s)
  assert.equals("validating_profile", r.tf_state)
  assert.equals("authenticator", r.tf_primary_method)
  assert.is_string(r.tf_state_token)
  local key = r.tf_authr_key
  assert.matches("^[A-Z2-7-]+$", key)
  s, r = c.call("POST", "/tf-setup/" .. r.tf_state_token, { code = oath(key, t) })
  assert.equals(200, s)
  assert.equals("authenticator", r.tf_primary_method)
  return key
end

--- A new user, signed in and enrolled: client, key, time of the code spent.
local function enrolled(app, email, n)
  add_user(app, email)
  local c = client(app, n)
  assert.equals(200, (login(c, email)))
  local t = os.time()
  local key = enrol(c, t)
  logout(c)
  return c, key, t
end

--- The newest message to `to` whose text matches pattern (waits: mail
-- leaves after the response): the capture.
local function mailed(app, to, pattern, after)
  return example.poll(5, function()
    local best
    for _, m in ipairs(example.mails(app)) do
      if m.to == to and (not after or not after[m.name]) then
        local v = m.text:match(pattern)
        if v and (not best or m.name > best.name) then best = { name = m.name, v = v } end
      end
    end
    return best and best.v
  end)
end

local function mail_names(app)
  local t = {}
  for _, m in ipairs(example.mails(app)) do t[m.name] = true end
  return t
end

local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

describe_or_pending("two-factor in the example app in nginx (2 workers)", function()
  local app
  setup(function()
    app = example.start{ workers = 2, env = "FSEC_EXAMPLE_CONFIG='" .. SETTINGS .. "'" }
  end)
  teardown(function()
    if app then example.stop(app) end
  end)
  -- a failure shows the app's error log
  local function run(fn) example.logged(app, fn) end

  it("enrols an authenticator, then signs in with its code, once", function()
    run(function()
      local email, n = "tf1@example.org", new_net()
      add_user(app, email)
      local c = client(app, n)
      -- not set up yet: the password alone signs in
      local s, r = login(c, email)
      assert.equals(200, s)
      assert.is_false(r.tf_required)
      s, r = c.call("GET", "/tf-setup")
      assert.equals(200, s)
      assert.same({ "email", "authenticator", "sms", "disable" }, r.tf_available_methods)
      assert.equals(require("cjson").null, r.tf_primary_method) -- none yet
      local t = os.time()
      -- a wrong code at /tf-setup/<state> enrols nothing
      local s1, r1 = c.call("POST", "/tf-setup", { setup = "authenticator" })
      assert.equals(200, s1)
      assert.equals("fsec example", r1.tf_authr_issuer)
      assert.equals(email, r1.tf_authr_username)
      s, r = c.call("POST", "/tf-setup/" .. r1.tf_state_token, { code = "000000" })
      assert.equals(400, s)
      assert.same({ "Invalid code" }, r.field_errors.code)
      local key = enrol(c, t)
      s, r = c.call("GET", "/tf-setup")
      assert.equals(200, s)
      assert.equals("authenticator", r.tf_primary_method)
      logout(c)
      assert.is_false(signed_in(app, c))
      -- the password now only starts the sign-in: nothing granted yet
      s, r = login(c, email)
      assert.equals(200, s)
      assert.is_true(r.tf_required)
      assert.equals("ready", r.tf_state)
      assert.equals("authenticator", r.tf_method)
      assert.is_false(signed_in(app, c))
      -- the enrolment's code is spent; a wrong one is refused
      s, r = c.call("POST", "/tf-validate", { code = oath(key, t) })
      assert.equals(400, s)
      assert.same({ "Invalid code" }, r.field_errors.code)
      s = c.call("POST", "/tf-validate", { code = "123456" })
      assert.equals(400, s)
      assert.is_false(signed_in(app, c))
      local code = oath(key, t + 30)
      s, r = c.call("POST", "/tf-validate", { code = code })
      assert.equals(200, s)
      assert.is_table(r.user)
      assert.is_true(signed_in(app, c))
      -- the same code again, in a new sign-in: a replay, refused
      logout(c)
      s, r = login(c, email)
      assert.equals(200, s)
      assert.is_true(r.tf_required)
      s, r = c.call("POST", "/tf-validate", { code = code })
      assert.equals(400, s)
      assert.same({ "Invalid code" }, r.field_errors.code)
      assert.is_false(signed_in(app, c))
      -- nor an older step's code; a newer step's signs in
      assert.equals(400, (c.call("POST", "/tf-validate", { code = oath(key, t) })))
      assert.equals(200, (c.call("POST", "/tf-validate", { code = oath(key, t + 60) })))
      assert.is_true(signed_in(app, c))
      -- the audit hook saw one sign-in per second factor
      local audit = helpers.read(app.dir .. "/var/audit.log") or ""
      local _, logins = audit:gsub("login " .. email:gsub("%p", "%%%0"), "")
      assert.equals(3, logins) -- the password-only one, and two with a code
    end)
  end)

  it("keeps the half-signed-in state in the browser that gave the password", function()
    run(function()
      local email, n = "tf2@example.org", new_net()
      local c, key, t = enrolled(app, email, n)
      assert.is_true(select(2, login(c, email)).tf_required)
      -- another client with the right code, no state of its own
      local other = client(app, n, 2)
      local s, r = other.call("POST", "/tf-validate", { code = oath(key, t + 30) })
      assert.equals(400, s)
      assert.same({ "You currently do not have permissions to access this page" }, r.errors)
      assert.is_false(signed_in(app, other))
      -- nor does the other client's attempt spend the code
      assert.equals(200, (c.call("POST", "/tf-validate", { code = oath(key, t + 30) })))
      -- the half-signed-in state ends with the sign-in
      local jar = helpers.read(c.jar) or ""
      assert.is_nil(jar:find("\tfsec_tf\t", 1, true)) -- cleared after the sign-in
    end)
  end)

  it("sends email codes through the mailbox, and signs in with one", function()
    run(function()
      local email, n = "tf3@example.org", new_net()
      add_user(app, email)
      local c = client(app, n)
      assert.equals(200, (login(c, email)))
      local before = mail_names(app)
      local s, r = c.call("POST", "/tf-setup", { setup = "email" })
      assert.equals(200, s)
      assert.equals("email", r.tf_primary_method)
      assert.is_nil(r.tf_authr_key)
      local code = mailed(app, email, "code is: (%d+)", before)
      assert.is_string(code, "no code mailed")
      s, r = c.call("POST", "/tf-setup/" .. r.tf_state_token, { code = code })
      assert.equals(200, s)
      assert.equals("email", r.tf_primary_method)
      logout(c)
      -- the sign-in mails a code (another than the setup's, though in
      -- its 30 s step most likely); it signs in, once
      before = mail_names(app)
      s, r = login(c, email)
      assert.equals(200, s)
      assert.is_true(r.tf_required)
      assert.equals("email", r.tf_method)
      local code2 = mailed(app, email, "code is: (%d+)", before)
      assert.is_string(code2, "no code mailed at sign-in")
      assert.not_equals(code, code2)
      s = c.call("POST", "/tf-validate", { code = code2 })
      assert.equals(200, s)
      assert.is_true(signed_in(app, c))
      logout(c)
      login(c, email)
      assert.equals(400, (c.call("POST", "/tf-validate", { code = code2 })))
      assert.is_false(signed_in(app, c))
    end)
  end)

  it("sends SMS codes through the development sender (the mailbox), and signs in with one", function()
    run(function()
      local email, n = "tf11@example.org", new_net()
      add_user(app, email)
      local c = client(app, n)
      assert.equals(200, (login(c, email)))
      local before = mail_names(app)
      local s, r = c.call("POST", "/tf-setup", { setup = "sms", phone = "(650) 555-1212" })
      assert.equals(200, s)
      assert.equals("sms", r.tf_primary_method)
      -- the phone number as the sender gets it: E.164
      local code = mailed(app, "+16505551212", "code is: (%d+)", before)
      assert.is_string(code, "no SMS written")
      s, r = c.call("POST", "/tf-setup/" .. r.tf_state_token, { code = code })
      assert.equals(200, s)
      assert.equals("+16505551212", r.tf_phone)
      logout(c)
      before = mail_names(app)
      s, r = login(c, email)
      assert.equals(200, s)
      assert.equals("sms", r.tf_method)
      local code2 = mailed(app, "+16505551212", "code is: (%d+)", before)
      assert.is_string(code2, "no SMS at sign-in")
      assert.equals(400, (c.call("POST", "/tf-validate", { code = code })))
      assert.equals(200, (c.call("POST", "/tf-validate", { code = code2 })))
      assert.is_true(signed_in(app, c))
    end)
  end)

  it("rescues a sign-in with a recovery code, once; and by mail", function()
    run(function()
      local email, n = "tf4@example.org", new_net()
      local c, key, t = enrolled(app, email, n)
      login(c, email)
      -- no recovery codes yet: a code by mail, or the administrator
      local _, r0 = c.call("GET", "/tf-validate")
      assert.same({ email = "/tf-rescue", help = "/tf-rescue" }, r0.recovery_options)
      -- the authenticator is lost: a code mailed to the user signs in
      -- (not one the app shows: the enrolment's, spent, least of all)
      local before = mail_names(app)
      local s, r = c.call("POST", "/tf-rescue", { help_setup = "email" })
      assert.equals(200, s)
      assert.is_table(r.recovery_options)
      local code = mailed(app, email, "code is: (%d+)", before)
      assert.is_string(code, "no rescue code mailed")
      assert.not_equals(oath(key, t), code)
      assert.equals(200, (c.call("POST", "/tf-validate", { code = code })))
      assert.is_true(signed_in(app, c))
      -- signed in, the user makes recovery codes
      s, r = c.call("POST", "/mf-recovery-codes")
      assert.equals(200, s)
      assert.equals(5, #r.recovery_codes)
      for _, rc in ipairs(r.recovery_codes) do assert.matches("^%x%x%x%x%-%x%x%x%x%-%x%x%x%x$", rc) end
      local codes = r.recovery_codes
      -- kept hashed: not shown again, but counted
      s, r = c.call("GET", "/mf-recovery-codes")
      assert.equals(200, s)
      assert.same({}, r.recovery_codes)
      assert.equals(5, r.recovery_codes_count)
      logout(c)
      s, r = login(c, email)
      assert.equals(200, s)
      assert.is_true(r.tf_required)
      local _, g = c.call("GET", "/tf-validate")
      assert.equals("/mf-recovery", g.recovery_options.recovery_code)
      s, r = c.call("POST", "/mf-recovery", { code = "0000-0000-0000" })
      assert.equals(400, s)
      assert.same({ "Recovery code invalid" }, r.field_errors.code)
      s = c.call("POST", "/mf-recovery", { code = codes[3]:upper() }) -- case does not matter
      assert.equals(200, s)
      assert.is_true(signed_in(app, c))
      logout(c)
      login(c, email)
      s, r = c.call("POST", "/mf-recovery", { code = codes[3] })
      assert.equals(400, s)
      assert.same({ "Recovery code invalid" }, r.field_errors.code)
      assert.is_false(signed_in(app, c))
      assert.equals(200, (c.call("POST", "/mf-recovery", { code = codes[1] })))
      local _, left = c.call("GET", "/mf-recovery-codes")
      assert.equals(3, left.recovery_codes_count)
      -- the administrator's help mail
      logout(c)
      login(c, email)
      before = mail_names(app)
      assert.equals(200, (c.call("POST", "/tf-rescue", { help_setup = "help" })))
      assert.is_string(mailed(app, "admin@example.org", "cannot sign in with their second factor", before))
    end)
  end)

  it("remembers the device (tf_validity) until the password changes", function()
    run(function()
      local email, n = "tf5@example.org", new_net()
      local c, key, t = enrolled(app, email, n)
      local s, r = login(c, email, PW, { remember = true })
      assert.equals(200, s)
      assert.is_true(r.tf_required)
      s, r = c.call("POST", "/tf-validate", { code = oath(key, t + 30) })
      assert.equals(200, s)
      assert.is_string(r.tf_validity_token)
      assert.truthy((helpers.read(c.jar) or ""):find("\ttf_validity\t", 1, true))
      logout(c)
      -- the password alone now: this device is remembered
      s, r = login(c, email)
      assert.equals(200, s)
      assert.is_false(r.tf_required)
      assert.is_true(signed_in(app, c))
      -- another device is not
      local other = client(app, n, 2)
      s, r = login(other, email)
      assert.equals(200, s)
      assert.is_true(r.tf_required)
      assert.is_false(signed_in(app, other))
      -- a password change revokes it (and the session: sign in again)
      s = c.call("POST", "/change", { password = PW, new_password = NEW_PW, new_password_confirm = NEW_PW })
      assert.equals(200, s)
      logout(c)
      s, r = login(c, email, NEW_PW)
      assert.equals(200, s)
      assert.is_true(r.tf_required)
      assert.is_false(signed_in(app, c))
      assert.equals(200, (c.call("POST", "/tf-validate", { code = oath(key, t + 60) })))
      assert.is_true(signed_in(app, c))
    end)
  end)

  it("meters codes as passwords: wrong codes lock the account, then the right code is refused", function()
    run(function()
      local email, n = "tf6@example.org", new_net()
      local c, key, t = enrolled(app, email, n)
      -- THRESHOLD attempts in the window: the password takes one, then
      -- wrong codes the rest
      local s, r = login(c, email)
      assert.equals(200, s)
      assert.is_true(r.tf_required)
      for _ = 2, THRESHOLD do
        assert.equals(400, (c.call("POST", "/tf-validate", { code = "000000" })))
      end
      s, r = c.call("POST", "/tf-validate", { code = oath(key, t + 30) })
      assert.equals(400, s)
      assert.same({ "Invalid code" }, r.field_errors.code)
      assert.is_false(signed_in(app, c))
      -- nor does a recovery code pass the lock
      -- the window past, the same code (never checked) signs in
      helpers.sh("sleep 7")
      s, r = login(c, email)
      assert.equals(200, s)
      assert.is_true(r.tf_required)
      s = c.call("POST", "/tf-validate", { code = oath(key, t + 30) })
      assert.equals(200, s)
      assert.is_true(signed_in(app, c))
    end)
  end)

  it("lets one of several clients sending the same valid code at once sign in, on any worker", function()
    run(function()
      local email, n = "tf7@example.org", new_net()
      local _, key, t = enrolled(app, email, n)
      local CLIENTS = 4
      local wins = 0
      for round = 1, 3 do
        -- CLIENTS browsers, each past the password: then one code for all
        local list, clients = {}, {}
        for i = 1, CLIENTS do
          local c = client(app, n, 10 * round + i)
          local s, r = login(c, email)
          assert.equals(200, s)
          assert.is_true(r.tf_required)
          clients[i] = c
          list[i] = { method = "POST", path = "/tf-validate", jar = c.jar, from = c.from,
                      headers = { Accept = "application/json", ["X-CSRF-Token"] = c.csrf },
                      json = { code = oath(key, t + 30 * round) } }
        end
        local ok, last = 0, nil
        for _, a in ipairs(example.parallel(app, list)) do
          assert.is_true(a.status == 200 or a.status == 400, "status " .. tostring(a.status) .. a.body)
          if a.status == 200 then ok = ok + 1 end
          last = a.body
        end
        assert.equals(1, ok, last)
        local signed = 0
        for _, c in ipairs(clients) do if signed_in(app, c) then signed = signed + 1 end end
        assert.equals(1, signed)
        wins = wins + ok
      end
      assert.equals(3, wins)
    end)
  end)

  it("spends a recovery code once when several clients send it at once", function()
    run(function()
      local email, n = "tf8@example.org", new_net()
      local c, key, t = enrolled(app, email, n)
      login(c, email)
      assert.equals(200, (c.call("POST", "/tf-validate", { code = oath(key, t + 30) })))
      local _, r = c.call("POST", "/mf-recovery-codes")
      local code = r.recovery_codes[2]
      local list = {}
      for i = 1, 4 do
        local o = client(app, n, 20 + i)
        assert.is_true(select(2, login(o, email)).tf_required)
        list[i] = { method = "POST", path = "/mf-recovery", jar = o.jar, from = o.from,
                    headers = { Accept = "application/json", ["X-CSRF-Token"] = o.csrf }, json = { code = code } }
      end
      local ok = 0
      for _, a in ipairs(example.parallel(app, list)) do
        if a.status == 200 then ok = ok + 1 end
      end
      assert.equals(1, ok)
      local _, left = c.call("GET", "/mf-recovery-codes")
      assert.equals(4, left.recovery_codes_count)
    end)
  end)

  it("turns two-factor off only with the CSRF token: another site's form cannot", function()
    run(function()
      local email, n = "tf10@example.org", new_net()
      local c, key, t = enrolled(app, email, n)
      login(c, email)
      assert.equals(200, (c.call("POST", "/tf-validate", { code = oath(key, t + 30) })))
      -- another site's page posts the form with the user's cookies, no token
      local r = example.request(app, { method = "POST", path = "/tf-setup", jar = c.jar, from = c.from,
                                       form = "setup=disable", headers = { Origin = "https://evil.example" } })
      assert.equals(400, r.status)
      assert.matches("CSRF", r.body)
      r = example.request(app, { method = "POST", path = "/tf-setup", jar = c.jar, from = c.from,
                                 json = { setup = "disable" }, headers = { Accept = "application/json" } })
      assert.equals(400, r.status)
      local _, g = c.call("GET", "/tf-setup")
      assert.equals("authenticator", g.tf_primary_method)
      -- with the token (the user's own page): off
      assert.equals(200, (c.call("POST", "/tf-setup", { setup = "disable" })))
      logout(c)
      local _, l = login(c, email)
      assert.is_false(l.tf_required)
    end)
  end)

  it("refuses HTTP Basic for a user with a second factor", function()
    run(function()
      local email, n = "tf9@example.org", new_net()
      add_user(app, email)
      local from = ("127.0.%d.1"):format(n)
      assert.equals(200, (example.http(app, "GET", "/api/basic", { user = email .. ":" .. PW, from = from,
                                                                  headers = { Accept = "application/json" } })))
      enrolled(app, "tf9b@example.org", n)
      assert.equals(401, (example.http(app, "GET", "/api/basic", { user = "tf9b@example.org:" .. PW, from = from,
                                                                  headers = { Accept = "application/json" } })))
    end)
  end)

  -- node spec/browser/SCRIPT for a new user email: its output (rc=N last);
  -- a pending test where the browser's parts are missing (nil then).
  local function browser(script, email, folder)
    local have = helpers.sh("command -v node >/dev/null && test -x /usr/bin/chromium"
      .. " && test -d spec/browser/node_modules/playwright-core && command -v zbarimg >/dev/null")
    if not have then
      if os.getenv("FSEC_REQUIRE_BROWSER") == "1" then error("chromium, node, playwright-core or zbarimg missing") end
      pending("chromium, node, playwright-core or zbarimg missing")
      return nil
    end
    add_user(app, email)
    local build = os.getenv("FSEC_BUILD_DIR") or "build"
    local artifacts = (os.getenv("FSEC_ARTIFACTS") or (build .. "/artifacts")) .. "/" .. folder
    helpers.sh("rm -rf " .. artifacts) -- an earlier run's screenshots prove nothing
    return example.run(("node spec/browser/%s %s %s %s '%s' 2>&1; echo rc=$?")
      :format(script, app.base, artifacts, email, PW)), artifacts
  end

  it("takes a real browser through the two-factor pages, QR code included (headless Chromium)", function()
    run(function()
      local out, artifacts = browser("twofactor.mjs", "browser-tf@example.org", "browser-twofactor")
      if not out then return end
      assert.matches("browser two-factor ok", out, 1, true)
      assert.matches("rc=0", out, 1, true)
      assert.is_true(helpers.sh("test -s " .. artifacts .. "/02-tf-setup-qrcode.png"))
      assert.is_true(helpers.sh("test -s " .. artifacts .. "/qrcode.png"))
      assert.is_true(helpers.sh("test -s " .. artifacts .. "/11-recovery-codes-left.png"))
    end)
  end)

  it("takes a real browser through unified sign-in with an authenticator's code (headless Chromium)", function()
    run(function()
      local out, artifacts = browser("unified.mjs", "browser-us@example.org", "browser-unified")
      if not out then return end
      assert.matches("browser unified sign-in ok", out, 1, true)
      assert.matches("rc=0", out, 1, true)
      assert.is_true(helpers.sh("test -s " .. artifacts .. "/us-qrcode.png"))
    end)
  end)
end)
