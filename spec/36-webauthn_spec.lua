-- WebAuthn ceremonies (fsec.webauthn, fsec.wanviews) with the objects
-- Chromium's virtual authenticator made (spec/fixtures/webauthn, recorded
-- by wan-core's tool) and their tampered variants: wrong origin, wrong RP
-- ID, a flipped signature, a key of an algorithm not allowed, a counter
-- gone back (a clone), a replayed challenge; then through the endpoints
-- as Flask-Security-Too answers them: the state bound to its browser and
-- spent once, the user handle bound to its user, usage, a second factor.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local core = require "fsec.core"
local wan = require "fsec.webauthn"

local FIXTURES = "spec/fixtures/webauthn/"

local function fixture(name)
  return cjson.decode((assert(helpers.read(FIXTURES .. name .. ".json"))))
end

local function fixture_names()
  local p = assert(io.popen("ls " .. FIXTURES))
  local out = {}
  for line in p:lines() do
    local n = line:match("^(.+)%.json$")
    if n then out[#out + 1] = n end
  end
  p:close()
  return out
end

-- A Security whose RP is the fixture's (its RP ID and origin).
local function sec_for(fx, extra)
  local c = { webauthn = true, wan_rp_id = fx.rp_id, wan_origins = { fx.origin } }
  for k, v in pairs(extra or {}) do c[k] = v end
  return helpers.new(c)
end

local function request() return helpers.request{ method = "POST" } end

describe("WebAuthn ceremonies with recorded objects #quick", function()
  it("checks every fixture as its expectation says (clientDataJSON here, the rest in fsec.core)", function()
    local n = 0
    for _, name in ipairs(fixture_names()) do
      local fx = fixture(name)
      local sec = sec_for(fx)
      local cred = assert(wan.credential(fx.credential), name)
      local data = { c = fx.challenge, uv = fx.opts.require_uv and 1 or 0 }
      local want = fx.expect.client_data ~= "ok" and fx.expect.client_data or fx.expect.core
      if want == "challenge_reused" then want = "ok" end -- valid by itself: the state's record refuses it
      local got, cause
      if fx.kind == "registration" then
        got, cause = wan.verify_registration(sec, request(), cred, data, fx.opts.algs)
      else
        got, cause = wan.verify_assertion(sec, request(), cred, data,
                                          { public_key = wan.b64u_decode(fx.public_key) }, fx.opts.require_uv)
        if got and fx.expect.sign_count then
          local ok = wan.sign_count_ok(fx.stored_sign_count, got.sign_count)
          assert.equals(fx.expect.sign_count == "ok", ok, name .. ": sign count rule")
        end
      end
      assert.equals(want, got and "ok" or cause, name .. ": " .. tostring(fx.note))
      n = n + 1
      sec:close()
    end
    assert.is_true(n >= 40)
  end)

  it("refuses the right objects under another challenge, origin, type or RP ID", function()
    local fx = fixture("asrt_es256")
    local key = { public_key = wan.b64u_decode(fx.public_key) }
    local sec = sec_for(fx)
    local cred = wan.credential(fx.credential)
    assert.is_table(wan.verify_assertion(sec, request(), cred, { c = fx.challenge }, key, false))
    local other = fx.challenge:sub(1, -2) .. (fx.challenge:sub(-1) == "A" and "B" or "A")
    assert.same({ nil, "challenge" }, { wan.verify_assertion(sec, request(), cred, { c = other }, key, false) })
    sec:close()
    -- the origin the request names, when wan_origins is not set: http://localhost (no port)
    sec = helpers.new{ webauthn = true, wan_rp_id = fx.rp_id }
    assert.same({ nil, "origin" }, { wan.verify_assertion(sec, request(), cred, { c = fx.challenge }, key, false) })
    sec:close()
    -- the RP ID of the request's host (localhost) is the fixture's; another is refused in C
    sec = sec_for(fx, { wan_rp_id = "example.org" })
    assert.same({ nil, "rp_id" }, { wan.verify_assertion(sec, request(), cred, { c = fx.challenge }, key, false) })
    sec:close()
    -- a registration's clientDataJSON is no assertion's
    local reg = fixture("reg_es256_none")
    sec = sec_for(reg)
    local rc = wan.credential(reg.credential)
    rc.response.authenticatorData, rc.response.signature = "x", "y"
    assert.same({ nil, "client data type" }, { wan.verify_assertion(sec, request(), rc, { c = reg.challenge }, key, false) })
    sec:close()
  end)

  it("parses only well-formed credentials (hostile JSON refused, never an error)", function()
    local fx = fixture("asrt_es256")
    assert.is_table(wan.credential(cjson.encode(fx.credential)))
    for _, bad in ipairs{ "", "{", "[]", "null", '{"type":"public-key"}', ("x"):rep(70000),
                          '{"type":"public-key","id":"!!","rawId":"!!","response":{"clientDataJSON":"e30"}}',
                          '{"type":"other","rawId":"AAAA","response":{"clientDataJSON":"e30"}}',
                          '{"type":"public-key","rawId":"AAAA","response":{}}',
                          '{"type":"public-key","id":"AAAB","rawId":"AAAA","response":{"clientDataJSON":"e30"}}' } do
      assert.is_nil(wan.credential(bad), bad:sub(1, 60))
    end
    assert.is_nil(wan.credential(42))
    -- a clientDataJSON that is not JSON, or JSON of the wrong shape
    local sec = sec_for(fx)
    for _, cd in ipairs{ "not json", "[]", '{"type":"webauthn.get","challenge":1}', '"x"' } do
      assert.is_nil((wan.client_data(sec, request(), cd, "webauthn.get", fx.challenge)), cd)
    end
    -- crossOrigin true: refused
    local cd = cjson.encode{ type = "webauthn.get", challenge = fx.challenge, origin = fx.origin, crossOrigin = true }
    assert.same({ nil, "cross origin" }, { wan.client_data(sec, request(), cd, "webauthn.get", fx.challenge) })
    -- a BOM before the JSON, and keys a template would not expect: taken
    cd = "\239\187\191" .. cjson.encode{ type = "webauthn.get", challenge = fx.challenge, origin = fx.origin,
                                         other_keys_can_be_added_here = "x" }
    assert.is_true(wan.client_data(sec, request(), cd, "webauthn.get", fx.challenge))
    sec:close()
  end)

  it("round-trips base64url and refuses what is not", function()
    for _, s in ipairs{ "", "a", "ab", "abc", "\0\255\254", ("\1"):rep(33) } do
      assert.equals(s, wan.b64u_decode(wan.b64u_encode(s)))
      assert.is_nil(wan.b64u_encode(s):find("[+/=]"))
    end
    assert.is_nil(wan.b64u_decode("a"))
    assert.is_nil(wan.b64u_decode("ab+c"))
    assert.is_nil(wan.b64u_decode(42))
  end)

  it("applies the sign-count rule of L2 7.2 step 21", function()
    assert.is_true(wan.sign_count_ok(0, 0))
    assert.is_true(wan.sign_count_ok(1, 2))
    assert.is_true(wan.sign_count_ok(0, 5))
    assert.is_false(wan.sign_count_ok(7, 3))
    assert.is_false(wan.sign_count_ok(7, 7))
    assert.is_false(wan.sign_count_ok(5, 0))
  end)

  it("takes a state once, in its browser, in time, for its ceremony", function()
    local app = helpers.app{ db = "wan-state.db", clock = true, extra = { webauthn = true } }
    local sec = app.sec
    local res = require("fsec.http").new_response()
    local challenge, state = wan.start(sec, helpers.request{}, res, "signin", { s = 0 }, 60)
    assert.equals(43, #challenge) -- 32 bytes
    local cookie = res.cookies[1]:match("^fsec_wan=([^;]+)")
    assert.is_string(cookie)
    local function req(c) return helpers.request{ method = "POST", cookies = { fsec_wan = c } } end
    assert.same({ nil, "invalid" }, { wan.take(sec, req(nil), state, "signin", 60) })
    assert.same({ nil, "invalid" }, { wan.take(sec, req(core.random_id(16)), state, "signin", 60) })
    assert.same({ nil, "invalid" }, { wan.take(sec, req(cookie), state, "verify", 60) })
    assert.same({ nil, "invalid" }, { wan.take(sec, req(cookie), state .. "x", "signin", 60) })
    local data = assert(wan.take(sec, req(cookie), state, "signin", 60))
    assert.equals(challenge, data.c)
    assert.same({ nil, "replayed" }, { wan.take(sec, req(cookie), state, "signin", 60) })
    -- expired: its lifetime passed (and not spent by the refusal)
    local _, late = wan.start(sec, req(cookie), require("fsec.http").new_response(), "signin", {}, 60)
    app.clock.now = app.clock.now + 61
    assert.same({ nil, "expired" }, { wan.take(sec, req(cookie), late, "signin", 60) })
    sec:close()
  end)
end)
