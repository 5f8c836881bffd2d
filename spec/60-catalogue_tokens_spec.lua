-- The security catalogue (§7 of the reference), row by row: the checks
-- that no other spec makes. Every test name starts with its row id;
-- docs/catalogue.md maps each row to its tests (here and elsewhere) and
-- spec/check-catalogue.sh checks that the names it cites exist.
-- This file: 7.3 tokens.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local setup = ep.setup_for("cat.db", "keep")
local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of
local signed_in, token_of = ep.signed_in, ep.token_of
local stored_password, json_req = ep.stored_password, ep.json_req

------------------------------------------------------------------------
-- 7.3 Tokens
------------------------------------------------------------------------

describe("catalogue 7.3 tokens #quick", function()
  it("T-01: a mailed reset token names the user's uniquifier and its issue time, and round-trips", function()
    local sec, u, clock, maildir = setup{ confirmable = true, passwordless = false }
    api(sec):call("POST", "/reset", { email = "matt@example.com" })
    local tok = token_of(mails(maildir)[1].link)
    local expired, invalid, data, iat = sec:get_token_status(tok, "reset", 3600)
    assert.is_false(expired); assert.is_false(invalid)
    assert.equals(u.fs_uniquifier, data.u)
    assert.equals(clock.now, iat)
  end)

  it("T-04: truncated, empty, oversized, padded, trailing, non-canonical, standard-alphabet and dotted tokens are invalid", function()
    local sec = setup()
    local tok = sec:generate_token("reset", { u = "x" })
    local cases = { "", tok:sub(1, #tok - 1), tok:sub(1, 10), string.rep("A", 1024 * 1024), tok .. "=", tok .. ".",
                    tok .. "\n", tok .. "garbage", "QUJ", tok:gsub("%-", "+"):gsub("_", "/"), tok .. ".x.y",
                    "x." .. tok, tok:sub(1, 20) .. "." .. tok:sub(21) }
    -- a token whose last character carries spare bits: set one (non-canonical)
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    local odd = sec:generate_token("reset", { u = "xy" })
    if #odd % 4 ~= 0 then
      local i = alphabet:find(odd:sub(-1), 1, true)
      cases[#cases + 1] = odd:sub(1, -2) .. alphabet:sub(i + 1, i + 1)
    end
    for _, bad in ipairs(cases) do
      if bad ~= tok then
        local expired, invalid, data = sec:get_token_status(bad, "reset", 3600)
        assert.is_false(expired); assert.is_true(invalid, bad:sub(1, 80)); assert.is_nil(data)
      end
    end
    assert.is_false(select(2, sec:get_token_status(tok, "reset", 3600)))
  end)

  it("T-05: a token is valid at max_age - 1 and max_age, expired at max_age + 1 (itsdangerous' boundary)", function()
    local sec, _, clock = setup()
    local tok = sec:generate_token("reset", { u = "x" })
    local t0 = clock.now
    local function status(age)
      clock.now = t0 + age
      local expired, invalid = sec:get_token_status(tok, "reset", 600)
      return invalid and "invalid" or expired and "expired" or "valid"
    end
    assert.equals("valid", status(599))
    assert.equals("valid", status(600))
    assert.equals("expired", status(601))
    assert.equals("expired", status(86400 * 365))
    -- a token has no form without an issue time: a bare header is invalid
    assert.is_true(select(2, sec:get_token_status("AQ", "reset", 600)))
  end)

  it("T-07: a reset token at /confirm, a confirm token at /reset, a login token at /reset are invalid", function()
    local sec, _, _, maildir = setup{ confirmable = true, passwordless = false }
    sec.datastore:create_user{ email = "new@example.com", password = sec:hash_password(PW) }
    local c = api(sec)
    c:call("POST", "/reset", { email = "matt@example.com" })
    c:call("POST", "/confirm", { email = "new@example.com" })
    local reset, confirm
    for _, m in ipairs(mails(maildir)) do
      if m.kind == "reset" then reset = token_of(m.link) else confirm = token_of(m.link) end
    end
    local res = sec:handle(json_req{ path = "/confirm/" .. reset })
    assert.equals(400, res.status)
    assert.same({ "Invalid confirmation token." }, cjson.decode(res.body).response.errors)
    res = sec:handle(json_req{ path = "/reset/" .. confirm })
    assert.equals(400, res.status)
    assert.same({ "Invalid reset password token." }, cjson.decode(res.body).response.errors)
    local login = sec:generate_token("login", { u = sec.datastore:find_user{ email = "matt@example.com" }.fs_uniquifier })
    res = sec:handle(json_req{ path = "/reset/" .. login })
    assert.equals(400, res.status)
    assert.is_nil(sec.datastore:find_user{ email = "new@example.com" }.confirmed_at)
  end)

  it("T-08: a reset token dies with a password change", function()
    local sec, _, _, maildir = setup()
    local c = signed_in(sec)
    api(sec):call("POST", "/reset", { email = "matt@example.com" })
    local link = path_of(mails(maildir)[1].link)
    local res = c:call("POST", "/change", { password = PW, new_password = "changed-password",
                                            new_password_confirm = "changed-password" })
    assert.equals(200, res.status)
    local a = api(sec)
    local r
    res, r = a:call("POST", link, { password = "attacker-choice", password_confirm = "attacker-choice" })
    assert.equals(400, res.status)
    assert.same({ "Invalid reset password token." }, r.field_errors[""])
    assert.is_true(sec:verify_password("changed-password", stored_password(sec)))
  end)
end)
