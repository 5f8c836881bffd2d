-- The endpoints' JSON API, as Flask-Security-Too answers it: /reset and
-- /change (acceptance rows F1-F9, G1-G7 of the reference §7.2),
-- passwordless sign-in and the mailed links that sign in or out.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local setup = ep.setup_for("ep.db", "quiet")
local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of

describe("/reset #quick", function()
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
    assert.equals(400, res.status)
    assert.same({ "Specified user does not exist" }, r.field_errors.email)
    res, r = c:call("POST", "/reset", { email = "off@example.com" })
    assert.equals(400, res.status)
    assert.same({ "Account is disabled." }, r.field_errors.email)
    local g = setup{ return_generic_responses = true }
    local gc = api(g)
    local res1, r1 = gc:call("POST", "/reset", { email = "nobody@example.com" })
    local res2 = gc:call("POST", "/reset", { email = "matt@example.com" })
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
    assert.equals(400, res.status)
    assert.same({ "Password not provided" }, r.field_errors.password_confirm)
    res, r = c:call("POST", link, { password = "short", password_confirm = "short" })
    assert.equals(400, res.status)
    assert.same({ "Password must be at least 8 characters" }, r.field_errors.password)
    res = c:call("POST", link, { password = "H\u{F6}heH\u{F6}he", password_confirm = "H\u{F6}heH\u{F6}he" })
    assert.equals(200, res.status)
    assert.same({ meta = { code = 200 }, response = {} }, cjson.decode(res.body))
    assert.equals(1, reset_seen)
    res, r = c:call("POST", link, { password = "H\u{F6}heH\u{F6}he", password_confirm = "H\u{F6}heH\u{F6}he" })
    assert.equals(400, res.status)
    assert.same({ "Invalid reset password token." }, r.field_errors[""])
    res, r = c:call("POST", link, {}) -- the token's error alone, no field read
    assert.equals(400, res.status)
    assert.same({ "Invalid reset password token." }, r.errors)
    assert.is_false(sec:current_user(other:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ headers = { ["authentication-token"] = old_token } }).is_authenticated)
    local fresh = api(sec)
    res = fresh:call("POST", "/login", { email = "matt@example.com", password = "Ho\u{308}heHo\u{308}he" })
    assert.equals(200, res.status)
    local notice = mails(maildir)[2]
    assert.equals("Your password has been reset", notice.subject)
  end)

  it("keeps the link when the new password's hash is refused (503)", function()
    local sec, _, _, maildir = setup()
    local c = api(sec)
    c:call("POST", "/reset", { email = "matt@example.com" })
    local link = path_of(mails(maildir)[1].link)
    -- the hashing queue full, or its helper gone: 503, nothing spent
    sec.hash_password = function() return nil, "EHELPER: the argon2 helper stopped answering", "EHELPER" end
    local res = c:call("POST", link, { password = "a new long one", password_confirm = "a new long one" })
    assert.equals(503, res.status)
    sec.hash_password = nil -- the method again
    res = c:call("POST", link, { password = "a new long one", password_confirm = "a new long one" })
    assert.equals(200, res.status, res.body)
    assert.equals(200, (api(sec):call("POST", "/login", { email = "matt@example.com", password = "a new long one" })).status)
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

describe("/change #quick", function()
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
    assert.equals(400, res.status)
    assert.same({ "Password not provided", "Password not provided" }, r.errors)
    assert.same({ "Password not provided" }, r.field_errors.new_password_confirm)
    res, r = c:call("POST", "/change", { password = "wrong-one", new_password = "battery", new_password_confirm = 12345678 })
    assert.equals(400, res.status)
    assert.same({ "Input not appropriate for requested API" }, r.errors) -- one error, not two
    assert.equals(before, sec:hash_count())
    -- a wrong current password before the new one's rules or sameness
    for _, new in ipairs{ "short", "wrong-one" } do
      res, r = c:call("POST", "/change", { password = "wrong-one", new_password = new, new_password_confirm = new })
      assert.equals(400, res.status); assert.same({ "Invalid password" }, r.errors)
    end
    res, r = c:call("POST", "/change", { password = "   ", new_password = "new-password", new_password_confirm = "new-password" })
    assert.equals(400, res.status)
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

describe("passwordless #quick", function()
  it("sends a link that signs in", function()
    local sec, u, _, maildir = setup{ passwordless = true }
    local c = api(sec)
    local res, r = c:call("POST", "/login", { email = "matt@example.com" })
    assert.equals(200, res.status)
    assert.matches('"user":{}', res.body, 1, true) -- as Flask-Security: an empty user object
    assert.same({}, r.user)
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

describe("links that sign in or out #quick", function()
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
