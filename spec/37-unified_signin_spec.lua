-- Unified sign-in through the endpoints (fsec.unified), as Flask-Security-Too
-- 5.1.2 answers it, and the attacks on it: authenticator codes computed
-- with oathtool (never fsec's own code), replayed codes, another user's
-- code, a magic link used twice or late or by another site, lockout of
-- passcodes, us_mfa_required sending a code sign-in through two-factor,
-- a phone number as the identity, and the pages.
local helpers = require "spec.helpers"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local EMAIL = ep.EMAIL
local api = helpers.api

local US = {
  unified_signin = true, two_factor = true, totp_secrets = { ["1"] = "a-totp-secret-of-some-length" },
  totp_issuer = "fsec-test", identity_attributes = { "email", "us_phone_number" },
}
local function with(extra) return helpers.merged(US, extra) end
local base_setup = ep.setup_for("us.db", "quiet")
local function setup(extra) return base_setup(with(extra)) end

local oath = helpers.oath

-- The last message of the mailbox: its code, and its magic link's query.
local function last_code(maildir)
  local mail = helpers.mails(maildir)
  local m = mail[#mail]
  assert(m, "no mail")
  local link = m.text:match("(http%S+us%-verify%-link%S+)")
  return m.text:match("code is: (%d+)"), link, m
end

local function query_of(link)
  local q = {}
  for k, v in link:match("%?(.*)$"):gmatch("([^&=]+)=([^&]*)") do
    q[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return q
end

-- sign out, and take the new CSRF token the next form needs
local function logout(c)
  c:call("POST", "/logout")
  c:call("GET", "/us-signin")
end

-- Set up a method for a signed-in client: returns the second answer.
local function set_up(c, clock, maildir, method, phone)
  local res, r = c:call("POST", "/us-setup", { chosen_method = method, phone = phone })
  assert.equals(200, res.status, res.body)
  local code
  if method == "authenticator" then
    code = oath(r.authr_key, clock.now)
  else
    code = last_code(maildir)
  end
  local res2, r2 = c:call("POST", "/us-setup/" .. r.state, { passcode = code })
  assert.equals(200, res2.status, res2.body)
  clock.now = clock.now + 30 -- the setup's code is spent
  return r, r2
end

describe("unified sign-in #quick", function()
  it("answers GET as Flask-Security-Too, and signs in with the password", function()
    local sec = setup()
    local c = api(sec)
    local res, r = c:call("GET", "/us-signin")
    assert.equals(200, res.status)
    assert.same({ "password", "email", "authenticator", "sms" }, r.available_methods)
    assert.same({ "email", "sms" }, r.code_methods)
    assert.same({ "email", "us_phone_number" }, r.identity_attributes)
    res, r = c:call("POST", "/us-signin", { identity = EMAIL, passcode = "wrong-one" })
    assert.equals(400, res.status)
    assert.same({ passcode = { "Password or code submitted is not valid" } }, r.field_errors)
    res, r = c:call("POST", "/us-signin", { identity = "nobody@example.com", passcode = PW })
    assert.equals(400, res.status)
    assert.same({ "You must specify a valid identity to sign in" }, r.field_errors.identity)
    res, r = c:call("POST", "/us-signin", { passcode = PW })
    assert.equals(400, res.status)
    assert.same({ "This field is required." }, r.field_errors.identity)
    res, r = c:call("POST", "/us-signin", { identity = EMAIL, passcode = PW }, { include_auth_token = "1" })
    assert.equals(200, res.status, res.body)
    assert.is_string(r.user.authentication_token)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    res, r = c:call("POST", "/us-signin", { identity = EMAIL, passcode = PW })
    assert.equals(400, res.status)
    assert.same({ "You can only access this endpoint when not logged in." }, r.errors)
  end)

  it("sets up email codes, and signs in with a mailed code once", function()
    local sec, _, clock, maildir = setup()
    local c = ep.signed_in(sec)
    local _, g = c:call("GET", "/us-setup")
    assert.same({ "password" }, g.active_methods)
    assert.same({ "email", "authenticator", "sms" }, g.setup_methods)
    local res, r = c:call("POST", "/us-setup", { chosen_method = "email" })
    assert.equals(200, res.status)
    assert.equals("email", r.chosen_method)
    assert.is_string(r.state)
    res, r = c:call("POST", "/us-setup/" .. r.state, { passcode = "000000" })
    assert.equals(400, res.status)
    assert.same({ "Password or code submitted is not valid" }, r.field_errors.passcode)
    set_up(c, clock, maildir, "email")
    _, g = c:call("GET", "/us-setup")
    assert.same({ "password", "email" }, g.active_methods)
    logout(c)
    res = c:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "email" })
    assert.equals(200, res.status)
    local code, link = last_code(maildir)
    assert.is_string(link)
    local user = sec.datastore:find_user{ email = EMAIL }
    assert.equals(user.fs_uniquifier, query_of(link).id)
    res, r = c:call("POST", "/us-signin", { identity = EMAIL, passcode = code })
    assert.equals(200, res.status, res.body)
    assert.is_table(r.user)
    logout(c)
    -- replayed: the same code again, within its window
    res, r = c:call("POST", "/us-signin", { identity = EMAIL, passcode = code })
    assert.equals(400, res.status)
    assert.same({ "Password or code submitted is not valid" }, r.field_errors.passcode)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
  end)

  it("mails a code that can be used, even within the step of the last one taken", function()
    local sec, _, _, maildir = setup()
    local c = ep.signed_in(sec)
    local _, r = c:call("POST", "/us-setup", { chosen_method = "email" })
    local setup_code = last_code(maildir)
    assert.equals(200, (c:call("POST", "/us-setup/" .. r.state, { passcode = setup_code })).status)
    -- the clock stands still: two sign-ins in the setup's step
    local seen = { [setup_code] = true }
    for _ = 1, 2 do
      logout(c)
      assert.equals(200, (c:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "email" })).status)
      local code = last_code(maildir)
      assert.is_nil(seen[code], "a code mailed twice")
      seen[code] = true
      local res = c:call("POST", "/us-signin", { identity = EMAIL, passcode = code })
      assert.equals(200, res.status, res.body)
    end
  end)

  it("sets up an authenticator, takes its code once, and not another user's", function()
    local sec, _, clock, maildir = setup()
    assert(sec.datastore:create_user{ email = "joe@example.com", password = sec:hash_password("password-2"),
                                      confirmed_at = 1 })
    local c = ep.signed_in(sec)
    local r = set_up(c, clock, maildir, "authenticator")
    assert.equals("fsec-test", r.authr_issuer)
    assert.equals(EMAIL, r.authr_username)
    assert.matches("^[A-Z2-7][A-Z2-7][A-Z2-7][A-Z2-7]%-", r.authr_key)
    assert.equals(r.authr_key:gsub("-", ""), r.authr_b32key)
    assert.equals("otpauth://totp/fsec-test:matt@example.com?secret=" .. r.authr_b32key .. "&issuer=fsec-test",
                  r.authr_uri)
    local key = r.authr_key
    logout(c)
    local code = oath(key, clock.now)
    -- the code of matt's authenticator names matt only
    local res = c:call("POST", "/us-signin", { identity = "joe@example.com", passcode = code })
    assert.equals(400, res.status)
    -- typed as people type codes (a space in the middle)
    res = c:call("POST", "/us-signin", { identity = EMAIL, passcode = code:sub(1, 3) .. " " .. code:sub(4) })
    assert.equals(200, res.status)
    logout(c)
    res = c:call("POST", "/us-signin", { identity = EMAIL, passcode = code })
    assert.equals(400, res.status)
    -- nor an older step's
    res = c:call("POST", "/us-signin", { identity = EMAIL, passcode = oath(key, clock.now - 30) })
    assert.equals(400, res.status)
    -- the secret is sealed at rest
    local stored = sec.datastore:find_user{ email = EMAIL }.us_totp_secrets
    assert.is_nil(stored:find(key:gsub("-", ""), 1, true))
  end)

  it("refuses a setup state started by another user", function()
    local sec = setup()
    assert(sec.datastore:create_user{ email = "joe@example.com", password = sec:hash_password("password-2"),
                                      confirmed_at = 1 })
    local c = ep.signed_in(sec)
    local _, r = c:call("POST", "/us-setup", { chosen_method = "authenticator" })
    local joe = ep.signed_in(sec, "joe@example.com", "password-2")
    local res, r2 = joe:call("POST", "/us-setup/" .. r.state, { passcode = "123456" })
    assert.equals(400, res.status)
    assert.same({ "Input not appropriate for requested API" }, r2.errors)
    res = joe:call("POST", "/us-setup/garbage", { passcode = "123456" })
    assert.equals(400, res.status)
  end)

  it("validates setups as Flask-Security-Too and deletes methods", function()
    local sec, _, clock, maildir = setup()
    local c = ep.signed_in(sec)
    local res, r = c:call("POST", "/us-setup", { chosen_method = "bogus" })
    assert.equals(400, res.status)
    assert.same({ "Requested method is not valid" }, r.field_errors.chosen_method)
    res, r = c:call("POST", "/us-setup", { chosen_method = "sms", phone = "junk" })
    assert.equals(400, res.status)
    assert.same({ "Phone number not valid e.g. missing country code" }, r.field_errors.phone)
    res, r = c:call("POST", "/us-setup", {})
    assert.equals(400, res.status)
    assert.same({ "Input not appropriate for requested API" }, r.errors)
    set_up(c, clock, maildir, "email")
    res, r = c:call("POST", "/us-setup", { delete_method = { "password" } })
    assert.equals(400, res.status)
    assert.same({ "Requested method is not valid" }, r.field_errors.delete_method)
    local changed = {}
    sec.signals:connect("us_profile_changed", function(d) changed[#changed + 1] = d end)
    res = c:call("POST", "/us-setup", { delete_method = { "email" } })
    assert.equals(200, res.status)
    assert.is_true(changed[1].delete)
    local _, g = c:call("GET", "/us-setup")
    assert.same({ "password" }, g.active_methods)
  end)
end)

describe("unified sign-in: registering without a password", function()
  it("sets up email codes for the new account, which then signs in with one", function()
    local sec, _, clock, maildir = setup{ registerable = true, password_required = false }
    local c = api(sec)
    local res = c:call("POST", "/register", { email = "new@example.com" })
    assert.equals(200, res.status, res.body)
    local user = sec.datastore:find_user{ email = "new@example.com" }
    assert.is_nil(user.password)
    assert.same({ "email" }, require("fsec.unified").active_methods(sec, user))
    logout(c)
    clock.now = clock.now + 30
    res = c:call("POST", "/us-signin/send-code", { identity = "new@example.com", chosen_method = "email" })
    assert.equals(200, res.status)
    local code = last_code(maildir)
    res = c:call("POST", "/us-signin", { identity = "new@example.com", passcode = code })
    assert.equals(200, res.status)
    -- a password is still checked when given, and required by default
    local res2, r2 = api(sec):call("POST", "/register", { email = "short@example.com", password = "x",
                                                          password_confirm = "x" })
    assert.equals(400, res2.status)
    assert.is_table(r2.field_errors.password)
    local strict = setup{ registerable = true }
    res2 = api(strict):call("POST", "/register", { email = "new@example.com" })
    assert.equals(400, res2.status)
  end)
end)

describe("unified sign-in: signals", function()
  it("says a code was sent (never which), a profile changed, and who signed in by what", function()
    local sec, _, clock, maildir = setup()
    local got = {}
    for _, name in ipairs{ "us_security_token_sent", "us_profile_changed", "user_authenticated" } do
      sec.signals:connect(name, function(d) got[#got + 1] = { name, d } end)
    end
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "email")
    logout(c)
    got = {}
    c:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "email" })
    local code = last_code(maildir)
    assert.equals("us_security_token_sent", got[1][1])
    assert.equals("email", got[1][2].method)
    assert.is_true(got[1][2].send_magic_link)
    for _, v in pairs(got[1][2]) do assert.is_not.equals(code, v) end
    c:call("POST", "/us-signin", { identity = EMAIL, passcode = code })
    assert.equals("user_authenticated", got[2][1])
    assert.same({ "email" }, got[2][2].authn_via)
  end)
end)

