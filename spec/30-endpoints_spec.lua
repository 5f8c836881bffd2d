-- The endpoints' JSON API, as Flask-Security-Too answers it (acceptance
-- rows A1-A10, B1-B5, F1-F9, G1-G7, H1-H2, I1 of the reference §7.2),
-- with CSRF, lockout, mail and bad input.
local helpers = require "spec.helpers"
local cjson = require "cjson"

local PW = "password-1"

local function setup(extra)
  local app = helpers.app{ db = "ep.db", clock = true, mail = true, endpoints = true, log = "quiet",
    config = extra, users = { { email = "matt@example.com", password = PW, confirmed = true } } }
  return app.sec, app.user, app.clock, app.maildir
end

local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of

describe("POST /login", function()
  it("rejects a bad password (A1) and counts the failure", function()
    local sec = setup()
    local failed
    sec:connect("user_failed_authn", function(ev) failed = ev end)
    local c = api(sec)
    local res, r = c:call("POST", "/login", { email = "matt@example.com", password = "bogus" })
    assert.equals(400, res.status)
    assert.same({ "Invalid password" }, r.errors)
    assert.same({ "Invalid password" }, r.field_errors.password)
    assert.equals("password", failed.auth_type); assert.is_false(failed.tfa)
    assert.equals(1, sec.datastore:find_user{ email = "matt@example.com" }.failed_login_count)
  end)

  it("reports each error as Flask-Security does (A2-A5)", function()
    local sec = setup()
    local inactive = assert(sec.datastore:create_user{ email = "off@example.com",
      password = sec:hash_password(PW), active = false })
    local c = api(sec)
    local cases = {
      { { email = "nobody@example.com", password = PW }, "email", "Specified user does not exist" },
      { { email = "matt@example.com", password = "" }, "password", "Password not provided" },
      { { email = "", password = PW }, "email", "Email not provided" },
      { { email = "not-an-email", password = PW }, "email", "Invalid email address" },
      { { email = inactive.email, password = PW }, "email", "Account is disabled." },
    }
    for _, case in ipairs(cases) do
      local res, r = c:call("POST", "/login", case[1])
      assert.equals(400, res.status)
      assert.same({ case[3] }, r.field_errors[case[2]], case[3])
    end
    assert.is_false(sec:current_user(c:req()).is_authenticated)
  end)

  it("signs in case-insensitively, with a token only when asked (A6, A7)", function()
    local sec, u = setup()
    local c = api(sec)
    local res, r = c:call("POST", "/login", { email = "MATT@example.com", password = PW })
    assert.equals(200, res.status)
    assert.is_false(r.tf_required)
    assert.is_string(r.csrf_token)
    assert.is_nil(r.user.authentication_token)
    assert.equals(u.id, sec:current_user(c:req()).id)
    local c2 = api(sec)
    res, r = c2:call("POST", "/login", { email = "matt@example.com", password = PW }, { include_auth_token = "" })
    local tok = r.user.authentication_token
    assert.is_string(tok)
    assert.equals(u.id, sec:current_user(helpers.request{ headers = { ["authentication-token"] = tok } }).id)
  end)

  it("answers GET with identity attributes and the user (A8), refuses a second login (A9)", function()
    local sec = setup{ security_payload = function(user) return { email = user.email } end }
    local c = api(sec)
    local _, r = c:call("GET", "/login")
    assert.same({ "email" }, r.identity_attributes); assert.is_nil(r.user)
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    _, r = c:call("GET", "/login")
    assert.equals("matt@example.com", r.user.email)
    assert.is_nil(r.user.authentication_token) -- never on GET (CVE-2021-21241)
    local res
    res, r = c:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(400, res.status)
    assert.same({ "You can only access this endpoint when not logged in." }, r.errors)
  end)

  it("gives one generic answer in generic mode (A10, E-01, E-02)", function()
    local sec = setup{ return_generic_responses = true, confirmable = true }
    sec.datastore:create_user{ email = "off@example.com", password = sec:hash_password(PW), active = false }
    sec.datastore:create_user{ email = "new@example.com", password = sec:hash_password(PW) }
    local c = api(sec)
    local bodies = {}
    for _, case in ipairs{ { "nobody@example.com", PW }, { "matt@example.com", "wrong" },
                           { "off@example.com", PW }, { "new@example.com", PW } } do
      local before = sec:hash_count()
      local res, r = c:call("POST", "/login", { email = case[1], password = case[2] })
      assert.equals(400, res.status)
      assert.same({ "Authentication failed - identity or password/passcode invalid" }, r.errors)
      assert.is_nil(r.field_errors.email); assert.is_nil(r.field_errors.password)
      assert.equals(before + 1, sec:hash_count(), case[1])
      bodies[#bodies + 1] = cjson.encode(r.field_errors)
    end
    assert.equals(bodies[1], bodies[2]); assert.equals(bodies[1], bodies[3]); assert.equals(bodies[1], bodies[4])
  end)

  it("refuses an unsafe next and does not sign in (B1, B2)", function()
    local sec = setup()
    for _, nxt in ipairs{ "http://google.com", "http:///google.com", "//github.com", " //github.com",
                          "\\\\\\github.com", "/\\github.com", "javascript:alert(1)", "https://localhost@evil.com" } do
      local c = api(sec)
      local res, r = c:call("POST", "/login", { email = "matt@example.com", password = PW, next = nxt })
      assert.equals(400, res.status, nxt)
      assert.same({ "Redirections outside the domain are forbidden" }, r.errors)
      assert.is_false(sec:current_user(c:req()).is_authenticated)
    end
  end)

  it("locks an account after repeated failures, with the same answer (L-01, L-06)", function()
    local sec, _, clock = setup{ login_lockout_threshold = 3, login_lockout_window = 600 }
    local c = api(sec)
    local res, r = c:call("POST", "/login", { email = "matt@example.com", password = "bad" })
    local wrong = cjson.encode(r)
    -- a success after fewer failures resets the counter
    c:call("POST", "/login", { email = "matt@example.com", password = "bad" })
    res = c:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(200, res.status)
    assert.equals(0, sec.datastore:find_user{ email = "matt@example.com" }.failed_login_count)
    local c2 = api(sec)
    for _ = 1, 3 do c2:call("POST", "/login", { email = "matt@example.com", password = "bad" }) end
    local before = sec:hash_count()
    res, r = c2:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(400, res.status)
    assert.equals(wrong:gsub('"csrf_token":"[^"]*",?', ""), cjson.encode(r):gsub('"csrf_token":"[^"]*",?', ""))
    assert.equals(before + 1, sec:hash_count())
    clock.now = clock.now + 601
    res = c2:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(200, res.status)
  end)
end)

describe("CSRF", function()
  it("requires a token bound to this client on state-changing requests", function()
    local sec = setup()
    local c = api(sec)
    local token = c.csrf
    c.csrf = nil
    local res, r = c:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(400, res.status)
    assert.same({ "The CSRF token is missing." }, r.errors)
    assert.same({ "The CSRF token is missing." }, r.field_errors.csrf_token)
    local other = api(sec) -- another client's token
    c.csrf = other.csrf
    res, r = c:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.same({ "The CSRF token is invalid." }, r.errors)
    c.csrf = token
    res = c:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(200, res.status)
    -- the pre-login token no longer works once the session changed
    c.csrf = token
    res, r = c:call("POST", "/logout")
    assert.equals(400, res.status)
  end)

  it("exempts token-authenticated requests and can ignore anonymous ones", function()
    local sec, u = setup()
    local tok = sec:get_auth_token(u)
    local res = sec:handle(helpers.request{ method = "POST", path = "/change",
      headers = { accept = "application/json", ["content-type"] = "application/json", ["authentication-token"] = tok },
      body = cjson.encode{ password = PW, new_password = "a-new-password", new_password_confirm = "a-new-password" } })
    assert.equals(200, res.status)
    local sec2 = setup{ csrf_ignore_unauth_endpoints = true }
    res = sec2:handle(helpers.request{ method = "POST", path = "/login",
      headers = { accept = "application/json", ["content-type"] = "application/json" },
      body = cjson.encode{ email = "matt@example.com", password = PW } })
    assert.equals(200, res.status)
  end)
end)

describe("/logout", function()
  it("answers JSON POST with 200 {} (I1) and keeps next on our site (B5)", function()
    local sec = setup{ logout_methods = { "GET", "POST" } }
    local c = api(sec)
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    local res, _, j = c:call("POST", "/logout")
    assert.equals(200, res.status)
    assert.same({ meta = { code = 200 }, response = {} }, cjson.decode(res.body))
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    res = sec:handle(helpers.request{ path = "/logout", query = { next = "http://google.com" } })
    assert.equals(302, res.status); assert.is_nil(res.headers.Location:find("google", 1, true))
    res = sec:handle(helpers.request{ path = "/logout", query = { next = "/page1" } })
    assert.equals("/page1", res.headers.Location)
    local strict = setup()
    res = strict:handle(helpers.request{ path = "/logout", headers = { accept = "application/json" } })
    assert.equals(405, res.status) -- GET logout is off by default
  end)
end)

describe("/register", function()
  it("creates, signs in and welcomes the user (F1)", function()
    local sec, _, _, maildir = setup()
    local got
    sec:connect("user_registered", function(ev) got = ev end)
    local c = api(sec)
    local res, r = c:call("POST", "/register", { email = "dude@lp.com", password = "battery staple",
                                                 password_confirm = "battery staple" })
    assert.equals(200, res.status)
    local keys = {}
    for k in pairs(r) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "csrf_token", "tf_required", "user" }, keys)
    assert.equals("dude@lp.com", sec:current_user(c:req()).email)
    assert.equals("dude@lp.com", got.user.email); assert.is_nil(got.form_data.password)
    local m = mails(maildir)
    assert.equals(1, #m); assert.equals("Welcome", m[1].subject); assert.equals("dude@lp.com", m[1].to)
  end)

  it("refuses a taken email in any case (F2), a bogus one (F3)", function()
    local sec = setup()
    local c = api(sec)
    local res, r = c:call("POST", "/register", { email = "MATT@example.com", password = "battery staple",
                                                 password_confirm = "battery staple" })
    assert.equals(400, res.status)
    assert.same({ "MATT@example.com is already associated with an account." }, r.field_errors.email)
    res, r = c:call("POST", "/register", { email = "bogus", password = "battery staple", password_confirm = "battery staple" })
    assert.same({ "Invalid email address" }, r.field_errors.email)
    assert.equals(1, (sec.datastore:counts()))
  end)

  it("counts password length in code points after NFKD (F4)", function()
    local sec = setup()
    local c = api(sec)
    for _, case in ipairs{ { "1234567", false }, { "\u{1F600}\u{1F600}\u{1F600}\u{1F600}", false },
                           { string.rep("\u{1F600}", 9), true }, { "\u{FB01}\u{FB01}\u{FB01}\u{FB01}", true } } do
      local email = "len" .. math.random(1e9) .. "@example.com"
      local res, r = c:call("POST", "/register", { email = email, password = case[1], password_confirm = case[1] })
      if case[2] then
        assert.equals(200, res.status, case[1])
        local res2 = sec:new_response()
        sec:logout_user(c:req(), res2); c:take(res2); c:call("GET", "/login")
      else
        assert.same({ "Password must be at least 8 characters" }, r.field_errors.password)
      end
    end
  end)

  it("checks password_confirm (F5), complexity and breached lists", function()
    local list = helpers.tmpfile("breached.txt")
    local f = io.open(list, "w")
    f:write(require("fsec.core").sha1_hex("password123"), ":42\n")
    f:close()
    local sec = setup{ password_breached_file = list,
                       password_complexity_checker = function(pw) if pw:find("^%d+$") then return { "digits only" } end end }
    local c = api(sec)
    local _, r = c:call("POST", "/register", { email = "a@b.org", password = "battery staple", password_confirm = "battery staplx" })
    assert.same({ "Passwords do not match" }, r.field_errors.password_confirm)
    _, r = c:call("POST", "/register", { email = "a@b.org", password = "battery staple" })
    assert.same({ "Password not provided" }, r.field_errors.password_confirm)
    _, r = c:call("POST", "/register", { email = "a@b.org", password = "password123", password_confirm = "password123" })
    assert.same({ "Password on breached list" }, r.field_errors.password)
    _, r = c:call("POST", "/register", { email = "a@b.org", password = "1234567890", password_confirm = "1234567890" })
    assert.same({ "Password not complex enough" }, r.field_errors.password)
    assert.equals(1, (sec.datastore:counts()))
    -- the list gone after start: no password passes a check that cannot
    -- run (503, nothing stored), where it used to let every one through
    local sec2 = setup{ password_breached_file = list }
    os.remove(list)
    local res = api(sec2):call("POST", "/register", { email = "a@b.org", password = "battery staple", password_confirm = "battery staple" })
    assert.equals(503, res.status)
    assert.is_nil(sec2.datastore:find_user{ email = "a@b.org" })
  end)

  it("with confirmation: no login, no token; login waits; the link confirms (F6, F7)", function()
    local sec, _, _, maildir = setup{ confirmable = true }
    local c = api(sec)
    local res, r = c:call("POST", "/register", { email = "new@lp.com", password = "battery staple",
      password_confirm = "battery staple" }, { include_auth_token = "" })
    assert.equals(200, res.status)
    assert.is_nil(r.user.authentication_token); assert.is_nil(r.tf_required)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    res, r = c:call("POST", "/login", { email = "new@lp.com", password = "battery staple" })
    assert.same({ "Email requires confirmation." }, r.field_errors.email)
    local link = mails(maildir)[1].link
    assert.matches("^http://localhost/confirm/", link)
    res = helpers.follow(sec, path_of(link))
    assert.equals(302, res.status); assert.equals("/login", res.headers.Location)
    assert.truthy(sec.datastore:find_user{ email = "new@lp.com" }.confirmed_at)
    res = c:call("POST", "/login", { email = "new@lp.com", password = "battery staple" })
    assert.equals(200, res.status)
  end)

  it("refuses confirm tokens after an email change (F8) or too old (F9)", function()
    local sec, _, clock, maildir = setup{ confirmable = true }
    local c = api(sec)
    c:call("POST", "/register", { email = "x@lp.com", password = "battery staple", password_confirm = "battery staple" })
    local link = path_of(mails(maildir)[1].link)
    local u = sec.datastore:find_user{ email = "x@lp.com" }
    sec.datastore:set_email(u, "y@lp.com")
    local res = sec:handle(helpers.request{ path = link, headers = { accept = "application/json" } })
    assert.equals(400, res.status)
    assert.same({ "Invalid confirmation token." }, cjson.decode(res.body).response.errors)
    sec.datastore:set_email(u, "x@lp.com")
    clock.now = clock.now + 5 * 86400 + 1
    res = sec:handle(helpers.request{ path = link, headers = { accept = "application/json" } })
    assert.same({ "You did not confirm your email within 5 days. New instructions to confirm your email have been sent to x@lp.com." },
                cjson.decode(res.body).response.errors)
  end)

  it("mails a new link for an expired one (Flask-Security); an address confirmed already is told so", function()
    local sec, _, clock, maildir = setup{ confirmable = true }
    local sent = 0
    sec:connect("confirm_instructions_sent", function() sent = sent + 1 end)
    local c = api(sec)
    c:call("POST", "/register", { email = "x@lp.com", password = "battery staple", password_confirm = "battery staple" })
    local old = path_of(mails(maildir)[1].link)
    clock.now = clock.now + 5 * 86400 + 1
    local res = sec:handle(helpers.request{ path = old })
    assert.equals(302, res.status); assert.equals("/confirm", res.headers.Location)
    assert.equals(2, #mails(maildir)); assert.equals(1, sent)
    assert.is_nil(sec.datastore:find_user{ email = "x@lp.com" }.confirmed_at)
    local new
    for _, m in ipairs(mails(maildir)) do if path_of(m.link) ~= old then new = path_of(m.link) end end
    res = helpers.follow(sec, new)
    assert.truthy(sec.datastore:find_user{ email = "x@lp.com" }.confirmed_at)
    -- confirmed: the old expired link says so and mails nothing
    res = sec:handle(helpers.request{ path = old, headers = { accept = "application/json" } })
    assert.same({ "Your email has already been confirmed." }, cjson.decode(res.body).response.errors)
    assert.equals(2, #mails(maildir)); assert.equals(1, sent)
  end)

  it("signs out another account signed in in the browser that follows a link; keeps the same account signed in", function()
    local sec, matt, _, maildir = setup{ confirmable = true, login_without_confirmation = true }
    local function register(email)
      local c = api(sec)
      c:call("GET", "/register")
      c:call("POST", "/register", { email = email, password = "battery staple", password_confirm = "battery staple" })
      for _, m in ipairs(mails(maildir)) do -- the welcome mail carries the link
        if m.to:find(email, 1, true) and m.link then return c, path_of(m.link) end
      end
    end
    local _, xlink = register("x@lp.com")
    local m = api(sec) -- a browser where matt is signed in follows x's link
    m:call("GET", "/login")
    m:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(matt.id, sec:current_user(m:req()).id)
    local res = helpers.follow(sec, xlink, m)
    assert.equals(302, res.status)
    assert.truthy(sec.datastore:find_user{ email = "x@lp.com" }.confirmed_at)
    assert.is_false(sec:current_user(m:req()).is_authenticated)
    -- y, signed in (login_without_confirmation), follows its own link
    local y, ylink = register("y@lp.com")
    local yid = sec.datastore:find_user{ email = "y@lp.com" }.id
    assert.equals(yid, sec:current_user(y:req()).id)
    res = helpers.follow(sec, ylink, y)
    assert.truthy(sec.datastore:find_user{ email = "y@lp.com" }.confirmed_at)
    assert.equals(yid, sec:current_user(y:req()).id)
  end)
end)

describe("emails", function()
  it("are stored, answered and mailed with the domain in lower case, the local part as typed (Flask-Security)", function()
    local sec, _, _, maildir = setup{ confirmable = true }
    local c = api(sec)
    local res, r = c:call("POST", "/register", { email = "  MixedCase@Example.ORG ", password = "battery staple",
                                                 password_confirm = "battery staple" })
    assert.equals(200, res.status)
    assert.equals("MixedCase@example.org", sec.datastore:find_user{ email = "mixedcase@example.org" }.email)
    assert.equals("MixedCase@example.org", mails(maildir)[1].to)
    res, r = c:call("POST", "/register", { email = "MIXEDCASE@EXAMPLE.ORG", password = "battery staple",
                                           password_confirm = "battery staple" })
    assert.equals(400, res.status)
    assert.same({ "MIXEDCASE@example.org is already associated with an account." }, r.field_errors.email)
  end)
end)

describe("/reset", function()
  it("sends instructions for known users only (G1), generically in generic mode (G6)", function()
    local sec, _, _, maildir = setup()
    sec.datastore:create_user{ email = "off@example.com", password = "x", active = false }
    local sent
    sec:connect("reset_password_instructions_sent", function(ev) sent = ev end)
    local c = api(sec)
    local res, r = c:call("POST", "/reset", { email = "matt@example.com" })
    assert.equals(200, res.status); assert.is_string(r.csrf_token)
    assert.equals(1, #mails(maildir)); assert.equals("matt@example.com", sent.user.email)
    res, r = c:call("POST", "/reset", { email = "nobody@example.com" })
    assert.same({ "Specified user does not exist" }, r.field_errors.email)
    res, r = c:call("POST", "/reset", { email = "off@example.com" })
    assert.same({ "Account is disabled." }, r.field_errors.email)
    local g = setup{ return_generic_responses = true }
    local gc = api(g)
    local res1, r1 = gc:call("POST", "/reset", { email = "nobody@example.com" })
    local res2, r2 = gc:call("POST", "/reset", { email = "matt@example.com" })
    assert.equals(200, res1.status); assert.equals(200, res2.status)
    assert.is_nil(r1.errors)
  end)

  it("is for signed-out users with a confirmed address: no mail otherwise (as Flask-Security)", function()
    local sec, u, _, maildir = setup{ confirmable = true }
    sec.datastore:create_user{ email = "new@example.com", password = "x" } -- not confirmed
    local c = api(sec)
    local res, r = c:call("POST", "/reset", { email = "new@example.com" })
    assert.equals(400, res.status)
    assert.same({ "Email requires confirmation." }, r.field_errors.email)
    assert.equals(0, #mails(maildir))
    -- with login_without_confirmation the address need not be confirmed
    local lax, _, _, laxdir = setup{ confirmable = true, login_without_confirmation = true }
    lax.datastore:create_user{ email = "new@example.com", password = "x" }
    assert.equals(200, (api(lax):call("POST", "/reset", { email = "new@example.com" })).status)
    assert.equals(1, #mails(laxdir))
    -- signed in (session): every method of /reset and /reset/<token> refuses
    assert.equals(200, (c:call("POST", "/reset", { email = "matt@example.com" })).status)
    local link = path_of(mails(maildir)[1].link)
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    for _, call in ipairs{ { "GET", "/reset" }, { "POST", "/reset", { email = "matt@example.com" } },
                           { "GET", link }, { "POST", link, { password = "battery staple", password_confirm = "battery staple" } } } do
      res, r = c:call(call[1], call[2], call[3])
      assert.equals(400, res.status, call[1] .. " " .. call[2])
      assert.same({ "You can only access this endpoint when not logged in." }, r.errors)
    end
    assert.equals(1, #mails(maildir))
    assert.is_true(sec:verify_password(PW, sec.datastore:find_user{ id = u.id }.password))
    -- a browser is sent on to the post-login view
    res = c:call("GET", "/reset", nil, nil, { accept = "text/html" })
    assert.equals(302, res.status); assert.equals("/", res.headers["Location"])
  end)

  it("builds links in mail from external_url, not the request's Host; warns when it is unset", function()
    local logged = {}
    local log = function(level, msg) logged[#logged + 1] = level .. " " .. msg end
    local sec, _, _, maildir = setup{ external_url = "https://auth.example:8443", log = log }
    assert.same({}, logged)
    api(sec):call("POST", "/reset", { email = "matt@example.com" }) -- the request's host is "localhost"
    assert.matches("^https://auth%.example:8443/reset/", mails(maildir)[1].link)
    setup{ log = log }
    assert.equals(1, #logged)
    assert.matches("^warn fsec: external_url is not set", logged[1])
    for _, bad in ipairs{ "auth.example", "https://auth.example/x", "javascript:alert(1)//", "https://a b",
                          "ftp://auth.example", "https://auth.example\r\nX: y" } do
      assert.has_error(function() setup{ external_url = bad } end, nil, bad)
    end
  end)

  it("resets once, ends every session, and normalizes (G2, G3, G4, G7)", function()
    local sec, u, _, maildir = setup()
    local other = api(sec)
    other:call("POST", "/login", { email = "matt@example.com", password = PW })
    local old_token = sec:get_auth_token(u)
    local c = api(sec)
    c:call("POST", "/reset", { email = "matt@example.com" })
    local link = path_of(mails(maildir)[1].link)
    local reset_seen = 0
    sec:connect("password_reset", function() reset_seen = reset_seen + 1 end)
    local res, r = c:call("POST", link, { password = "H\u{F6}heH\u{F6}he" })
    assert.same({ "Password not provided" }, r.field_errors.password_confirm)
    res, r = c:call("POST", link, { password = "short", password_confirm = "short" })
    assert.same({ "Password must be at least 8 characters" }, r.field_errors.password)
    res = c:call("POST", link, { password = "H\u{F6}heH\u{F6}he", password_confirm = "H\u{F6}heH\u{F6}he" })
    assert.equals(200, res.status)
    assert.same({ meta = { code = 200 }, response = {} }, cjson.decode(res.body))
    assert.equals(1, reset_seen)
    res, r = c:call("POST", link, { password = "H\u{F6}heH\u{F6}he", password_confirm = "H\u{F6}heH\u{F6}he" })
    assert.equals(400, res.status)
    assert.same({ "Invalid reset password token." }, r.field_errors[""])
    res, r = c:call("POST", link, {}) -- the token's error alone, no field read
    assert.same({ "Invalid reset password token." }, r.errors)
    assert.is_false(sec:current_user(other:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ headers = { ["authentication-token"] = old_token } }).is_authenticated)
    local fresh = api(sec)
    res = fresh:call("POST", "/login", { email = "matt@example.com", password = "Ho\u{308}heHo\u{308}he" })
    assert.equals(200, res.status)
    local notice = mails(maildir)[2]
    assert.equals("Your password has been reset", notice.subject)
  end)

  it("refuses bogus and expired tokens (G5)", function()
    local sec, _, clock, maildir = setup()
    local c = api(sec)
    local _, r = c:call("POST", "/reset/bogus", { password = "battery staple", password_confirm = "battery staple" })
    assert.same({ "Invalid reset password token." }, r.field_errors[""])
    c:call("POST", "/reset", { email = "matt@example.com" })
    clock.now = clock.now + 86401
    c:call("GET", "/login") -- a fresh CSRF token (they last an hour)
    local sent = 0
    sec:connect("reset_password_instructions_sent", function() sent = sent + 1 end)
    local old = path_of(mails(maildir)[1].link)
    _, r = c:call("POST", old, { password = "battery staple", password_confirm = "battery staple" })
    assert.same({ "You did not reset your password within 1 days. New instructions have been sent to matt@example.com." },
                r.field_errors[""])
    -- as Flask-Security: an expired link mails a new one (POST and GET)
    assert.equals(2, #mails(maildir)); assert.equals(1, sent)
    local res = sec:handle(helpers.request{ path = old })
    assert.equals(302, res.status); assert.equals("/reset", res.headers.Location)
    assert.equals(3, #mails(maildir)); assert.equals(2, sent)
    local new = path_of(mails(maildir)[3].link)
    for _, m in ipairs(mails(maildir)) do if path_of(m.link) ~= old then new = path_of(m.link) end end
    res = c:call("POST", new, { password = "battery staple", password_confirm = "battery staple" })
    assert.equals(200, res.status)
    assert.is_true(sec:verify_password("battery staple", sec.datastore:find_user{ email = "matt@example.com" }.password))
  end)

  it("mails no new link for an expired one of a disabled account: the link is invalid", function()
    local sec, u, clock, maildir = setup()
    local c = api(sec)
    c:call("POST", "/reset", { email = "matt@example.com" })
    sec.datastore:deactivate_user(u)
    clock.now = clock.now + 86401
    local res = sec:handle(helpers.request{ path = path_of(mails(maildir)[1].link), headers = { accept = "application/json" } })
    assert.equals(400, res.status)
    assert.same({ "Invalid reset password token." }, cjson.decode(res.body).response.errors)
    assert.equals(1, #mails(maildir))
  end)
end)

describe("/change", function()
  it("reports each error (H1) and keeps spaces", function()
    local sec = setup()
    local c = api(sec)
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    local cases = {
      { { password = "wrong-one", new_password = "new-password", new_password_confirm = "new-password" }, "password", "Invalid password" },
      { { password = PW, new_password = "new-password", new_password_confirm = "other-password" }, "new_password_confirm", "Passwords do not match" },
      { { password = PW, new_password = PW, new_password_confirm = PW }, "password", "Your new password must be different than your previous password." },
      { { password = PW, new_password = "short", new_password_confirm = "short" }, "new_password", "Password must be at least 8 characters" },
      { { password = PW, new_password_confirm = "x" }, "new_password", "Password not provided" },
    }
    for _, case in ipairs(cases) do
      local res, r = c:call("POST", "/change", case[1])
      assert.equals(400, res.status)
      assert.same({ case[3] }, r.field_errors[case[2]], case[3])
    end
    local res = c:call("POST", "/change", { password = PW, new_password = " spaced pass ", new_password_confirm = " spaced pass " })
    assert.equals(200, res.status)
    assert.is_true(sec:verify_password(" spaced pass ", sec.datastore:find_user{ email = "matt@example.com" }.password))
    assert.is_false(sec:verify_password("spaced pass", sec.datastore:find_user{ email = "matt@example.com" }.password))
  end)

  it("checks in Flask-Security's order: the new fields, the current password, then the rules", function()
    local sec = setup()
    local c = api(sec)
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    local before = sec:hash_count()
    -- the new password's fields alone, nothing hashed
    local res, r = c:call("POST", "/change", {})
    assert.same({ "Password not provided", "Password not provided" }, r.errors)
    assert.same({ "Password not provided" }, r.field_errors.new_password_confirm)
    res, r = c:call("POST", "/change", { password = "wrong-one", new_password = "battery", new_password_confirm = 12345678 })
    assert.same({ "Input not appropriate for requested API" }, r.errors) -- one error, not two
    assert.equals(before, sec:hash_count())
    -- a wrong current password before the new one's rules or sameness
    for _, new in ipairs{ "short", "wrong-one" } do
      res, r = c:call("POST", "/change", { password = "wrong-one", new_password = new, new_password_confirm = new })
      assert.equals(400, res.status); assert.same({ "Invalid password" }, r.errors)
    end
    res, r = c:call("POST", "/change", { password = "   ", new_password = "new-password", new_password_confirm = "new-password" })
    assert.same({ "Password not provided" }, r.field_errors.password)
    -- spaces only are no new password
    res, r = c:call("POST", "/change", { password = PW, new_password = "        ", new_password_confirm = "        " })
    assert.equals(400, res.status)
    assert.same({ "Password not provided" }, r.field_errors.new_password)
    assert.is_true(sec:verify_password(PW, sec.datastore:find_user{ email = "matt@example.com" }.password))
  end)

  it("changes the password and ends the other sessions in one transaction: a failure half-way leaves both", function()
    local sec, u = setup{ log = function() end }
    local db = sec.config.database
    local function sql(stmt)
      assert.is_true(helpers.sh(("sqlite3 %s %q 2>/dev/null || env -u LD_PRELOAD python3 -c %q"):format(db, stmt,
        ("import sqlite3; c = sqlite3.connect('%s'); c.execute(%q); c.commit()"):format(db, stmt))))
    end
    local a, b = api(sec), api(sec)
    a:call("POST", "/login", { email = "matt@example.com", password = PW })
    b:call("POST", "/login", { email = "matt@example.com", password = PW })
    local token = sec:get_auth_token(u)
    -- a real SQLite failure after the password is written, at the token's rotation
    sql("CREATE TRIGGER no_rotate BEFORE UPDATE OF fs_token_uniquifier ON users BEGIN SELECT RAISE(ABORT, 'injected'); END")
    local res = a:call("POST", "/change", { password = PW, new_password = "another-pass", new_password_confirm = "another-pass" })
    assert.is_true(res.status == 500 or res.status == 503, tostring(res.status))
    assert.same({}, res.cookies) -- no cookie of the rolled-back session
    local stored = sec.datastore:find_user{ email = "matt@example.com" }
    assert.is_true(sec:verify_password(PW, stored.password))
    assert.equals(u.fs_uniquifier, stored.fs_uniquifier)
    assert.is_true(sec:current_user(a:req()).is_authenticated)
    assert.is_true(sec:current_user(b:req()).is_authenticated)
    assert.is_true(sec:current_user(helpers.request{ headers = { ["authentication-token"] = token } }).is_authenticated)
    sql("DROP TRIGGER no_rotate")
    res = a:call("POST", "/change", { password = PW, new_password = "another-pass", new_password_confirm = "another-pass" })
    assert.equals(200, res.status)
    assert.is_false(sec:current_user(b:req()).is_authenticated)
  end)

  it("ends other sessions and keeps this one (H2); answers 401 when anonymous", function()
    local sec = setup()
    local a, b = api(sec), api(sec)
    a:call("POST", "/login", { email = "matt@example.com", password = PW })
    b:call("POST", "/login", { email = "matt@example.com", password = PW })
    local res = a:call("POST", "/change", { password = PW, new_password = "another-pass", new_password_confirm = "another-pass" })
    assert.equals(200, res.status)
    assert.is_true(sec:current_user(a:req()).is_authenticated)
    assert.is_false(sec:current_user(b:req()).is_authenticated)
    res = api(sec):call("POST", "/change", { password = "x" })
    assert.equals(401, res.status)
  end)
end)

describe("bad input", function()
  it("answers wrong JSON types, NUL bytes and invalid UTF-8 with a field error, storing nothing", function()
    local sec = setup()
    local c = api(sec)
    for _, email in ipairs{ { "a@b.org" }, 42, true, "a\0b@x.org", "\255@x.org" } do
      local res, r = c:call("POST", "/register", { email = email, password = "battery staple", password_confirm = "battery staple" })
      assert.equals(400, res.status)
      assert.is_table(r.field_errors.email)
    end
    local res, r = c:call("POST", "/register", { email = cjson.null, password = "battery staple", password_confirm = "battery staple" })
    assert.same({ "Email not provided" }, r.field_errors.email)
    res = c:call("POST", "/login", { email = "matt@example.com", password = "pw\0x" })
    assert.equals(400, res.status)
    assert.equals(1, (sec.datastore:counts()))
  end)

  it("takes a password of spaces only as not provided (Flask-Security's DataRequired), hashing nothing", function()
    local sec = setup()
    local c = api(sec)
    local before = sec:hash_count()
    local res, r = c:call("POST", "/register", { email = "sp@example.com", password = "        ", password_confirm = "        " })
    assert.equals(400, res.status)
    assert.same({ "Password not provided" }, r.field_errors.password)
    assert.same({ "Password not provided" }, r.field_errors.password_confirm)
    res, r = c:call("POST", "/login", { email = "matt@example.com", password = " \t " })
    assert.equals(400, res.status); assert.same({ "Password not provided" }, r.errors)
    assert.equals(before, sec:hash_count())
    assert.equals(1, (sec.datastore:counts()))
    -- a wrong type in the retyped password: its own error, once
    res, r = c:call("POST", "/register", { email = "sp@example.com", password = "battery staple", password_confirm = 12345678 })
    assert.same({ "Input not appropriate for requested API" }, r.field_errors.password_confirm)
  end)

  it("reads remember as Flask-Security's BooleanField: false only when absent, false, \"false\" or empty", function()
    local sec = setup()
    for _, case in ipairs{ { 1, true }, { "yes", true }, { "True", true }, { "0", true }, { true, true },
                           { false, false }, { "false", false }, { "", false } } do
      local c = api(sec)
      local res = c:call("POST", "/login", { email = "matt@example.com", password = PW, remember = case[1] })
      assert.equals(200, res.status)
      assert.equals(case[2], helpers.set_cookie(res, "remember_token") ~= nil, tostring(case[1]))
    end
    -- default_remember_me pre-checks the page's box; the posted form decides:
    -- an explicit no, or an unchecked box (nothing sent), remembers nothing
    local dflt = setup{ default_remember_me = true }
    local page = dflt:handle(helpers.request{ path = "/login", headers = { accept = "text/html" } })
    assert.matches('name="remember" value="y" checked>', page.body, 1, true)
    for _, v in ipairs{ false, "false", "" } do
      local res = api(dflt):call("POST", "/login", { email = "matt@example.com", password = PW, remember = v })
      assert.equals(200, res.status); assert.is_nil(helpers.set_cookie(res, "remember_token"), tostring(v))
    end
    local res = api(dflt):call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.is_nil(helpers.set_cookie(res, "remember_token"))
    res = api(dflt):call("POST", "/login", { email = "matt@example.com", password = PW, remember = true })
    assert.is_string(helpers.set_cookie(res, "remember_token"))
    assert.is_nil(setup():handle(helpers.request{ path = "/login", headers = { accept = "text/html" } })
      .body:find('value="y" checked', 1, true))
  end)

  it("refuses bodies over the limit with 413 and broken JSON with 400", function()
    local sec = setup{ max_body_bytes = 1024 }
    local res = sec:handle(helpers.request{ method = "POST", path = "/login", body = string.rep("x", 2000),
      headers = { ["content-type"] = "application/json", accept = "application/json" } })
    assert.equals(413, res.status)
    res = sec:handle(helpers.request{ method = "POST", path = "/login", body = "{not json",
      headers = { ["content-type"] = "application/json", accept = "application/json" } })
    assert.equals(400, res.status)
  end)

  it("leaves other paths to the application and answers 405 for other methods", function()
    local sec = setup{ url_prefix = "/auth" }
    assert.is_nil(sec:handle(helpers.request{ path = "/login" }))
    assert.is_nil(sec:handle(helpers.request{ path = "/authlogin" }))
    assert.is_nil(sec:handle(helpers.request{ path = "/auth/profile" }))
    local res = sec:handle(helpers.request{ method = "PUT", path = "/auth/login" })
    assert.equals(405, res.status)
    assert.equals("GET, POST, HEAD, OPTIONS", res.headers.Allow)
  end)

  it("answers OPTIONS with Allow and HEAD as GET without a body, as Flask does", function()
    local sec = setup{ passwordless = false, confirmable = true }
    local res = sec:handle(helpers.request{ method = "OPTIONS", path = "/login" })
    assert.equals(200, res.status); assert.equals("", res.body)
    assert.equals("GET, POST, HEAD, OPTIONS", res.headers.Allow)
    local get = sec:handle(helpers.request{ path = "/login" })
    local head = sec:handle(helpers.request{ method = "HEAD", path = "/login" })
    assert.equals(200, head.status); assert.equals("", head.body)
    assert.equals(get.headers["Content-Type"], head.headers["Content-Type"])
    assert.equals(get.headers["Cache-Control"], head.headers["Cache-Control"])
    assert.truthy(#get.body > 0)
  end)

  it("does nothing on HEAD where a GET acts: mailed links and GET /logout (link scanners probe with HEAD)", function()
    local sec, u, clock, maildir = setup{ confirmable = true, passwordless = true, logout_methods = { "GET", "POST" } }
    local c = api(sec)
    c:call("POST", "/register", { email = "x@lp.com", password = "battery staple", password_confirm = "battery staple" })
    c:call("POST", "/reset", { email = "matt@example.com" })
    c:call("POST", "/login", { email = "matt@example.com" })
    local links = {}
    for _, m in ipairs(mails(maildir)) do
      local kind = m.link and m.link:match("^https?://[^/]+/(%a+)/")
      if kind then links[kind] = path_of(m.link) end
    end
    assert.truthy(links.confirm and links.reset and links.login)
    for _, kind in ipairs{ "confirm", "login" } do
      local res = sec:handle(c:req{ method = "HEAD", path = links[kind] })
      assert.equals(200, res.status); assert.equals("", res.body)
      assert.equals(0, #res.cookies, kind)
    end
    assert.is_nil(sec.datastore:find_user{ email = "x@lp.com" }.confirmed_at)
    -- an expired reset link probed by HEAD mails nothing
    clock.now = clock.now + 86401
    local n = #mails(maildir)
    assert.equals(200, sec:handle(helpers.request{ method = "HEAD", path = links.reset }).status)
    assert.equals(n, #mails(maildir))
    -- HEAD /logout keeps the session; GET /logout (allowed here) ends it
    local m = helpers.client() -- (passwordless here: signed in directly)
    local r = sec:new_response()
    assert(sec:login_user(m:req(), r, u))
    m:take(r)
    assert.equals(u.id, sec:current_user(m:req()).id)
    m:take(sec:handle(m:req{ method = "HEAD", path = "/logout" }))
    assert.equals(u.id, sec:current_user(m:req()).id)
    m:take(sec:handle(m:req{ path = "/logout" }))
    assert.is_false(sec:current_user(m:req()).is_authenticated)
  end)
end)

describe("/verify", function()
  it("GET answers the user and has_webauthn_verify_credential = false, as Flask-Security-Too's clients expect", function()
    local sec = setup()
    local c = api(sec)
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    local res, r = c:call("GET", "/verify")
    assert.equals(200, res.status)
    assert.is_false(r.has_webauthn_verify_credential)
    assert.is_table(r.user); assert.is_string(r.csrf_token)
  end)
end)

describe("page security headers", function()
  it("keep every HTML page out of other sites' frames, unless turned off", function()
    local sec = setup()
    for _, path in ipairs{ "/login", "/register", "/reset" } do
      local res = sec:handle(helpers.request{ path = path, headers = { accept = "text/html" } })
      assert.equals(200, res.status)
      assert.equals("DENY", res.headers["X-Frame-Options"], path)
      assert.equals("frame-ancestors 'none'", res.headers["Content-Security-Policy"], path)
      assert.equals("nosniff", res.headers["X-Content-Type-Options"], path)
    end
    local off = setup{ page_security_headers = false }:handle(helpers.request{ path = "/login", headers = { accept = "text/html" } })
    assert.is_nil(off.headers["X-Frame-Options"])
  end)
end)

describe("cookies over TLS", function()
  it("the anonymous CSRF cookie and the flash cookie carry the __Host- prefix; a planted plain one is not read", function()
    local sec = setup()
    local res = sec:handle(helpers.request{ path = "/login", scheme = "https", headers = { accept = "application/json" } })
    local sc = helpers.set_cookie(res, "__Host-fsec_csrf")
    assert.is_string(sc); assert.matches("; Secure", sc, 1, true); assert.is_nil(sc:find("Domain=", 1, true))
    assert.is_nil(helpers.set_cookie(res, "fsec_csrf"))
    -- a sibling subdomain's fsec_csrf (cookie tossing) does not choose the binding
    local c = api(sec, "https")
    c.jar.fsec_csrf = "attacker-chosen-value-1234567890"
    local token = select(2, c:call("GET", "/login")).csrf_token
    c.jar["__Host-fsec_csrf"] = nil
    res = c:call("POST", "/login", { email = "matt@example.com", password = PW }, nil, { ["x-csrf-token"] = token })
    assert.equals(400, res.status) -- the token was bound to the __Host- cookie, not the planted one
    -- a flash over TLS (a browser's forgot-password form)
    local plain = setup{ csrf_enabled = false }
    res = plain:handle(helpers.request{ method = "POST", path = "/reset", scheme = "https", body = "email=matt%40example.com",
      headers = { accept = "text/html", ["content-type"] = "application/x-www-form-urlencoded" } })
    assert.equals(302, res.status)
    sc = helpers.set_cookie(res, "__Host-fsec_flash")
    assert.is_string(sc); assert.matches("; Secure", sc, 1, true)
    assert.is_nil(helpers.set_cookie(res, "fsec_flash"))
  end)
end)

describe("Cache-Control", function()
  it("marks every answer private, no-store (Flask-Security-Too 5.8), or as configured", function()
    local sec = setup{ max_body_bytes = 1024 }
    local c = api(sec)
    local answers = {
      c:call("GET", "/login"),
      (c:call("POST", "/login", { email = "matt@example.com", password = "wrong-password" })), -- 400
      (c:call("POST", "/login", { email = "matt@example.com", password = PW })),
      (c:call("PUT", "/login")), -- 405
      (c:call("POST", "/logout", nil, nil, { accept = "text/html" })), -- a redirect
      sec:handle(helpers.request{ method = "POST", path = "/login", body = string.rep("x", 2000),
        headers = { ["content-type"] = "application/json" } }), -- 413
    }
    assert.equals(6, #answers)
    for i, res in ipairs(answers) do
      assert.equals("private, no-store", res.headers["Cache-Control"], i .. ": " .. res.status)
    end
    assert.equals("no-cache", setup{ cache_control = "no-cache" }:handle(helpers.request{ path = "/login" })
      .headers["Cache-Control"])
    assert.is_nil(setup{ cache_control = false }:handle(helpers.request{ path = "/login" }).headers["Cache-Control"])
    for _, bad in ipairs{ "a\r\nSet-Cookie: x=1", "", true, 5 } do
      assert.has_error(function() setup{ cache_control = bad } end)
    end
  end)
end)

describe("passwordless", function()
  it("sends a link that signs in", function()
    local sec, u, _, maildir = setup{ passwordless = true }
    local c = api(sec)
    local res = c:call("POST", "/login", { email = "matt@example.com" })
    assert.equals(200, res.status)
    local m = mails(maildir)[1]
    assert.equals("Login instructions", m.subject)
    res = helpers.follow(sec, path_of(m.link), c)
    assert.equals(302, res.status)
    assert.equals(u.id, sec:current_user(c:req()).id)
    res = sec:handle(helpers.request{ path = "/login/bogus" })
    assert.equals("/login", res.headers.Location)
  end)

  it("links work once (with trackable), die with an email change, refuse a locked account and a signed-in user", function()
    local sec, u, _, maildir = setup{ passwordless = true, trackable = true, login_lockout_threshold = 3 }
    local function link()
      local c = api(sec)
      assert.equals(200, (c:call("POST", "/login", { email = u.email })).status)
      local all = mails(maildir)
      table.sort(all, function(a, b) return a.name < b.name end)
      return path_of(all[#all].link)
    end
    local function follow(path, client)
      local res = helpers.follow(sec, path, client, { accept = "application/json" })
      return res.status, res
    end
    local l = link()
    assert.equals(200, (follow(l)))
    assert.equals(400, (follow(l))) -- used: the login count moved on
    -- mailed to the old address: dead once the email changes
    l = link()
    assert(sec.datastore:set_email(sec.datastore:find_user{ id = u.id }, "matt.new@example.com"))
    assert.equals(400, (follow(l)))
    u = sec.datastore:find_user{ id = u.id }
    -- a locked account
    l = link()
    for _ = 1, 3 do sec.datastore:record_failed_login(u, 900) end
    assert.equals(400, (follow(l)))
    sec.datastore:reset_failed_logins(u)
    -- someone signed in who follows another user's link stays who they were
    local someone = assert(sec.datastore:create_user{ email = "other@example.com", password = sec:hash_password(PW) })
    local other = helpers.client()
    local r0 = sec:new_response()
    assert(sec:login_user(other:req(), r0, someone))
    other:take(r0)
    local status, res = follow(link(), other)
    assert.equals(400, status)
    assert.same({ "You can only access this endpoint when not logged in." }, cjson.decode(res.body).response.errors)
    assert.equals("other@example.com", sec:current_user(other:req()).email)
  end)
end)

describe("links that sign in or out", function()
  it("ask first: GET (page or JSON) acts on nothing, a POST needs CSRF even with csrf_ignore_unauth_endpoints", function()
    local sec, u, _, maildir = setup{ passwordless = true, trackable = true, csrf_ignore_unauth_endpoints = true }
    api(sec):call("POST", "/login", { email = u.email })
    local link = path_of(mails(maildir)[1].link)
    local c = helpers.client()
    local page = c:take(sec:handle(c:req{ path = link }))
    assert.equals(200, page.status)
    assert.matches("Sign in as <strong>matt@example.com</strong>", page.body, 1, true)
    assert.equals("DENY", page.headers["X-Frame-Options"])
    local res = sec:handle(c:req{ path = link, headers = { accept = "application/json" } })
    local j = cjson.decode(res.body).response
    assert.equals(200, res.status); assert.is_true(j.consent_required); assert.equals(u.email, j.email)
    assert.is_string(j.csrf_token)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    assert.equals(0, sec.datastore:find_user{ id = u.id }.login_count or 0) -- the link is not used up
    -- unauthenticated endpoints skip CSRF here, but not a link's consent
    res = sec:handle(c:req{ method = "POST", path = link, headers = { accept = "application/json" } })
    assert.equals(400, res.status)
    assert.same({ "The CSRF token is missing." }, cjson.decode(res.body).response.errors)
    assert.equals(405, sec:handle(c:req{ method = "PUT", path = link }).status)
    res = c:take(sec:handle(c:req{ method = "POST", path = link, headers = { accept = "application/json",
                                                                               ["x-csrf-token"] = j.csrf_token } }))
    assert.equals(200, res.status)
    assert.equals(u.id, sec:current_user(c:req()).id)
  end)

  it("act on GET with one_click_links, as Flask-Security (and take no POST)", function()
    local sec, u, _, maildir = setup{ passwordless = true, one_click_links = true }
    api(sec):call("POST", "/login", { email = u.email })
    local link = path_of(mails(maildir)[1].link)
    local c = helpers.client()
    local res = c:take(sec:handle(c:req{ path = link }))
    assert.equals(302, res.status)
    assert.equals(u.id, sec:current_user(c:req()).id)
    assert.equals(405, sec:handle(helpers.request{ method = "POST", path = link }).status)
  end)
end)

describe("throttle hook", function()
  it("answers 429 when the hook denies", function()
    local sec = setup{ csrf_enabled = false }
    sec:policy("throttle", function(req) return req.remote_addr ~= "198.51.100.9" end)
    local function post(addr)
      return sec:handle(helpers.request{ method = "POST", path = "/login", remote_addr = addr,
        headers = { accept = "application/json", ["content-type"] = "application/json" },
        body = cjson.encode{ email = "matt@example.com", password = PW } })
    end
    assert.equals(200, post("192.0.2.1").status)
    local before = sec:hash_count()
    local res = post("198.51.100.9")
    assert.equals(429, res.status)
    assert.equals(before, sec:hash_count()) -- refused before any hashing
  end)
end)

describe("a store that cannot answer", function()
  it("gives 503, never a wrong answer, while another process holds the lock", function()
    local db = helpers.tmpfile("locked.db")
    local holder = helpers.new{ database = db }
    local sec = helpers.new{ database = db, database_busy_timeout = 100, csrf_enabled = false,
                             registerable = true, log = function() end }
    assert(holder.datastore:create_user{ email = "matt@example.com", password = sec:hash_password(PW) })
    local statuses, bodies = {}, {}
    holder.datastore:transaction(function()
      assert(holder.datastore:create_user{ email = "busy@example.com" }) -- holds the write lock
      for _, t in ipairs{
        { path = "/login", body = { email = "matt@example.com", password = PW } },
        { path = "/register", body = { email = "n@example.com", password = "battery staple", password_confirm = "battery staple" } },
      } do
        local res = sec:handle(helpers.request{ method = "POST", path = t.path, body = cjson.encode(t.body),
          headers = { accept = "application/json", ["content-type"] = "application/json" } })
        statuses[#statuses + 1] = res.status
        bodies[#bodies + 1] = res
      end
    end)
    assert.same({ 503, 503 }, statuses)
    assert.same({ "Service temporarily unavailable" }, cjson.decode(bodies[1].body).response.errors)
    assert.same({}, bodies[1].cookies) -- no half-made session
    assert.is_nil(sec.datastore:find_user{ email = "n@example.com" })
    -- and once the lock is gone, the same login works
    local res = sec:handle(helpers.request{ method = "POST", path = "/login",
      body = cjson.encode{ email = "matt@example.com", password = PW },
      headers = { accept = "application/json", ["content-type"] = "application/json" } })
    assert.equals(200, res.status)
  end)
end)

describe("as Flask-Security", function()
  local function signals_of(sec)
    local got = {}
    for _, name in ipairs{ "user_authenticated", "password_changed", "user_not_registered" } do
      sec:connect(name, function(ev) got[#got + 1] = { name, ev } end)
    end
    return got
  end

  it("a change signs in again (user_authenticated, authn_via change) before password_changed", function()
    local sec = setup()
    local c = api(sec)
    c:call("GET", "/login")
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    local got = signals_of(sec)
    local res = c:call("POST", "/change", { password = PW, new_password = "battery staple", new_password_confirm = "battery staple" })
    assert.equals(200, res.status)
    assert.equals(2, #got)
    assert.equals("user_authenticated", got[1][1]); assert.same({ "change" }, got[1][2].authn_via)
    assert.equals("password_changed", got[2][1])
  end)

  it("a passwordless link signs in with authn_via token", function()
    local sec, _, _, maildir = setup{ passwordless = true }
    local c = api(sec)
    c:call("POST", "/login", { email = "matt@example.com" })
    local got = signals_of(sec)
    helpers.follow(sec, path_of(mails(maildir)[1].link), c)
    assert.equals(1, #got); assert.same({ "token" }, got[1][2].authn_via)
  end)

  it("a confirm link of the account signed in does not sign it in again, even with auto_login_after_confirm", function()
    local sec, _, _, maildir = setup{ confirmable = true, login_without_confirmation = true, auto_login_after_confirm = true,
                                      trackable = true }
    local c = api(sec)
    c:call("GET", "/register")
    c:call("POST", "/register", { email = "x@lp.com", password = "battery staple", password_confirm = "battery staple" })
    local x = sec.datastore:find_user{ email = "x@lp.com" }
    assert.equals(x.id, sec:current_user(c:req()).id)
    local got = signals_of(sec)
    helpers.follow(sec, path_of(mails(maildir)[1].link), c)
    assert.truthy(sec.datastore:find_user{ email = "x@lp.com" }.confirmed_at)
    assert.equals(0, #got)
    assert.equals(1, sec.datastore:find_user{ email = "x@lp.com" }.login_count) -- the registration's only
    assert.equals(x.id, sec:current_user(c:req()).id)
  end)

  it("generic mode: a taken email or username gets the answer of a new account, a signal and a mail", function()
    local sec, _, _, maildir = setup{ return_generic_responses = true, confirmable = true, username_enable = true }
    assert(sec.datastore:create_user{ email = "alice@example.com", username = "alice", password = sec:hash_password(PW) })
    local got = signals_of(sec)
    local function register(email, username)
      local c = helpers.client()
      local page = sec:handle(c:req{ path = "/register" })
      c:take(page)
      local body = ("email=%s&username=%s&password=battery+staple&password_confirm=battery+staple&csrf_token=%s")
        :format(email, username, page.body:match('name="csrf_token" value="([^"]+)"'))
      local res = sec:handle(c:req{ method = "POST", path = "/register", body = body,
                                    headers = { ["content-type"] = "application/x-www-form-urlencoded" } })
      c:take(res)
      return res, sec:take_flashes(c:req(), sec:new_response())
    end
    local new_res, new_flash = register("fresh%40example.com", "fresh")
    local cases = { { "alice%40example.com", "someone", true, false }, -- taken email
                    { "b%40example.com", "alice", false, true } }     -- taken username
    for i, case in ipairs(cases) do
      local res, flashes = register(case[1], case[2])
      assert.equals(new_res.status, res.status); assert.equals(new_res.headers.Location, res.headers.Location)
      -- the same flash, category included (it names the address given)
      assert.same(new_flash[1][1], flashes[1][1])
      assert.equals(new_flash[1][2]:gsub("fresh@example%.com", (case[1]:gsub("%%40", "@"))), flashes[1][2])
      local ev = got[#got]
      assert.equals("user_not_registered", ev[1])
      assert.equals(case[3], ev[2].existing_email, i); assert.equals(case[4], ev[2].existing_username, i)
    end
    assert.is_nil(sec.datastore:find_user{ email = "b@example.com" })
    local to_b
    for _, m in ipairs(mails(maildir)) do if m.to == "b@example.com" then to_b = m end end
    assert.truthy(to_b); assert.equals("welcome_existing_username", to_b.kind)
  end)

  it("/change wants a sign-in within freshness, except by token (FRESHNESS_ALLOW_AUTH_TOKEN)", function()
    local sec, _, clock = setup{ freshness = 600, freshness_grace_period = 0 }
    local c = api(sec)
    c:call("GET", "/login")
    local _, r = c:call("POST", "/login", { email = "matt@example.com", password = PW }, { include_auth_token = "" })
    local token = r.user.authentication_token
    clock.now = clock.now + 601
    local res, j = c:call("POST", "/change", { password = PW, new_password = "battery staple", new_password_confirm = "battery staple" })
    assert.equals(401, res.status); assert.is_true(j.reauth_required)
    local t = api(sec)
    res = t:call("POST", "/change", { password = PW, new_password = "battery staple", new_password_confirm = "battery staple" },
                 nil, { ["authentication-token"] = token })
    assert.equals(200, res.status)
  end)
end)

describe("sign-in by username", function()
  it("takes the username field when no email is given and username is an identity attribute (Flask-Security's LoginForm)", function()
    local sec = setup{ username_enable = true, identity_attributes = { "email", "username" } }
    assert(sec.datastore:create_user{ email = "alice@example.com", username = "alice", password = sec:hash_password(PW),
                                      confirmed_at = 1 })
    local c = api(sec)
    c:call("GET", "/login")
    local res, r = c:call("POST", "/login", { username = "alice", password = PW })
    assert.equals(200, res.status)
    assert.equals("alice@example.com", sec:current_user(c:req()).email)
    -- wrong password and unknown name: the errors name the username field
    c = api(sec)
    c:call("GET", "/login")
    res, r = c:call("POST", "/login", { username = "alice", password = "wrong-one" })
    assert.equals(400, res.status); assert.same({ "Invalid password" }, r.field_errors.password)
    res, r = c:call("POST", "/login", { username = "nobody", password = PW })
    assert.same({ "Specified user does not exist" }, r.field_errors.username)
    -- neither field: the email's error, as before
    res, r = c:call("POST", "/login", { password = PW })
    assert.same({ "Email not provided" }, r.field_errors.email)
    -- the page shows the username field
    assert.matches('name="username"', sec:handle(helpers.request{ path = "/login" }).body, 1, true)
  end)

  it("does not look a username up when username is not an identity attribute, and hashes all the same", function()
    local sec = setup{ username_enable = true }
    assert(sec.datastore:create_user{ email = "bob@example.com", username = "bob", password = sec:hash_password(PW) })
    local c = api(sec)
    c:call("GET", "/login")
    local before = sec:hash_count()
    local res, r = c:call("POST", "/login", { username = "bob", password = PW })
    assert.equals(400, res.status)
    assert.same({ "Specified user does not exist" }, r.field_errors.username)
    assert.equals(before + 1, sec:hash_count())
    assert.is_nil(sec:handle(helpers.request{ path = "/login" }).body:find('name="username"', 1, true))
  end)
end)
