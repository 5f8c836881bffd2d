-- The security catalogue (§7 of the reference), row by row: the checks
-- that no other spec makes. Every test name starts with its row id;
-- docs/catalogue.md maps each row to its tests (here and elsewhere) and
-- spec/check-catalogue.sh checks that the names it cites exist.
-- This file: 7.8 brute force and lockout.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local core = require "fsec.core"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local LUA = jit and "luajit" or "lua5.4"
local setup = ep.setup_for("cat.db", "keep")
local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of
local json_req = ep.json_req

------------------------------------------------------------------------
-- 7.8 Brute force & lockout
------------------------------------------------------------------------

describe("catalogue 7.8 lockout #quick", function()
  it("L-02: after 50 concurrent wrong guesses from 5 processes the lock holds against the right password", function()
    local db = helpers.tmpfile("l02.db")
    local sec = helpers.new{ database = db, login_lockout_threshold = 5, csrf_enabled = false, log = function() end }
    local victim = assert(sec.datastore:create_user{ email = "victim@example.com",
                                                     password = sec:hash_password("right-one") })
    local env = ("LUA_PATH=%q LUA_CPATH=%q "):format(package.path, package.cpath)
    local cmd = {}
    for i = 1, 5 do cmd[i] = env .. LUA .. " spec/tools/guess.lua " .. db .. " 10 &" end
    assert.is_true(helpers.sh("(" .. table.concat(cmd, " ") .. " wait) 2>&1"))
    assert.equals(50, sec.datastore:find_user{ id = victim.id }.failed_login_count)
    local res = sec:handle(json_req{ method = "POST", path = "/login",
      headers = { ["content-type"] = "application/json" },
      body = cjson.encode{ email = "victim@example.com", password = "right-one" } })
    assert.equals(400, res.status)
    assert.is_nil(helpers.set_cookie(res, "session"))
  end)

  it("L-03: 101 failures spread over an hour get at most 100 real password checks", function()
    local sec, _, clock = setup()
    local evaluated = 0
    sec:connect("user_failed_authn", function() evaluated = evaluated + 1 end)
    for _ = 1, 101 do
      api(sec):call("POST", "/login", { email = "matt@example.com", password = "wrong" })
      clock.now = clock.now + 35 -- 101 x 35 s = 59 minutes
    end
    assert.is_true(evaluated <= 100, evaluated)
    assert.is_true(evaluated >= 10) -- the threshold itself is reached
  end)

  it("L-04: a locked account can still reset its password, which unlocks it", function()
    local sec, _, _, maildir = setup{ login_lockout_threshold = 3 }
    for _ = 1, 3 do api(sec):call("POST", "/login", { email = "matt@example.com", password = "wrong" }) end
    assert.equals(400, (api(sec):call("POST", "/login", { email = "matt@example.com", password = PW })).status)
    local c = api(sec)
    assert.equals(200, (c:call("POST", "/reset", { email = "matt@example.com" })).status)
    local link = path_of(mails(maildir)[1].link)
    assert.equals(200, (c:call("POST", link, { password = "a-new-password", password_confirm = "a-new-password" })).status)
    assert.equals(200, (api(sec):call("POST", "/login", { email = "matt@example.com", password = "a-new-password" })).status)
  end)

  it("L-05: a disabled account is refused with a valid session, remember cookie, auth token, passwordless link or Basic", function()
    local sec, u, _, maildir = setup{ passwordless = true, auth_mechanisms = { "session", "token", "basic" } }
    local c = helpers.client()
    local res = sec:new_response()
    assert(sec:login_user(c:req(), res, u, { remember = true })); c:take(res)
    local token = sec:get_auth_token(u)
    api(sec):call("POST", "/login", { email = "matt@example.com" })
    local link = path_of(mails(maildir)[1].link)
    sec.datastore:deactivate_user(u)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ cookies = { remember_token = c.jar.remember_token } }).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ headers = { ["authentication-token"] = token } }).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ headers = {
      authorization = "Basic " .. core.base64_encode("matt@example.com:" .. PW) } }).is_authenticated)
    local h = helpers.client()
    res = sec:handle(h:req{ path = link }); h:take(res)
    assert.is_false(sec:current_user(h:req()).is_authenticated)
  end)

  it("L-05: failed HTTP Basic attempts count toward the lockout, like failed logins", function()
    local sec = setup{ login_lockout_threshold = 3, auth_mechanisms = { "session", "token", "basic" } }
    local function basic(pw)
      return sec:check(helpers.request{ headers = { accept = "application/json",
        authorization = "Basic " .. core.base64_encode("matt@example.com:" .. pw) } }, { auth = { "basic" } })
    end
    assert.is_true((basic(PW)))
    for _ = 1, 3 do assert.is_false((basic("wrong"))) end
    assert.is_false((basic(PW))) -- locked now, the right password included
    local res = api(sec):call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(400, res.status)
  end)

  it("E-03: over HTTP Basic an unusable stored hash costs the same one hash", function()
    local sec, _, clock = setup{ auth_mechanisms = { "session", "token", "basic" } }
    for _, case in ipairs{ { "bang@example.com", "!" }, { "fmt@example.com", "$argon2id$v=19$m=1024,t=1,p=1$broken" },
                           { "matt@example.com" }, { "nobody@example.com" } } do
      if case[2] then assert(sec.datastore:create_user{ email = case[1], password = case[2], confirmed_at = clock.now }) end
      local before = sec:hash_count()
      local ok = sec:check(helpers.request{ headers = { accept = "application/json",
        authorization = "Basic " .. core.base64_encode(case[1] .. ":not-the-password") } }, { auth = { "basic" } })
      assert.is_false(ok)
      assert.equals(before + 1, sec:hash_count(), case[1])
    end
  end)

  it("L-05: a locked account is refused over HTTP Basic with the right password", function()
    local sec = setup{ login_lockout_threshold = 3, auth_mechanisms = { "session", "token", "basic" } }
    for _ = 1, 3 do api(sec):call("POST", "/login", { email = "matt@example.com", password = "wrong" }) end
    local basic = helpers.request{ headers = { accept = "application/json",
      authorization = "Basic " .. core.base64_encode("matt@example.com:" .. PW) } }
    local ok = sec:check(basic, { auth = { "basic" } })
    assert.is_false(ok)
  end)
end)