describe("unified sign-in: phone numbers", function()
  it("sets up SMS codes and signs in with the phone number as the identity", function()
    local sec, _, clock, maildir = setup()
    assert(sec.datastore:create_user{ email = "joe@example.com", password = sec:hash_password("password-2"),
                                      confirmed_at = 1 })
    local c = ep.signed_in(sec)
    local r, r2 = set_up(c, clock, maildir, "sms", "650-555-1212")
    assert.equals("+16505551212", r.phone)
    assert.equals("+16505551212", r2.phone)
    logout(c)
    local res = c:call("POST", "/us-signin", { identity = "(650) 555-1212", passcode = PW })
    assert.equals(200, res.status, res.body)
    logout(c)
    res = c:call("POST", "/us-signin/send-code", { identity = "+1 650 555 1212", chosen_method = "sms" })
    assert.equals(200, res.status)
    local code, _, m = last_code(maildir)
    assert.equals("+16505551212", m.to)
    res = c:call("POST", "/us-signin", { identity = "+16505551212", passcode = code })
    assert.equals(200, res.status)
    -- one account a number: joe cannot take it
    local joe = ep.signed_in(sec, "joe@example.com", "password-2")
    local _, rj = joe:call("POST", "/us-setup", { chosen_method = "sms", phone = "6505551212" })
    assert.same({ "Identity attribute 'us_phone_number' with value '+16505551212' is already associated with "
                  .. "an account." }, rj.field_errors.phone)
  end)
end)

