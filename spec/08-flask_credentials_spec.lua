-- Flask-Security's own credentials through fsec's request authentication
-- (fsec.flask, core/src/itsdangerous.c): the worked examples A-F of the
-- team's reference (wave2.md 1.7: itsdangerous 2.1.2, Flask 2.2.2 and
-- Flask-Login 0.6.2, rechecked with openssl), then every way to get one
-- wrong. spec/26-flask_credentials_peer_spec.lua does the same with
-- credentials the real Flask-Security mints.
local helpers = require "spec.helpers"
local core = require "fsec.core"

local K = "fsec-test-secret-key"
local TS = 1700000000
local UQ = "0123456789abcdef0123456789abcdef"
local V = {
  A = "WyJ1MSJd.ZVPxAA.FMXXPm1Fly0AlaJVSL0fHA9zMco",
  B = ".eJyLVjIwNDI2MTUzt7BMTEpOSU1D5yvFAgColQnB.ZVPxAA.NzIgoy0JYTIpxWMNof66-jFzFrU",
  C = ".eJyrVipLLVKyUjJV0lEqzUwBsgwMjYxNTM3MLSwTk5JTUtPQ-UCFacXxBYmJSlaG5gZQoGeqo5RaUaBkZVALAIgWFbc"
      .. ".ZVPxAA.eq0aO4yqLmo5uxPIit_AvksEJXk",
  D = ".eJyrVopPK0otzlCyKikqTdVRii8tTi2Kz0xRslIqNVTSUUorjk9OBnKKU0sgvILERCUrQ3MDKNAzrQUA5AIUIw"
      .. ".ZVPxAA.hD1Gg2BF4Y3iUrXh9UliIDhu_5A",
  F = "u1|47ca08b3132bd702a3f821b7905b507013140fef5aced6718911fd8b122fbdc35b8e18541346a94c299d32bec3f55fd5041a89"
      .. "bae68f27d51e17d8bd16155108",
}
local JSON = {
  A = '["u1"]', B = '["' .. UQ .. '"]',
  C = '{"ver":"5","uid":"' .. UQ .. '","fs_paa":1700000000.5,"exp":0}',
  D = '{"_fresh":true,"_user_id":"u1","fs_cc":"set","fs_paa":1700000000.5}',
}

-- An app whose users carry the vectors' uniquifiers, its clock just
-- after the vectors were made.
local function app(extra)
  local cfg = { flask_secret_key = K }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  local a = helpers.app{ clock = true, extra = cfg, endpoints = true, log = "quiet",
    users = { { email = "u1@example.com", password = "password-one-1", fs_uniquifier = "u1" },
              { email = "uq@example.com", password = "password-two-2", fs_uniquifier = "uq-other",
                fs_token_uniquifier = UQ } } }
  a.clock.now = TS + 10
  return a
end

local function token_req(tok) return helpers.request{ headers = { ["authentication-token"] = tok } } end
local function cookie_req(name, v) return helpers.request{ cookies = { [name] = v } } end

-- the user's email and how, or nil: never an error
local function who(sec, req)
  local u = sec:current_user(req)
  if not u.is_authenticated then return nil end
  return u.email, sec:authn_via(req)
end

-- a token over json signed like Flask-Security's (or with other salt/key)
local function sign(json, o)
  o = o or {}
  return assert(core.itsd_sign(o.key or K, o.salt or "remember-salt", o.kdf or "django-concat", json, o.ts or TS))
end

describe("Flask credentials: fsec.core #quick", function()
  it("verifies the worked examples A-D and gives their JSON and time", function()
    for name, salt, kdf in ([[A remember-salt django-concat B remember-salt django-concat
                             C remember-salt django-concat D cookie-session hmac]]):gmatch("(%u) (%S+) (%S+)") do
      local status, json, ts, k = core.itsd_verify({ K }, salt, kdf, V[name], 3600, TS + 10)
      assert.equals("valid", status, name)
      assert.equals(JSON[name], json, name)
      assert.equals(TS, ts)
      assert.equals(1, k)
    end
  end)

  it("signs A-D and the remember cookie F byte for byte as itsdangerous and Flask-Login", function()
    assert.equals(V.A, sign(JSON.A))
    assert.equals(V.B, sign(JSON.B))
    assert.equals(V.C, sign(JSON.C))
    assert.equals(V.D, sign(JSON.D, { salt = "cookie-session", kdf = "hmac" }))
    assert.equals(V.F, core.remember_sign(K, "u1"))
    assert.equals("u1", core.remember_verify({ "another-key", K }, V.F))
  end)

  it("reads Flask's tagged JSON (example E): bytes, tuple, date, UUID, tag-like key, Markup", function()
    local t = require("fsec.flask").load_session('{"b":{" b":"AP8="},"d":{" d":"Tue, 14 Nov 2023 22:13:20 GMT"},'
      .. '"di":{" di":{" t__":5}},"m":{" m":"<b>x</b>"},"t":{" t":[1,"a"]},'
      .. '"u":{" u":"00000000000000000000000000000001"}}')
    assert.equals("\0\255", t.b)
    assert.equals(TS, t.d)
    assert.equals(5, t.di[" t"])
    assert.equals("<b>x</b>", t.m)
    assert.same({ 1, "a" }, t.t)
    assert.equals("00000000000000000000000000000001", t.u)
    -- an unknown tag, or two keys, stay a plain object, as in Flask
    assert.same({ [" x"] = 1 }, require("fsec.flask").load_session('{" x":1}'))
    assert.is_nil(require("fsec.flask").load_session("not json"))
  end)
end)

