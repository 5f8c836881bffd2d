-- The wire details that break Flask-Security-Too's clients (issue 24 §2),
-- side by side with the real Flask-Security (python3-flask-security 5.1.2,
-- through spec/peer/fs_wire_app.py): which requests are answered in JSON,
-- logout without a CSRF token, Too's readable CSRF cookie and its header,
-- a form posted with a missing or stale token, and a role check's refusal
-- to a client that is not JSON, and the SPA redirects of the mailed links.
-- The describes without the peer assert fsec's answers on their own, so
-- the peer's absence leaves them running (not #quick: spec/07 keeps the
-- peer's files out of the quick run).
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local http = require "fsec.http"
local cjson = require "cjson"

-- { accept, content_type }: browsers, SPA clients, curl, and odd ones
local WANT_JSON = {
  {}, { accept = "*/*" }, { accept = "application/json" }, { accept = "text/html" },
  { accept = "text/html, application/json" }, { accept = "application/json, text/html" },
  { accept = "text/html;q=0.9, application/json" }, { accept = "application/json;q=0.9, text/html" },
  { accept = "*/*, application/json" }, { accept = "application/*, text/html" },
  { accept = "text/*, application/json" }, { accept = "application/json;q=0.5, */*" },
  { accept = "TEXT/HTML, application/json" }, { accept = "Application/JSON" },
  { accept = "text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8" },
  { accept = "application/json;q=0" }, { accept = "application/vnd.api+json" },
  { accept = "text/html;level=1, application/json" }, { accept = "application/json;charset=utf-8, text/html" },
  { accept = "text/plain, application/json" }, { accept = "application/json;q=1.0, text/html;q=1" },
  { accept = "text/html;q=0.5, application/json;q=0.50" }, { accept = " , application/json" },
  { accept = "application/json;q=abc, text/html" }, { accept = "application/json ; q=0.2, text/html;q=0.1" },
  { accept = "text/html;q, application/json" }, { accept = ";;;,,," }, { accept = "" },
  { accept = "application/json;q=1.5, text/html" }, { accept = "text/html;p=1;q=0.3, application/json;q=0.2" },
  { content_type = "application/json" }, { content_type = "application/json; charset=utf-8" },
  { content_type = "APPLICATION/JSON" }, { content_type = "application/vnd.api+json" },
  { content_type = "application/problem+json" }, { content_type = "text/json" },
  { content_type = "application/x-json" }, { content_type = "text/plain+json" },
  { content_type = "application/jsonx" }, { content_type = "application/json-patch+json" },
  { content_type = "application/x-www-form-urlencoded" }, { content_type = " application/json" },
  { content_type = "application/ld+json;profile=x" },
  { content_type = "application/x-www-form-urlencoded", accept = "text/html, application/json" },
  { content_type = "application/vnd.api+json", accept = "text/html" },
}

local function fsec_wants_json(case)
  local h = {}
  if case.accept then h.accept = case.accept end
  if case.content_type then h["content-type"] = case.content_type end
  return http.wants_json(helpers.request{ method = "POST", headers = h, body = "{}" })
end

describe("JSON detection", function()
  it("a browser's Accept gets HTML, a JSON one or a +json body JSON", function()
    assert.is_false(fsec_wants_json{ accept = "text/html, application/json" })
    assert.is_true(fsec_wants_json{ accept = "application/json, text/html" })
    assert.is_true(fsec_wants_json{ content_type = "application/vnd.api+json" })
    assert.is_true(fsec_wants_json{ content_type = "application/problem+json; charset=utf-8" })
    assert.is_false(fsec_wants_json{ content_type = "text/json" })
    assert.is_false(fsec_wants_json{ accept = "*/*" })
    assert.is_true(fsec_wants_json{ accept = "*/*, application/json" })
  end)

  it("hostile Accept headers are read without error or blow-up", function()
    local long = string.rep("application/json;q=0.1, ", 2000) .. "text/html"
    assert.is_false(fsec_wants_json{ accept = long:sub(1, 8000) } == nil)
    for _, a in ipairs{ ";", ",", ";q=", "/;q=1", string.rep(";", 5000), "\0\1\2", "a/b;q=" .. string.rep("9", 400) } do
      assert.is_boolean(fsec_wants_json{ accept = a })
    end
  end)
end)