describe("unified sign-in: send-code", function()
  it("answers as Flask-Security-Too, and the same for any identity with generic responses", function()
    local sec, _, clock, maildir = setup()
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "email")
    logout(c)
    local res, r = c:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "authenticator" })
    assert.equals(400, res.status)
    assert.same({ "Not a valid choice." }, r.field_errors.chosen_method)
    res, r = c:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "sms" })
    assert.equals(400, res.status)
    assert.same({ "Requested method is not valid" }, r.field_errors.chosen_method)
    res, r = c:call("POST", "/us-signin/send-code", { identity = "nobody@example.com", chosen_method = "email" })
    assert.equals(400, res.status)
    assert.same({ "You must specify a valid identity to sign in" }, r.field_errors.identity)

    local gsec, _, gclock, gmail = setup{ return_generic_responses = true }
    local g = ep.signed_in(gsec)
    set_up(g, gclock, gmail, "email")
    logout(g)
    local n = #helpers.mails(gmail)
    local known = g:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "email" })
    assert.equals(n + 1, #helpers.mails(gmail))
    local unknown = g:call("POST", "/us-signin/send-code", { identity = "nobody@example.com", chosen_method = "email" })
    local unset = g:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "sms" })
    assert.equals(n + 1, #helpers.mails(gmail))
    assert.equals(ep.shape(known), ep.shape(unknown))
    assert.equals(ep.shape(known), ep.shape(unset))
    local _, gr = g:call("POST", "/us-signin", { identity = "nobody@example.com", passcode = PW })
    assert.same({ ep.GENERIC }, gr.errors)
  end)
