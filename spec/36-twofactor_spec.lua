-- Two-factor sign-in through the endpoints (fsec.twofactor, fsec.mfcodes),
-- as Flask-Security-Too answers it, and the attacks on it: codes computed
-- with oathtool (not fsec's own code), replays, the half-signed-in state
-- from another browser or after it expired, lockout of codes, the
-- tf_validity cookie after a password change, recovery codes used twice.
local helpers = require "spec.helpers"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local EMAIL = ep.EMAIL
local api = helpers.api

local TF = {
  two_factor = true, totp_secrets = { ["1"] = "a-totp-secret-of-some-length" }, totp_issuer = "fsec-test",
  multi_factor_recovery_codes = true, two_factor_rescue_mail = "admin@example.com",
}
local function with(extra) return helpers.merged(TF, extra) end
local base_setup = ep.setup_for("tf.db", "quiet")
local function setup(extra) return base_setup(with(extra)) end

local oath = helpers.oath

-- Sign in with the password and enrol an authenticator; returns the
-- client (signed in) and the key.
local function enrol(sec, clock)
  local c = ep.signed_in(sec)
  local res, r = c:call("POST", "/tf-setup", { setup = "authenticator" })
  assert.equals(200, res.status)
  assert.equals("validating_profile", r.tf_state)
  local key = r.tf_authr_key
  res, r = c:call("POST", "/tf-setup/" .. r.tf_state_token, { code = oath(key, clock.now) })
  assert.equals(200, res.status, res.body)
  assert.equals("authenticator", r.tf_primary_method)
  clock.now = clock.now + 30 -- the enrolment's code is spent
  return c, key
end

-- Sign out, and take a new CSRF token (the old one died with the session).
local function logout(c)
  assert.equals(200, (c:call("POST", "/logout")).status)
  c:call("GET", "/login")
end

describe("two-factor setup #quick", function()
  it("enrols an authenticator with the key and answers as Flask-Security-Too", function()
    local sec, _, clock = setup()
    local c = ep.signed_in(sec)
    local res, r = c:call("GET", "/tf-setup")
    assert.equals(200, res.status)
    assert.same({ "email", "authenticator", "sms", "disable" }, r.tf_available_methods)
    assert.is_false(r.tf_required)
    -- none set up: the keys are there, null (as Flask-Security's)
    assert.equals(require("cjson").null, r.tf_primary_method)
    assert.equals(require("cjson").null, r.tf_phone_number)
    res, r = c:call("POST", "/tf-setup", { setup = "authenticator" })
    assert.equals(200, res.status)
    assert.equals("fsec-test", r.tf_authr_issuer)
    assert.equals(EMAIL, r.tf_authr_username)
    assert.matches("^[A-Z2-7][A-Z2-7][A-Z2-7][A-Z2-7]%-", r.tf_authr_key)
    assert.equals("authenticator", r.tf_primary_method)
    assert.equals(r.tf_authr_key:gsub("-", ""), r.tf_authr_b32key)
    assert.equals("otpauth://totp/fsec-test:matt@example.com?secret=" .. r.tf_authr_b32key .. "&issuer=fsec-test",
                  r.tf_authr_uri)
    local token = r.tf_state_token
    res, r = c:call("POST", "/tf-setup/" .. token, { code = "000000" })
    assert.equals(400, res.status)
    assert.same({ "Invalid code" }, r.field_errors.code)
    -- a new setup: a new key and state (the failed answer has neither)
    res, r = c:call("POST", "/tf-setup", { setup = "authenticator" })
    assert.equals(200, res.status)
    local key = r.tf_authr_key
    res, r = c:call("POST", "/tf-setup/" .. r.tf_state_token, { code = oath(key, clock.now) })
    assert.equals(200, res.status)
    assert.equals("authenticator", r.tf_method)
    local _, g = c:call("GET", "/tf-setup")
    assert.equals("authenticator", g.tf_primary_method)
  end)

  it("takes the setup's code at /tf-validate too, answering as Flask-Security 5.1 there", function()
    local sec, _, clock = setup()
    local c = ep.signed_in(sec)
    local _, r = c:call("POST", "/tf-setup", { setup = "authenticator" })
    local res, v = c:call("POST", "/tf-validate", { code = oath(r.tf_authr_key, clock.now) })
    assert.equals(200, res.status, res.body)
    assert.is_table(v.user)
    assert.is_nil(v.tf_method)
    local _, g = c:call("GET", "/tf-setup")
    assert.equals("authenticator", g.tf_primary_method)
  end)

  it("keeps the secret sealed: the database holds neither the key nor a secret another key opens", function()
    local sec, _, clock = setup()
    local _, key = enrol(sec, clock)
    local stored = sec.datastore:find_user{ email = EMAIL }.tf_totp_secret
    assert.is_nil(stored:find(key:gsub("-", ""), 1, true))
    assert.matches("^%$fsec%$1%$1%$", stored)
    local other = base_setup(with{ totp_secrets = { ["1"] = "another-secret-entirely-here" } })
    assert.is_nil(require("fsec.otp").unseal(other.config, stored))
  end)

  it("refuses a method that is not enabled, and a phone number that is not one", function()
    local sec = setup{ two_factor_enabled_methods = { "authenticator", "sms" } }
    local c = ep.signed_in(sec)
    local res, r = c:call("POST", "/tf-setup", { setup = "email" })
    assert.equals(400, res.status)
    assert.same({ "Marked method is not valid" }, r.field_errors.setup)
    res, r = c:call("POST", "/tf-setup", { setup = "sms", phone = "junk" })
    assert.equals(400, res.status)
    assert.same({ "Phone number not valid e.g. missing country code" }, r.field_errors.phone)
  end)

  -- attack review (W2): a signed-in user sent SMS to any numbers it chose,
  -- limited only per client (toll fraud)
  it("meters the codes a setup sends, per account: not to any number without end", function()
    local sec = setup{ two_factor_enabled_methods = { "authenticator", "sms" }, mail_address_limit = 3,
                       mail_client_limit = 100 }
    local c = ep.signed_in(sec)
    local statuses = {}
    for i = 1, 5 do
      statuses[i] = (c:call("POST", "/tf-setup", { setup = "sms", phone = ("+1 650 555 01%02d"):format(i) })).status
    end
    assert.same({ 200, 200, 200, 429, 429 }, statuses)
    -- an authenticator sends nothing: not metered
    assert.equals(200, (c:call("POST", "/tf-setup", { setup = "authenticator" })).status)
  end)

  it("needs a signed-in user or a sign-in that must set up first", function()
    local sec = setup()
    local c = api(sec)
    local res, r = c:call("GET", "/tf-setup")
    assert.equals(400, res.status)
    assert.same({ "You currently do not have permissions to access this page" }, r.errors)
  end)
end)

describe("two-factor sign-in #quick", function()
  it("asks for the code, grants nothing before it, signs in after it", function()
    local sec, _, clock = setup()
    local c, key = enrol(sec, clock)
    logout(c)
    local res, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(200, res.status, res.body)
    assert.is_true(r.tf_required)
    assert.equals("ready", r.tf_state)
    assert.equals("authenticator", r.tf_method)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    res = c:call("GET", "/change")
    assert.equals(401, res.status)
    local _, g = c:call("GET", "/tf-validate")
    assert.same({ email = "/tf-rescue", help = "/tf-rescue" }, g.recovery_options)
    res, r = c:call("POST", "/tf-validate", { code = oath(key, clock.now) })
    assert.equals(200, res.status, res.body)
    assert.is_table(r.user)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("hashes the password once for the whole two-factor sign-in", function()
    local sec, _, clock = setup()
    local c, key = enrol(sec, clock)
    logout(c)
    local hashes = 0
    local verify = sec.verify_and_update_password
    sec.verify_and_update_password = function(...) hashes = hashes + 1; return verify(...) end
    c:call("POST", "/login", { email = EMAIL, password = PW })
    c:call("GET", "/tf-validate")
    assert.equals(200, (c:call("POST", "/tf-validate", { code = oath(key, clock.now) })).status)
    assert.equals(1, hashes)
  end)

  it("never takes a code twice, nor an older one", function()
    local sec, _, clock = setup()
    local c, key = enrol(sec, clock)
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    local code = oath(key, clock.now)
    assert.equals(200, (c:call("POST", "/tf-validate", { code = code })).status)
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    local res, r = c:call("POST", "/tf-validate", { code = code })
    assert.equals(400, res.status)
    assert.same({ "Invalid code" }, r.field_errors.code)
    res = c:call("POST", "/tf-validate", { code = oath(key, clock.now - 30) })
    assert.equals(400, res.status)
    clock.now = clock.now + 30
    assert.equals(200, (c:call("POST", "/tf-validate", { code = oath(key, clock.now) })).status)
  end)

  it("binds the half-signed-in state to the browser and to a short time", function()
    local sec, _, clock = setup()
    local c, key = enrol(sec, clock)
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    local other = api(sec)
    local res = other:call("POST", "/tf-validate", { code = oath(key, clock.now) })
    assert.equals(400, res.status)
    assert.is_false(sec:current_user(other:req()).is_authenticated)
    clock.now = clock.now + sec.config.two_factor_login_within + 1
    res = c:call("POST", "/tf-validate", { code = oath(key, clock.now) })
    assert.equals(400, res.status)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
  end)

  it("ends the half-signed-in state when the password changes elsewhere", function()
    local sec, user, clock = setup()
    local c, key = enrol(sec, clock)
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    assert(require("fsec.datastore").revoke_all(sec.datastore, sec.datastore:find_user{ id = user.id }))
    local res = c:call("POST", "/tf-validate", { code = oath(key, clock.now) })
    assert.equals(400, res.status)
  end)

  it("meters codes with the password's lockout, and a right password does not reset it", function()
    local sec, _, clock = setup{ login_lockout_threshold = 4 }
    local c, key = enrol(sec, clock)
    logout(c)
    for _ = 1, 2 do
      c:call("POST", "/login", { email = EMAIL, password = PW })
      c:call("POST", "/tf-validate", { code = "000000" })
    end
    -- 2 passwords + 2 codes: 4 reservations, the account is locked
    c:call("POST", "/login", { email = EMAIL, password = PW })
    local res = c:call("POST", "/tf-validate", { code = oath(key, clock.now) })
    assert.equals(400, res.status)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    clock.now = clock.now + sec.config.login_lockout_window + 1
    c:call("POST", "/login", { email = EMAIL, password = PW })
    res = c:call("POST", "/tf-validate", { code = oath(key, clock.now) })
    assert.equals(200, res.status)
    assert.equals(0, sec.datastore:find_user{ email = EMAIL }.failed_login_count)
  end)

  it("sends email codes through the mailer", function()
    local sec, _, _, maildir = setup()
    local c = ep.signed_in(sec)
    local _, r = c:call("POST", "/tf-setup", { setup = "email" })
    local mail = helpers.mails(maildir)
    local code = mail[#mail].text:match("code is: (%d+)")
    assert.is_string(code)
    local res = c:call("POST", "/tf-setup/" .. r.tf_state_token, { code = code })
    assert.equals(200, res.status)
    logout(c)
    local n = #helpers.mails(maildir)
    _, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals("email", r.tf_method)
    mail = helpers.mails(maildir)
    assert.equals(n + 1, #mail)
    code = mail[#mail].text:match("code is: (%d+)")
    -- the setup's code was the same step: a new step's code is needed
    assert.is_string(code)
  end)

  it("mails a code that can be used, even within the step of the last one taken", function()
    local sec, _, _, maildir = setup{ login_lockout_threshold = 50 }
    local function last_code()
      local mail = helpers.mails(maildir)
      return mail[#mail].text:match("code is: (%d+)"), #mail
    end
    local c = ep.signed_in(sec)
    local _, r = c:call("POST", "/tf-setup", { setup = "email" })
    local setup_code = last_code()
    assert.equals(200, (c:call("POST", "/tf-setup/" .. r.tf_state_token, { code = setup_code })).status)
    -- the same clock: two sign-ins in the setup's step, each with its code
    local seen = { [setup_code] = true }
    for _ = 1, 2 do
      logout(c)
      c:call("POST", "/login", { email = EMAIL, password = PW })
      local code = last_code()
      assert.is_nil(seen[code], "a code mailed twice")
      seen[code] = true
      local res = c:call("POST", "/tf-validate", { code = code })
      assert.equals(200, res.status, res.body)
      -- and used once
      logout(c)
      c:call("POST", "/login", { email = EMAIL, password = PW })
      assert.equals(400, (c:call("POST", "/tf-validate", { code = code })).status)
      assert.equals(200, (c:call("POST", "/tf-validate", { code = last_code() })).status)
    end
    -- a burst of sends within one step: a code for each step the mail's
    -- validity allows ahead (300 s: now and 10 steps), then none
    logout(c)
    local _, before = last_code()
    for _ = 1, 14 do c:call("POST", "/login", { email = EMAIL, password = PW }) end
    local _, after = last_code()
    assert.is_true(after > before and after - before <= 11, "codes sent: " .. (after - before))
    c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(after, select(2, last_code())) -- none now
    local spare = c:call("POST", "/tf-validate", { code = last_code() })
    assert.equals(200, spare.status, spare.body) -- the last one mailed is good
  end)

  it("rescues an authenticator's sign-in by mail at once, with a code the app never shows", function()
    local sec, _, clock, maildir = setup()
    local c, key = enrol(sec, clock)
    clock.now = clock.now - 30 -- the enrolment's step: its code is spent
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(200, (c:call("POST", "/tf-rescue", { help_setup = "email" })).status)
    local mail = helpers.mails(maildir)
    local code = mail[#mail].text:match("code is: (%d+)")
    for k = -4, 4 do assert.not_equals(oath(key, clock.now + 30 * k), code) end
    -- another browser, past the password, has no rescue: the code is not its
    local other = api(sec)
    other:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(400, (other:call("POST", "/tf-validate", { code = code })).status)
    local res = c:call("POST", "/tf-validate", { code = code })
    assert.equals(200, res.status, res.body)
    -- the app's codes still work as before in a later sign-in
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(200, (c:call("POST", "/tf-validate", { code = oath(key, clock.now + 30) })).status)
  end)

  it("remembers the device with tf_validity until the password changes", function()
    local sec, user, clock = setup{ two_factor_always_validate = false }
    local c, key = enrol(sec, clock)
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW, remember = true })
    local res, r = c:call("POST", "/tf-validate", { code = oath(key, clock.now) })
    assert.equals(200, res.status)
    assert.is_string(r.tf_validity_token)
    assert.is_string(c.jar.tf_validity)
    logout(c)
    res, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(200, res.status)
    assert.is_false(r.tf_required)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    logout(c)
    assert(require("fsec.datastore").revoke_all(sec.datastore, sec.datastore:find_user{ id = user.id }))
    res, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(200, res.status)
    assert.is_true(r.tf_required)
  end)

  -- attack review (W2): a remembered device skipped the second factor but
  -- kept the attempt the password check holds for it, so ten good
  -- sign-ins locked the account against its own password
  it("gives the attempt back when a remembered device skips the second factor", function()
    local sec, _, clock = setup{ two_factor_always_validate = false, login_lockout_threshold = 3 }
    local c, key = enrol(sec, clock)
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW, remember = true })
    assert.equals(200, (c:call("POST", "/tf-validate", { code = oath(key, clock.now) })).status)
    for i = 1, 5 do
      logout(c)
      local res, r = c:call("POST", "/login", { email = EMAIL, password = PW })
      assert.equals(200, res.status, "sign-in " .. i)
      assert.is_false(r.tf_required)
    end
    assert.equals(0, sec.datastore:find_user{ email = EMAIL }.failed_login_count)
  end)

  -- attack review (W2): the rescue's "help" mailed the administrator
  -- without end, from any account with a second factor
  it("meters the rescue's mail to the administrator, per account", function()
    local sec, _, clock, maildir = setup{ mail_address_limit = 2, mail_client_limit = 100 }
    local c = enrol(sec, clock)
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    local statuses = {}
    for i = 1, 4 do statuses[i] = (c:call("POST", "/tf-rescue", { help_setup = "help" })).status end
    assert.same({ 200, 200, 429, 429 }, statuses)
    local n = 0
    for _, m in ipairs(helpers.mails(maildir)) do
      if m.kind == "two_factor_rescue" then n = n + 1 end
    end
    assert.equals(2, n)
  end)

  it("rescues with an emailed code and tells the administrator", function()
    local sec, _, clock, maildir = setup()
    local c = enrol(sec, clock)
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    local res, r = c:call("POST", "/tf-rescue", { help_setup = "email" })
    assert.equals(200, res.status)
    assert.is_table(r.recovery_options)
    local mail = helpers.mails(maildir)
    local code = mail[#mail].text:match("code is: (%d+)")
    res, r = c:call("POST", "/tf-rescue", { help_setup = "bogus" })
    assert.equals(400, res.status)
    assert.same({ "Not a valid choice." }, r.field_errors.help_setup)
    c:call("POST", "/tf-rescue", { help_setup = "help" })
    mail = helpers.mails(maildir)
    assert.equals("admin@example.com", mail[#mail].to)
    res = c:call("POST", "/tf-validate", { code = code })
    assert.equals(200, res.status)
  end)

  it("signs in with a recovery code once", function()
    local sec, _, clock = setup()
    local c = enrol(sec, clock)
    local res, r = c:call("POST", "/mf-recovery-codes")
    assert.equals(200, res.status, res.body)
    assert.equals(5, #r.recovery_codes)
    for _, code in ipairs(r.recovery_codes) do assert.matches("^%x%x%x%x%-%x%x%x%x%-%x%x%x%x$", code) end
    local codes = r.recovery_codes
    local stored = sec.datastore:find_user{ email = EMAIL }.mf_recovery_codes
    assert.is_nil(stored:find(codes[1], 1, true))
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    local _, g = c:call("GET", "/tf-validate")
    assert.equals("/mf-recovery", g.recovery_options.recovery_code)
    res = c:call("POST", "/mf-recovery", { code = "0000-0000-0000" })
    assert.equals(400, res.status)
    res = c:call("POST", "/mf-recovery", { code = codes[2] })
    assert.equals(200, res.status)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    assert.is_nil(c.jar.tf_validity)
    logout(c)
    c:call("POST", "/login", { email = EMAIL, password = PW })
    local r2
    res, r2 = c:call("POST", "/mf-recovery", { code = codes[2] })
    assert.equals(400, res.status)
    assert.same({ "Recovery code invalid" }, r2.field_errors.code)
    assert.equals(4, require("fsec.mfcodes").count(sec.datastore:find_user{ email = EMAIL }))
  end)

  it("turns two-factor off", function()
    local sec, _, clock = setup()
    local c = enrol(sec, clock)
    local res = c:call("POST", "/tf-setup", { setup = "disable" })
    assert.equals(200, res.status)
    logout(c)
    local _, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.is_false(r.tf_required)
  end)
end)

describe("two-factor policy", function()
  it("requires a setup at sign-in with two_factor_required, and signs in after it", function()
    local sec, _, clock = setup{ two_factor_required = true }
    local c = api(sec)
    local res, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(200, res.status)
    assert.is_true(r.tf_required)
    assert.equals("setup_from_login", r.tf_state)
    local _, g = c:call("GET", "/tf-setup")
    assert.same({ "email", "authenticator", "sms" }, g.tf_available_methods)
    res, r = c:call("POST", "/tf-setup", { setup = "authenticator" })
    assert.equals(200, res.status)
    res = c:call("POST", "/tf-setup/" .. r.tf_state_token, { code = oath(r.tf_authr_key, clock.now) })
    assert.equals(200, res.status)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("fails closed when check_tf_required raises", function()
    local sec = setup{ check_tf_required = function() error("directory down") end }
    local c = api(sec)
    local _, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.is_true(r.tf_required)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
  end)

  it("asks check_tf_required per user", function()
    local sec = setup{ check_tf_required = function(u) return u.email == "other@example.com" end }
    local c = api(sec)
    local _, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.is_false(r.tf_required)
  end)

  it("refuses HTTP Basic for a user with a second factor", function()
    local sec, _, clock = setup{ auth_mechanisms = { "session", "token", "basic" } }
    enrol(sec, clock)
    local req = helpers.request{ headers = { authorization = "Basic "
      .. require("fsec.core").base64_encode(EMAIL .. ":" .. PW) } }
    assert.is_false(sec:current_user(req).is_authenticated)
  end)

  it("is refused without totp_secrets or totp_issuer", function()
    local fsec = require "fsec"
    local ok, err = pcall(fsec.new, { secret_key = ("k"):rep(32), password_salt = "s", two_factor = true,
                                      totp_issuer = "x", database = ":memory:" })
    assert.is_false(ok)
    assert.matches("totp_secrets is required", tostring(err))
    ok, err = pcall(fsec.new, { secret_key = ("k"):rep(32), password_salt = "s", two_factor = true,
                                totp_issuer = "x", totp_secrets = { ["1"] = "short" }, database = ":memory:" })
    assert.is_false(ok)
    assert.matches("at least 16 bytes", tostring(err))
  end)
end)

describe("two-factor pages", function()
  -- A browser's form post (CSRF token from the page it came from).
  local function form_post(sec, c, path, fields)
    local page = c:take(sec:handle(c:req{ path = path }))
    local tok = (page.body or ""):match('name="csrf_token" value="([^"]+)"')
    local body = {}
    for k, v in pairs(fields) do body[#body + 1] = k .. "=" .. v end
    body[#body + 1] = "csrf_token=" .. (tok or "")
    return c:take(sec:handle(c:req{ method = "POST", path = path, body = table.concat(body, "&"),
      headers = { ["content-type"] = "application/x-www-form-urlencoded" } }))
  end

  it("walks a browser through setup (QR code) and sign-in with a code", function()
    local sec, _, clock = setup()
    local c = helpers.client()
    local res = form_post(sec, c, "/login", { email = EMAIL, password = PW })
    assert.equals(302, res.status)
    res = form_post(sec, c, "/tf-setup", { setup = "authenticator" })
    assert.equals(200, res.status)
    local img = res.body:match('<img id="qrcode"[^>]-src="([^"]+)"')
    assert.matches("^data:image/svg%+xml;base64,", img)
    -- (base64_decode takes 8 KiB at most: the SVG's head is enough)
    local svg = require("fsec.core").base64_decode(img:match(",(.*)$"):sub(1, 4096))
    assert.matches("^<svg", svg)
    local key = res.body:match('<code id="authr%-key">([^<]+)</code>')
    local action = res.body:match('<form method="post" action="(/tf%-setup/[^"]+)"')
    assert.is_string(action)
    local tok = res.body:match('name="csrf_token" value="([^"]+)"')
    res = c:take(sec:handle(c:req{ method = "POST", path = action,
      body = "code=" .. oath(key, clock.now) .. "&csrf_token=" .. tok,
      headers = { ["content-type"] = "application/x-www-form-urlencoded" } }))
    assert.equals(302, res.status, res.body)
    clock.now = clock.now + 30
    form_post(sec, c, "/logout", {})
    res = form_post(sec, c, "/login", { email = EMAIL, password = PW })
    assert.equals(302, res.status)
    assert.equals("/tf-validate", res.headers.Location)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    res = form_post(sec, c, "/tf-validate", { code = "000000" })
    assert.equals(400, res.status)
    assert.matches("Invalid code", res.body)
    res = form_post(sec, c, "/tf-validate", { code = oath(key, clock.now) })
    assert.equals(302, res.status)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)
end)

describe("two-factor after other first factors", function()
  it("asks a passwordless link's user for the second factor", function()
    local sec, _, clock, maildir = setup{ passwordless = true, one_click_links = true }
    -- enrol with the password endpoint off: set the factor through the API
    local user = sec.datastore:find_user{ email = EMAIL }
    local otp = require "fsec.otp"
    assert(sec.datastore:set_field(user, "tf_primary_method", "authenticator"))
    assert(sec.datastore:set_field(user, "tf_totp_secret", otp.seal(sec.config, ("k"):rep(20))))
    local c = api(sec)
    assert.equals(200, (c:call("POST", "/login", { email = EMAIL })).status)
    local mail = helpers.mails(maildir)
    local path = mail[#mail].link:match("https?://[^/]+(/.*)$")
    local res, r = c:call("GET", path)
    assert.equals(200, res.status, res.body)
    assert.is_true(r.tf_required)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    local key = require("fsec.core").base32_encode(("k"):rep(20))
    res = c:call("POST", "/tf-validate", { code = oath(key, clock.now) })
    assert.equals(200, res.status)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("makes a new account set up its second factor first with two_factor_required", function()
    local sec = setup{ two_factor_required = true, registerable = true, confirmable = false }
    local c = api(sec)
    local res, r = c:call("POST", "/register", { email = "new@example.com", password = "a long password 1",
                                                 password_confirm = "a long password 1" })
    assert.equals(200, res.status, res.body)
    assert.is_true(r.tf_required)
    assert.equals("setup_from_login", r.tf_state)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
  end)
end)

describe("two-factor changes by an auth token #quick", function()
  -- A token may leak (a log, a shared script): by default it never turns
  -- a second factor on or off or shows recovery codes (an attack review
  -- set its own authenticator on a victim's account with one).
  it("are refused by default, however fresh the token", function()
    local sec, user = setup{}
    local hdr = { ["authentication-token"] = assert(sec:get_auth_token(user)) }
    local t = api(sec)
    local res, r = t:call("POST", "/tf-setup", { setup = "authenticator" }, nil, hdr)
    assert.equals(401, res.status); assert.is_true(r.reauth_required)
    res, r = t:call("POST", "/mf-recovery-codes", nil, nil, hdr)
    assert.equals(401, res.status); assert.is_true(r.reauth_required)
    local u = sec.datastore:find_user{ email = EMAIL }
    assert.is_nil(u.mf_recovery_codes)
    assert.is_nil(u.tf_totp_secret)
  end)

  -- With freshness_allow_auth_token (Too's FRESHNESS_ALLOW_AUTH_TOKEN), a
  -- token counts from its sign-in: one older than freshness is refused.
  it("are refused when the token's sign-in is older than freshness", function()
    local sec, user, clock = setup{ freshness = 600, freshness_grace_period = 0, freshness_allow_auth_token = true }
    local token = assert(sec:get_auth_token(user))
    local t = api(sec)
    local hdr = { ["authentication-token"] = token }
    clock.now = clock.now + 601
    local res, r = t:call("POST", "/tf-setup", { setup = "authenticator" }, nil, hdr)
    assert.equals(401, res.status); assert.is_true(r.reauth_required)
    res, r = t:call("POST", "/mf-recovery-codes", nil, nil, hdr)
    assert.equals(401, res.status); assert.is_true(r.reauth_required)
    assert.is_nil(sec.datastore:find_user{ email = EMAIL }.mf_recovery_codes)
    local fresh = assert(sec:get_auth_token(user))
    res, r = t:call("POST", "/tf-setup", { setup = "authenticator" }, nil, { ["authentication-token"] = fresh })
    assert.equals(200, res.status); assert.equals("validating_profile", r.tf_state)
  end)
end)
