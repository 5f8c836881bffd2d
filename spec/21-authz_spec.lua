-- Access checks and decorators, answered as Flask-Security-Too does
-- (acceptance C1-C5, D2, D7, E1, J1), policy hooks and signals.
local helpers = require "spec.helpers"
local cjson = require "cjson"

local JSON = { accept = "application/json" }

local function setup(extra)
  local app = helpers.app{ db = "authz.db", clock = true, config = extra,
    roles = { { name = "admin", permissions = { "user-read", "user-write" } },
              { name = "editor", permissions = { "post-write" } } },
    users = { { email = "admin@x.org", password = "password", roles = { "admin" } },
              { email = "ed@x.org", password = "password", roles = { "editor" } } } }
  return app.sec, app.users[1], app.users[2], app.clock
end

local function session_for(sec, user, path, headers)
  local c = helpers.client()
  local res = sec:new_response()
  assert(sec:login_user(c:req(), res, user))
  c:take(res)
  return c:req{ path = path or "/profile", headers = headers }
end

-- A browser-like client signed in as user (its cookies in c.jar).
local function signed_in_client(sec, user)
  local c = helpers.client()
  local res = sec:new_response()
  assert(sec:login_user(c:req(), res, user))
  c:take(res)
  return c
end

describe("unauthenticated requests #quick", function()
  it("redirect browsers to the login page with next (C1)", function()
    local sec = setup()
    local events = 0
    sec:connect("user_unauthenticated", function() events = events + 1 end)
    local ok, status, _, res = sec:check(helpers.request{ path = "/profile" }, { auth = { "session", "token" } })
    assert.is_false(ok)
    assert.equals(302, status)
    assert.equals("/login?next=/profile", res.headers.Location)
    assert.equals(1, events)
    local sec2 = setup{ url_prefix = "/myprefix", login_url = "/mylogin" }
    _, status, _, res = sec2:check(helpers.request{ path = "/profile", query = { a = "1 2" } }, { auth = { "session" } })
    assert.equals(302, status)
    -- next carries "/profile?a=1%202", itself percent-encoded as a value
    assert.equals("/myprefix/mylogin?next=/profile%3Fa%3D1%25202", res.headers.Location)
  end)

  it("give JSON clients 401 with the envelope and no WWW-Authenticate (C2)", function()
    local sec = setup()
    local ok, status, b, res = sec:check(helpers.request{ path = "/api", headers = JSON }, { auth = { "session", "token" } })
    assert.is_false(ok)
    assert.equals(401, status)
    assert.same({ meta = { code = 401 }, response = { errors = { "You must sign in to view this resource." } } },
                cjson.decode(b))
    assert.equals("application/json", res.headers["Content-Type"])
    assert.is_nil(res.headers["WWW-Authenticate"])
  end)

  it("answer Basic with 401 and the realm (E1)", function()
    local sec = setup()
    local _, status, b, res = sec:check(helpers.request(), { auth = { "basic" } })
    assert.equals(401, status)
    assert.equals('Basic realm="Login Required"', res.headers["WWW-Authenticate"])
    assert.equals("You must sign in to view this resource.", b)
    local guard = sec:http_auth_required("My Realm")
    _, status, _, res = guard.check(helpers.request{ headers = JSON })
    assert.equals(401, status)
    assert.equals('Basic realm="My Realm"', res.headers["WWW-Authenticate"])
  end)

  it("reject an invalid token (D2) and a token where a session is required (D7)", function()
    local sec, admin = setup()
    for _, r in ipairs{ helpers.request{ headers = { ["authentication-token"] = "X", accept = "application/json" } },
                        helpers.request{ query = { auth_token = "X" }, headers = JSON } } do
      local ok, status = sec:auth_token_required().check(r)
      assert.is_false(ok); assert.equals(401, status)
    end
    local tok = sec:get_auth_token(admin)
    local r = helpers.request{ headers = { ["authentication-token"] = tok, accept = "application/json" } }
    assert.is_true((sec:auth_token_required().check(r)))
    local ok, status = sec:check(r, { auth = { "session" } })
    assert.is_false(ok); assert.equals(401, status)
  end)
end)

