-- Change of email (Flask-Security-Too 5.5's /change-email and
-- /change-email/<token>, fsec.changeemail): the request, the link to the
-- new address, the notice to the old one, and the attacker's side:
-- tampered, replayed, expired and foreign tokens, an address taken
-- before the link is used, CSRF, freshness, and a race the store decides.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local ep = require "spec.tools.endpoint_app"

local PW, EMAIL = ep.PW, ep.EMAIL
local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of

local BASE = { change_email = true, external_url = "http://localhost", post_change_email_view = "/done" }
local setup_base = ep.setup_for("change-email.db", "quiet")
local function setup(extra) return setup_base(helpers.merged(BASE, extra)) end

local function signed_in(sec) return ep.signed_in(sec) end

local function kinds(maildir, kind)
  local out = {}
  for _, m in ipairs(mails(maildir)) do if m.kind == kind then out[#out + 1] = m end end
  return out
end

-- Ask for new_email as the signed-in client c: the path of the link mailed.
local function ask(c, maildir, new_email)
  local res = c:call("POST", "/change-email", { email = new_email })
  assert.equals(200, res.status, res.body)
  local sent = kinds(maildir, "change_email_instructions")
  local last = sent[#sent]
  assert.equals(new_email:lower(), last.to:lower())
  return path_of(last.link)
end

-- Follow a link as a JSON client: GET (consent asked), then POST with its
-- CSRF token. The POST's answer.
local function confirm(sec, path)
  local c = api(sec)
  local res, r = c:call("GET", path)
  if res.status ~= 200 then return res, r end
  assert.is_true(r.consent_required)
  return c:call("POST", path)
end

local function email_of(sec, user) return sec.datastore:find_user{ id = user.id }.email end

describe("/change-email #quick", function()
  it("is off unless change_email, and its URL is configurable", function()
    local sec = setup{ change_email = false }
    assert.is_nil(sec:handle(helpers.request{ path = "/change-email" }))
    sec = setup{ change_email_url = "/account/email" }
    local c = signed_in(sec)
    local res, r = c:call("GET", "/account/email")
    assert.equals(200, res.status); assert.equals(EMAIL, r.current_email)
    assert.has_error(function() helpers.new{ database = ":memory:", change_email = true, change_email_url = "/login" } end)
  end)

  it("GET shows the current address (JSON and form); anonymous: 401 JSON, the login page for browsers", function()
    local sec = setup()
    local res, r = api(sec):call("GET", "/change-email")
    assert.equals(401, res.status); assert.same({ "You must sign in to view this resource." }, r.errors)
    local b = helpers.client()
    res = sec:handle(b:req{ path = "/change-email" })
    assert.equals(302, res.status); assert.equals("/login?next=/change-email", res.headers.Location)
    local c = signed_in(sec)
    res, r = c:call("GET", "/change-email")
    assert.equals(200, res.status); assert.equals(EMAIL, r.current_email)
    assert.is_string(r.csrf_token); assert.same({}, r.user)
    res = sec:handle(c:req{ path = "/change-email", headers = { accept = "text/html" } })
    assert.equals(200, res.status)
    assert.matches(EMAIL, res.body, 1, true); assert.matches('name="email"', res.body, 1, true)
    assert.matches('name="csrf_token"', res.body, 1, true)
  end)

  it("POST mails a link to the new address and changes nothing yet; the signal carries no token", function()
    local sec, u, _, maildir = setup()
    local sent = {}
    sec:connect("change_email_instructions_sent", function(ev) sent[#sent + 1] = ev end)
    local c = signed_in(sec)
    local res, r = c:call("POST", "/change-email", { email = "New@Example.COM" })
    assert.equals(200, res.status); assert.equals(EMAIL, r.current_email)
    local m = assert(kinds(maildir, "change_email_instructions")[1])
    assert.equals("New@example.com", m.to); assert.equals("Confirm your new email address", m.subject)
    assert.matches("^http://localhost/change%-email/[%w_.-]+$", m.link)
    assert.matches("within 2 hours", m.text, 1, true)
    assert.equals(EMAIL, email_of(sec, u))
    assert.equals(1, #sent); assert.equals("New@example.com", sent[1].new_email)
    assert.equals(EMAIL, sent[1].user.email)
    assert.is_nil(sent[1].token); assert.is_nil(sent[1].user.password)
  end)

  it("a browser's POST needs the form's CSRF token, flashes CHANGE_EMAIL_SENT and comes back to the form", function()
    local sec, _, _, maildir = setup()
    local b = helpers.client()
    local res = b:take(sec:handle(b:req{ path = "/login" }))
    local csrf = res.body:match('name="csrf_token" value="([^"]+)"')
    res = b:take(sec:handle(b:req{ method = "POST", path = "/login", headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = "email=" .. EMAIL .. "&password=" .. PW .. "&csrf_token=" .. csrf }))
    assert.equals(302, res.status)
    res = b:take(sec:handle(b:req{ path = "/change-email" }))
    csrf = res.body:match('name="csrf_token" value="([^"]+)"')
    -- another site's form: no token, or the anonymous token of another client
    for _, body in ipairs{ "email=evil%40example.com", "email=evil%40example.com&csrf_token=" .. api(sec).csrf } do
      res = sec:handle(b:req{ method = "POST", path = "/change-email",
                              headers = { ["content-type"] = "application/x-www-form-urlencoded" }, body = body })
      assert.equals(400, res.status, body)
    end
    assert.equals(0, #mails(maildir))
    res = b:take(sec:handle(b:req{ method = "POST", path = "/change-email",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = "email=new%40example.com&csrf_token=" .. csrf }))
    assert.equals(302, res.status); assert.equals("/change-email", res.headers.Location)
    res = b:take(sec:handle(b:req{ path = "/change-email" }))
    assert.matches("Instructions to confirm your new email address have been sent to new@example.com.", res.body, 1, true)
    assert.equals(1, #kinds(maildir, "change_email_instructions"))
  end)

  it("refuses a missing, malformed or taken address (in any spelling), mailing nothing", function()
    local sec, _, _, maildir = setup()
    sec.datastore:create_user{ email = "taken@example.com", password = "x" }
    local c = signed_in(sec)
    local cases = {
      { {}, "Email not provided" }, { { email = "not an address" }, "Invalid email address" },
      { { email = { "a@example.com" } }, "Input not appropriate for requested API" },
      { { email = "TAKEN@Example.com" }, "TAKEN@example.com is already associated with an account." },
      { { email = EMAIL }, EMAIL .. " is already associated with an account." },
    }
    for _, case in ipairs(cases) do
      local res, r = c:call("POST", "/change-email", case[1])
      assert.equals(400, res.status, case[2]); assert.same({ case[2] }, r.field_errors.email)
    end
    assert.equals(0, #mails(maildir))
  end)

  it("with generic responses a taken address answers as a free one, and nothing is sent", function()
    local sec, _, _, maildir = setup{ return_generic_responses = true }
    sec.datastore:create_user{ email = "taken@example.com", password = "x" }
    local c = signed_in(sec)
    local taken = c:call("POST", "/change-email", { email = "taken@example.com" })
    local free = c:call("POST", "/change-email", { email = "free@example.com" })
    assert.equals(ep.shape(free), ep.shape(taken))
    local sent = kinds(maildir, "change_email_instructions")
    assert.equals(1, #sent); assert.equals("free@example.com", sent[1].to)
  end)

  it("wants a fresh sign-in: a stale session gets 401 reauth_required, then works after /verify", function()
    local sec, _, clock, maildir = setup{ freshness = 600, freshness_grace_period = 0 }
    local c = signed_in(sec)
    clock.now = clock.now + 601
    local res, r = c:call("POST", "/change-email", { email = "new@example.com" })
    assert.equals(401, res.status); assert.is_true(r.reauth_required)
    assert.equals(0, #mails(maildir))
    assert.equals(200, (c:call("POST", "/verify", { password = PW })).status)
    assert.equals(200, (c:call("POST", "/change-email", { email = "new@example.com" })).status)
  end)

  -- attack review (W2): with a stolen token alone, /change-email sent the
  -- account to the thief's address, and a reset there took it over
  it("refuses an auth token by default, however fresh: nothing is mailed", function()
    local sec, _, _, maildir = setup{}
    local _, r = api(sec):call("POST", "/login", { email = EMAIL, password = PW }, { include_auth_token = "" })
    local res
    res, r = api(sec):call("POST", "/change-email", { email = "thief@example.com" }, nil,
                           { ["authentication-token"] = r.user.authentication_token })
    assert.equals(401, res.status); assert.is_true(r.reauth_required)
    assert.equals(0, #kinds(maildir, "change_email_instructions"))
  end)

  it("a token passes only within freshness of its sign-in with freshness_allow_auth_token (Too's fs_paa)", function()
    local sec, _, clock, maildir = setup{ freshness = 600, freshness_grace_period = 0, freshness_allow_auth_token = true }
    local _, r = api(sec):call("POST", "/login", { email = EMAIL, password = PW }, { include_auth_token = "" })
    local h = { ["authentication-token"] = r.user.authentication_token }
    local t = api(sec)
    clock.now = clock.now + 599
    assert.equals(200, (t:call("POST", "/change-email", { email = "new@example.com" }, nil, h)).status)
    clock.now = clock.now + 2
    local res
    res, r = t:call("POST", "/change-email", { email = "newer@example.com" }, nil, h)
    assert.equals(401, res.status); assert.is_true(r.reauth_required)
    assert.same({ "You must reauthenticate to access this endpoint" }, r.errors)
    assert.equals(1, #kinds(maildir, "change_email_instructions"))
    -- freshness = -1: never asked
    local lax, _, lclock = setup{ freshness = -1 }  -- (tokens too, allowed or not)
    _, r = api(lax):call("POST", "/login", { email = EMAIL, password = PW }, { include_auth_token = "" })
    lclock.now = lclock.now + 86400 * 30
    assert.equals(200, (api(lax):call("POST", "/change-email", { email = "new@example.com" }, nil,
                                      { ["authentication-token"] = r.user.authentication_token })).status)
  end)

  it("a session's POST without its CSRF token is refused before anything is mailed", function()
    local sec, _, _, maildir = setup()
    local c = signed_in(sec)
    c.csrf = nil
    local res, r = c:call("POST", "/change-email", { email = "new@example.com" })
    assert.equals(400, res.status); assert.same({ "The CSRF token is missing." }, r.errors)
    c.csrf = "forged"
    res = c:call("POST", "/change-email", { email = "new@example.com" })
    assert.equals(400, res.status)
    assert.equals(0, #mails(maildir))
  end)

  it("mails at most mail_address_limit links to one address (429 after), taken or not", function()
    local sec, _, _, maildir = setup{ mail_address_limit = 2 }
    sec.datastore:create_user{ email = "taken@example.com", password = "x" }
    local c = signed_in(sec)
    for _, addr in ipairs{ "new@example.com", "taken@example.com" } do
      for _ = 1, 2 do assert.is_true((c:call("POST", "/change-email", { email = addr })).status ~= 429) end
      local res = c:call("POST", "/change-email", { email = addr })
      assert.equals(429, res.status); assert.truthy(res.headers["Retry-After"])
    end
    assert.equals(2, #kinds(maildir, "change_email_instructions"))
  end)
end)

describe("/change-email/<token> #quick", function()
  it("asks first, then moves the address, confirms it, tells the old one and keeps the sessions", function()
    local sec, u, clock, maildir = setup()
    local got = {}
    sec:connect("change_email_confirmed", function(ev) got[#got + 1] = ev end)
    local c = signed_in(sec)
    local link = ask(c, maildir, "New@example.com")
    -- the GET asks and changes nothing (mail scanners fetch links)
    local b = helpers.client()
    local res = b:take(sec:handle(b:req{ path = link }))
    assert.equals(200, res.status)
    assert.matches("New@example.com", res.body, 1, true); assert.matches(EMAIL, res.body, 1, true)
    assert.equals(EMAIL, email_of(sec, u))
    -- HEAD does nothing either
    assert.equals(200, sec:handle(b:req{ method = "HEAD", path = link }).status)
    assert.equals(EMAIL, email_of(sec, u))
    clock.now = clock.now + 10
    local out = helpers.follow(sec, link)
    assert.equals(302, out.status); assert.equals("/done", out.headers.Location)
    local now = sec.datastore:find_user{ id = u.id }
    assert.equals("New@example.com", now.email); assert.equals(clock.now, now.confirmed_at)
    assert.equals(1, #got); assert.equals(EMAIL, got[1].old_email); assert.equals("New@example.com", got[1].user.email)
    local notice = assert(kinds(maildir, "change_email_notice")[1])
    assert.equals(EMAIL, notice.to); assert.equals("Your email address has been changed", notice.subject)
    assert.matches("New@example.com", notice.text, 1, true)
    -- the session goes on (as Flask-Security-Too), showing the new address
    local r
    res, r = c:call("GET", "/change-email")
    assert.equals(200, res.status); assert.equals("New@example.com", r.current_email)
    -- sign-in: the new address (any case), not the old one
    assert.equals(200, (api(sec):call("POST", "/login", { email = "new@EXAMPLE.com", password = PW })).status)
    assert.equals(400, (api(sec):call("POST", "/login", { email = EMAIL, password = PW })).status)
  end)

  it("moves an address stored before today's rules (one that no longer folds) away", function()
    local sec, u, _, maildir = setup()
    local c = signed_in(sec)
    -- a soft hyphen in the local part: refused since, kept in older databases
    local legacy = "ad\u{AD}min@example.com"
    assert(helpers.sh(("sqlite3 %s \"UPDATE users SET email = '%s', email_norm = '%s' WHERE id = %d\"")
      :format(sec._cfg.database, legacy, legacy, u.id)))
    local link = ask(c, maildir, "clean@example.com")
    local res = confirm(sec, link)
    assert.equals(200, res.status, res.body) -- the code before raised EIDENTITY (500)
    assert.equals("clean@example.com", email_of(sec, u))
    assert.equals(400, (confirm(sec, link)).status) -- and once only
  end)

  it("JSON clients get consent_required, then 200; the flash names the change for browsers", function()
    local sec, _, _, maildir = setup{ post_change_email_view = "nil" }
    local link = ask(signed_in(sec), maildir, "new@example.com")
    local res, r = confirm(sec, link)
    assert.equals(200, res.status); assert.is_string(r.csrf_token)
    link = ask(ep.signed_in(sec, "new@example.com"), maildir, "newer@example.com")
    local b = helpers.client()
    res = helpers.follow(sec, link, b)
    assert.equals(302, res.status); assert.equals("/", res.headers.Location) -- post_login_view
    assert.same({ { "success", "Change of email address confirmed" } }, sec:take_flashes(b:req(), sec:new_response()))
  end)

  it("one_click_links: the GET acts (Flask-Security-Too's behaviour)", function()
    local sec, u, _, maildir = setup{ one_click_links = true }
    local link = ask(signed_in(sec), maildir, "new@example.com")
    local res = sec:handle(helpers.request{ path = link })
    assert.equals(302, res.status); assert.equals("new@example.com", email_of(sec, u))
  end)

  it("the consent POST needs its CSRF token, even with csrf_ignore_unauth_endpoints", function()
    local sec, u, _, maildir = setup{ csrf_ignore_unauth_endpoints = true }
    local link = ask(signed_in(sec), maildir, "new@example.com")
    local res = sec:handle(ep.json_req{ method = "POST", path = link })
    assert.equals(400, res.status)
    assert.same({ "The CSRF token is missing." }, cjson.decode(res.body).response.errors)
    assert.equals(EMAIL, email_of(sec, u))
  end)

  it("refuses tampered, foreign-purpose and garbage tokens (API_ERROR), changing nothing", function()
    local sec, u, _, maildir = setup{ confirmable = true }
    local link = ask(signed_in(sec), maildir, "new@example.com")
    local tok = ep.token_of(link)
    local flipped = tok:sub(1, -2) .. (tok:sub(-1) == "A" and "B" or "A")
    local reset = assert(sec:generate_token("reset", { u = u.fs_uniquifier }))
    local confirm_tok = assert(sec:generate_token("confirm", { u = u.fs_uniquifier, e = "x" }))
    -- a token perfect but for its key: signed with another secret_key
    local core = require "fsec.core"
    local other_key = helpers.new{ database = ":memory:", secret_key = helpers.KEY2 }
    local forged = assert(other_key:generate_token("change_email", { u = u.fs_uniquifier,
      e = core.digest(core.fold_email(EMAIL)), n = "evil@example.com" }))
    for _, t in ipairs{ flipped, reset, confirm_tok, forged, "x", ("A"):rep(5000), tok .. "." } do
      local res, r = confirm(sec, "/change-email/" .. t)
      assert.equals(400, res.status, t:sub(1, 40))
      assert.same({ "Input not appropriate for requested API" }, r.errors)
    end
    -- a browser goes to the form (or change_email_error_view) with the message
    local b = helpers.client()
    local res = sec:handle(b:req{ path = "/change-email/" .. flipped })
    assert.equals(302, res.status); assert.equals("/change-email", res.headers.Location)
    local e = setup{ change_email_error_view = "/oops" }
    assert.equals("/oops", e:handle(helpers.request{ path = "/change-email/x" }).headers.Location)
    -- and a change-email token is no reset or confirmation token
    assert.equals(400, (api(sec):call("POST", "/reset/" .. tok, { password = "battery staple 9",
                                                                  password_confirm = "battery staple 9" })).status)
    assert.equals(EMAIL, email_of(sec, u))
  end)

  it("expires after change_email_within (CHANGE_EMAIL_EXPIRED), nothing resent", function()
    local sec, u, clock, maildir = setup{ change_email_within = 3600 }
    local link = ask(signed_in(sec), maildir, "new@example.com")
    clock.now = clock.now + 3601
    local res, r = confirm(sec, link)
    assert.equals(400, res.status)
    assert.same({ "Confirmation must be completed within 1 hours. Please start over." }, r.errors)
    assert.equals(EMAIL, email_of(sec, u))
    assert.equals(1, #kinds(maildir, "change_email_instructions"))
  end)

  it("works once: a replay, or an older link after another was used, is invalid", function()
    local sec, u, _, maildir = setup()
    local c = signed_in(sec)
    local first = ask(c, maildir, "one@example.com")
    local second = ask(c, maildir, "two@example.com")
    assert.equals(200, (confirm(sec, second)).status)
    assert.equals(400, (confirm(sec, second)).status) -- replayed
    assert.equals(400, (confirm(sec, first)).status)  -- bound to the old address
    assert.equals("two@example.com", email_of(sec, u))
  end)

  it("dies with a password change (uniquifier rotated) and for a deactivated account", function()
    local sec, u, _, maildir = setup()
    local link = ask(signed_in(sec), maildir, "new@example.com")
    assert(sec.datastore:set_uniquifier(sec.datastore:find_user{ id = u.id }))
    assert.equals(400, (confirm(sec, link)).status)
    local s2, u2, _, dir2 = setup()
    link = ask(signed_in(s2), dir2, "new@example.com")
    assert(s2.datastore:deactivate_user(s2.datastore:find_user{ id = u2.id }))
    assert(s2.datastore:activate_user(s2.datastore:find_user{ id = u2.id }))
    -- deactivation rotated the uniquifier too; an inactive account is refused as well
    assert.equals(400, (confirm(s2, link)).status)
    assert.equals(EMAIL, email_of(s2, u2))
  end)

  it("is invalid once the new address was taken meanwhile (any spelling)", function()
    local sec, u, _, maildir = setup{ registerable = true }
    local link = ask(signed_in(sec), maildir, "new@example.com")
    assert.equals(200, (api(sec):call("POST", "/register", { email = "NEW@example.COM", password = "battery staple 9",
                                                               password_confirm = "battery staple 9" })).status)
    local res, r = confirm(sec, link)
    assert.equals(400, res.status); assert.same({ "Input not appropriate for requested API" }, r.errors)
    assert.equals(EMAIL, email_of(sec, u))
    assert.equals(0, #kinds(maildir, "change_email_notice"))
  end)

  for _, store in ipairs{ "sqlite", "memory" } do
    it("two accounts claiming one address: the store's unique key lets exactly one win (" .. store .. ")", function()
      local app = helpers.app{ datastore = store, db = "race.db", clock = true, mail = true, log = "quiet",
        extra = BASE, users = { { email = EMAIL, password = PW, confirmed = true },
                                { email = "other@example.com", password = PW, confirmed = true } } }
      local sec, maildir = app.sec, app.maildir
      local ds = sec.datastore
      local u, other = app.users[1], app.users[2]
      local link_a = ask(signed_in(sec), maildir, "prize@example.com")
      local link_b = ask(ep.signed_in(sec, "other@example.com"), maildir, "PRIZE@example.com")
      -- both links pass their checks; b's change lands between a's check
      -- that the address is free and a's write (the race two workers run):
      -- a's write must fail on the store's key
      local c = api(sec)
      local _, r = c:call("GET", link_a)
      assert.is_true(r.consent_required)
      local find_user = ds.find_user
      ds.find_user = function(self, q)
        local found = find_user(self, q)
        if q.email then -- a's check that the address is free: b confirms now
          ds.find_user = find_user
          assert.is_nil(found)
          assert.equals(200, (confirm(sec, link_b)).status)
        end
        return found
      end
      local res
      res, r = c:call("POST", link_a)
      ds.find_user = find_user
      assert.equals(400, res.status); assert.same({ "Input not appropriate for requested API" }, r.errors)
      assert.equals(EMAIL, email_of(sec, u)); assert.equals("PRIZE@example.com", email_of(sec, other))
      assert.equals(1, #kinds(maildir, "change_email_notice"))
    end)
  end
end)