end)

describe("unified sign-in: the magic link", function()
  -- a client with email codes set up, signed out, and a fresh link
  local function linked(extra)
    local sec, _, clock, maildir = setup(extra)
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "email")
    logout(c)
    c:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "email" })
    local _, link = last_code(maildir)
    return sec, clock, query_of(link), maildir
  end

  local function get(sec, c, q, method, headers)
    return c:take(sec:handle(c:req{ method = method or "GET", path = "/us-verify-link", query = q,
                                    headers = headers or {} }))
  end

  it("with redirect_behavior spa leads a browser to the SPA's views, as Too's us_verify_link", function()
    local spa = { redirect_behavior = "spa", login_error_view = "/login-error", post_login_view = "/home",
                  one_click_links = true }
    local sec, _, q = linked(spa)
    local html = { accept = "text/html" }
    local who = "&email=" .. EMAIL:gsub("@", "%%40") .. "&identity=" .. EMAIL:gsub("@", "%%40")
    local res = get(sec, helpers.client(), { id = q.id, code = "000000" }, nil, html)
    assert.equals("/login-error?error=Invalid+code" .. who, res.headers.Location)
    res = get(sec, helpers.client(), { id = "nope", code = q.code }, nil, html)
    assert.equals("/login-error?error=Specified+user+does+not+exist", res.headers.Location)
    res = get(sec, helpers.client(), { code = q.code }, nil, html)
    assert.equals("/login-error?error=Input+not+appropriate+for+requested+API", res.headers.Location)
    local c = helpers.client()
    res = get(sec, c, q, nil, html)
    assert.equals("/home?" .. who:sub(2), res.headers.Location)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    -- a second factor cannot follow a redirect: the SPA is told, nobody is signed in
    local need_tf = false
    sec, _, q = linked(helpers.merged(spa, { check_tf_required = function() return need_tf end }))
    need_tf = true
    c = helpers.client()
    res = get(sec, c, q, nil, html)
    assert.equals("/login-error?tf_required=1" .. who, res.headers.Location)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
  end)

  it("asks first: the GET signs nobody in, the page's POST does, once", function()
    local sec, _, q = linked()
    local c = helpers.client()
    local res = get(sec, c, q)
    assert.equals(200, res.status)
    assert.matches("Sign in as", res.body)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    local head = get(sec, c, q, "HEAD")
    assert.equals(200, head.status)
    local tok = res.body:match('name="csrf_token" value="([^"]+)"')
    -- another site's POST (no CSRF token) is refused
    local forged = get(sec, helpers.client(), q, "POST")
    assert.equals(400, forged.status)
    res = get(sec, c, q, "POST", { ["x-csrf-token"] = tok })
    assert.equals(302, res.status)
    assert.equals("/", res.headers.location or res.headers.Location)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    -- twice: the code is spent (the GET cannot tell without spending it:
    -- its page asks, and the POST refuses)
    local c2 = helpers.client()
    res = get(sec, c2, q)
    assert.equals(200, res.status)
    tok = res.body:match('name="csrf_token" value="([^"]+)"')
    res = get(sec, c2, q, "POST", { ["x-csrf-token"] = tok })
    assert.equals(302, res.status)
    assert.matches("/us%-signin", res.headers.location or res.headers.Location)
    assert.is_false(sec:current_user(c2:req()).is_authenticated)
  end)

  -- attack review (W2): the GET matched a spent link's code (it cannot
  -- tell spent without spending) and then reset the account's meter, so
  -- the link's holder could guess passwords without end
  it("a spent link's GET resets no meter: the guesses made meanwhile still count", function()
    local sec, _, q = linked{ login_lockout_threshold = 5 }
    local c = helpers.client()
    local res = get(sec, c, q)
    local tok = res.body:match('name="csrf_token" value="([^"]+)"')
    assert.equals(302, get(sec, c, q, "POST", { ["x-csrf-token"] = tok }).status) -- spent, by its owner
    local g = ep.signed_in(sec)
    logout(g)
    for _ = 1, 3 do g:call("POST", "/us-signin", { identity = EMAIL, passcode = "wrong password 1" }) end
    assert.equals(3, sec.datastore:find_user{ email = EMAIL }.failed_login_count)
    for _ = 1, 4 do assert.equals(200, get(sec, helpers.client(), q).status) end
    assert.equals(3, sec.datastore:find_user{ email = EMAIL }.failed_login_count)
    -- and two more guesses lock the account: the right password is refused
    for _ = 1, 2 do g:call("POST", "/us-signin", { identity = EMAIL, passcode = "wrong password 2" }) end
    assert.equals(400, (g:call("POST", "/us-signin", { identity = EMAIL, passcode = PW })).status)
  end)

  it("signs in on the GET with one_click_links, and not after it expired", function()
    local sec, clock, q = linked{ one_click_links = true }
    local c = helpers.client()
    clock.now = clock.now + sec.config.us_token_validity + 60
    local res = get(sec, c, q)
    assert.equals(302, res.status)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    local sec2, _, q2 = linked{ one_click_links = true }
    res = get(sec2, c, q2)
    assert.equals(302, res.status)
    assert.is_true(sec2:current_user(c:req()).is_authenticated)
  end)

  it("sends a link's sign-in through two-factor when the user has a second factor", function()
    local sec, clock, _, maildir = linked{ one_click_links = true }
    local c = ep.signed_in(sec)
    local _, t = c:call("POST", "/tf-setup", { setup = "authenticator" })
    assert.equals(200, (c:call("POST", "/tf-setup/" .. t.tf_state_token, { code = oath(t.tf_authr_key, clock.now) }))
      .status)
    logout(c)
    clock.now = clock.now + 30
    c:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "email" })
    local _, link = last_code(maildir)
    local b = helpers.client()
    local res = get(sec, b, query_of(link))
    assert.equals(302, res.status)
    assert.equals("/tf-validate", res.headers.location or res.headers.Location)
    assert.is_false(sec:current_user(b:req()).is_authenticated)
  end)

  it("refuses a link without its parts, or of nobody", function()
    local sec, _, q = linked()
    local c = api(sec)
    local res, r = c:call("GET", "/us-verify-link", nil, { code = q.code })
    assert.equals(400, res.status)
    assert.same({ "Input not appropriate for requested API" }, r.errors)
    res, r = c:call("GET", "/us-verify-link", nil, { id = "nope", code = q.code })
    assert.equals(400, res.status)
    assert.same({ "Specified user does not exist" }, r.errors)
    res, r = c:call("GET", "/us-verify-link", nil, { id = q.id, code = "000000" })
    assert.equals(400, res.status)
    assert.same({ "Invalid code" }, r.errors)
  end)