describe("Flask credentials: request authentication #quick", function()
  it("takes Flask-Security's auth tokens from the header, the query and the JSON body", function()
    local sec = app().sec
    assert.same({ "u1@example.com", "token" }, { who(sec, token_req(V.A)) })
    assert.same({ "u1@example.com", "token" }, { who(sec, helpers.request{ query = { auth_token = V.A } }) })
    assert.same({ "u1@example.com", "token" }, { who(sec, helpers.request{ method = "POST",
      headers = { ["content-type"] = "application/json" }, body = '{"auth_token":"' .. V.A .. '"}' }) })
    -- 5.1.2's list (compressed) and >= 5.4's dict name the token uniquifier
    assert.same({ "uq@example.com", "token" }, { who(sec, token_req(V.B)) })
    assert.same({ "uq@example.com", "token" }, { who(sec, token_req(V.C)) })
  end)

  it("takes Flask's session cookie and Flask-Login's remember cookie as a session", function()
    local sec = app().sec
    assert.same({ "u1@example.com", "session" }, { who(sec, cookie_req("session", V.D)) })
    assert.same({ "u1@example.com", "session" }, { who(sec, cookie_req("remember_token", V.F)) })
    -- under other names when configured so
    sec = app{ flask_session_cookie_name = "fsess", flask_remember_cookie_name = "frem" }.sec
    assert.is_nil(who(sec, cookie_req("session", V.D)))
    assert.equals("u1@example.com", who(sec, cookie_req("fsess", V.D)))
    assert.equals("u1@example.com", who(sec, cookie_req("frem", V.F)))
  end)

  it("keeps fsec's own sign-ins working beside them, under the same cookie names", function()
    local a = app()
    local c = helpers.api(a.sec)
    local res = c:call("POST", "/login", { email = "u1@example.com", password = "password-one-1", remember = true })
    assert.equals(200, res.status)
    assert.equals("u1@example.com", who(a.sec, c:req{}))
    assert.equals("u1@example.com", who(a.sec, token_req(a.sec:get_auth_token(a.user))))
  end)

  it("feeds freshness from the session's fs_paa, and never re-signs a Flask session as fsec's", function()
    local a = app()
    local req = cookie_req("session", V.D)
    local res = require("fsec.http").new_response()
    local ok = a.sec:check(req, { auth = { "session" }, within = 60 }, res)
    assert.is_true(ok) -- fs_paa 1700000000.5, now TS + 10
    assert.is_nil(helpers.set_cookie(res, "session"))
    a.clock.now = TS + 120
    assert.is_false((a.sec:check(cookie_req("session", V.D), { auth = { "session" }, within = 60 })))
    -- a remembered sign-in is never fresh
    assert.is_false((a.sec:check(cookie_req("remember_token", V.F), { auth = { "session" }, within = 60 })))
  end)

  it("deletes the Flask cookies at a logout, under their own names", function()
    local a = app{ flask_session_cookie_name = "fsess", flask_remember_cookie_name = "frem" }
    local res = require("fsec.http").new_response()
    assert.is_true(a.sec:logout_user(helpers.request{ cookies = { fsess = V.D, frem = V.F } }, res))
    assert.matches("^fsess=;.*Max%-Age=0", helpers.set_cookie(res, "fsess"))
    assert.matches("^frem=;.*Max%-Age=0", helpers.set_cookie(res, "frem"))
    -- same names as fsec's: one deletion each
    a = app()
    res = require("fsec.http").new_response()
    assert.is_true(a.sec:logout_user(helpers.request{ cookies = { session = V.D, remember_token = V.F } }, res))
    local n = 0
    for _, line in ipairs(res.cookies) do if line:find("^session=") then n = n + 1 end end
    assert.equals(1, n)
  end)

  it("follows auth_mechanisms: a Flask token is a token, a Flask cookie a session", function()
    local sec = app{ auth_mechanisms = { "session" } }.sec
    assert.is_nil(who(sec, token_req(V.A)))
    assert.equals("u1@example.com", who(sec, cookie_req("session", V.D)))
    sec = app{ auth_mechanisms = { "token" } }.sec
    assert.is_nil(who(sec, cookie_req("session", V.D)))
    assert.is_nil(who(sec, cookie_req("remember_token", V.F)))
  end)

  it("keeps the Flask app's keys out of sec.config", function()
    local sec = app{ flask_secret_key_fallbacks = { "an-older-key" } }.sec
    assert.is_nil(sec.config.flask_secret_key)
    assert.is_nil(sec.config.flask_secret_key_fallbacks)
    for _, v in pairs(sec.config) do assert.not_equals(K, v) end
  end)

  it("accepts nothing of Flask's without flask_secret_key", function()
    local a = helpers.app{ users = { { email = "u1@example.com", password = "password-one-1", fs_uniquifier = "u1" } } }
    assert.is_nil(who(a.sec, token_req(V.A)))
    assert.is_nil(who(a.sec, cookie_req("session", V.D)))
    assert.is_nil(who(a.sec, cookie_req("remember_token", V.F)))
  end)
end)