describe("HTTP Basic #quick", function()
  local function basic(id, pw)
    return helpers.request{ headers = { authorization = "Basic " .. require("fsec.core").base64_encode(id .. ":" .. pw),
                                        accept = "application/json" } }
  end

  it("authenticates with an identity and password", function()
    local sec, admin = setup()
    local ok, user, via = sec:check(basic("ADMIN@x.org", "password"), { auth = { "basic" } })
    assert.is_true(ok); assert.equals(admin.id, user.id); assert.equals("basic", via)
  end)

  it("runs the throttle hook before the hash and the login hook after it; refuses an unconfirmed account", function()
    local sec, admin = setup{ auth_mechanisms = { "session", "token", "basic" } }
    local seen
    sec:policy("throttle", function(req, endpoint) seen = endpoint; return req.remote_addr ~= "203.0.113.9" end)
    local req = basic("admin@x.org", "password")
    req.remote_addr = "203.0.113.9"
    local before = sec:hash_count()
    assert.is_false((sec:check(req, { auth = { "basic" } })))
    assert.equals("basic", seen); assert.equals(before, sec:hash_count()) -- refused before any hash
    sec:policy("login", function(_, r) return r.remote_addr ~= "203.0.113.66", "blocked" end)
    req = basic("admin@x.org", "password")
    req.remote_addr = "203.0.113.66"
    assert.is_false((sec:check(req, { auth = { "basic" } })))
    assert.is_true((sec:check(basic("admin@x.org", "password"), { auth = { "basic" } })))
    local conf = setup{ confirmable = true }
    assert.is_nil(admin.confirmed_at)
    assert.is_false((conf:check(basic("admin@x.org", "password"), { auth = { "basic" } })))
  end)

  it("costs exactly one hash on every failure path (E-02)", function()
    local sec, _, editor = setup()
    sec.datastore:create_user{ email = "nopw@x.org" }
    sec.datastore:deactivate_user(editor)
    for _, case in ipairs{ { "nobody@x.org", "password" }, { "admin@x.org", "wrong" },
                           { "ed@x.org", "password" }, { "nopw@x.org", "password" } } do
      local before = sec:hash_count()
      local ok = sec:check(basic(case[1], case[2]), { auth = { "basic" } })
      assert.is_false(ok, case[1])
      assert.equals(before + 1, sec:hash_count(), case[1])
    end
  end)

  it("treats malformed credentials as anonymous", function()
    local sec = setup()
    for _, h in ipairs{ "Basic !!!notbase64", "Basic " .. require("fsec.core").base64_encode("nocolon"),
                        "Basic", "Bearer abc", "Basic YTpi YTpi", string.rep("x", 10000) } do
      local ok, status = sec:check(helpers.request{ headers = { authorization = h, accept = "application/json" } },
                                   { auth = { "basic" } })
      assert.is_false(ok); assert.equals(401, status)
    end
    local ok = sec:check(helpers.request{ headers = { authorization = { "a", "b" } } }, { auth = { "basic" } })
    assert.is_false(ok)
  end)
end)