end)

describe("unified sign-in: attacks", function()
  it("meters passcodes with the lockout: codes guessed lock the account", function()
    local sec, _, clock, maildir = setup{ login_lockout_threshold = 3 }
    local c = ep.signed_in(sec)
    local r = set_up(c, clock, maildir, "authenticator")
    logout(c)
    for _ = 1, 3 do
      c:call("POST", "/us-signin", { identity = EMAIL, passcode = "000000" })
    end
    -- locked: neither a right code nor the password passes
    local res = c:call("POST", "/us-signin", { identity = EMAIL, passcode = oath(r.authr_key, clock.now) })
    assert.equals(400, res.status)
    res = c:call("POST", "/us-signin", { identity = EMAIL, passcode = PW })
    assert.equals(400, res.status)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    -- a passcode that can be neither costs nothing
    local before = sec.datastore:find_user{ email = EMAIL }.failed_login_count
    c:call("POST", "/us-signin", { identity = EMAIL, passcode = ("x"):rep(5000) })
    assert.equals(before, sec.datastore:find_user{ email = EMAIL }.failed_login_count)
    clock.now = clock.now + sec.config.login_lockout_window + 1
    res = c:call("POST", "/us-signin", { identity = EMAIL, passcode = oath(r.authr_key, clock.now) })
    assert.equals(200, res.status)
    assert.equals(0, sec.datastore:find_user{ email = EMAIL }.failed_login_count)
  end)

  it("costs one hash per passcode, known identity or not, and none for a code that signs in", function()
    local sec, _, clock, maildir = setup()
    local c = ep.signed_in(sec)
    local r = set_up(c, clock, maildir, "authenticator")
    logout(c)
    local hashes = 0
    -- every hash runs through verify_password (verify_and_update_password too)
    local verify = sec.verify_password
    sec.verify_password = function(...) hashes = hashes + 1; return verify(...) end
    local function cost(body)
      hashes = 0
      c:call("POST", "/us-signin", body)
      return hashes
    end
    local known = cost{ identity = EMAIL, passcode = "000000" }
    assert.equals(1, known)
    assert.equals(known, cost{ identity = "nobody@example.com", passcode = "000000" })
    assert.equals(known, cost{ identity = EMAIL, passcode = "not-the-password" })
    assert.equals(0, cost{ identity = EMAIL, passcode = oath(r.authr_key, clock.now) })
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("answers hostile input with 400s, never a 500", function()
    local sec = setup()
    local c = api(sec)
    local bodies = {
      { "/us-signin", { identity = { EMAIL }, passcode = PW } },
      { "/us-signin", { identity = EMAIL, passcode = { PW } } },
      { "/us-signin", { identity = EMAIL, passcode = 123456 } },
      { "/us-signin", { identity = ("a"):rep(100000), passcode = PW } },
      { "/us-signin", { identity = "+1 650 555 1212\0", passcode = PW } },
      { "/us-signin/send-code", { identity = EMAIL, chosen_method = { "email" } } },
      { "/us-signin/send-code", { identity = "%", chosen_method = "email" } },
    }
    for _, b in ipairs(bodies) do
      local res = c:call("POST", b[1], b[2])
      assert.is_true(res.status == 400 or res.status == 413, b[1] .. " " .. res.status)
    end
    c = ep.signed_in(sec)
    for _, body in ipairs{ { delete_method = { { "email" } } }, { delete_method = 7 }, { chosen_method = 7 },
                           { chosen_method = "sms", phone = { "6505551212" } } } do
      local res = c:call("POST", "/us-setup", body)
      assert.equals(400, res.status)
    end
    local res = c:call("POST", "/us-setup/" .. ("x"):rep(5000), { passcode = "123456" })
    assert.equals(400, res.status)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("sends an email-code sign-in through two-factor (us_mfa_required), not an authenticator's", function()
    local sec, _, clock, maildir = setup()
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "email")
    local r = set_up(c, clock, maildir, "authenticator")
    -- and a second factor (two-factor's own authenticator)
    local _, t = c:call("POST", "/tf-setup", { setup = "authenticator" })
    local tfkey = t.tf_authr_key
    local res = c:call("POST", "/tf-setup/" .. t.tf_state_token, { code = oath(tfkey, clock.now) })
    assert.equals(200, res.status, res.body)
    clock.now = clock.now + 30
    logout(c)
    c:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "email" })
    local code = last_code(maildir)
    local res2, r2 = c:call("POST", "/us-signin", { identity = EMAIL, passcode = code })
    assert.equals(200, res2.status)
    assert.is_true(r2.tf_required)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    res = c:call("POST", "/tf-validate", { code = oath(tfkey, clock.now) })
    assert.equals(200, res.status)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    logout(c)
    clock.now = clock.now + 30
    -- the password too; an authenticator is a second factor by itself
    local _, r3 = c:call("POST", "/us-signin", { identity = EMAIL, passcode = PW })
    assert.is_true(r3.tf_required)
    local c2 = api(sec)
    local res4, r4 = c2:call("POST", "/us-signin", { identity = EMAIL, passcode = oath(r.authr_key, clock.now) })
    assert.equals(200, res4.status)
    assert.is_nil(r4.tf_required)
    assert.is_true(sec:current_user(c2:req()).is_authenticated)
  end)
end)

