-- The endpoints' JSON API, as Flask-Security-Too answers it: /register
-- and its mail, confirmation (/verify) (acceptance rows B1-B5 of the
-- reference §7.2).
local helpers = require "spec.helpers"
local cjson = require "cjson"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local setup = ep.setup_for("ep.db", "quiet")
local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of

describe("/register #quick", function()
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
    assert.equals(400, res.status)
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
    -- the hook's own messages are the field's errors, as Too shows them
    assert.same({ "digits only" }, r.field_errors.password)
    assert.equals(1, (sec.datastore:counts()))
    -- the list is mapped at start: removed after, it still refuses (the
    -- mapping holds the file), and nothing reads it again
    local sec2 = setup{ password_breached_file = list }
    os.remove(list)
    local res
    res, r = api(sec2):call("POST", "/register", { email = "a@b.org", password = "password123", password_confirm = "password123" })
    assert.equals(400, res.status)
    assert.same({ "Password on breached list" }, r.field_errors.password)
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
    assert.equals(400, res.status)
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
    assert.equals(302, res.status)
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
    assert.equals(302, res.status)
    assert.truthy(sec.datastore:find_user{ email = "y@lp.com" }.confirmed_at)
    assert.equals(yid, sec:current_user(y:req()).id)
  end)
end)

describe("emails #quick", function()
  it("are stored, answered and mailed with the domain in lower case, the local part as typed (Flask-Security)", function()
    local sec, _, _, maildir = setup{ confirmable = true }
    local c = api(sec)
    local r
    local res = c:call("POST", "/register", { email = "  MixedCase@Example.ORG ", password = "battery staple",
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

describe("/verify #quick", function()
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
