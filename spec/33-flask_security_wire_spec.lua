-- The wire details that break Flask-Security-Too's clients (issue 24 §2),
-- side by side with the real Flask-Security (python3-flask-security 5.1.2,
-- through spec/peer/fs_wire_app.py): which requests are answered in JSON,
-- logout without a CSRF token, Too's readable CSRF cookie and its header,
-- a form posted with a missing or stale token, and a role check's refusal
-- to a client that is not JSON. Each test asserts fsec's answer on its own
-- too, so the peer's absence leaves the fsec half running.
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

describe("JSON detection #quick", function()
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

describe("authorization errors #quick", function()
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
