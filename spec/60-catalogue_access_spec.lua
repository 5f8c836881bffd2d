-- The security catalogue (§7 of the reference), row by row: the checks
-- that no other spec makes. Every test name starts with its row id;
-- docs/catalogue.md maps each row to its tests (here and elsewhere) and
-- spec/check-catalogue.sh checks that the names it cites exist.
-- This file: 7.6 redirects and 7.7 access control (A-07 in the real nginx).
local fsec = require "fsec"
local helpers = require "spec.helpers"
local core = require "fsec.core"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local setup = ep.setup_for("cat.db", "keep")
local api, mails = helpers.api, helpers.mails
local signed_in, token_of = ep.signed_in, ep.token_of
local json_req = ep.json_req

------------------------------------------------------------------------
-- 7.6 Redirects
------------------------------------------------------------------------

describe("catalogue 7.6 redirects #quick", function()
  it("R-01: a hostile next in the form or the query string never sends the browser off site", function()
    -- 40 logins from one address to one account: over the throttle, which is not what this checks
    local sec = setup{ throttle_client_limit = 0, throttle_identity_limit = 0 }
    local hostile = { "http://evil.com", "//evil.com", "///evil.com", "\\\\\\evil.com", "/\\evil.com", " //evil.com",
                      "\t//evil.com", "\25////evil.com", "https:evil.com", "http:/evil.com", "https://localhost\\@evil.com",
                      "https://localhost@evil.com", "https://evil.com#@localhost", "javascript:alert(1)",
                      "data:text/html,x", "/\t/evil.com", "/\r\nLocation: //evil.com" }
    local function login_with(nxt, in_query)
      local h = helpers.client()
      local page = sec:handle(h:req{ path = "/login" }); h:take(page)
      local csrf = page.body:match('name="csrf_token" value="([^"]+)"')
      local body = "email=matt%40example.com&password=" .. PW .. "&csrf_token=" .. csrf
      local query = {}
      if in_query then query.next = nxt else body = body .. "&next=" .. nxt:gsub("[^%w]", function(ch)
        return ("%%%02X"):format(ch:byte()) end) end
      return sec:handle(h:req{ method = "POST", path = "/login", query = query, body = body,
                               headers = { ["content-type"] = "application/x-www-form-urlencoded" } })
    end
    for _, nxt in ipairs(hostile) do
      for _, q in ipairs{ false, true } do
        local res = login_with(nxt, q)
        if res.status == 302 then
          assert.equals("/", res.headers.Location, nxt)
        else
          assert.equals(400, res.status, nxt)
          assert.is_nil(res.headers.Location)
        end
      end
    end
    assert.equals("/profile?x=1#a", login_with("/profile?x=1#a", true).headers.Location)
  end)
end)

------------------------------------------------------------------------
-- 7.7 Access control
------------------------------------------------------------------------