describe("Flask credentials refused #quick", function()
  local sec, a
  before_each(function()
    a = app()
    sec = a.sec
  end)

  -- every character changed to each of a few others
  local function each_change(v, fn)
    for i = 1, #v do
      for _, c in ipairs{ "A", "a", "_", "-", ".", "|", "0", "=" } do
        if v:sub(i, i) ~= c then fn(v:sub(1, i - 1) .. c .. v:sub(i + 1), i) end
      end
    end
  end

  it("when any byte of a token, session or remember cookie is changed (payload, time, signature)", function()
    each_change(V.A, function(t, i) assert.is_nil(who(sec, token_req(t)), "token byte " .. i) end)
    each_change(V.D, function(t, i) assert.is_nil(who(sec, cookie_req("session", t)), "session byte " .. i) end)
    each_change(V.F, function(t, i)
      assert.is_nil(who(sec, cookie_req("remember_token", t)), "remember byte " .. i)
    end)
  end)

  it("when the remember cookie's hex is uppercase", function()
    local payload, hex = V.F:match("^(.-)|(.*)$")
    assert.is_nil(who(sec, cookie_req("remember_token", payload .. "|" .. hex:upper())))
  end)

  it("when too old or from the future, by token_max_age and flask_session_lifetime", function()
    sec = app{ token_max_age = 10 }.sec
    assert.equals("u1@example.com", who(sec, token_req(V.A)))
    local b = app{ token_max_age = 9 }
    assert.is_nil(who(b.sec, token_req(V.A)))
    b.clock.now = TS - 1 -- a token from the future is expired (itsdangerous' rule)
    assert.is_nil(who(b.sec, token_req(V.A)))
    -- no token_max_age: Flask-Security's TOKEN_MAX_AGE None, no age at all
    a.clock.now = TS + 10 * 365 * 86400
    assert.equals("u1@example.com", who(a.sec, token_req(V.A)))
    a.clock.now = TS + 2678400
    assert.equals("u1@example.com", who(a.sec, cookie_req("session", V.D)))
    a.clock.now = TS + 2678401
    assert.is_nil(who(a.sec, cookie_req("session", V.D)))
    b = app{ flask_session_lifetime = 5 }
    assert.is_nil(who(b.sec, cookie_req("session", V.D)))
  end)

  it("when >= 5.4's exp has passed", function()
    local function t54(exp) return sign(('{"ver":"5","uid":"%s","fs_paa":1,"exp":%d}'):format(UQ, exp)) end
    assert.equals("uq@example.com", who(sec, token_req(t54(TS + 11))))
    assert.is_nil(who(sec, token_req(t54(TS + 9))))
    assert.equals("uq@example.com", who(sec, token_req(t54(0))))
    -- without exp or ver the loader refuses it
    assert.is_nil(who(sec, token_req(sign('{"ver":"5","uid":"' .. UQ .. '"}'))))
    assert.is_nil(who(sec, token_req(sign('{"uid":"' .. UQ .. '","exp":0}'))))
  end)

  it("when signed with another key, salt or key derivation; a fallback key verifies", function()
    local old = "the-flask-app-s-previous-key"
    assert.is_nil(who(sec, token_req(sign(JSON.A, { key = old }))))
    assert.is_nil(who(sec, token_req(sign(JSON.A, { salt = "login-salt" }))))
    assert.is_nil(who(sec, token_req(sign(JSON.A, { kdf = "hmac" }))))
    assert.is_nil(who(sec, token_req(sign(JSON.A, { salt = "cookie-session", kdf = "hmac" }))))
    assert.is_nil(who(sec, cookie_req("session", sign(JSON.D)))) -- Flask-Security's salt, not Flask's
    assert.is_nil(who(sec, cookie_req("remember_token", core.remember_sign(old, "u1"))))
    local b = app{ flask_secret_key_fallbacks = { "unused-older-key", old } }
    assert.equals("u1@example.com", who(b.sec, token_req(sign(JSON.A, { key = old }))))
    assert.equals("u1@example.com", who(b.sec, cookie_req("remember_token", core.remember_sign(old, "u1"))))
    assert.equals("u1@example.com", who(b.sec, token_req(V.A)))
    -- a salt of the app's choice
    b = app{ remember_salt = "my-salt" }
    assert.is_nil(who(b.sec, token_req(V.A)))
    assert.equals("u1@example.com", who(b.sec, token_req(sign(JSON.A, { salt = "my-salt" }))))
  end)

  it("for an unknown or inactive user, and a genuine 3.0 [id, hash] token under fs_uniquifier", function()
    assert.is_nil(who(sec, token_req(sign('["nobody"]'))))
    assert.is_nil(who(sec, cookie_req("remember_token", core.remember_sign(K, "nobody"))))
    assert.truthy(sec.datastore:deactivate_user(a.user))
    assert.is_nil(who(sec, token_req(V.A)))
    assert.is_nil(who(sec, cookie_req("session", V.D)))
    assert.is_nil(who(sec, token_req(sign('["1","1af29ee8def5c17683b2bdbe98b90263"]'))))
  end)

  it("for hostile payloads, without an error", function()
    local bad = {
      '"u1"', "{}", "[]", "[1]", "[null]", "[true]", '[["u1"]]', '[{"a":1}]', "1", "null",
      '["' .. ("u"):rep(65) .. '"]', '{"ver":5,"uid":"u1","exp":0}', '{"ver":"5","uid":["u1"],"exp":0}',
      '{"ver":"5","uid":"u1","exp":"0"}', ("["):rep(10000) .. ("]"):rep(10000), "not json",
      '["u1"', '["u1"]trailing',
    }
    for _, json in ipairs(bad) do
      assert.is_nil(who(sec, token_req(sign(json))), json)
      assert.is_nil(who(sec, cookie_req("session", sign(json, { salt = "cookie-session", kdf = "hmac" }))), json)
    end
    for _, s in ipairs{ '{"_user_id":["u1"]}', '{"_user_id":{"x":1}}', '{"_user_id":null}', '{"_user_id":""}',
                        '{"_user_id":{" t":["u1"]}}', '{"_fresh":true}', '[1]' } do
      assert.is_nil(who(sec, cookie_req("session", sign(s, { salt = "cookie-session", kdf = "hmac" }))), s)
    end
  end)

  it("for a zlib bomb, bad base64 and huge values, without an error", function()
    -- 1 MB of JSON in a token of about 1.4 KB: refused, never inflated past the cap
    local bomb = sign('["' .. ("a"):rep(1000000) .. '"]')
    assert.is_true(#bomb < 2000)
    assert.equals("invalid", (core.itsd_verify({ K }, "remember-salt", "django-concat", bomb)))
    assert.is_nil(who(sec, token_req(bomb)))
    -- the cap is 32 KiB of JSON: under it a payload is read, over it not
    local function verify(n)
      return (core.itsd_verify({ K }, "remember-salt", "django-concat", sign('["' .. ("a"):rep(n) .. '"]')))
    end
    assert.equals("valid", verify(32768 - 4))
    assert.equals("invalid", verify(32768 - 3))
    for _, t in ipairs{ "W@JiJ1MSJd.ZVPxAA.FMXXPm1Fly0AlaJVSL0fHA9zMco", "WyJ1MSJd=.ZVPxAA.FMXXPm1Fly0AlaJVSL0fHA9zMco",
                        "..", ".", "a.b.c", V.A .. "=", V.A .. ".", "." .. V.A, ("A"):rep(100000) .. "." .. V.A,
                        V.A:gsub("%.", "..") } do
      assert.is_nil(who(sec, token_req(t)), t)
      assert.is_nil(who(sec, cookie_req("session", t)), t)
    end
    assert.is_nil(who(sec, cookie_req("remember_token", ("u"):rep(5000) .. V.F)))
    assert.is_nil(who(sec, cookie_req("remember_token", "|" .. V.F:match("|(.*)$"))))
  end)
end)

-- A stand-in for fsec.flaskusers (examples/flask-edge's module) whose
-- find answers find(query); undone by finally. Returns its state: made,
-- the objects new() made.
local function stand_in(find)
  local state = { made = 0 }
  local name = "fsec.flaskusers"
  local saved_pre, saved = package.preload[name], package.loaded[name]
  finally(function() package.preload[name], package.loaded[name] = saved_pre, saved end)
  package.loaded[name] = nil
  package.preload[name] = function()
    return { new = function()
      state.made = state.made + 1
      return { find = function(_, q) return find(q) end }
    end }
  end
  return state
end

describe("Flask credentials with flask_user_id = 'id' (Flask-Security 3.0) #quick", function()
  it("map _user_id to the id of the Flask app's users, and refuse what is not one", function()
    local seen = {}
    stand_in(function(q)
      seen[#seen + 1] = q
      if q.id == 7 then return { id = 7, email = "seven@example.com", fs_uniquifier = "s7", active = true } end
    end)
    local a = app{ flask_user_id = "id", flask_users = "sqlite:///flask.db" }
    local sess = sign('{"_user_id":"7","_fresh":true}', { salt = "cookie-session", kdf = "hmac" })
    assert.same({ "seven@example.com", "session" }, { who(a.sec, cookie_req("session", sess)) })
    assert.equals("seven@example.com", who(a.sec, cookie_req("remember_token", core.remember_sign(K, "7"))))
    assert.same({ { id = 7 }, { id = 7 } }, seen)
    -- the uniquifier is no id now; neither is a padded or signed number
    assert.is_nil(who(a.sec, cookie_req("session", V.D)))
    for _, bad in ipairs{ "07", "+7", "7.0", " 7", "-1", "0", "7e0", "1234567890123456" } do
      assert.is_nil(who(a.sec, cookie_req("remember_token", core.remember_sign(K, bad))), bad)
    end
    assert.equals(2, #seen)
  end)

  it("refuse id-named cookies in fsec's store, whose ids are its own", function()
    local a = app{ flask_user_id = "id" }
    local id = tostring(a.user.id)
    local sess = sign('{"_user_id":"' .. id .. '","_fresh":true}', { salt = "cookie-session", kdf = "hmac" })
    assert.is_nil(who(a.sec, cookie_req("session", sess)))
    assert.is_nil(who(a.sec, cookie_req("remember_token", core.remember_sign(K, id))))
  end)
end)

describe("Flask credentials are revoked as fsec's own #quick", function()
  for _, case in ipairs{
    { "reset_user_access", function(a) assert.truthy(a.sec.datastore:reset_user_access(a.user)) end },
    { "deactivation", function(a) assert.truthy(a.sec.datastore:deactivate_user(a.user)) end },
  } do
    it("by " .. case[1] .. ": new uniquifiers, so nothing of Flask's names the user", function()
      local a = app()
      assert.equals("u1@example.com", who(a.sec, token_req(V.A)))
      case[2](a)
      assert.is_nil(who(a.sec, token_req(V.A)))
      assert.is_nil(who(a.sec, cookie_req("session", V.D)))
      assert.is_nil(who(a.sec, cookie_req("remember_token", V.F)))
      assert.equals("uq@example.com", who(a.sec, token_req(V.B)), "the other user keeps hers")
    end)
  end

  it("by /change: the password change of fsec's endpoint ends them", function()
    local a = app()
    local c = helpers.api(a.sec)
    assert.equals(200, (c:call("POST", "/login", { email = "u1@example.com", password = "password-one-1" })).status)
    local res = c:call("POST", "/change", { password = "password-one-1", new_password = "password-new-4",
                                            new_password_confirm = "password-new-4" })
    assert.equals(200, res.status)
    assert.is_nil(who(a.sec, token_req(V.A)))
    assert.is_nil(who(a.sec, cookie_req("session", V.D)))
    assert.is_nil(who(a.sec, cookie_req("remember_token", V.F)))
  end)
end)

describe("Flask credentials are revoked by /reset #quick", function()
  it("ends the Flask token, session and remember cookie with the password", function()
    local a = helpers.app{ clock = true, mail = true, endpoints = true, log = "quiet",
      extra = { flask_secret_key = K, external_url = "http://localhost" },
      users = { { email = "u1@example.com", password = "password-one-1", fs_uniquifier = "u1" } } }
    a.clock.now = TS + 10
    assert.equals("u1@example.com", who(a.sec, cookie_req("session", V.D)))
    local c = helpers.api(a.sec)
    assert.equals(200, (c:call("POST", "/reset", { email = "u1@example.com" })).status)
    local link = helpers.path_of(a.mails()[1].link)
    local new = { password = "password-new-5", password_confirm = "password-new-5" }
    assert.equals(200, (c:call("POST", link, new)).status)
    assert.is_nil(who(a.sec, token_req(V.A)))
    assert.is_nil(who(a.sec, cookie_req("session", V.D)))
    assert.is_nil(who(a.sec, cookie_req("remember_token", V.F)))
  end)
end)

describe("sec:flask_auth_token #quick", function()
  it("mints Too's [uniquifier] token with flask_secret_key, which fsec and Flask-Security read", function()
    local a = app()
    local tok = a.sec:flask_auth_token(a.users[2])
    local status, json = core.itsd_verify({ K }, "remember-salt", "django-concat", tok)
    assert.equals("valid", status)
    assert.equals('["' .. UQ .. '"]', json)
    assert.equals("uq@example.com", who(a.sec, token_req(tok)))
    assert.is_nil(helpers.app{}.sec:flask_auth_token(a.user))
    assert.has_error(function() a.sec:flask_auth_token("x") end)
  end)
end)

describe("the users of Flask credentials through flask_users #quick", function()
  local NAME = "fsec.flaskusers"

  it("is a configuration error where fsec.flaskusers is not installed, or without flask_secret_key", function()
    if not package.searchpath(NAME, package.path) then
      local ok, err = pcall(helpers.new, { flask_secret_key = K, flask_users = "sqlite:///flask.db" })
      assert.is_false(ok)
      assert.matches(NAME, tostring(err), 1, true)
    end
    local saved = package.preload[NAME]
    finally(function() package.preload[NAME] = saved end)
    package.preload[NAME] = function() return { new = function() return { find = function() end } end } end
    local ok, err = pcall(helpers.new, { flask_users = "sqlite:///flask.db" })
    assert.is_false(ok)
    assert.matches("flask_secret_key", tostring(err))
  end)

  it("sends every lookup to fsec.flaskusers' find, never to fsec's store", function()
    -- the seam alone (the module is examples/flask-edge's): a stand-in
    -- that records the queries
    local seen = {}
    local state = stand_in(function(q)
      seen[#seen + 1] = q
      if q.fs_uniquifier == "u1" or q.fs_token_uniquifier == UQ then
        return { id = 7, email = "edge@example.com", fs_uniquifier = "u1", active = true, roles = {} }
      end
    end)
    local a = app{ flask_users = "sqlite:///flask.db" }
    assert.equals("edge@example.com", who(a.sec, cookie_req("session", V.D)))
    assert.equals("edge@example.com", who(a.sec, token_req(V.B)))
    assert.equals("edge@example.com", who(a.sec, cookie_req("remember_token", V.F)))
    assert.same({ { fs_uniquifier = "u1" }, { fs_token_uniquifier = UQ }, { fs_uniquifier = "u1" } }, seen)
    assert.equals(1, state.made) -- one object, made at the first lookup
    -- a token naming no token uniquifier: then the fs_uniquifier, there too
    assert.equals("edge@example.com", who(a.sec, token_req(V.A)))
    assert.same({ { fs_token_uniquifier = "u1" }, { fs_uniquifier = "u1" } }, { seen[4], seen[5] })
  end)
end)

-- Flask-WTF's CSRF token (fsec.flask.wtf_csrf): for a request signed in
-- by a Flask session cookie, fsec's CSRF check also takes the token the
-- Flask app's own form carries, as Flask-WTF 1.x checks it. The sessions,
-- tokens and Flask-WTF's verdicts come from spec/peer/wtf_csrf.py (the
-- real flask_wtf, Flask and itsdangerous, at time TS).
describe("Flask-WTF's CSRF token for a Flask session #quick", function()
  local peer = require "spec.tools.peer"
  local csrf = require "fsec.csrf"
  local cjson = require "cjson"
  local WTF_KEY = "wtf-only-key"

  local made
  local function vectors()
    if made then return made end
    local out = peer.run("wtf_csrf.py", { K, WTF_KEY, "u1", tostring(TS) })
    local ok, t = pcall(cjson.decode, out)
    assert(ok and type(t) == "table", "wtf_csrf.py printed: " .. out)
    made = t
    return t
  end

  -- a POST signed in by the Flask session cookie `session`, carrying tok
  -- in the header h (nil: in the form field csrf_token)
  local function post(session, tok, h, cookies)
    local c = cookies or {}
    c.session = c.session or session
    local headers = { ["content-type"] = "application/x-www-form-urlencoded" }
    local body
    if h then headers[h] = tok else body = "csrf_token=" .. tok end
    return helpers.request{ method = "POST", path = "/things", headers = headers, cookies = c, body = body }
  end

  local function check(sec, req)
    return csrf.check(sec, req, require("fsec.forms").input(req, 65536) or {})
  end

  if not peer.present(it, pending) then return end

  it("agrees with Flask-WTF on every pair of session and token (tampered, expired, other key or session)", function()
    local v = vectors()
    local want = { ok = true, ["The CSRF token has expired."] = "CSRF_EXPIRED" }
    for _, case in ipairs(v.verdicts) do
      local limit = case.limit -- 0: Flask-WTF's None
      if limit == 0 then limit = false end
      local a = app{ flask_csrf_secret_key = case.key == "wtf" and WTF_KEY or nil, flask_csrf_time_limit = limit }
      a.clock.now = TS + case.age
      local req = post(v.sessions[case.session], v.tokens[case.token], "x-csrftoken")
      local ok, key = check(a.sec, req)
      local label = cjson.encode(case)
      assert.equals("u1@example.com", who(a.sec, req), label)
      assert.equals(want[case.verdict] or "CSRF_INVALID", ok or key, label)
    end
  end)

  it("reads it from the csrf_token field, X-CSRFToken and X-CSRF-Token, and lets the write through", function()
    local v = vectors()
    local sec = app().sec
    for _, h in ipairs{ false, "x-csrftoken", "x-csrf-token" } do
      local req = post(v.sessions.one, v.tokens.one, h or nil)
      assert.is_true(sec:csrf_protect(req), tostring(h))
      assert.is_true((sec:check(post(v.sessions.one, v.tokens.one, h or nil), { auth = { "session" } })))
      -- the other session's token, anywhere: 400
      local ok, status = sec:csrf_protect(post(v.sessions.two, v.tokens.one, h or nil))
      assert.is_false(ok)
      assert.equals(400, status)
    end
  end)

  it("never satisfies fsec's check for fsec's own session, a token, a remember cookie or no one", function()
    local v = vectors()
    local a = app{ flask_session_cookie_name = "flask_session" }
    -- fsec's own session beside the Flask session cookie: fsec's wins,
    -- and only fsec's token (bound to that session) will do
    local c = helpers.api(a.sec)
    assert.equals(200, (c:call("POST", "/login", { email = "u1@example.com", password = "password-one-1" })).status)
    local req = c:req{ method = "POST", headers = { ["x-csrftoken"] = v.tokens.one },
                       cookies = { flask_session = v.sessions.one } }
    assert.equals("u1@example.com", who(a.sec, req))
    assert.truthy(req.cookies.session) -- fsec's
    assert.equals("CSRF_INVALID", select(2, check(a.sec, req)))
    req = c:req{ method = "POST", headers = { ["x-csrftoken"] = c.csrf } }
    assert.is_true(check(a.sec, req))
    -- and that session's token does not serve the Flask session alone
    assert.equals("CSRF_INVALID", select(2, check(a.sec, helpers.request{ method = "POST",
      cookies = { flask_session = v.sessions.one }, headers = { ["x-csrftoken"] = c.csrf } })))
    -- a Flask-Login remember cookie, an auth token, nobody: never
    for _, r in ipairs{
      helpers.request{ method = "POST", cookies = { remember_token = V.F }, headers = { ["x-csrftoken"] = v.tokens.one } },
      helpers.request{ method = "POST", headers = { ["authentication-token"] = V.A, ["x-csrftoken"] = v.tokens.one } },
      helpers.request{ method = "POST", headers = { ["x-csrftoken"] = v.tokens.one } },
      -- a session without _user_id signs no one in, whatever its csrf_token
      helpers.request{ method = "POST", headers = { ["x-csrftoken"] = v.tokens.one }, cookies = {
        session = sign('{"csrf_token":"' .. v.values.one .. '"}', { salt = "cookie-session", kdf = "hmac" }) } },
    } do
      assert.equals("CSRF_INVALID", select(2, check(a.sec, r)))
    end
  end)

  it("keeps fsec's own token working for a Flask session, bound to its user", function()
    local v = vectors()
    local a = app()
    local tok = a.sec:csrf_token(helpers.request{ cookies = { session = v.sessions.none } })
    assert.is_true(check(a.sec, post(v.sessions.none, tok, "x-csrf-token")))
    assert.is_true(check(a.sec, post(v.sessions.one, tok, "x-csrf-token"))) -- same user
    assert.is_true(check(a.sec, helpers.request{ method = "POST", cookies = { remember_token = V.F },
                                                 headers = { ["x-csrf-token"] = tok } }))
    -- not for another user's Flask session, nor for no one
    local other = sign('{"_user_id":"uq-other"}', { salt = "cookie-session", kdf = "hmac" })
    assert.equals("uq@example.com", who(a.sec, cookie_req("session", other)))
    assert.equals("CSRF_INVALID", select(2, check(a.sec, post(other, tok, "x-csrf-token"))))
    assert.equals("CSRF_INVALID", select(2, check(a.sec, helpers.request{ method = "POST",
      headers = { ["x-csrf-token"] = tok } })))
    -- nor an anonymous client's token, its binding cookie beside the session
    local res = require("fsec.http").new_response()
    local anon = a.sec:csrf_token(helpers.request{}, res)
    local bcookie = helpers.set_cookie(res, a.sec.config.csrf_binding_cookie_name)
    local bname, bval = bcookie:match("^([^=]+)=([^;]*)")
    assert.is_true(check(a.sec, helpers.request{ method = "POST", cookies = { [bname] = bval },
                                                 headers = { ["x-csrf-token"] = anon } }))
    assert.equals("CSRF_INVALID", select(2, check(a.sec, post(v.sessions.one, anon, "x-csrf-token",
                                                              { [bname] = bval }))))
    -- nor for fsec's own session of that same user (bound to the session)
    local c = helpers.api(a.sec)
    assert.equals(200, (c:call("POST", "/login", { email = "u1@example.com", password = "password-one-1" })).status)
    assert.equals("CSRF_INVALID", select(2, check(a.sec, c:req{ method = "POST", headers = { ["x-csrf-token"] = tok } })))
  end)

  it("refuses hostile tokens and session values without an error", function()
    local v = vectors()
    local sec = app().sec
    local function wsign(json) return sign(json, { salt = "wtf-csrf-token" }) end
    local function session_with(json) return sign(json, { salt = "cookie-session", kdf = "hmac" }) end
    local cases = {
      { v.sessions.one, "." }, { v.sessions.one, ".." }, { v.sessions.one, "a.b.c" },
      { v.sessions.one, v.tokens.one .. "x" }, { v.sessions.one, ("A"):rep(8000) .. ".x.y" },
      { v.sessions.one, wsign("123") }, { v.sessions.one, wsign('["' .. v.values.one .. '"]') },
      { v.sessions.one, wsign('"' .. v.values.one:sub(1, 39) .. '"') }, -- a prefix of the value
      { v.sessions.one, wsign('"' .. v.values.one .. 'x"') },
      { v.sessions.one, wsign("not json") },
      -- the session's value not a string, or empty: nothing matches it
      { session_with('{"_user_id":"u1","csrf_token":5}'), wsign("5") },
      { session_with('{"_user_id":"u1","csrf_token":""}'), wsign('""') },
      { session_with('{"_user_id":"u1","csrf_token":{" b":"AP8="}}'), wsign('"\\u0000\\u00ff"') },
    }
    for i, case in ipairs(cases) do
      local ok, key = check(sec, post(case[1], case[2], "x-csrftoken"))
      assert.is_nil(ok, i)
      assert.equals("CSRF_INVALID", key, i)
    end
    -- the same value signed as Flask-WTF does, in a session made here: valid
    assert.is_true(check(sec, post(session_with('{"_user_id":"u1","csrf_token":"abc"}'), wsign('"abc"'), "x-csrftoken")))
  end)

  it("is configured by flask_csrf_secret_key and flask_csrf_time_limit, kept out of sec.config", function()
    local sec = app{ flask_csrf_secret_key = WTF_KEY }.sec
    assert.is_nil(sec.config.flask_csrf_secret_key)
    for _, val in pairs(sec.config) do assert.not_equals(WTF_KEY, val) end
    assert.equals(3600, app().sec.config.flask_csrf_time_limit)
    assert.is_false(app{ flask_csrf_time_limit = false }.sec.config.flask_csrf_time_limit)
    for _, bad in ipairs{ 0, -1, 1.5, true, "3600" } do
      assert.is_false((pcall(helpers.new, { flask_secret_key = K, flask_csrf_time_limit = bad })), tostring(bad))
    end
    local ok, err = pcall(helpers.new, { flask_csrf_secret_key = WTF_KEY })
    assert.is_false(ok)
    assert.matches("flask_secret_key", tostring(err))
  end)
end)
