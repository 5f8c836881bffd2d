-- The security catalogue (§7 of the reference), row by row: the checks
-- that no other spec makes. Every test name starts with its row id;
-- docs/catalogue.md maps each row to its tests (here and elsewhere) and
-- spec/check-catalogue.sh checks that the names it cites exist.
-- This file: 7.4 sessions, cookies and CSRF.
local helpers = require "spec.helpers"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local setup = ep.setup_for("cat.db", "keep")
local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of
local signed_in, token_of = ep.signed_in, ep.token_of
local stored_password = ep.stored_password

------------------------------------------------------------------------
-- 7.4 Sessions, cookies, CSRF
------------------------------------------------------------------------

describe("catalogue 7.4 sessions and CSRF #quick", function()
  it("S-02: a password change replaces the session cookie; the old one is refused", function()
    local sec = setup()
    local c = signed_in(sec)
    local old = c.jar.session
    local res = c:call("POST", "/change", { password = PW, new_password = "changed-password",
                                            new_password_confirm = "changed-password" })
    assert.equals(200, res.status)
    assert.not_equals(old, c.jar.session)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ cookies = { session = old } }).is_authenticated)
  end)

  it("S-02: re-authentication (/verify) gives a new session; the cookie from before it is refused", function()
    local sec, _, clock = setup()
    local c = signed_in(sec)
    local old = c.jar.session
    clock.now = clock.now + 120
    local res = c:call("POST", "/verify", { password = PW })
    assert.equals(200, res.status)
    assert.not_equals(old, c.jar.session)
    assert.is_false(sec:current_user(helpers.request{ cookies = { session = old } }).is_authenticated)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("C-30: session and remember cookies are __Host-, Secure, HttpOnly, SameSite, Path=/, no Domain, small; no token in a Location", function()
    local sec, _, _, maildir = setup{ confirmable = true, passwordless = false }
    local c = api(sec, "https")
    local res = c:call("POST", "/login", { email = "matt@example.com", password = PW, remember = true })
    assert.equals(200, res.status)
    local all = {}
    for _, sc in ipairs(res.cookies) do all[#all + 1] = sc end
    for _, name in ipairs{ "__Host-session", "__Host-remember_token" } do
      local sc = helpers.set_cookie(res, name)
      assert.truthy(sc, name)
      for _, attr in ipairs{ "; Secure", "; HttpOnly", "; Path=/", "; SameSite=Lax" } do
        assert.truthy(sc:find(attr, 1, true), name .. attr)
      end
      assert.is_nil(sc:lower():find("domain=", 1, true))
    end
    -- every cookie fsec sets in a round of flows: small, HttpOnly, Secure over HTTPS
    local h = helpers.client("https")
    local html = function(t)
      local r = sec:handle(h:req(t)); h:take(r)
      for _, sc in ipairs(r.cookies) do all[#all + 1] = sc end
      return r
    end
    local page = html{ path = "/login" }
    local csrf = page.body:match('name="csrf_token" value="([^"]+)"')
    local r = html{ method = "POST", path = "/login", body = "email=matt%40example.com&password=" .. PW
                      .. "&csrf_token=" .. csrf, headers = { ["content-type"] = "application/x-www-form-urlencoded" } }
    assert.equals(302, r.status)
    local locations = { r.headers.Location }
    api(sec, "https"):call("POST", "/reset", { email = "matt@example.com" })
    local link = path_of(mails(maildir)[1].link)
    r = html{ path = link }
    locations[#locations + 1] = r.headers.Location
    r = html{ path = "/confirm/" .. token_of(mails(maildir)[1].link) }
    locations[#locations + 1] = r.headers.Location
    for _, sc in ipairs(all) do
      assert.is_true(#sc:match("^[^;]*") <= 4096, sc:sub(1, 40))
      if not sc:find("Max-Age=0", 1, true) then -- (deletions carry no value)
        assert.truthy(sc:find("; HttpOnly", 1, true), sc:sub(1, 40))
        assert.truthy(sc:find("; Secure", 1, true), sc:sub(1, 40))
      end
    end
    local tokens = { token_of(mails(maildir)[1].link), c.jar["__Host-session"], c.jar["__Host-remember_token"] }
    for _, loc in ipairs(locations) do
      for _, t in ipairs(tokens) do assert.is_nil(loc:find(t, 1, true), loc) end
      assert.is_nil(loc:find("auth_token", 1, true))
    end
  end)

  it("C-33: POSTs without a CSRF token, with another client's or with a stale one are refused and change nothing", function()
    local sec, _, clock, maildir = setup{ session_idle_timeout = 7200 }
    local c = signed_in(sec)
    local anon = api(sec)
    local other = api(sec)
    local stale_anon = anon.csrf
    local posts = {
      { anon, "/register", { email = "c33@example.com", password = "battery staple", password_confirm = "battery staple" } },
      { anon, "/reset", { email = "matt@example.com" } },
      { anon, "/login", { email = "matt@example.com", password = PW } },
      { c, "/change", { password = PW, new_password = "changed-password", new_password_confirm = "changed-password" } },
      -- logout needs the token only when the browser marks the POST as
      -- another site's (as Too, it needs none from this site: spec/33-flask_security_wire)
      { c, "/logout", nil, { ["sec-fetch-site"] = "cross-site" } },
      { c, "/logout", nil, { origin = "https://evil.example" } },
    }
    local before = stored_password(sec)
    local function try(csrf)
      for _, p in ipairs(posts) do
        local cl = p[1]
        local keep = cl.csrf
        cl.csrf = csrf(cl)
        local res = cl:call("POST", p[2], p[3], nil, p[4])
        cl.csrf = keep
        assert.equals(400, res.status, p[2])
      end
    end
    try(function() return nil end)                   -- missing
    try(function() return other.csrf end)            -- another client's
    clock.now = clock.now + 3601                     -- older than csrf_time_limit
    try(function(cl) return cl == anon and stale_anon or cl.csrf end)
    assert.equals(before, stored_password(sec))
    assert.is_nil(sec.datastore:find_user{ email = "c33@example.com" })
    assert.equals(0, #mails(maildir))
  end)

  it("C-34: cross-site POSTs (Origin: evil, Sec-Fetch-Site: cross-site) without the token are refused", function()
    local sec = setup()
    local c = signed_in(sec)
    local before = stored_password(sec)
    for _, h in ipairs{ { origin = "https://evil.example" }, { ["sec-fetch-site"] = "cross-site" } } do
      local keep = c.csrf
      c.csrf = nil
      local res = c:call("POST", "/change", { password = PW, new_password = "changed-password",
                                              new_password_confirm = "changed-password" }, nil, h)
      c.csrf = keep
      assert.equals(400, res.status)
      -- a form post, as a cross-site page would send it
      res = sec:handle(c:req{ method = "POST", path = "/logout", headers = {
        ["content-type"] = "application/x-www-form-urlencoded", origin = h.origin, ["sec-fetch-site"] = h["sec-fetch-site"] },
        body = "" })
      assert.equals(400, res.status)
    end
    assert.equals(before, stored_password(sec))
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("C-35: GET /logout, GET /change and GET /register change nothing; logout is POST-only by default", function()
    local sec = setup()
    local c = signed_in(sec)
    local before = stored_password(sec)
    local res = sec:handle(c:req{ path = "/logout" })
    assert.equals(405, res.status)
    res = sec:handle(c:req{ path = "/change", query = { password = PW, new_password = "changed-password",
                                                        new_password_confirm = "changed-password" } })
    assert.equals(200, res.status) -- the form
    res = sec:handle(helpers.request{ path = "/register", query = { email = "c35@example.com",
      password = "battery staple", password_confirm = "battery staple" } })
    assert.equals(200, res.status)
    assert.equals(before, stored_password(sec))
    assert.is_nil(sec.datastore:find_user{ email = "c35@example.com" })
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("C-36: GET /login (JSON) while signed in never returns an auth token, even with include_auth_token", function()
    local sec = setup()
    local c = signed_in(sec)
    local res, r = c:call("GET", "/login", nil, { include_auth_token = "" })
    assert.equals(200, res.status)
    assert.equals("table", type(r.user))
    assert.is_nil(r.user.authentication_token)
    assert.is_nil(res.body:find("authentication_token", 1, true))
  end)
end)
