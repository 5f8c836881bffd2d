-- The endpoints' JSON API, as Flask-Security-Too answers it: signing in
-- and out (acceptance rows A1-A10, H1-H2 of the reference §7.2), CSRF,
-- sign-in by username.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local setup = ep.setup_for("ep.db", "quiet")
local api = helpers.api

describe("POST /login #quick", function()
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
    assert.equals(200, res.status)
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
    assert.equals(400, res.status)
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

describe("CSRF #quick", function()
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
    assert.equals(400, res.status)
    assert.same({ "The CSRF token is invalid." }, r.errors)
    c.csrf = token
    res = c:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(200, res.status)
    -- the pre-login token no longer works once the session changed
    c.csrf = token
    res, r = c:call("POST", "/change", { password = PW, new_password = "a-new-password",
                                      new_password_confirm = "a-new-password" })
    assert.equals(400, res.status)
    assert.same({ "The CSRF token is invalid." }, r.errors)
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

describe("/logout #quick", function()
  it("answers JSON POST with 200 {} (I1) and keeps next on our site (B5)", function()
    local sec = setup{ logout_methods = { "GET", "POST" } }
    local c = api(sec)
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    local res = c:call("POST", "/logout")
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

describe("sign-in by username #quick", function()
  it("takes the username field when no email is given and username is an identity attribute (Flask-Security's LoginForm)", function()
    local sec = setup{ username_enable = true, identity_attributes = { "email", "username" } }
    assert(sec.datastore:create_user{ email = "alice@example.com", username = "alice", password = sec:hash_password(PW),
                                      confirmed_at = 1 })
    local c = api(sec)
    c:call("GET", "/login")
    local r
    local res = c:call("POST", "/login", { username = "alice", password = PW })
    assert.equals(200, res.status)
    assert.equals("alice@example.com", sec:current_user(c:req()).email)
    -- wrong password and unknown name: the errors name the username field
    c = api(sec)
    c:call("GET", "/login")
    res, r = c:call("POST", "/login", { username = "alice", password = "wrong-one" })
    assert.equals(400, res.status); assert.same({ "Invalid password" }, r.field_errors.password)
    res, r = c:call("POST", "/login", { username = "nobody", password = PW })
    assert.equals(400, res.status)
    assert.same({ "Specified user does not exist" }, r.field_errors.username)
    -- neither field: the email's error, as before
    res, r = c:call("POST", "/login", { password = PW })
    assert.equals(400, res.status)
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
