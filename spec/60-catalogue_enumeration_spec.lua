-- The security catalogue (§7 of the reference), row by row: the checks
-- that no other spec makes. Every test name starts with its row id;
-- docs/catalogue.md maps each row to its tests (here and elsewhere) and
-- spec/check-catalogue.sh checks that the names it cites exist.
-- This file: 7.2 enumeration resistance.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local ep = require "spec.tools.endpoint_app"

local PW, GENERIC = ep.PW, ep.GENERIC
local setup = ep.setup_for("cat.db", "keep")
local api, mails = helpers.api, helpers.mails
local shape = ep.shape
local stored_password = ep.stored_password

------------------------------------------------------------------------
-- 7.2 Enumeration resistance
------------------------------------------------------------------------

describe("catalogue 7.2 enumeration #quick", function()
  it("E-01: in generic mode unknown, wrong-password, disabled and unconfirmed logins get one answer: status, body, cookies", function()
    local sec = setup{ return_generic_responses = true, confirmable = true }
    sec.datastore:create_user{ email = "off@example.com", password = sec:hash_password(PW), active = false }
    sec.datastore:create_user{ email = "new@example.com", password = sec:hash_password(PW) }
    local seen
    for _, case in ipairs{ { "nobody@example.com", PW }, { "matt@example.com", "wrong" },
                           { "off@example.com", PW }, { "new@example.com", PW } } do
      local res, r = api(sec):call("POST", "/login", { email = case[1], password = case[2] })
      assert.same({ GENERIC }, r.errors)
      local s = shape(res)
      seen = seen or s
      assert.equals(seen, s, case[1])
    end
  end)

  it("E-02: every failed login costs exactly one hash, in both modes, whatever the reason", function()
    for _, generic in ipairs{ false, true } do
      local sec = setup{ return_generic_responses = generic, confirmable = true, login_lockout_threshold = 2 }
      local ds = sec.datastore
      ds:create_user{ email = "off@example.com", password = sec:hash_password(PW), active = false }
      ds:create_user{ email = "new@example.com", password = sec:hash_password(PW) }
      ds:create_user{ email = "nopw@example.com" }
      local locked = ds:create_user{ email = "locked@example.com", password = sec:hash_password(PW), confirmed_at = 1 }
      ds:record_failed_login(locked, 900); ds:record_failed_login(locked, 900)
      for _, case in ipairs{ { "nobody@example.com", PW }, { "matt@example.com", "wrong" }, { "off@example.com", PW },
                             { "new@example.com", PW }, { "nopw@example.com", PW }, { "locked@example.com", PW } } do
        local c = api(sec)
        local before = sec:hash_count()
        local res = c:call("POST", "/login", { email = case[1], password = case[2] })
        assert.equals(400, res.status, case[1])
        assert.equals(before + 1, sec:hash_count(), case[1] .. (generic and " (generic)" or ""))
      end
    end
  end)

  it("E-03: a user without a password or with an unusable one costs one hash and gets the generic failure", function()
    local sec, _, clock = setup{ return_generic_responses = true }
    local wrong = shape((api(sec):call("POST", "/login", { email = "matt@example.com", password = "not-it" })))
    local cases = { { "nopw@example.com", nil }, { "bang@example.com", "!" }, { "star@example.com", "*" },
                    { "fmt@example.com", "$argon2id$v=19$m=1024,t=1,p=1$broken" } }
    for _, case in ipairs(cases) do
      assert(sec.datastore:create_user{ email = case[1], password = case[2], confirmed_at = clock.now })
      local c = api(sec)
      local before = sec:hash_count()
      local res = c:call("POST", "/login", { email = case[1], password = PW })
      assert.equals(wrong, shape(res), case[1])
      assert.equals(before + 1, sec:hash_count(), case[1])
    end
  end)

  it("E-05: forgot-password answers known and unknown emails alike; a failing mailer is logged, never shown", function()
    local sec, _, _, _, logs = setup{ return_generic_responses = true,
                                      send_mail = function() error("smtp is down") end }
    local known = shape((api(sec):call("POST", "/reset", { email = "matt@example.com" })))
    local unknown = shape((api(sec):call("POST", "/reset", { email = "nobody@example.com" })))
    assert.equals(known, unknown)
    assert.matches("^200 ", known)
    assert.is_nil(known:find("smtp", 1, true))
    assert.matches("sending reset mail failed", table.concat(logs, "\n"), 1, true)
    -- per-account limits go in the throttle hook (answers 429 before any work)
    local seen = {}
    sec:policy("throttle", function(req, name)
      if name ~= "forgot" then return true end
      local ok, body = pcall(cjson.decode, req.body or "")
      local email = ok and type(body) == "table" and tostring(body.email):lower() or "?"
      seen[email] = (seen[email] or 0) + 1
      return seen[email] <= 3, "too many requests for this account"
    end)
    local c = api(sec)
    for i = 1, 4 do
      local res = c:call("POST", "/reset", { email = "matt@example.com" })
      assert.equals(i <= 3 and 200 or 429, res.status)
    end
  end)

  it("E-06: in generic mode registering a taken email answers as a new registration, creates nothing, costs one hash", function()
    local sec = setup{ return_generic_responses = true, confirmable = true }
    local not_registered = 0
    sec:connect("user_not_registered", function() not_registered = not_registered + 1 end)
    local fresh = shape((api(sec):call("POST", "/register", { email = "fresh@example.com",
      password = "battery staple", password_confirm = "battery staple" })))
    local c = api(sec)
    local before = sec:hash_count()
    local res = c:call("POST", "/register", { email = "MATT@example.com", password = "battery staple",
                                              password_confirm = "battery staple" })
    assert.equals(before + 1, sec:hash_count())
    assert.equals(fresh, shape(res))
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    assert.equals(2, (sec.datastore:counts()))
    assert.equals(1, not_registered)
    assert.is_true(sec:verify_password(PW, stored_password(sec))) -- the owner's password is untouched
  end)

  it("E-06: the owner of a taken email gets a mail saying someone tried to register", function()
    local sec, _, _, maildir = setup{ return_generic_responses = true, confirmable = true }
    api(sec):call("POST", "/register", { email = "matt@example.com", password = "battery staple",
                                         password_confirm = "battery staple" })
    local to_owner = 0
    for _, m in ipairs(mails(maildir)) do
      if m.to == "matt@example.com" then
        to_owner = to_owner + 1
        assert.equals("welcome_existing", m.kind)
        assert.matches("/reset$", m.link)
      end
    end
    assert.equals(1, to_owner)
  end)

  it("E-07: in generic mode confirmation and passwordless requests do not reveal whether an account exists", function()
    local sec = setup{ return_generic_responses = true, confirmable = true }
    sec.datastore:create_user{ email = "new@example.com", password = sec:hash_password(PW) }
    local answers = {}
    for _, email in ipairs{ "new@example.com", "matt@example.com", "nobody@example.com" } do
      answers[#answers + 1] = shape((api(sec):call("POST", "/confirm", { email = email })))
    end
    assert.equals(answers[1], answers[2]); assert.equals(answers[1], answers[3])
    local pl = setup{ return_generic_responses = true, passwordless = true }
    local a = shape((api(pl):call("POST", "/login", { email = "matt@example.com" })))
    local b = shape((api(pl):call("POST", "/login", { email = "nobody@example.com" })))
    assert.equals(a, b)
    assert.matches("^200 ", a)
  end)
end)
