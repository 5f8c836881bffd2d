-- Usernames (Flask-Security-Too 5.6, fsec.username): /recover-username
-- mails an account's username without telling anyone whether the address
-- has an account, and /change-username renames a signed-in, fresh
-- account, with registration's checks and the store's unique key.
local helpers = require "spec.helpers"
local ep = require "spec.tools.endpoint_app"

local PW, EMAIL = ep.PW, ep.EMAIL
local api, mails = helpers.api, helpers.mails

local BASE = { username_enable = true, username_recovery = true, change_username = true,
               identity_attributes = { "email", "username" }, external_url = "http://localhost" }
local setup_base = ep.setup_for("username.db", "quiet")
local function setup(extra)
  local sec, u, clock, maildir, logs = setup_base(helpers.merged(BASE, extra))
  assert(sec.datastore:set_username(u, "matt"))
  return sec, u, clock, maildir, logs
end

local function kinds(maildir, kind)
  local out = {}
  for _, m in ipairs(mails(maildir)) do if m.kind == kind then out[#out + 1] = m end end
  return out
end

local function name_of(sec, user) return sec.datastore:find_user{ id = user.id }.username end

describe("/recover-username #quick", function()
  it("needs username_enable, and is off unless username_recovery", function()
    assert.has_error(function() helpers.new{ database = ":memory:", username_recovery = true } end,
                     "fsec.new: username_recovery needs username_enable")
    assert.has_error(function() helpers.new{ database = ":memory:", change_username = true } end,
                     "fsec.new: change_username needs username_enable")
    local sec = setup{ username_recovery = false, change_username = false }
    assert.is_nil(sec:handle(helpers.request{ path = "/recover-username" }))
    assert.is_nil(sec:handle(helpers.request{ path = "/change-username" }))
  end)

  it("mails the username to a known address; the signal names the user", function()
    local sec, _, _, maildir = setup()
    local got = {}
    sec:connect("username_recovery_email_sent", function(ev) got[#got + 1] = ev end)
    local c = api(sec)
    local res, r = c:call("GET", "/recover-username")
    assert.equals(200, res.status); assert.is_string(r.csrf_token); assert.is_nil(r.user)
    res, r = c:call("POST", "/recover-username", { email = "MATT@example.com" })
    assert.equals(200, res.status); assert.is_string(r.csrf_token); assert.is_nil(r.user)
    local m = assert(kinds(maildir, "username_recovery")[1])
    assert.equals(EMAIL, m.to); assert.equals("Your requested username", m.subject)
    assert.matches("\nmatt\n", m.text, 1, true)
    assert.equals(1, #got); assert.equals(EMAIL, got[1].user.email); assert.is_nil(got[1].user.password)
  end)

  it("answers an unknown address, an inactive or unconfirmed account, one without a username, as a known one",
     function()
    local sec, _, _, maildir = setup{ confirmable = true }
    local ds = sec.datastore
    ds:create_user{ email = "off@example.com", password = "x", username = "offline", active = false,
                    confirmed_at = 1 }
    ds:create_user{ email = "new@example.com", password = "x", username = "newbie" } -- not confirmed
    ds:create_user{ email = "plain@example.com", password = "x", confirmed_at = 1 }   -- no username
    local c = api(sec)
    local known = ep.shape((c:call("POST", "/recover-username", { email = EMAIL })))
    for _, addr in ipairs{ "nobody@example.com", "off@example.com", "new@example.com", "plain@example.com" } do
      assert.equals(known, ep.shape((c:call("POST", "/recover-username", { email = addr }))), addr)
    end
    local sent = kinds(maildir, "username_recovery")
    assert.equals(1, #sent); assert.equals(EMAIL, sent[1].to)
  end)

  it("does the same work for any address: the account is looked up after the answer", function()
    local sec, _, _, maildir = setup()
    local jobs = {}
    sec:set_deferrer(function(job) jobs[#jobs + 1] = job end)
    local ds = sec.datastore
    local find_user, lookups = ds.find_user, 0
    ds.find_user = function(self, q) lookups = lookups + 1; return find_user(self, q) end
    local c = api(sec)
    local shapes = {}
    for _, addr in ipairs{ EMAIL, "nobody@example.com" } do
      lookups = 0
      local before = #jobs
      shapes[#shapes + 1] = ep.shape((c:call("POST", "/recover-username", { email = addr })))
      assert.equals(0, lookups, addr); assert.equals(before + 1, #jobs, addr)
    end
    assert.equals(shapes[1], shapes[2])
    assert.equals(0, #mails(maildir))
    for _, job in ipairs(jobs) do job() end
    ds.find_user = find_user
    assert.equals(1, #kinds(maildir, "username_recovery"))
  end)

  it("refuses a missing or malformed address whatever the accounts, and signed-in callers", function()
    local sec, _, _, maildir = setup()
    local c = api(sec)
    local res, r = c:call("POST", "/recover-username", { email = "matt" })
    assert.equals(400, res.status); assert.same({ "Invalid email address" }, r.field_errors.email)
    res, r = c:call("POST", "/recover-username", {})
    assert.equals(400, res.status); assert.same({ "Email not provided" }, r.field_errors.email)
    local s = ep.signed_in(sec)
    res, r = s:call("POST", "/recover-username", { email = EMAIL })
    assert.equals(400, res.status); assert.same({ "You can only access this endpoint when not logged in." }, r.errors)
    assert.equals(0, #mails(maildir))
  end)

  it("is metered as /reset: mail_address_limit per address, known or not (429; generic: 200, no mail)", function()
    local sec, _, _, maildir = setup{ mail_address_limit = 2 }
    local c = api(sec)
    for _, addr in ipairs{ EMAIL, "nobody@example.com" } do
      for _ = 1, 2 do assert.equals(200, (c:call("POST", "/recover-username", { email = addr })).status) end
      local res = c:call("POST", "/recover-username", { email = addr })
      assert.equals(429, res.status, addr); assert.truthy(res.headers["Retry-After"])
    end
    assert.equals(2, #kinds(maildir, "username_recovery"))
    local g, _, _, gdir = setup{ mail_address_limit = 1, return_generic_responses = true }
    local gc = api(g)
    for _ = 1, 3 do assert.equals(200, (gc:call("POST", "/recover-username", { email = EMAIL })).status) end
    assert.equals(1, #kinds(gdir, "username_recovery"))
  end)

  it("a form POST without its CSRF token is refused (a browser's form shows the page)", function()
    local sec, _, _, maildir = setup()
    local b = helpers.client()
    local res = b:take(sec:handle(b:req{ path = "/recover-username" }))
    assert.equals(200, res.status); assert.matches('name="email"', res.body, 1, true)
    local csrf = res.body:match('name="csrf_token" value="([^"]+)"')
    local form = { ["content-type"] = "application/x-www-form-urlencoded" }
    res = sec:handle(b:req{ method = "POST", path = "/recover-username", headers = form, body = "email=" .. EMAIL })
    assert.equals(400, res.status)
    assert.equals(0, #mails(maildir))
    res = b:take(sec:handle(b:req{ method = "POST", path = "/recover-username", headers = form,
                                   body = "email=" .. EMAIL .. "&csrf_token=" .. csrf }))
    assert.equals(302, res.status); assert.equals("/login", res.headers.Location)
    assert.same({ { "info", "If registered, your username will be sent to your email." } },
                sec:take_flashes(b:req(), sec:new_response()))
    assert.equals(1, #mails(maildir))
  end)
end)

describe("/change-username #quick", function()
  it("GET shows the current username; POST renames, signals, tells the owner; sign-in by the new name", function()
    local sec, u, _, maildir = setup()
    local got = {}
    sec:connect("username_changed", function(ev) got[#got + 1] = ev end)
    local c = ep.signed_in(sec)
    local res, r = c:call("GET", "/change-username")
    assert.equals(200, res.status); assert.equals("matt", r.current_username); assert.same({}, r.user)
    res, r = c:call("POST", "/change-username", { username = "Matthew" })
    assert.equals(200, res.status); assert.is_string(r.csrf_token); assert.same({}, r.user)
    assert.equals("Matthew", name_of(sec, u))
    assert.equals(1, #got); assert.equals("matt", got[1].old_username); assert.equals("Matthew", got[1].user.username)
    local m = assert(kinds(maildir, "username_change_notice")[1])
    assert.equals(EMAIL, m.to); assert.equals("Your username has been changed", m.subject)
    assert.matches("from matt to Matthew", m.text, 1, true)
    assert.equals(200, (api(sec):call("POST", "/login", { username = "MATTHEW", password = PW })).status)
    assert.equals(400, (api(sec):call("POST", "/login", { username = "matt", password = PW })).status)
    -- the session goes on
    res, r = c:call("GET", "/change-username")
    assert.equals(200, res.status); assert.equals("Matthew", r.current_username)
  end)

  it("checks the name as registration does", function()
    local sec, u, _, maildir = setup()
    sec.datastore:create_user{ email = "bob@example.com", password = "x", username = "bob" }
    local c = ep.signed_in(sec)
    local cases = {
      { {}, "Username not provided" }, { { username = "" }, "Username not provided" },
      { { username = "a@b" }, "Username contains illegal characters" },
      { { username = "tab\there" }, "Username contains illegal characters" },
      { { username = { "x" } }, "Input not appropriate for requested API" },
      { { username = ("x"):rep(4096) }, "Input not appropriate for requested API" },
      { { username = "bad\255utf8" }, "Input not appropriate for requested API" },
      { { username = "BOB" }, "BOB is already associated with an account." },
    }
    for _, case in ipairs(cases) do
      local res, r = c:call("POST", "/change-username", case[1])
      assert.equals(400, res.status, case[2]); assert.same({ case[2] }, r.field_errors.username)
    end
    assert.equals("matt", name_of(sec, u))
    assert.equals(0, #mails(maildir))
    -- the account's own name in another case is a rename
    assert.equals(200, (c:call("POST", "/change-username", { username = "MATT" })).status)
    assert.equals("MATT", name_of(sec, u))
  end)

  for _, store in ipairs{ "sqlite", "memory" } do
    it("two accounts taking one name at once: the store's unique key lets one have it (" .. store .. ")", function()
      local app = helpers.app{ datastore = store, db = "race.db", clock = true, mail = true, log = "quiet",
        extra = BASE, users = { { email = EMAIL, password = PW, username = "matt" },
                                { email = "bob@example.com", password = PW, username = "bob" } } }
      local sec, u, bob = app.sec, app.users[1], app.users[2]
      local ds = sec.datastore
      local c = ep.signed_in(sec)
      -- bob takes the name between the check that it is free and the write
      local find_user = ds.find_user
      ds.find_user = function(self, q)
        local found = find_user(self, q)
        if q.username then
          ds.find_user = find_user
          assert.is_nil(found)
          assert(ds:set_username(ds:find_user{ id = bob.id }, "Prize"))
        end
        return found
      end
      local res, r = c:call("POST", "/change-username", { username = "prize" })
      ds.find_user = find_user
      assert.equals(400, res.status)
      assert.same({ "prize is already associated with an account." }, r.field_errors.username)
      assert.equals("matt", name_of(sec, u)); assert.equals("Prize", name_of(sec, bob))
    end)
  end

  it("wants a fresh sign-in (session or token), a session's CSRF token, and a signed-in user", function()
    local sec, u, clock = setup{ freshness = 600, freshness_grace_period = 0 }
    local res, r = api(sec):call("POST", "/change-username", { username = "other" })
    assert.equals(401, res.status); assert.same({ "You must sign in to view this resource." }, r.errors)
    local c = ep.signed_in(sec)
    local token = c.csrf
    c.csrf = nil
    res, r = c:call("POST", "/change-username", { username = "other" })
    assert.equals(400, res.status); assert.same({ "The CSRF token is missing." }, r.errors)
    c.csrf = token
    local _, t = api(sec):call("POST", "/login", { email = EMAIL, password = PW }, { include_auth_token = "" })
    local h = { ["authentication-token"] = t.user.authentication_token }
    clock.now = clock.now + 601
    res, r = c:call("POST", "/change-username", { username = "other" })
    assert.equals(401, res.status); assert.is_true(r.reauth_required)
    -- a token, too, only within freshness of its sign-in
    res, r = api(sec):call("POST", "/change-username", { username = "other" }, nil, h)
    assert.equals(401, res.status); assert.is_true(r.reauth_required)
    assert.equals("matt", name_of(sec, u))
  end)

  it("a browser's form: flash and post_change_username_view; send_username_change_email = false: no mail", function()
    local sec, u, _, maildir = setup{ post_change_username_view = "/profile", send_username_change_email = false }
    local b = helpers.client()
    local res = b:take(sec:handle(b:req{ path = "/login" }))
    local csrf = res.body:match('name="csrf_token" value="([^"]+)"')
    local form = { ["content-type"] = "application/x-www-form-urlencoded" }
    res = b:take(sec:handle(b:req{ method = "POST", path = "/login", headers = form,
                                   body = "email=" .. EMAIL .. "&password=" .. PW .. "&csrf_token=" .. csrf }))
    assert.equals(302, res.status)
    res = b:take(sec:handle(b:req{ path = "/change-username" }))
    assert.matches("<strong>matt</strong>", res.body, 1, true)
    csrf = res.body:match('name="csrf_token" value="([^"]+)"')
    -- another site's form: no token, or the anonymous token of another client
    for _, body in ipairs{ "username=evil", "username=evil&csrf_token=" .. api(sec).csrf } do
      res = sec:handle(b:req{ method = "POST", path = "/change-username", headers = form, body = body })
      assert.equals(400, res.status, body)
    end
    assert.equals("matt", name_of(sec, u))
    res = b:take(sec:handle(b:req{ method = "POST", path = "/change-username", headers = form,
                                   body = "username=%3Cb%3Ebold&csrf_token=" .. csrf }))
    -- "<b>bold" is a legal username (registration takes it); pages escape it
    assert.equals(302, res.status); assert.equals("/profile", res.headers.Location)
    assert.same({ { "success", "You successfully changed your username" } },
                sec:take_flashes(b:req(), sec:new_response()))
    res = sec:handle(b:req{ path = "/change-username" })
    assert.matches("&lt;b&gt;bold", res.body, 1, true); assert.is_nil(res.body:find("<b>bold", 1, true))
    assert.equals("<b>bold", name_of(sec, u))
    assert.equals(0, #mails(maildir))
  end)
end)
