-- Sessions, remember-me, logout and revocation (catalogue S-01..S-06,
-- acceptance D3-D5, H2).
local core = require "fsec.core"
local helpers = require "spec.helpers"
local cjson = require "cjson"
local unpack = table.unpack or unpack

local function setup_sec(extra)
  local app = helpers.app{ db = "auth.db", clock = true, config = extra,
                           users = { { email = "u@x.org", password = "password" } } }
  return app.sec, app.user, app.clock
end

local function login(sec, client, user, opts)
  local res = sec:new_response()
  assert(sec:login_user(client:req(), res, user, opts))
  client:take(res)
  return res
end

describe("session cookie #quick", function()
  it("signs the user in; anonymous (not nil) otherwise", function()
    local sec, u = setup_sec()
    local c = helpers.client()
    local anon = sec:current_user(c:req())
    assert.is_false(anon.is_authenticated)
    assert.is_false(anon:has_role("admin"))
    local res = login(sec, c, u)
    local sc = helpers.set_cookie(res, "session")
    assert.matches("; Path=/", sc, 1, true)
    assert.matches("; HttpOnly", sc, 1, true)
    assert.matches("; SameSite=Lax", sc, 1, true)
    assert.is_nil(sc:find("Secure", 1, true))
    local me = sec:current_user(c:req())
    assert.equals(u.id, me.id)
    assert.is_true(me.is_authenticated)
    assert.equals("session", sec:authn_via(c:req()))
  end)

  it("uses a Secure __Host- cookie over HTTPS", function()
    local sec, u = setup_sec()
    local c = helpers.client("https")
    local res = login(sec, c, u, { remember = true })
    local sc = helpers.set_cookie(res, "__Host-session")
    assert.truthy(sc)
    assert.matches("; Secure", sc, 1, true)
    assert.is_nil(sc:find("Domain=", 1, true))
    assert.matches("; Secure", helpers.set_cookie(res, "__Host-remember_token"), 1, true)
    assert.equals(u.id, sec:current_user(c:req()).id)
    -- a plain "session" cookie is not read over HTTPS
    assert.is_false(sec:current_user(helpers.request{ scheme = "https",
      cookies = { session = c.jar["__Host-session"] } }).is_authenticated)
  end)

  it("gives a new session on every login and kills the old one (S-01)", function()
    local sec, u = setup_sec()
    local attacker = assert(sec.datastore:create_user{ email = "evil@x.org" })
    local c = helpers.client()
    login(sec, c, attacker)
    local s0 = c.jar.session
    login(sec, c, u) -- the victim logs in carrying S0
    assert.not_equals(s0, c.jar.session)
    assert.is_false(sec:current_user(helpers.request{ cookies = { session = s0 } }).is_authenticated)
    assert.equals(u.id, sec:current_user(c:req()).id)
  end)

  it("ends server-side on logout: replayed cookies fail (S-03)", function()
    local sec, u = setup_sec()
    local c = helpers.client()
    login(sec, c, u, { remember = true })
    local old = { session = c.jar.session, remember_token = c.jar.remember_token }
    local res = sec:new_response()
    sec:logout_user(c:req(), res)
    assert.matches("Max-Age=0", helpers.set_cookie(res, "session"), 1, true)
    assert.matches("Max-Age=0", helpers.set_cookie(res, "remember_token"), 1, true)
    assert.is_false(sec:current_user(helpers.request{ cookies = old }).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{
      cookies = { remember_token = old.remember_token } }).is_authenticated)
  end)

  it("expires after the idle timeout, slides with activity, ends at the absolute lifetime (S-04)", function()
    local sec, u, clock = setup_sec{ session_idle_timeout = 600, session_lifetime = 3600 }
    local c = helpers.client()
    login(sec, c, u)
    for _ = 1, 5 do -- active every 500 s: stays signed in (re-signed cookie)
      clock.now = clock.now + 500
      local res = sec:new_response()
      assert.is_true(sec:current_user(c:req(), res).is_authenticated)
      c:take(res)
    end
    clock.now = clock.now + 1101 -- past the absolute lifetime
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    local c2 = helpers.client()
    login(sec, c2, u)
    clock.now = clock.now + 601 -- idle too long
    assert.is_false(sec:current_user(c2:req()).is_authenticated)
  end)

  it("remembers the user with a remember cookie until its end (S-06)", function()
    local sec, u, clock = setup_sec()
    local c = helpers.client()
    login(sec, c, u, { remember = true })
    assert.matches("Max-Age=2592000", helpers.set_cookie(
      (function() local r = sec:new_response(); sec:login_user(c:req(), r, u, { remember = true }); c:take(r); return r end)(),
      "remember_token"), 1, true)
    c.jar.session = nil -- the browser closed
    clock.now = clock.now + 10 * 86400
    local res = sec:new_response()
    local me = sec:current_user(c:req(), res)
    assert.equals(u.id, me.id)
    assert.equals("remember", sec:authn_via(c:req()))
    assert.truthy(helpers.set_cookie(res, "session")) -- a session again
    clock.now = clock.now + 20 * 86400 + 1 -- 30 days + 1 s after login
    c.jar.session = nil
    assert.is_false(sec:current_user(c:req()).is_authenticated)
  end)

  it("ends for a deactivated, deleted or reset user (D3, D4)", function()
    local sec, u = setup_sec()
    local token = assert(sec:get_auth_token(u))
    local c = helpers.client()
    login(sec, c, u, { remember = true })
    local tok_req = function() return helpers.request{ headers = { ["authentication-token"] = token } } end
    assert.equals(u.id, sec:current_user(tok_req()).id)
    sec.datastore:deactivate_user(u)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    assert.is_false(sec:current_user(tok_req()).is_authenticated)
    -- enabled again: what was signed in before stays ended (the account
    -- may have been disabled because someone else had it)
    sec.datastore:activate_user(u)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    c.jar.session = nil
    assert.is_false(sec:current_user(c:req()).is_authenticated) -- remember too
    assert.is_false(sec:current_user(tok_req()).is_authenticated)
    c = helpers.client()
    login(sec, c, u, { remember = true })
    token = assert(sec:get_auth_token(u))
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    assert.is_true(sec.datastore:reset_user_access(u))
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    c.jar.session = nil
    assert.is_false(sec:current_user(c:req()).is_authenticated) -- remember too
    assert.is_false(sec:current_user(tok_req()).is_authenticated)
    local fresh = assert(sec:get_auth_token(u))
    assert.equals(u.id, sec:current_user(helpers.request{ query = { auth_token = fresh } }).id)
    local c2 = helpers.client()
    login(sec, c2, u)
    sec.datastore:delete_user(u)
    assert.is_false(sec:current_user(c2:req()).is_authenticated)
  end)

  it("after a password change ends the others and keeps this one (S-05, H2, D5)", function()
    local sec, u = setup_sec()
    local a, b = helpers.client(), helpers.client()
    login(sec, a, u)
    login(sec, b, u, { remember = true })
    local token = sec:get_auth_token(u)
    sec.datastore:set_password(u, sec:hash_password("new-password"))
    local res = sec:new_response()
    assert.is_true(sec:end_other_sessions(a:req(), res, u, true))
    a:take(res)
    assert.equals(u.id, sec:current_user(a:req()).id)
    assert.is_false(sec:current_user(b:req()).is_authenticated)
    b.jar.session = nil
    assert.is_false(sec:current_user(b:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ headers = { ["authentication-token"] = token } }).is_authenticated)
  end)

  it("after a password change keeps this browser's remember cookie working, as Flask-Security", function()
    local sec, u = setup_sec()
    local a, b = helpers.client(), helpers.client()
    login(sec, a, u, { remember = true })
    login(sec, b, u, { remember = true })
    local old = a.jar.remember_token
    sec.datastore:set_password(u, sec:hash_password("new-password"))
    local res = sec:new_response()
    assert.is_true(sec:end_other_sessions(a:req(), res, u, true))
    a:take(res)
    assert.matches("Max-Age=", helpers.set_cookie(res, "remember_token"), 1, true)
    a.jar.session, b.jar.session = nil, nil -- past the idle time: the remember cookies alone
    assert.equals(u.id, sec:current_user(a:req()).id)
    assert.is_false(sec:current_user(b:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ cookies = { remember_token = old } }).is_authenticated)
    -- a session without remember me gets none
    local c = helpers.client()
    login(sec, c, u)
    res = sec:new_response()
    assert.is_true(sec:end_other_sessions(c:req(), res, u, true))
    assert.is_nil(helpers.set_cookie(res, "remember_token"))
  end)

  it("treats forged, oversized, duplicated and foreign cookies as anonymous", function()
    local sec, u = setup_sec()
    local c = helpers.client()
    login(sec, c, u, { remember = true })
    local s = c.jar.session
    local flipped = s:sub(1, 30) .. (s:sub(31, 31) == "A" and "B" or "A") .. s:sub(32)
    for _, cookies in ipairs{
      { session = flipped },
      { session = s:sub(1, #s - 1) },
      { session = s .. string.rep("A", 5000) },
      { session = { s, s } },                       -- duplicated
      { session = c.jar.remember_token },           -- remember used as session
      { session = "" }, { session = "\0\255" },
    } do
      assert.is_false(sec:current_user(helpers.request{ cookies = cookies }).is_authenticated)
    end
    -- a remember cookie is not an auth token, nor a session one a token
    for _, v in ipairs{ c.jar.remember_token, s } do
      assert.is_false(sec:current_user(helpers.request{ headers = { ["authentication-token"] = v } }).is_authenticated)
    end
  end)

  it("tracks logins when trackable", function()
    local sec, u = setup_sec{ trackable = true }
    login(sec, helpers.client(), u)
    login(sec, helpers.client(), u)
    local f = sec.datastore:find_user{ id = u.id }
    assert.equals(2, f.login_count)
    assert.equals("192.0.2.10", f.current_login_ip)
  end)

  it("writes a login (old session out, new one in, tracking) in one transaction: one commit", function()
    local sec, u = setup_sec{ trackable = true }
    local c = helpers.client()
    login(sec, c, u) -- c now holds a session the next login replaces
    local ds, depth, log = sec.datastore, 0, {}
    local txn = ds.transaction
    ds.transaction = function(self, fn, ...)
      depth = depth + 1
      log[#log + 1] = "begin"
      local r = { txn(self, fn, ...) }
      depth = depth - 1
      log[#log + 1] = "commit"
      return unpack(r)
    end
    for _, m in ipairs{ "delete_session", "create_session", "track_login" } do
      local orig = ds[m]
      ds[m] = function(...) log[#log + 1] = m .. (depth > 0 and "" or " (outside)"); return orig(...) end
    end
    login(sec, c, u)
    assert.same({ "begin", "delete_session", "create_session", "track_login", "commit" }, log)
    local f = ds:find_user{ id = u.id }
    assert.equals(2, f.login_count)
  end)

  it("leaves the fsync of a login's commit to the datastore's syncer, after the commit", function()
    local sec, u = setup_sec{ trackable = true }
    local c = helpers.client()
    local ds, seen = sec.datastore, {}
    local other = require("fsec.datastore.sqlite").new{ path = sec._cfg.database }
    assert.is_true(ds:set_wal_syncer(function(wal)
      -- called once the commit is in: another connection sees the login
      seen[#seen + 1] = wal
      local me = other:find_user{ id = u.id }
      seen.count_then = me.login_count
      return core.sync_wal(wal)
    end))
    login(sec, c, u)
    assert.equals(1, #seen)
    assert.equals(sec._cfg.database .. "-wal", seen[1]:sub(-#sec._cfg.database - 4))
    assert.equals(1, seen.count_then)
    -- a syncer that fails: the store is unavailable (503), not "logged in"
    ds:set_wal_syncer(function() return nil, "EDB: fsync: input/output error" end)
    local ok, e = pcall(sec.login_user, sec, c:req(), sec:new_response(), u)
    assert.is_false(ok)
    assert.is_true(require("fsec.auth").is_unavailable(e))
    assert.matches("input/output error", tostring(e), 1, true)
    -- without a syncer the commit fsyncs itself
    ds:set_wal_syncer(nil)
    login(sec, c, u)
    assert.equals(1, #seen)
    other:close()
  end)

  it("refuses to log in an inactive user", function()
    local sec, u = setup_sec()
    sec.datastore:deactivate_user(u)
    local ok, err, code = sec:login_user(helpers.request(), sec:new_response(), u)
    assert.is_nil(ok); assert.equals("EINACTIVE", code); assert.matches("disabled", err)
  end)
end)

describe("ending sessions from cookies past their idle time #quick", function()
  it("logout ends the session a stale cookie names, and a copy refreshed elsewhere with it (S-03)", function()
    local sec, u, clock = setup_sec{ session_idle_timeout = 600 }
    local victim = helpers.client()
    login(sec, victim, u)
    local thief = helpers.client()
    thief.jar.session = victim.jar.session -- a stolen copy, kept alive
    for _ = 1, 3 do
      clock.now = clock.now + 300
      local res = sec:new_response()
      assert.is_true(sec:current_user(thief:req(), res).is_authenticated)
      thief:take(res)
    end
    -- the victim's own cookie is 900 s old: it no longer signs in...
    assert.is_false(sec:current_user(victim:req()).is_authenticated)
    -- ...but its logout still ends the server-side session
    local res = sec:new_response()
    sec:logout_user(victim:req(), res)
    assert.is_false(sec:current_user(thief:req()).is_authenticated)
  end)

  it("a new login ends the session of a stale cookie too (S-01)", function()
    local sec, u, clock = setup_sec{ session_idle_timeout = 600 }
    local c = helpers.client()
    login(sec, c, u)
    local copy = helpers.client()
    copy.jar.session = c.jar.session
    clock.now = clock.now + 400
    local res = sec:new_response()
    assert.is_true(sec:current_user(copy:req(), res).is_authenticated)
    copy:take(res)
    clock.now = clock.now + 400 -- c's cookie: 800 s, past the idle time
    login(sec, c, u)
    assert.is_false(sec:current_user(copy:req()).is_authenticated)
  end)
end)

describe("re-authentication (mark_fresh) #quick", function()
  it("keeps a plain session's absolute lifetime whatever cookie is named remember_token (S-04)", function()
    local sec, u, clock = setup_sec{ session_idle_timeout = 600, session_lifetime = 3600 }
    local c = helpers.client()
    login(sec, c, u)
    c.jar.remember_token = "x" -- not a remember cookie of ours
    local res = sec:new_response()
    assert.is_true(sec:mark_fresh(c:req(), res))
    assert.is_nil(helpers.set_cookie(res, "remember_token"))
    c:take(res)
    for _ = 1, 8 do -- active every 500 s: past the 3600 s lifetime it ends
      clock.now = clock.now + 500
      res = sec:new_response()
      sec:current_user(c:req(), res)
      c:take(res)
    end
    assert.is_false(sec:current_user(c:req()).is_authenticated)
  end)

  it("re-authenticates a remembered user without a session cookie, keeping the remember cookie", function()
    local sec, u = setup_sec()
    local c = helpers.client()
    login(sec, c, u, { remember = true })
    c.jar.session = nil
    local res = sec:new_response()
    assert.is_true(sec:mark_fresh(c:req(), res))
    assert.is_string(helpers.set_cookie(res, "session"))
    assert.is_string(helpers.set_cookie(res, "remember_token"))
    c:take(res)
    assert.equals("session", sec:authn_via(c:req()))
  end)
end)

describe("auth tokens #quick", function()
  it("are read from the header, the query and the JSON body (D1)", function()
    local sec, u = setup_sec()
    local tok = sec:get_auth_token(u)
    for _, r in ipairs{
      helpers.request{ headers = { ["authentication-token"] = tok } },
      helpers.request{ query = { auth_token = tok } },
      helpers.request{ method = "POST", headers = { ["content-type"] = "application/json" },
                       body = cjson.encode{ auth_token = tok } },
    } do
      assert.equals(u.id, sec:current_user(r).id)
      assert.equals("token", sec:authn_via(r))
    end
  end)

  it("expire per token and by token_max_age (D6)", function()
    local sec, u, clock = setup_sec{ token_max_age = 3600 }
    local short = sec:get_auth_token(u, { expires_in = 60 })
    local long = sec:get_auth_token(u)
    local r = function(t) return helpers.request{ headers = { ["authentication-token"] = t } } end
    assert.is_true(sec:current_user(r(short)).is_authenticated)
    clock.now = clock.now + 61
    assert.is_false(sec:current_user(r(short)).is_authenticated)
    assert.is_true(sec:current_user(r(long)).is_authenticated)
    clock.now = clock.now + 3600
    assert.is_false(sec:current_user(r(long)).is_authenticated)
  end)
end)

describe("authentication results kept on the request #quick", function()
  it("authenticates once per request and mechanism, and forgets it at logout", function()
    local sec, u = setup_sec()
    local c = helpers.client()
    login(sec, c, u)
    local runs = 0
    sec:policy("authenticate", function() runs = runs + 1; return true end)
    local req = c:req()
    assert.equals(u.id, sec:current_user(req).id)
    assert.equals(u.id, sec:current_user(req).id)
    assert.equals("session", sec:authn_via(req))
    assert.equals(1, runs)
    -- a denial is kept too: a second look does not ask again
    local other = helpers.request{ cookies = { session = "not-a-token" } }
    assert.is_false(sec:current_user(other).is_authenticated)
    assert.is_false(sec:current_user(other).is_authenticated)
    assert.equals(1, runs)
    -- after logout the same request reads as nobody (the session is gone)
    assert.is_true(sec:logout_user(req, sec:new_response()))
    assert.is_false(sec:current_user(req).is_authenticated)
    assert.is_nil(sec:authn_via(req))
  end)
end)