describe("catalogue 7.7 access control #quick", function()
  local function with_roles(sec, email, roles)
    local u = assert(sec.datastore:create_user{ email = email, password = sec:hash_password(PW), roles = roles,
                                                confirmed_at = 1 })
    local c = helpers.client()
    local res = sec:new_response()
    assert(sec:login_user(c:req(), res, u))
    c:take(res)
    return u, c
  end

  it("A-01: no roles, a wrong role or an unknown permission is a 403", function()
    local sec = setup()
    sec.datastore:create_role{ name = "admin", permissions = { "user-read" } }
    sec.datastore:create_role{ name = "editor" }
    local _, none = with_roles(sec, "none@example.com", {})
    local _, ed = with_roles(sec, "ed@example.com", { "editor" })
    local _, adm = with_roles(sec, "adm@example.com", { "admin" })
    for _, t in ipairs{ { none, { roles_required = { "admin" } } }, { ed, { roles_required = { "admin" } } },
                        { none, { roles_accepted = { "admin", "editor" } } },
                        { adm, { permissions_required = { "no-such-permission" } } },
                        { adm, { permissions_accepted = { "no-such-permission" } } },
                        { adm, { roles_required = { "no-such-role" } } } } do
      local ok, status = sec:check(t[1]:req{ headers = { accept = "application/json" } }, t[2])
      assert.is_false(ok); assert.equals(403, status)
    end
  end)

  it("A-02: roles_required and roles_accepted follow their truth tables, empty lists included", function()
    local sec = setup()
    sec.datastore:create_role{ name = "a" }
    sec.datastore:create_role{ name = "b" }
    local sets = { {}, { "a" }, { "b" }, { "a", "b" } }
    local function has_all(have, want)
      for _, w in ipairs(want) do
        local found = false
        for _, h in ipairs(have) do if h == w then found = true end end
        if not found then return false end
      end
      return true
    end
    local function has_any(have, want)
      if #want == 0 then return true end
      for _, w in ipairs(want) do if has_all(have, { w }) then return true end end
      return false
    end
    for i, have in ipairs(sets) do
      local _, c = with_roles(sec, ("a2-%d@example.com"):format(i), have)
      for _, want in ipairs(sets) do
        local req = c:req()
        assert.equals(has_all(have, want), (sec:check(req, { roles_required = want })), "required")
        assert.equals(has_any(have, want), (sec:check(c:req(), { roles_accepted = want })), "accepted")
        assert.equals(has_all(have, want) and has_any(have, want),
                      (sec:check(c:req(), { roles_required = want, roles_accepted = want })), "both")
      end
    end
  end)

  it("A-03: removing a role or deactivating the user denies the next request of a live session", function()
    local sec = setup()
    sec.datastore:create_role{ name = "admin" }
    local u, c = with_roles(sec, "a3@example.com", { "admin" })
    assert.is_true((sec:check(c:req(), { auth = { "session" }, roles_required = { "admin" } })))
    sec.datastore:remove_role_from_user(u, "admin")
    local ok, status = sec:check(c:req{ headers = { accept = "application/json" } },
                                 { auth = { "session" }, roles_required = { "admin" } })
    assert.is_false(ok); assert.equals(403, status)
    sec.datastore:deactivate_user(u)
    ok, status = sec:check(c:req{ headers = { accept = "application/json" } }, { auth = { "session" } })
    assert.is_false(ok); assert.equals(401, status)
  end)

  it("A-04: deleting a user ends its sessions, remember cookie and auth tokens, and its reset and confirm links", function()
    local sec, _, _, maildir = setup{ confirmable = true }
    local u = sec.datastore:find_user{ email = "matt@example.com" }
    local c = api(sec)
    assert.equals(200, (c:call("POST", "/login", { email = "matt@example.com", password = PW, remember = true })).status)
    local remember = c.jar.remember_token
    local token = sec:get_auth_token(u)
    api(sec):call("POST", "/reset", { email = "matt@example.com" })
    local reset = token_of(mails(maildir)[1].link)
    local confirm = sec:generate_token("confirm", { u = u.fs_uniquifier, e = core.digest(u.email) })
    assert.is_true(sec.datastore:delete_user(u))
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ cookies = { remember_token = remember } }).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ headers = { ["authentication-token"] = token } }).is_authenticated)
    local res = sec:handle(json_req{ path = "/reset/" .. reset })
    assert.equals(400, res.status)
    res = sec:handle(json_req{ path = "/confirm/" .. confirm })
    assert.equals(400, res.status)
  end)

  it("A-05: a hook or store that raises inside a check denies (and is logged), never allows", function()
    local sec, _, _, _, logs = setup()
    local c = signed_in(sec)
    sec:policy("access", function() error("hook bug") end)
    local ok, status = sec:check(c:req{ headers = { accept = "application/json" } }, { auth = { "session" } })
    assert.is_false(ok); assert.equals(403, status)
    assert.matches("hook bug", table.concat(logs, "\n"), 1, true)
    -- a datastore that raises: the check raises too (the server answers 500), it never allows
    local ds = require("fsec.datastore.memory").new()
    local msec = fsec.new(helpers.config{ datastore = ds, log = function() end })
    local mu = assert(ds:create_user{ email = "m@example.com", password = msec:hash_password(PW) })
    local mc = helpers.client()
    local res = msec:new_response()
    assert(msec:login_user(mc:req(), res, mu)); mc:take(res)
    ds.find_user_by_session = function() error("disk on fire") end
    local pok, a = pcall(msec.check, msec, mc:req(), { auth = { "session" } })
    assert.is_true(not pok or a == false)
    -- a store that cannot answer: 503
    ds.find_user_by_session = function() return nil, "EBUSY: store busy", "EBUSY" end
    local ok2, st = msec:check(mc:req(), { auth = { "session" } })
    assert.is_false(ok2); assert.equals(503, st)
  end)

  it("A-06: /verify with another user's password is refused", function()
    local sec = setup()
    sec.datastore:create_user{ email = "other@example.com", password = sec:hash_password("others-password"),
                               confirmed_at = 1 }
    local c = signed_in(sec)
    local res, r = c:call("POST", "/verify", { password = "others-password" })
    assert.equals(400, res.status)
    assert.same({ "Invalid password" }, r.field_errors.password)
    res = c:call("POST", "/verify", { email = "other@example.com", password = "others-password" })
    assert.equals(400, res.status)
    assert.equals(200, (c:call("POST", "/verify", { password = PW })).status)
  end)
end)

------------------------------------------------------------------------
-- A-07: path rules in the real nginx (LuaJIT pass, nginx installed)
------------------------------------------------------------------------

local example = require "spec.tools.example_app"

describe("catalogue 7.7 path rules in nginx", function()
  it("A-07: every spelling of /admin is protected in the example app", function()
    if not example.enabled then pending("A-07 needs nginx and the LuaJIT pass"); return end
    example.with_app({}, function(app)
      for _, path in ipairs{ "/admin", "/admin/", "/ADMIN", "//admin", "/x/../admin", "/%61dmin", "/admin%2f",
                             "/admin;x", "/admin?x", "/./admin", "/admin/.", "/%2e/admin", "/adm%69n/" } do
        local r = example.request(app, { path = path, curl = "--path-as-is" })
        local status, body = r.status, r.body
        assert.is_nil(body:find("Only administrators", 1, true), path)
        assert.is_true(status == 302 or status == 401 or status == 403 or status == 404 or status == 400,
                       path .. " -> " .. tostring(status))
      end
    end)
  end)
end)
