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
