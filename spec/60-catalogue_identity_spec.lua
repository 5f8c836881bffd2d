-- The security catalogue (§7 of the reference), row by row: the checks
-- that no other spec makes. Every test name starts with its row id;
-- docs/catalogue.md maps each row to its tests (here and elsewhere) and
-- spec/check-catalogue.sh checks that the names it cites exist.
-- This file: 7.5 identity input.
local helpers = require "spec.helpers"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local setup = ep.setup_for("cat.db", "keep")
local api, mails = helpers.api, helpers.mails

------------------------------------------------------------------------
-- 7.5 Identity input
------------------------------------------------------------------------

describe("catalogue 7.5 identity input #quick", function()
  it("I-01: SQL-looking emails are refused or stored literally; counts move only by what was created, the file stays intact", function()
    local sec = setup()
    local users0 = sec.datastore:counts()
    local created = 0
    for _, email in ipairs{ "' OR '1'='1", "a'--@x.com", "\"; DROP TABLE user;--@x.com", "%27@x.com", "x\0@x.com",
                            "' OR 1=1 --@x.com" } do
      local res = api(sec):call("POST", "/register", { email = email, password = "battery staple",
                                                       password_confirm = "battery staple" })
      if res.status == 200 then
        created = created + 1
        assert.equals(email, sec.datastore:find_user{ email = email }.email) -- literal
      else
        assert.equals(400, res.status)
      end
      res = api(sec):call("POST", "/login", { email = email, password = "x' OR '1'='1" })
      assert.equals(400, res.status)
    end
    assert.equals(users0 + created, (sec.datastore:counts()))
    assert.truthy(sec.datastore:find_user{ email = "matt@example.com" })
    assert.is_true((sec.datastore:integrity_check()))
  end)

  it("I-02: a NUL byte in an identity is refused at login and registration", function()
    local sec = setup()
    for _, path in ipairs{ "/login", "/register" } do
      local res, r = api(sec):call("POST", path, { email = "matt\0@example.com", password = PW, password_confirm = PW })
      assert.equals(400, res.status); assert.is_table(r.field_errors.email)
    end
    local res = api(sec):call("POST", "/login", { email = "matt@example.com\0evil", password = PW })
    assert.equals(400, res.status)
  end)

  it("I-03: invalid UTF-8, overlong forms, lone surrogates and 10 KB identities are refused", function()
    local sec = setup()
    for _, email in ipairs{ "\255\254@x.com", "a\192\175@x.com", "a\237\160\128@x.com", string.rep("a", 10240) .. "@x.com",
                            "matt@example.com\255" } do
      for _, path in ipairs{ "/login", "/register" } do
        local res, r = api(sec):call("POST", path, { email = email, password = PW, password_confirm = PW })
        assert.equals(400, res.status, path)
        assert.is_table(r.field_errors.email, path)
      end
    end
    assert.equals(1, (sec.datastore:counts()))
  end)

  it("I-04: look-alike identities follow the documented mail-system folding; reset mail goes to the stored address", function()
    local sec, _, _, maildir = setup()
    local ds = sec.datastore
    ds:create_user{ email = "mike@example.com" }
    ds:create_user{ email = "kim@example.com", password = sec:hash_password(PW) }
    ds:create_user{ email = "strasse@example.com" }
    assert.is_nil(ds:find_user{ email = "m\u{131}ke@example.com" })          -- dotless i: another address
    assert.equals("kim@example.com", ds:find_user{ email = "\u{212A}im@example.com" }.email) -- Kelvin K lowercases to k
    -- the local part is NFC + simple lowercase: these are other mailboxes
    assert.is_nil(ds:find_user{ email = "\u{FF4D}ike@example.com" })         -- fullwidth m
    assert.is_nil(ds:find_user{ email = "stra\u{DF}e@example.com" })          -- ß is not ss
    -- the domain is IDNA-mapped: width, case and the ideographic full stop
    assert.equals("mike@example.com", ds:find_user{ email = "mike@\u{FF45}xample\u{3002}COM" }.email)
    api(sec):call("POST", "/reset", { email = "\u{212A}IM@example.com" })
    local m = mails(maildir)
    assert.equals(1, #m)
    assert.equals("kim@example.com", m[1].to)
    -- and registering the look-alike of a taken address is refused as taken
    local res = api(sec):call("POST", "/register", { email = "\u{212A}im@example.com", password = "battery staple",
                                                     password_confirm = "battery staple" })
    assert.equals(400, res.status)
    -- a character no one sees in a local part (soft hyphen, zero-width
    -- space, right-to-left override) shows as kim@ and is another
    -- account: refused, as email_validator refuses it (attack review, W2)
    local before = ds:counts()
    for _, invisible in ipairs{ "\u{AD}", "\u{200B}", "\u{202E}" } do
      local r
      res, r = api(sec):call("POST", "/register", { email = "ki" .. invisible .. "m@example.com",
                                                    password = "battery staple", password_confirm = "battery staple" })
      assert.equals(400, res.status); assert.is_table(r.field_errors.email)
    end
    assert.equals(before, (ds:counts()))
  end)

  it("I-05: emails of the wrong JSON type are a 400 field error, never coerced, never matching", function()
    local sec = setup()
    local bodies = {
      '{"email":["matt@example.com"],"password":"' .. PW .. '"}',
      '{"email":{"a":"matt@example.com"},"password":"' .. PW .. '"}',
      '{"email":42,"password":"' .. PW .. '"}',
      '{"email":true,"password":"' .. PW .. '"}',
      '{"email":1e400,"password":"' .. PW .. '"}',
      '{"email":"matt@example.com","password":["' .. PW .. '"]}',
      '{"email":"matt@example.com","password":{"$ne":""}}',
    }
    for _, b in ipairs(bodies) do
      local c = api(sec)
      local before = sec:hash_count()
      local res = c:call("POST", "/login", b)
      assert.equals(400, res.status, b)
      assert.is_false(sec:current_user(c:req()).is_authenticated, b)
      assert.equals(before, sec:hash_count(), b)
    end
    local res, r = api(sec):call("POST", "/login", '{"email":null,"password":"' .. PW .. '"}')
    assert.equals(400, res.status); assert.same({ "Email not provided" }, r.field_errors.email)
    -- duplicate keys: the last one wins (cjson), and is checked like any other
    res = api(sec):call("POST", "/login", '{"email":"nobody@example.com","email":"matt@example.com","password":"x"}')
    assert.equals(400, res.status)
  end)

  it("I-06: a JSON depth bomb of 2000 levels is a clean 400", function()
    local sec = setup()
    for _, path in ipairs{ "/login", "/register", "/reset" } do
      local c = api(sec)
      local res = c:call("POST", path, string.rep("[", 2000) .. string.rep("]", 2000))
      assert.equals(400, res.status, path)
      res = c:call("POST", path, '{"email":' .. string.rep('{"a":', 2000) .. "1" .. string.rep("}", 2000) .. "}")
      assert.equals(400, res.status, path)
    end
  end)

  it("I-07: case variants of an email reach one account and one failure counter", function()
    local sec = setup{ login_lockout_threshold = 3 }
    for _, e in ipairs{ "MATT@example.com", "Matt@Example.COM", "matt@EXAMPLE.com" } do
      assert.equals(400, (api(sec):call("POST", "/login", { email = e, password = "wrong" })).status)
    end
    assert.equals(3, sec.datastore:find_user{ email = "matt@example.com" }.failed_login_count)
    local res = api(sec):call("POST", "/login", { email = "mAtT@example.com", password = PW })
    assert.equals(400, res.status) -- locked, whichever spelling
  end)
end)