describe("unified sign-in: verify", function()
  it("makes a session fresh again with a code or the password", function()
    local sec, _, clock, maildir = setup()
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "email")
    local _, g = c:call("GET", "/us-verify")
    assert.same({ "email" }, g.code_methods)
    assert.is_false(g.has_webauthn_verify_credential)
    local res, r = c:call("POST", "/us-verify", { passcode = "bad" })
    assert.equals(400, res.status)
    assert.same({ "Password or code submitted is not valid" }, r.field_errors.passcode)
    res = c:call("POST", "/us-verify/send-code", { chosen_method = "email" })
    assert.equals(200, res.status)
    local code, link = last_code(maildir)
    assert.is_nil(link) -- no magic link to a signed-in user
    res, r = c:call("POST", "/us-verify", { passcode = code })
    assert.equals(200, res.status)
    assert.is_table(r.user)
    res, r = c:call("POST", "/us-verify/send-code", {})
    assert.equals(400, res.status)
    assert.same({ "Requested method is not valid" }, r.field_errors.chosen_method)
  end)

  it("needs a signed-in user", function()
    local sec = setup()
    local res = api(sec):call("GET", "/us-verify")
    assert.equals(401, res.status)
  end)
end)

describe("unified sign-in: pages", function()
  local function html(sec, c, path, method, body)
    return c:take(sec:handle(c:req{ method = method or "GET", path = path, body = body,
      headers = body and { ["content-type"] = "application/x-www-form-urlencoded" } or {} }))
  end

  it("renders the sign-in, verify and setup pages with their fields", function()
    local sec = setup()
    local c = helpers.client()
    local res = html(sec, c, "/us-signin")
    assert.equals(200, res.status)
    for _, f in ipairs{ 'name="identity"', 'name="passcode"', 'name="chosen_method"', 'name="remember"',
                        'formaction="/us-signin/send-code"', 'name="csrf_token"' } do
      assert.matches(f, res.body, 1, true)
    end
    local tok = res.body:match('name="csrf_token" value="([^"]+)"')
    res = html(sec, c, "/us-signin", "POST", "identity=" .. EMAIL:gsub("@", "%%40") .. "&passcode=" .. PW
      .. "&csrf_token=" .. tok)
    assert.equals(302, res.status)
    res = html(sec, c, "/us-setup")
    assert.equals(200, res.status)
    assert.matches('name="chosen_method" value="authenticator"', res.body, 1, true)
    assert.matches('name="phone"', res.body, 1, true)
    tok = res.body:match('name="csrf_token" value="([^"]+)"')
    res = html(sec, c, "/us-setup", "POST", "chosen_method=authenticator&csrf_token=" .. tok)
    assert.equals(200, res.status)
    assert.matches('id="qrcode"', res.body, 1, true)
    assert.matches('action="/us-setup/', res.body, 1, true)
    res = html(sec, c, "/us-verify")
    assert.equals(200, res.status)
    assert.matches('name="passcode"', res.body, 1, true)
  end)

  it("sends a code from the sign-in page and says so", function()
    local sec, _, clock, maildir = setup()
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "email")
    logout(c)
    local b = helpers.client()
    local res = html(sec, b, "/us-signin")
    local tok = res.body:match('name="csrf_token" value="([^"]+)"')
    local n = #helpers.mails(maildir)
    res = html(sec, b, "/us-signin/send-code", "POST", "identity=" .. EMAIL:gsub("@", "%%40")
      .. "&chosen_method=email&csrf_token=" .. tok)
    assert.equals(200, res.status)
    assert.matches("Code has been sent.", res.body, 1, true)
    assert.matches('<form method="post" action="/us-signin">', res.body, 1, true)
    assert.equals(n + 1, #helpers.mails(maildir))
    res = html(sec, b, "/us-signin", "POST", "identity=" .. EMAIL:gsub("@", "%%40") .. "&passcode=000000&csrf_token="
      .. tok)
    assert.equals(400, res.status)
    assert.matches("Password or code submitted is not valid", res.body, 1, true)
  end)

  it("sends browsers from /login to /us-signin with us_signin_replaces_login", function()
    local sec = setup{ us_signin_replaces_login = true }
    local res = sec:handle(helpers.request{ path = "/login", query = { next = "/x" } })
    assert.equals(302, res.status)
    assert.equals("/us-signin?next=%2Fx", res.headers.location or res.headers.Location)
  end)
end)