describe("JSON detection against the real Flask-Security", function()
  if not peer.present(it, pending) then return end

  it("decides JSON or not as 5.1.2 does for every case", function()
    local theirs = cjson.decode(peer.run("fs_wire_app.py", { "want_json" }, cjson.encode(WANT_JSON)))
    assert.equals(#WANT_JSON, #theirs)
    for i, case in ipairs(WANT_JSON) do
      assert.equals(theirs[i], fsec_wants_json(case),
        ("Accept %q, Content-Type %q"):format(case.accept or "-", case.content_type or "-"))
    end
  end)
end)


-- fsec's side: a JSON client (helpers.api) and a form client.
local function app(extra)
  local cfg = { registerable = true, changeable = true, recoverable = true, csrf_enabled = true }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return helpers.app{ config = cfg, mail = true, log = "quiet", clock = true,
                      roles = { { name = "admin" } },
                      users = { { email = "matt@example.com", password = "password-1" } } }
end

local function login(_, c)
  local res = c:call("POST", "/login", { email = "matt@example.com", password = "password-1" })
  assert.equals(200, res.status)
  return res
end

-- The peer's answers to a scenario (see spec/peer/fs_wire_app.py).
local function play(settings, steps)
  return cjson.decode(peer.run("fs_wire_app.py", { "play", cjson.encode(settings) }, cjson.encode(steps)))
end

local function attrs(set_cookie)
  local out = {}
  for part in (set_cookie or ""):gmatch(";%s*([^;]+)") do
    local k = part:match("^([^=]+)")
    out[k:lower()] = part:match("=(.*)$") or true
  end
  return out
end

describe("logout with CSRF on", function()
  it("signs out a session client that sends no token (JSON and form)", function()
    for _, json in ipairs{ true, false } do
      local a = app()
      local c = helpers.api(a.sec)
      login(a, c)
      local sid = c.jar.session
      assert.truthy(sid)
      local h = json and { accept = "application/json" } or { accept = "text/html" }
      local res = c:take(a.sec:handle(c:req{ method = "POST", path = "/logout", headers = h }))
      if json then
        assert.equals(200, res.status)
        assert.same({ meta = { code = 200 }, response = {} }, cjson.decode(res.body))
      else
        assert.equals(302, res.status)
      end
      assert.is_nil(c.jar.session)
      -- the old session cookie is dead server-side too (a replay fails)
      local me = a.sec:handle(helpers.request{ path = "/change", headers = { accept = "application/json" },
                                               cookies = { session = sid } })
      assert.equals(401, me.status)
    end
  end)

  it("also with a stale or foreign token, but not when the browser marks it as another site's", function()
    local a = app{ csrf_time_limit = 600 }
    local other = helpers.api(a.sec)
    for _, case in ipairs{
      { nil, 200 }, { { origin = "http://localhost" }, 200 }, { { ["sec-fetch-site"] = "same-origin" }, 200 },
      { { origin = "https://evil.example" }, 400 }, { { origin = "null" }, 400 },
      { { ["sec-fetch-site"] = "cross-site" }, 400 }, { { ["sec-fetch-site"] = "same-site" }, 400 },
      { { origin = "http://localhost.evil.example" }, 400 },
    } do
      for _, tok in ipairs{ "stale", "foreign" } do
        local c = helpers.api(a.sec)
        login(a, c)
        if tok == "foreign" then c.csrf = other.csrf end
        if tok == "stale" then a.clock.now = a.clock.now + 601 end -- past csrf_time_limit
        local res = c:call("POST", "/logout", nil, nil, case[1])
        assert.equals(case[2], res.status, cjson.encode(case[1] or {}) .. " " .. tok)
        assert.equals(case[2] == 200, c.jar.session == nil)
      end
    end
    -- a cross-site sign-out with this client's own token is still honoured
    local c = helpers.api(a.sec)
    login(a, c)
    assert.equals(200, c:call("POST", "/logout", nil, nil, { origin = "https://evil.example" }).status)
  end)

  it("still refuses a token-less POST to other endpoints", function()
    local a = app()
    local c = helpers.api(a.sec)
    login(a, c)
    c.csrf = nil
    local res = c:call("POST", "/change", { password = "password-1", new_password = "new-password-2",
                                            new_password_confirm = "new-password-2" })
    assert.equals(400, res.status)
    assert.matches("CSRF token is missing", res.body, 1, true)
  end)
end)

describe("logout with CSRF on, against the real Flask-Security", function()
  if not peer.present(it, pending) then return end
  it("answers the token-less POST /logout as 5.1.2 does", function()
    local theirs = play({}, {
      { method = "GET", path = "/login", headers = { Accept = "application/json" } },
      { method = "POST", path = "/login", json = { email = "matt@example.com", password = "password-1" }, csrf = "field" },
      { method = "POST", path = "/logout", headers = { Accept = "application/json" } },
      { method = "GET", path = "/me", headers = { Accept = "application/json" } },
    })
    assert.equals(200, theirs[2].status)
    assert.equals(401, theirs[4].status)
    local a = app()
    local c = helpers.api(a.sec)
    login(a, c)
    local res = c:take(a.sec:handle(c:req{ method = "POST", path = "/logout", headers = { accept = "application/json" } }))
    assert.equals(theirs[3].status, res.status)
    assert.same(theirs[3].body, cjson.decode(res.body))
    local me = a.sec:handle(c:req{ path = "/change", headers = { accept = "application/json" } })
    assert.equals(theirs[4].status, me.status)
  end)
end)


describe("Too's CSRF cookie and header", function()
  local COOKIE = { csrf_cookie_name = "XSRF-TOKEN" }

  it("accepts the token in X-XSRF-Token (csrf_header) with the cookie on, and in X-CSRF-Token", function()
    local function sign_in(cfg, h)
      local a = app(cfg)
      local c = helpers.api(a.sec)
      local tok = c.csrf
      c.csrf = nil
      return (c:call("POST", "/login", { email = "matt@example.com", password = "password-1" }, nil, { [h] = tok }))
    end
    for _, h in ipairs{ "x-xsrf-token", "x-csrf-token", "x-csrftoken" } do
      assert.equals(200, sign_in(COOKIE, h).status, h)
    end
    -- as Too 5.1.2: CSRF_HEADER is one of Flask-WTF's headers only with CSRF_COOKIE_NAME
    assert.equals(400, sign_in(nil, "x-xsrf-token").status)
    assert.equals(200, sign_in(nil, "x-csrf-token").status)
    assert.equals(200, sign_in({ csrf_cookie_name = "XSRF-TOKEN", csrf_header = "X-My-Token" }, "x-my-token").status)
  end)

  it("sets a readable cookie at sign-in whose value passes as the header, and clears it at sign-out", function()
    local a = app(COOKIE)
    local c = helpers.api(a.sec)
    local res = login(a, c)
    local sc = helpers.set_cookie(res, "XSRF-TOKEN")
    assert.truthy(sc)
    local at = attrs(sc)
    assert.is_nil(at.httponly)
    assert.equals("Strict", at.samesite)
    assert.equals("/", at.path)
    local cookie = c.jar["XSRF-TOKEN"]
    local other = helpers.api(a.sec)
    login(a, other)
    c.csrf = nil
    local ok = c:call("POST", "/change", { password = "password-1", new_password = "new-password-2",
                                           new_password_confirm = "new-password-2" }, nil, { ["x-xsrf-token"] = cookie })
    assert.equals(200, ok.status)
    -- the cookie is bound to the session: another client's is refused
    other.csrf = nil
    local bad = other:call("POST", "/change", { password = "new-password-2", new_password = "new-password-3",
                                                new_password_confirm = "new-password-3" }, nil, { ["x-xsrf-token"] = cookie })
    assert.equals(400, bad.status)
    assert.matches("CSRF token is invalid", bad.body, 1, true)
    assert.is_nil(bad.body:find("password", 1, true)) -- refused before the form was read
    local out = c:call("POST", "/logout")
    assert.truthy(helpers.set_cookie(out, "XSRF-TOKEN"):find("Max-Age=0", 1, true))
    assert.is_nil(c.jar["XSRF-TOKEN"])
  end)

  it("gives the cookie again to a session that lost it or holds a stale one", function()
    local a = app{ csrf_cookie_name = "XSRF-TOKEN", csrf_time_limit = 600 }
    local c = helpers.api(a.sec)
    login(a, c)
    c.jar["XSRF-TOKEN"] = nil
    local res = c:call("GET", "/change")
    assert.truthy(helpers.set_cookie(res, "XSRF-TOKEN") ~= nil)
    -- a fresh one is not sent again
    res = c:call("GET", "/change")
    assert.is_nil(helpers.set_cookie(res, "XSRF-TOKEN"))
    -- stale (past csrf_time_limit)
    a.clock.now = a.clock.now + 601
    res = c:call("GET", "/change")
    assert.equals(200, res.status)
    assert.truthy(helpers.set_cookie(res, "XSRF-TOKEN") ~= nil)
    -- anonymous clients get none
    local anon = helpers.api(a.sec)
    assert.is_nil(anon.jar["XSRF-TOKEN"])
  end)

  it("takes Too's attributes and its legacy key, and refuses bad ones", function()
    -- over TLS it is Secure whatever csrf_cookie says
    local t = app{ csrf_cookie_name = "XSRF-TOKEN" }
    local tc = helpers.api(t.sec, "https")
    assert.is_true(attrs(helpers.set_cookie(login(t, tc), "XSRF-TOKEN")).secure)
    local a = app{ csrf_cookie = { key = "XSRF", samesite = "Lax", secure = true, httponly = false, path = "/app" } }
    local c = helpers.api(a.sec)
    local at = attrs(helpers.set_cookie(login(a, c), "XSRF"))
    assert.equals("Lax", at.samesite)
    assert.equals("/app", at.path)
    assert.is_true(at.secure)
    for _, bad in ipairs{ { csrf_cookie = { samesite = "sometimes" } }, { csrf_cookie = { secure = "yes" } },
                          { csrf_cookie = { samesite = "None" } }, { csrf_cookie = { max_agee = 3 } },
                          { csrf_cookie = { path = "/a;b" } }, { csrf_cookie_name = "a b" },
                          { csrf_cookie_name = "session" }, { csrf_header = "X Bad" } } do
      assert.is_false(pcall(helpers.new, bad))
    end
  end)
end)

describe("Too's CSRF cookie, against the real Flask-Security", function()
  if not peer.present(it, pending) then return end
  it("sets the cookie with 5.1.2's attributes, takes it in X-XSRF-Token, clears it at logout", function()
    local theirs = play({ SECURITY_CSRF_COOKIE_NAME = "XSRF-TOKEN", _protect = true }, {
      { method = "GET", path = "/login", headers = { Accept = "application/json" } },
      { method = "POST", path = "/login", json = { email = "matt@example.com", password = "password-1" },
        csrf = "header X-XSRF-Token" },
      { method = "POST", path = "/me", headers = { Accept = "application/json" }, csrf = "cookie XSRF-TOKEN" },
      { method = "POST", path = "/logout", headers = { Accept = "application/json" } },
    })
    assert.equals(200, theirs[2].status)
    assert.equals(200, theirs[3].status)
    local a = app{ csrf_cookie_name = "XSRF-TOKEN" }
    local c = helpers.api(a.sec)
    c.csrf = nil
    local tok = cjson.decode(a.sec:handle(c:req{ path = "/login", headers = { accept = "application/json" } }).body)
    local res = c:call("POST", "/login", { email = "matt@example.com", password = "password-1" }, nil,
                       { ["x-xsrf-token"] = tok.response.csrf_token })
    assert.equals(theirs[2].status, res.status)
    local mine = attrs(helpers.set_cookie(res, "XSRF-TOKEN"))
    local their = attrs("x=y; " .. theirs[2].cookies["XSRF-TOKEN"].attrs)
    assert.same(their, mine)
    c.csrf = nil
    res = c:call("POST", "/change", { password = "password-1", new_password = "new-password-2",
                                      new_password_confirm = "new-password-2" }, nil,
                 { ["x-xsrf-token"] = c.jar["XSRF-TOKEN"] })
    assert.equals(theirs[3].status, res.status)
    res = c:call("POST", "/logout")
    assert.equals(theirs[4].status, res.status)
    assert.equals("", theirs[4].cookies["XSRF-TOKEN"].value)
    assert.truthy(helpers.set_cookie(res, "XSRF-TOKEN"):find("Max-Age=0", 1, true))
  end)
end)


-- A form POST as a browser sends it.
local function form_post(a, c, path, fields, h)
  local headers = { accept = "text/html", ["content-type"] = "application/x-www-form-urlencoded" }
  for k, v in pairs(h or {}) do headers[k] = v end
  return c:take(a.sec:handle(c:req{ method = "POST", path = path, headers = headers, body = http.encode_query(fields) }))
end

describe("a form posted with a missing or stale CSRF token", function()
  it("shows the form again with the reason and a fresh token; JSON keeps the JSON error", function()
    local a = app()
    local c = helpers.client()
    local page = c:take(a.sec:handle(c:req{ path = "/login", headers = { accept = "text/html" } }))
    local tok = page.body:match('name="csrf_token" value="([^"]+)"')
    assert.truthy(tok)
    local res = form_post(a, c, "/login", { email = "matt@example.com", password = "password-1" })
    assert.equals(400, res.status)
    assert.matches("^text/html", res.headers["Content-Type"])
    assert.matches("The CSRF token is missing.", res.body, 1, true)
    assert.matches('<form method="post"', res.body, 1, true)
    assert.truthy(res.body:match('name="csrf_token" value="([^"]+)"'))
    assert.is_nil(c.jar.session)
    -- stale: past csrf_time_limit
    a.clock.now = a.clock.now + 3601
    res = form_post(a, c, "/login", { email = "matt@example.com", password = "password-1", csrf_token = tok })
    assert.equals(400, res.status)
    assert.matches("The CSRF token has expired.", res.body, 1, true)
    -- forged
    res = form_post(a, c, "/register", { email = "x@example.com", password = "battery staple",
                                         password_confirm = "battery staple", csrf_token = tok .. "x" })
    assert.equals(400, res.status)
    assert.matches("The CSRF token is invalid.", res.body, 1, true)
    assert.matches('<form method="post"', res.body, 1, true)
    -- the fresh token then works
    local fresh = res.body:match('name="csrf_token" value="([^"]+)"')
    res = form_post(a, c, "/login", { email = "matt@example.com", password = "password-1", csrf_token = fresh })
    assert.equals(302, res.status)
    -- JSON
    local j = a.sec:handle(helpers.request{ method = "POST", path = "/login",
      headers = { accept = "application/json", ["content-type"] = "application/json" },
      body = cjson.encode{ email = "matt@example.com", password = "password-1" } })
    assert.equals(400, j.status)
    assert.same({ "The CSRF token is missing." }, cjson.decode(j.body).response.field_errors.csrf_token)
  end)

  it("where GET has no form (a POST-only endpoint), answers the short page", function()
    local a = app{ two_factor = true, totp_secrets = { ["1"] = "a-totp-secret-of-some-length" }, totp_issuer = "fsec-test" }
    local res = form_post(a, helpers.client(), "/tf-setup/abc", { code = "123456" })
    assert.equals(400, res.status)
    assert.matches("^text/html", res.headers["Content-Type"])
    assert.matches("The CSRF token is missing.", res.body, 1, true)
    assert.is_nil(res.body:find("<form", 1, true))
  end)

  it("answers a decorator's refusal to a page client with a page", function()
    local a = app()
    local c = helpers.api(a.sec)
    login(a, c)
    local guard = a.sec:login_required()
    local ok, status, body, res = a.sec:check(c:req{ method = "POST", path = "/app", headers = { accept = "*/*" } },
                                              { auth = { "session" } })
    assert.is_false(ok)
    assert.equals(400, status)
    assert.matches("^text/html", res.headers["Content-Type"])
    assert.matches("The CSRF token is missing.", body, 1, true)
    assert.truthy(guard)
  end)
end)

describe("a form posted without a CSRF token, against the real Flask-Security", function()
  if not peer.present(it, pending) then return end
  it("shows the form with the same message as 5.1.2 (status: fsec's 400 for a failed form)", function()
    local theirs = play({}, {
      { method = "POST", path = "/login", form = { email = "matt@example.com", password = "password-1" },
        headers = { Accept = "text/html" } },
    })
    assert.equals(200, theirs[1].status) -- a listed difference: fsec answers failed forms 400
    assert.matches("The CSRF token is missing.", theirs[1].text, 1, true)
    assert.matches("<form", theirs[1].text, 1, true)
    local a = app()
    local res = form_post(a, helpers.client(), "/login", { email = "matt@example.com", password = "password-1" })
    assert.equals(400, res.status)
    assert.matches("The CSRF token is missing.", res.body, 1, true)
    assert.matches("<form", res.body, 1, true)
    assert.equals(theirs[1].type, res.headers["Content-Type"])
  end)
end)


describe("authorization errors", function()
  local function denied(a, c, accept)
    return a.sec:check(c:req{ path = "/admin", headers = { accept = accept } }, { roles_required = { "admin" } })
  end

  it("answer a page to every client but a JSON one", function()
    local a = app()
    local c = helpers.api(a.sec)
    login(a, c)
    for _, accept in ipairs{ "text/html", "*/*", "text/plain", "text/html, application/json" } do
      local ok, status, body, res = denied(a, c, accept)
      assert.is_false(ok)
      assert.equals(403, status)
      assert.matches("^text/html", res.headers["Content-Type"], nil, accept)
      assert.matches("You do not have permission to view this resource.", body, 1, true)
    end
    local _, status, body, res = denied(a, c, "application/json")
    assert.equals(403, status)
    assert.equals("application/json", res.headers["Content-Type"])
    assert.same({ "You do not have permission to view this resource." }, cjson.decode(body).response.errors)
  end)
end)

describe("authorization errors against the real Flask-Security", function()
  if not peer.present(it, pending) then return end
  it("have 5.1.2's status and content type for each client", function()
    local accepts = { "text/html", "*/*", "text/html, application/json", "application/json" }
    local steps = {
      { method = "GET", path = "/login", headers = { Accept = "application/json" } },
      { method = "POST", path = "/login", json = { email = "matt@example.com", password = "password-1" }, csrf = "field" },
    }
    for _, acc in ipairs(accepts) do steps[#steps + 1] = { method = "GET", path = "/admin", headers = { Accept = acc } } end
    local theirs = play({}, steps)
    local a = app()
    local c = helpers.api(a.sec)
    login(a, c)
    for i, acc in ipairs(accepts) do
      local t = theirs[i + 2]
      local _, status, body, res = a.sec:check(c:req{ path = "/admin", headers = { accept = acc } },
                                               { roles_required = { "admin" } })
      assert.equals(t.status, status, acc)
      assert.equals(t.type:match("^[^;]+"), res.headers["Content-Type"]:match("^[^;]+"), acc)
      if t.body ~= cjson.null then assert.same(t.body, cjson.decode(body)) end
    end
  end)
end)


-- Too's SPA redirects: the mailed links' answers to a browser.
local SPA_VIEWS = { login_error_view = "/login-error", confirm_error_view = "/confirm-error",
                    post_confirm_view = "/confirmed", reset_view = "/reset-view",
                    reset_error_view = "/reset-error?x=1", post_login_view = "/home" }

local function spa_app(extra)
  local cfg = { redirect_behavior = "spa", redirect_host = "localhost:8080", confirmable = true,
                passwordless = true, csrf_enabled = false, auto_login_after_confirm = true }
  for k, v in pairs(SPA_VIEWS) do cfg[k] = v end
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return app(cfg)
end

local HTML = { accept = "text/html" }

-- The last mailed link's path.
local function last_link(a)
  local ms = a.mails()
  table.sort(ms, function(x, y) return x.name < y.name end)
  return helpers.path_of(ms[#ms].link)
end

-- Follow a link as a browser (one_click_links: the GET acts, as in Too).
local function get(a, c, path)
  return c:take(a.sec:handle(c:req{ path = path, headers = HTML }))
end

-- The steps spec/peer/fs_wire_app.py plays, and fsec's Locations for them.
local SPA_STEPS = {
  { method = "POST", path = "/register", json = { email = "new@example.com", password = "battery staple",
                                                  password_confirm = "battery staple" } },
  { link = "confirm", headers = { Accept = "text/html" } },
  { method = "POST", path = "/logout", headers = { Accept = "application/json" } },
  { link = "confirm", headers = { Accept = "text/html" } },
  { method = "GET", path = "/confirm/bogus", headers = { Accept = "text/html" } },
  { method = "POST", path = "/reset", json = { email = "new@example.com" } },
  { link = "reset", headers = { Accept = "text/html" } },
  { method = "GET", path = "/reset/bogus", headers = { Accept = "text/html" } },
  { method = "GET", path = "/login/bogus", headers = { Accept = "text/html" } },
  { method = "POST", path = "/login", json = { email = "new@example.com" } },
  { link = "login", headers = { Accept = "text/html" } },
}

local function fsec_spa_locations()
  local a = spa_app{ one_click_links = true }
  local c = helpers.api(a.sec)
  local out = {}
  for _, step in ipairs(SPA_STEPS) do
    local res
    if step.link then
      local path
      for _, m in ipairs(a.mails()) do
        local p = helpers.path_of(m.link or "")
        if p and p:find("^/" .. step.link .. "/") then path = p end
      end
      res = get(a, c, assert(path, "no " .. step.link .. " link"))
    elseif step.method == "GET" then
      res = get(a, c, step.path)
    else
      res = c:call(step.method, step.path, step.json)
    end
    out[#out + 1] = { status = res.status, location = res.headers.Location or cjson.null }
  end
  return out
end

-- a reset token differs between the two: compared as a placeholder
local function untokened(loc)
  return type(loc) == "string" and (loc:gsub("token=[^&]+", "token=T")) or loc
end

describe("SPA redirects", function()
  it("the mailed links lead to the SPA's views with Too's query parameters", function()
    local locs = fsec_spa_locations()
    local id = "email=new%40example.com&identity=new%40example.com"
    assert.same({ 302, "//localhost:8080/confirmed?success=Thank+you.+Your+email+has+been+confirmed.&" .. id },
                { locs[2].status, locs[2].location })
    assert.equals("//localhost:8080/confirm-error?info=Your+email+has+already+been+confirmed.&" .. id, locs[4].location)
    assert.equals("//localhost:8080/confirm-error?error=Invalid+confirmation+token.", locs[5].location)
    assert.equals("//localhost:8080/reset-view?token=T&" .. id, untokened(locs[7].location))
    assert.equals("//localhost:8080/reset-error?x=1&error=Invalid+reset+password+token.", locs[8].location)
    assert.equals("//localhost:8080/login-error?error=Invalid+login+token.", locs[9].location)
    assert.equals("//localhost:8080/home?" .. id, locs[11].location)
  end)

  it("expired links carry the user and the message; the reset view's token still works", function()
    local a = spa_app()
    local u = a.users[1]
    a.sec.datastore:set_confirmed_at(u, a.clock.now)
    local c = helpers.api(a.sec)
    c:call("POST", "/reset", { email = "matt@example.com" })
    local link = last_link(a)
    local res = get(a, helpers.client(), link)
    local token = res.headers.Location:match("token=([^&]+)")
    assert.equals(link, "/reset/" .. token)
    -- the SPA posts the new password with the token (JSON)
    local r2 = c:call("POST", "/reset/" .. token, { password = "new-password-2", password_confirm = "new-password-2" })
    assert.equals(200, r2.status)
    c:call("POST", "/reset", { email = "matt@example.com" })
    link = last_link(a)
    a.clock.now = a.clock.now + 86401
    res = get(a, helpers.client(), link)
    assert.matches("^//localhost:8080/reset%-error%?x=1&error=You%+did%+not%+reset%+your%+password%+within%+1%+days%.", res.headers.Location)
    assert.matches("&email=matt%%40example%.com&identity=matt%%40example%.com$", res.headers.Location)
  end)

  it("a passwordless link asks first (the consent page), then leads to the SPA; a second factor is refused", function()
    local a = spa_app{ csrf_enabled = true }
    a.sec.datastore:set_confirmed_at(a.users[1], a.clock.now)
    local c = helpers.api(a.sec)
    c:call("POST", "/login", { email = "matt@example.com" })
    local res = helpers.follow(a.sec, last_link(a), helpers.client(), HTML)
    assert.equals(302, res.status)
    assert.equals("//localhost:8080/home?email=matt%40example.com&identity=matt%40example.com", res.headers.Location)
    -- JSON clients keep JSON
    c:call("POST", "/login", { email = "matt@example.com" })
    local j = a.sec:handle(helpers.request{ path = last_link(a), headers = { accept = "application/json" } })
    assert.equals(200, j.status)
  end)

  it("a passwordless link of a user who needs a second factor tells the SPA, signing nobody in", function()
    local need_tf = false
    local a = spa_app{ one_click_links = true, two_factor = true, totp_secrets = { ["1"] = "a-totp-secret-of-some-length" },
                       totp_issuer = "fsec-test", check_tf_required = function() return need_tf end }
    a.sec.datastore:set_confirmed_at(a.users[1], a.clock.now)
    helpers.api(a.sec):call("POST", "/login", { email = "matt@example.com" })
    need_tf = true
    local c = helpers.client()
    local res = get(a, c, last_link(a))
    assert.equals("//localhost:8080/login-error?tf_required=1&email=matt%40example.com&identity=matt%40example.com",
                  res.headers.Location)
    assert.is_false(a.sec:current_user(c:req()).is_authenticated)
  end)

  it("a view left unset keeps fsec's own answer; redirect_host is checked", function()
    local a = spa_app{ confirm_error_view = "nil" }
    local res = get(a, helpers.client(), "/confirm/bogus")
    assert.equals("/confirm", res.headers.Location)
    for _, bad in ipairs{ { redirect_host = "http://x" }, { redirect_host = "x/y" }, { redirect_host = "a@b" },
                          { redirect_host = "x:" }, { redirect_host = "x:99999" }, { redirect_behavior = "SPA" },
                          { reset_view = "//evil.example" }, { login_error_view = "javascript:alert(1)" } } do
      assert.is_false(pcall(helpers.new, bad), cjson.encode(bad))
    end
    assert.truthy(helpers.new{ redirect_host = "[::1]:8080" })
    assert.truthy(helpers.new{ redirect_host = "localhost" })
  end)
end)

describe("SPA redirects against the real Flask-Security", function()
  if not peer.present(it, pending) then return end
  it("lead where 5.1.2's lead, with the same query", function()
    local settings = { WTF_CSRF_ENABLED = false, SECURITY_REDIRECT_BEHAVIOR = "spa",
      SECURITY_REDIRECT_HOST = "localhost:8080", SECURITY_CONFIRMABLE = true, SECURITY_REGISTERABLE = true,
      SECURITY_RECOVERABLE = true, SECURITY_PASSWORDLESS = true }
    for k, v in pairs(SPA_VIEWS) do settings["SECURITY_" .. k:upper()] = v end
    local theirs = play(settings, SPA_STEPS)
    local mine = fsec_spa_locations()
    for i, step in ipairs(SPA_STEPS) do
      local what = step.link or step.path
      assert.equals(theirs[i].status, mine[i].status, what)
      assert.equals(untokened(theirs[i].location), untokened(mine[i].location), what)
    end
  end)
end)

describe("requires_confirmation_error_view", function()
  local function post(a, email, password)
    return form_post(a, helpers.client(), "/login", { email = email, password = password })
  end

  it("sends a browser's right password of an unconfirmed account there, and nothing else", function()
    local a = app{ confirmable = true, csrf_enabled = false, requires_confirmation_error_view = "/confirm-first",
                   redirect_host = "localhost:8080" }
    local res = post(a, "MATT@example.com", "password-1")
    assert.equals(302, res.status)
    assert.equals("//localhost:8080/confirm-first?email=MATT%40example.com", res.headers.Location)
    assert.equals(400, post(a, "matt@example.com", "wrong-pass").status) -- a wrong password: the form
    -- generic responses never tell the account exists
    local g = app{ confirmable = true, csrf_enabled = false, requires_confirmation_error_view = "/confirm-first",
                   return_generic_responses = true }
    assert.equals(400, post(g, "matt@example.com", "password-1").status)
  end)

  it("as 5.1.2 does", function()
    if not peer.available() then
      if os.getenv("FSEC_REQUIRE_PEER") == "1" then error("python3-flask-security is not installed") end
      return pending("python3-flask-security not installed")
    end
    local theirs = play({ WTF_CSRF_ENABLED = false, SECURITY_CONFIRMABLE = true,
                          SECURITY_REQUIRES_CONFIRMATION_ERROR_VIEW = "/confirm-first",
                          SECURITY_REDIRECT_HOST = "localhost:8080" }, {
      { method = "POST", path = "/login", form = { email = "MATT@example.com", password = "password-1" },
        headers = { Accept = "text/html" } } })
    local a = app{ confirmable = true, csrf_enabled = false, requires_confirmation_error_view = "/confirm-first",
                   redirect_host = "localhost:8080" }
    local res = post(a, "MATT@example.com", "password-1")
    assert.equals(theirs[1].status, res.status)
    assert.equals(theirs[1].location, res.headers.Location)
  end)
end)
