-- The endpoints' answers whatever the endpoint: bad input, security
-- headers, cookies over TLS, Cache-Control, the throttle hook, a store
-- that cannot answer, and the Flask-Security shapes (acceptance row I1).
local helpers = require "spec.helpers"
local cjson = require "cjson"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local setup = ep.setup_for("ep.db", "quiet")
local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of

describe("bad input #quick", function()
  it("answers wrong JSON types, NUL bytes and invalid UTF-8 with a field error, storing nothing", function()
    local sec = setup()
    local c = api(sec)
    for _, email in ipairs{ { "a@b.org" }, 42, true, "a\0b@x.org", "\255@x.org" } do
      local res, r = c:call("POST", "/register", { email = email, password = "battery staple", password_confirm = "battery staple" })
      assert.equals(400, res.status)
      assert.is_table(r.field_errors.email)
    end
    local res, r = c:call("POST", "/register", { email = cjson.null, password = "battery staple", password_confirm = "battery staple" })
    assert.equals(400, res.status)
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
    assert.equals(400, res.status)
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

describe("page security headers #quick", function()
  it("keep every HTML page out of other sites' frames, unless turned off", function()
    local sec = setup()
    for _, path in ipairs{ "/login", "/register", "/reset" } do
      local res = sec:handle(helpers.request{ path = path, headers = { accept = "text/html" } })
      assert.equals(200, res.status)
      assert.equals("DENY", res.headers["X-Frame-Options"], path)
      assert.equals("frame-ancestors 'none'", res.headers["Content-Security-Policy"], path)
      assert.equals("nosniff", res.headers["X-Content-Type-Options"], path)
      -- a page's URL may hold a token (/reset/<token>): never sent on
      assert.equals("no-referrer", res.headers["Referrer-Policy"], path)
    end
    local off = setup{ page_security_headers = false }:handle(helpers.request{ path = "/login", headers = { accept = "text/html" } })
    assert.is_nil(off.headers["X-Frame-Options"])
    assert.is_nil(off.headers["Referrer-Policy"])
  end)
end)

describe("cookies over TLS #quick", function()
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

describe("Cache-Control #quick", function()
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

describe("throttle hook #quick", function()
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

describe("a store that cannot answer #quick", function()
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

describe("as Flask-Security #quick", function()
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

  it("/change wants a sign-in within freshness by session; by token, the current password it asks", function()
    local sec, _, clock = setup{ freshness = 600, freshness_grace_period = 0 }
    local c = api(sec)
    c:call("GET", "/login")
    local _, r = c:call("POST", "/login", { email = "matt@example.com", password = PW }, { include_auth_token = "" })
    local token = r.user.authentication_token
    local body = { password = PW, new_password = "battery staple", new_password_confirm = "battery staple" }
    local hdr = { ["authentication-token"] = token }
    clock.now = clock.now + 601
    local res, j = c:call("POST", "/change", body)
    assert.equals(401, res.status); assert.is_true(j.reauth_required)
    -- a token, however old its sign-in: the current password is the proof
    -- (a leaked token without it changes nothing: 400, the password is wrong)
    local t = api(sec)
    res, j = t:call("POST", "/change", { password = "not it", new_password = "battery staple",
                                         new_password_confirm = "battery staple" }, nil, hdr)
    assert.equals(400, res.status); assert.is_nil(j.reauth_required)
    res = t:call("POST", "/change", body, nil, hdr)
    assert.equals(200, res.status)
  end)
end)