describe("roles and permissions #quick", function()
  it("forbid with 403 JSON and HTML (C3), also for anonymous callers", function()
    local sec, _, editor = setup()
    local r = session_for(sec, editor, "/admin", JSON)
    local ok, status, b = sec:check(r, { roles_required = { "admin" } })
    assert.is_false(ok); assert.equals(403, status)
    assert.same({ "You do not have permission to view this resource." }, cjson.decode(b).response.errors)
    ok, status, b = sec:check(session_for(sec, editor, "/admin"), { roles_required = { "admin" } })
    assert.is_false(ok)
    -- a page for any client but a JSON one, as Flask-Security's abort(403)
    assert.equals(403, status); assert.matches("<p>You do not have permission to view this resource.</p>", b, 1, true)
    ok, status = sec:check(helpers.request{ headers = JSON }, { roles_required = { "admin" } })
    assert.is_false(ok)
    assert.equals(403, status)
    local sec2 = setup{ unauthorized_view = "/nope" }
    local _, _, _, res = sec2:check(helpers.request(), { roles_required = { "admin" } })
    assert.equals(302, res.status); assert.equals("/nope", res.headers.Location)
  end)

  it("flash UNAUTHORIZED on the page unauthorized_view leads to, as Flask-Security", function()
    local sec = setup{ unauthorized_view = "/nope" }
    local c = helpers.client()
    local _, status, _, res = sec:check(c:req{ path = "/admin" }, { roles_required = { "admin" } })
    assert.equals(302, status)
    c:take(res)
    local shown = sec:take_flashes(c:req{ path = "/nope" }, sec:new_response())
    assert.same({ { "error", "You do not have permission to view this resource." } }, shown)
    -- without unauthorized_view the 403 itself says it: nothing is flashed
    local sec2 = setup()
    c = helpers.client()
    _, status, _, res = sec2:check(c:req{ path = "/admin" }, { roles_required = { "admin" } })
    assert.equals(403, status)
    assert.equals(0, #res.cookies)
  end)

  it("require all or accept any (C4)", function()
    local sec, admin, editor = setup()
    sec.datastore:create_role{ name = "both" }
    local a, e = session_for(sec, admin), session_for(sec, editor)
    assert.is_true((sec:check(a, { roles_accepted = { "admin", "editor" } })))
    assert.is_true((sec:check(e, { roles_accepted = { "admin", "editor" } })))
    assert.is_false((sec:check(e, { roles_required = { "admin", "editor" } })))
    sec.datastore:add_role_to_user(editor, "admin")
    assert.is_true((sec:check(session_for(sec, editor), { roles_required = { "admin", "editor" } })))
    assert.is_true((sec:check(a, { permissions_required = { "user-read", "user-write" } })))
    assert.is_false((sec:check(a, { permissions_required = { "user-read", "post-write" } })))
    assert.is_true((sec:check(a, { permissions_accepted = { "nothing", "user-read" } })))
    assert.is_false((sec:check(a, { permissions_accepted = { "nothing" } })))
  end)

  it("answers as has_role for users with none to six roles, at every position (roles_ok)", function()
    local authz = require "fsec.authz"
    local user = require("fsec.user")
    local names = { "r1", "r2", "r3", "r4", "r5", "r6" }
    for n = 0, #names do
      local roles = {}
      for i = 1, n do roles[i] = names[i] end
      local u = user.user{ id = "1", email = "x@x.org", active = true, roles = roles, permissions = {} }
      for _, want in ipairs{ "r1", "r2", "r3", "r4", "r5", "r6", "r7" } do
        local has = u:has_role(want)
        assert.equals(has, authz.roles_ok(u, { roles_required = { want } }), n .. " roles, " .. want)
        assert.equals(has, authz.roles_ok(u, { roles_accepted = { "nope", want } }), n .. " roles, " .. want)
        assert.equals(has and n > 0 and u:has_role("r1"),
                      authz.roles_ok(u, { roles_required = { "r1", want } }), n .. " roles, r1 and " .. want)
      end
    end
  end)

  it("wrap handlers and stack like decorators", function()
    local sec, admin, editor = setup()
    local admin_only = sec:roles_required("admin")(function(_, user) return 200, "hello " .. user.email end)
    local status, b = admin_only(session_for(sec, admin))
    assert.equals(200, status); assert.equals("hello admin@x.org", b)
    status = admin_only(session_for(sec, editor, "/x", JSON))
    assert.equals(403, status)
    -- auth_required + roles_required: anonymous gets 401 (not 403), HTML a redirect
    local stacked = sec:auth_required("session")(admin_only)
    local _, _, res = stacked(helpers.request{ path = "/admin" })
    assert.equals(302, res.status)
    status = stacked(helpers.request{ headers = JSON })
    assert.equals(401, status)
    status, b = stacked(session_for(sec, admin))
    assert.equals(200, status); assert.equals("hello admin@x.org", b)
  end)
end)

describe("stacked guards and spec shapes #quick", function()
  local function token_req(sec, user, headers)
    local h = { ["authentication-token"] = sec:get_auth_token(user) }
    for k, v in pairs(headers or {}) do h[k] = v end
    return helpers.request{ headers = h }
  end
  local ok_handler = function() return 200, "OK" end

  it("each stacked guard must pass on its own, as Flask-Security's decorators (not either one)", function()
    local sec, admin, editor, clock = setup()
    local both = sec:roles_accepted("admin")(sec:roles_accepted("editor")(ok_handler))
    assert.equals(403, (both(session_for(sec, editor, "/x", JSON))))
    assert.equals(403, (both(session_for(sec, admin, "/x", JSON))))
    local perms = sec:permissions_accepted("user-write")(sec:permissions_accepted("post-write")(ok_handler))
    assert.equals(403, (perms(session_for(sec, editor, "/x", JSON))))
    -- a session and a token, not either
    local st = sec:auth_required("session")(sec:auth_required("token")(ok_handler))
    assert.equals(401, (st(session_for(sec, admin, "/x", JSON))))
    assert.equals(401, (st(token_req(sec, admin, JSON))))
    assert.equals(401, (sec:login_required()(sec:auth_required("session")(ok_handler))(token_req(sec, admin, JSON))))
    -- the strictest freshness holds
    local c = signed_in_client(sec, admin)
    local fresh = sec:auth_required("session", { within = 3600, grace = 0 })(
      sec:auth_required("session", { within = 60, grace = 0 })(ok_handler))
    assert.equals(200, (fresh(c:req{ headers = JSON })))
    clock.now = clock.now + 600
    assert.equals(401, (fresh(c:req{ headers = JSON })))
  end)

  it("refuses specs whose shape would read as no constraint (a string, a set, a nil name), at preparation", function()
    local sec = setup()
    local anon = helpers.request{ headers = JSON }
    for _, spec in ipairs{ { roles_required = "admin" }, { permissions_required = "user-write" },
                           { roles_accepted = { admin = true } }, { permissions_required = { ["user-write"] = true } },
                           { roles_required = { "admin", 5 } }, { roles_required = { "" } }, { auth = "session" },
                           { auth = {} }, { auth = { "session" }, within = "300" }, { auth = { "basic" }, realm = 1 } } do
      assert.has_error(function() sec:check(anon, spec) end)
      assert.has_error(function() require("fsec.authz").prepare(spec) end)
    end
    assert.has_error(function() sec:roles_required(nil) end,
      "bad argument #1 to 'roles_required' (string expected, got nil)")
    assert.has_error(function() sec:permissions_accepted("a", nil) end,
      "bad argument #2 to 'permissions_accepted' (string expected, got nil)")
    -- an empty list is no constraint, as an empty roles_required() in Flask-Security
    assert.is_true((sec:check(anon, { roles_required = {} })))
  end)

  it("auth_required refuses a misspelt option and takes mechanisms as a list", function()
    local sec, admin = setup()
    assert.has_error(function() sec:auth_required("session", { whitin = 60 }) end,
      "bad argument #2 to 'auth_required' (unknown option 'whitin')")
    local tok_only = sec:auth_required({ "token" })(ok_handler)
    assert.equals(401, (tok_only(session_for(sec, admin, "/x", JSON))))
    assert.equals(200, (tok_only(token_req(sec, admin))))
  end)
end)

describe("anonymous_user_required #quick", function()
  it("refuses signed-in users (C5)", function()
    local sec, admin = setup()
    local g = sec:anonymous_user_required()
    local ok, status, b = g.check(session_for(sec, admin, "/register", JSON))
    assert.is_false(ok); assert.equals(400, status)
    assert.same({ "You can only access this endpoint when not logged in." }, cjson.decode(b).response.errors)
    local _, _, _, res = g.check(session_for(sec, admin, "/register"))
    assert.equals(302, res.status); assert.equals("/", res.headers.Location)
    assert.is_true((g.check(helpers.request())))
  end)
end)

describe("freshness #quick", function()
  it("asks for reauthentication after `within` (J1), honouring grace", function()
    local sec, admin, _, clock = setup()
    local c = signed_in_client(sec, admin)
    local spec = { auth = { "session" }, within = 60, grace = 0 }
    assert.is_true((sec:check(c:req(), spec)))
    clock.now = clock.now + 61
    local ok, status, b = sec:check(c:req{ headers = JSON }, spec)
    assert.is_false(ok); assert.equals(401, status)
    local j = cjson.decode(b).response
    assert.same({ "You must reauthenticate to access this endpoint" }, j.errors)
    assert.is_true(j.reauth_required)
    -- the keys Flask-Security-Too's clients read beside it
    assert.is_false(j.unified_signin_enabled); assert.is_false(j.has_webauthn_verify_credential)
    local r
    _, _, _, r = sec:check(c:req{ path = "/myspecialview" }, spec)
    assert.equals("/verify?next=/myspecialview", r.headers.Location)
    -- a grace period granted while fresh keeps it fresh past `within`
    local c2 = signed_in_client(sec, admin)
    local res = sec:new_response()
    assert.is_true((sec:check(c2:req(), { auth = { "session" }, within = 60, grace = 300 }, res)))
    c2:take(res)
    clock.now = clock.now + 200
    assert.is_true((sec:check(c2:req(), { auth = { "session" }, within = 60, grace = 0 })))
    -- tokens are not fresh; Basic always is
    local tok = sec:get_auth_token(admin)
    assert.is_false((sec:check(helpers.request{ headers = { ["authentication-token"] = tok } },
                               { auth = { "token" }, within = 60 })))
  end)
end)

describe("freshness within = 0 #quick", function()
  it("asks for reauthentication every time, except within grace of one (Flask-Security)", function()
    local sec, admin, _, clock = setup()
    local c = signed_in_client(sec, admin)
    clock.now = clock.now + 1000
    local spec = { auth = { "session" }, within = 0, grace = 300 }
    assert.is_false((sec:check(c:req{ headers = JSON }, spec)))
    local res = sec:new_response()
    assert.is_true(sec:mark_fresh(c:req(), res))
    c:take(res)
    assert.is_true((sec:check(c:req{ headers = JSON }, spec)))
    clock.now = clock.now + 301
    assert.is_false((sec:check(c:req{ headers = JSON }, spec)))
  end)
end)

describe("policy hooks #quick", function()
  it("deny a login when a hook says no, errors, or returns nothing", function()
    for _, hook in ipairs{
      function() return false, "blocked" end,
      function() error("hook bug") end,
      function() end,
      function() return "yes" end, -- not a boolean true
    } do
      local sec, admin = setup{ log = function() end }
      sec:policy("login", hook)
      local ok, err, code = sec:login_user(helpers.request(), sec:new_response(), admin)
      assert.is_nil(ok); assert.equals("EPOLICY", code); assert.is_string(err)
    end
  end)

  it("run in registration order; the first denial stops", function()
    local sec, admin = setup()
    local seen = {}
    sec:policy("login", function(_, req) seen[#seen + 1] = "a"; return not req.remote_addr:find("^10%."), "blocked" end)
    sec:policy("login", function() seen[#seen + 1] = "b"; return true end)
    assert.is_true(sec:login_user(helpers.request(), sec:new_response(), admin))
    assert.same({ "a", "b" }, seen)
    local ok, err = sec:login_user(helpers.request{ remote_addr = "10.1.1.1" }, sec:new_response(), admin)
    assert.is_nil(ok); assert.matches("blocked", err)
    assert.same({ "a", "b", "a" }, seen)
  end)

  it("can deny access and recognition", function()
    local sec, admin = setup()
    local r = session_for(sec, admin, "/x", JSON)
    sec:policy("access", function(_, req) return req.path ~= "/x", "no /x" end)
    local ok, status = sec:check(r, { auth = { "session" } })
    assert.is_false(ok); assert.equals(403, status)
    local sec2, admin2 = setup{ log = function() end }
    local r2 = session_for(sec2, admin2)
    sec2:policy("authenticate", function() error("boom") end)
    assert.is_false(sec2:current_user(r2).is_authenticated)
  end)
end)

describe("signals #quick", function()
  it("send user_authenticated with authn_via and no secrets", function()
    local sec, admin = setup()
    local got
    sec:connect("user_authenticated", function(ev) got = ev end)
    sec:login_user(helpers.request(), sec:new_response(), admin, { authn_via = { "password" } })
    assert.equals(admin.id, got.user.id)
    assert.same({ "password" }, got.authn_via)
    assert.is_nil(got.user.password)
    assert.is_true(got.user:has_role("admin"))
  end)

  it("log a failing receiver and go on", function()
    local logged = {}
    local sec, admin = setup{ log = function(level, msg) logged[#logged + 1] = level .. ":" .. msg end }
    local after = false
    sec:connect("user_authenticated", function() error("receiver bug") end)
    sec:connect("user_authenticated", function() after = true end)
    assert.is_true(sec:login_user(helpers.request(), sec:new_response(), admin))
    assert.is_true(after)
    assert.matches("receiver of signal user_authenticated failed", logged[1], 1, true)
  end)

  it("send user_failed_authn on a wrong password, without it", function()
    local sec = setup()
    local got
    sec:connect("user_failed_authn", function(ev) got = ev end)
    local h = "Basic " .. require("fsec.core").base64_encode("admin@x.org:secret-guess")
    sec:check(helpers.request{ headers = { authorization = h } }, { auth = { "basic" } })
    assert.equals("password", got.auth_type)
    assert.is_false(got.tfa)
    assert.equals("admin@x.org", got.user.email)
    for _, v in pairs(got) do assert.not_equals("secret-guess", v) end
    assert.is_nil(got.user.password)
  end)

  it("refuse unknown signal names", function()
    local sec = setup()
    assert.has_error(function() sec:connect("user_logged_in", print) end, "unknown signal 'user_logged_in'")
  end)
end)

describe("utilities #quick", function()
  it("build security URLs and list identity attributes", function()
    local sec = setup{ url_prefix = "/auth" }
    assert.equals("/auth/login", sec:url_for_security("login"))
    assert.equals("/auth/reset?email=a%40b.org&next=%2Fx", sec:url_for_security("reset_password", { next = "/x", email = "a@b.org" }))
    assert.same({ "email" }, sec:get_identity_attributes())
    assert.has_error(function() sec:url_for_security("nope") end)
  end)
end)


describe("prepared specs #quick", function()
  local authz = require "fsec.authz"

  it("are checked once, when prepared: a bad one raises there", function()
    assert.has_error(function() authz.prepare{ auth = { "nope" } } end,
      "unknown authentication mechanism 'nope'")
    assert.has_error(function() authz.prepare{ role_required = { "a" } } end)
    assert.has_error(function() authz.prepare("token") end)
  end)

  it("decide like the same spec unprepared", function()
    local sec = setup()
    local u = assert(sec.datastore:create_user{ email = "p@x.org", password = sec:hash_password("password") })
    local tok = sec:get_auth_token(u)
    local spec = authz.prepare{ auth = { "token" } }
    local req = { method = "GET", path = "/", headers = { ["authentication-token"] = tok }, query = {}, cookies = {} }
    local ok, user = sec:check(req, spec)
    assert.is_true(ok)
    assert.equals(u.id, user.id)
    local anon = { method = "GET", path = "/", headers = { accept = "application/json" }, query = {}, cookies = {} }
    local denied, status = sec:check(anon, spec)
    assert.is_false(denied)
    assert.equals(401, status)
  end)
end)

