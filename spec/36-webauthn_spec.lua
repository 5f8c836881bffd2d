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
    -- crossOrigin true, or anything but false: refused (a string "true"
    -- was taken as false: attack review, W2)
    local cd
    for _, v in ipairs{ true, "true", "false", 1, 0, {} } do
      cd = cjson.encode{ type = "webauthn.get", challenge = fx.challenge, origin = fx.origin, crossOrigin = v }
      assert.same({ nil, "cross origin" }, { wan.client_data(sec, request(), cd, "webauthn.get", fx.challenge) })
    end
    cd = cjson.encode{ type = "webauthn.get", challenge = fx.challenge, origin = fx.origin, crossOrigin = false }
    assert.is_true(wan.client_data(sec, request(), cd, "webauthn.get", fx.challenge))
    -- a BOM before the JSON, and keys a template would not expect: taken
    cd = "\239\187\191" .. cjson.encode{ type = "webauthn.get", challenge = fx.challenge, origin = fx.origin,
                                         other_keys_can_be_added_here = "x" }
    assert.is_true(wan.client_data(sec, request(), cd, "webauthn.get", fx.challenge))
    -- a member named twice, however spelt: refused (cjson kept the last
    -- one, another parser of the signed bytes the first)
    local head = ('{"type":"webauthn.get","challenge":%q,'):format(fx.challenge)
    for _, tail in ipairs{ ('"origin":"https://evil.test","origin":%q}'):format(fx.origin),
                           ('"origin":%q,"\\u006frigin":%q}'):format(fx.origin, fx.origin),
                           ('"origin":%q,"type":"webauthn.get"}'):format(fx.origin),
                           ('"origin":%q,"crossOrigin":false,"crossOrigin":false}'):format(fx.origin) } do
      assert.same({ nil, "malformed client data" },
                  { wan.client_data(sec, request(), head .. tail, "webauthn.get", fx.challenge) }, tail)
    end
    -- names repeated inside a nested member, in strings, after escapes: taken
    for _, tail in ipairs{ ('"origin":%q,"tokenBinding":{"status":"x","origin":"y"}}'):format(fx.origin),
                           ('"origin":%q,"x":"\\",\\"origin\\":"}'):format(fx.origin),
                           ('"origin":%q,"x":["origin","type"],"y":[{"type":1}]}'):format(fx.origin) } do
      assert.is_true(wan.client_data(sec, request(), head .. tail, "webauthn.get", fx.challenge), tail)
    end
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
    local challenge, state = wan.start(sec, helpers.request{}, res, "signin", { s = 0 })
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
    local _, late = wan.start(sec, req(cookie), require("fsec.http").new_response(), "signin", {})
    app.clock.now = app.clock.now + 61
    assert.same({ nil, "expired" }, { wan.take(sec, req(cookie), late, "signin", 60) })
    sec:close()
  end)
end)

------------------------------------------------------------------------
-- Through the endpoints (JSON), with the recorded objects: the spec makes
-- the state the server would have made for the fixture's challenge (its
-- keys are the server's), bound to the client's own fsec_wan cookie.
------------------------------------------------------------------------

local EMAIL, PW = "wan@example.com", "password-1"

-- An app whose RP is the fixture's, a user (with the fixture's user
-- handle), and a JSON client of it signed in when signed is true.
local function endpoint_app(fx, extra, signed)
  local c = { webauthn = true, wan_rp_id = fx.rp_id, wan_origins = { fx.origin }, freshness = 3600,
              two_factor = true, totp_secrets = { ["1"] = "a-totp-secret-of-some-length" }, totp_issuer = "t" }
  for k, v in pairs(extra or {}) do c[k] = v end
  local kind = c.datastore_kind
  c.datastore_kind = nil
  local app = helpers.app{ db = "wan-ep.db", clock = true, log = "quiet", extra = c, datastore = kind,
    users = { { email = EMAIL, password = PW, confirmed = true }, { email = "other@example.com", password = PW,
                                                                     confirmed = true } } }
  if fx.user_handle then assert(app.sec.datastore:set_webauthn_user_handle(app.user, fx.user_handle)) end
  local client = helpers.api(app.sec)
  if signed then assert.equals(200, (client:call("POST", "/login", { email = EMAIL, password = PW })).status) end
  return app, client
end

-- The state for a fixture's challenge, as the endpoint would have made it
-- after the client's first request (which set its fsec_wan cookie).
local function state_for(app, client, fx, data)
  data.c = fx.challenge
  data.b = core.digest((assert(client.jar.fsec_wan, "no fsec_wan cookie")))
  return assert(app.sec:generate_token("wan", data))
end

-- The fixture's key, stored for the user as first or secondary factor.
local function store_key(app, fx, usage, count, user)
  return assert(app.sec.datastore:create_webauthn(user or app.user, {
    credential_id = wan.b64u_decode(fx.credential.rawId), public_key = wan.b64u_decode(fx.public_key),
    sign_count = count or fx.stored_sign_count, transports = {}, name = "key-" .. usage, usage = usage,
    backup_state = false, device_type = "single_device", user_handle = fx.user_handle }))
end

describe("WebAuthn endpoints #quick", function()
  it("register: options, then the browser's credential, listed; a state is spent once", function()
    local fx = fixture("reg_es256_none")
    local app, c = endpoint_app(fx, nil, true)
    local res, r = c:call("GET", "/wan-register")
    assert.equals(200, res.status)
    assert.same({}, r.registered_credentials)
    -- an empty list is a JSON array, as Too's, not {}: a client loops over it
    assert.matches('"registered_credentials":[]', res.body, 1, true)
    res, r = c:call("POST", "/wan-register", { usage = "first" })
    assert.equals(400, res.status)
    assert.same({ name = { "Nickname for new credential is required." } }, r.field_errors)
    res, r = c:call("POST", "/wan-register", { name = "laptop", usage = "first" })
    assert.equals(200, res.status, res.body)
    local o = r.credential_options
    assert.equals(fx.rp_id, o.rp.id)
    assert.equals("My Flask App", o.rp.name)
    assert.equals(EMAIL, o.user.name)
    assert.same({ -7, -8, -257 }, { o.pubKeyCredParams[1].alg, o.pubKeyCredParams[2].alg, o.pubKeyCredParams[3].alg })
    assert.equals(43, #o.challenge)
    assert.equals(app.sec.datastore:find_user{ email = EMAIL }.fs_webauthn_user_handle, wan.b64u_decode(o.user.id))
    local state = state_for(app, c, fx, { k = "register", u = app.user.fs_uniquifier, n = "laptop", us = "first",
                                          uv = 0 })
    -- a registration posted from another browser (its own cookie): refused
    local other = helpers.api(app.sec)
    other.jar = { session = c.jar.session, fsec_wan = core.random_id(16) }
    other.csrf = c.csrf
    res = other:call("POST", "/wan-register/" .. state, { credential = cjson.encode(fx.credential) })
    assert.equals(400, res.status)
    res = c:call("POST", "/wan-register/" .. state, { credential = cjson.encode(fx.credential) })
    assert.equals(200, res.status, res.body)
    local _, listed = c:call("GET", "/wan-register")
    assert.equals(1, #listed.registered_credentials)
    assert.equals("laptop", listed.registered_credentials[1].name)
    assert.equals("first", listed.registered_credentials[1].usage)
    assert.equals(fx.credential.rawId, listed.registered_credentials[1].credential_id)
    -- the same state again: its challenge is spent
    res, r = c:call("POST", "/wan-register/" .. state, { credential = cjson.encode(fx.credential) })
    assert.equals(400, res.status)
    assert.same({ "Input not appropriate for requested API" }, r.errors)
    -- the name is taken now
    res, r = c:call("POST", "/wan-register", { name = "laptop", usage = "first" })
    assert.equals(400, res.status)
    assert.same({ name = { "laptop is already associated with a credential." } }, r.field_errors)
    app.sec:close()
    -- the same key registered by another account already
    app, c = endpoint_app(fx, nil, true)
    assert(app.sec.datastore:create_webauthn(app.users[2], { credential_id = wan.b64u_decode(fx.credential.rawId),
      public_key = "k", sign_count = 0, transports = {}, name = "theirs", usage = "first", backup_state = false,
      device_type = "single_device" }))
    c:call("POST", "/wan-register", { name = "mine", usage = "first" })
    state = state_for(app, c, fx, { k = "register", u = app.user.fs_uniquifier, n = "mine", us = "first", uv = 0 })
    res, r = c:call("POST", "/wan-register/" .. state, { credential = fx.credential })
    assert.equals(400, res.status)
    assert.same({ credential = { "WebAuthn credential id already registered." } }, r.field_errors)
    app.sec:close()
  end)

  it("register: refuses a wrong origin, an expired state, another user's state", function()
    local fx = fixture("reg_wrong_origin")
    local app, c = endpoint_app(fx, { wan_register_within = 60 }, true)
    c:call("POST", "/wan-register", { name = "k", usage = "first" })
    local state = state_for(app, c, fx, { k = "register", u = app.user.fs_uniquifier, n = "k", us = "first", uv = 0 })
    local res, r = c:call("POST", "/wan-register/" .. state, { credential = fx.credential })
    assert.equals(400, res.status)
    assert.same({ credential = { "Could not verify WebAuthn credential: origin." } }, r.field_errors)
    fx = fixture("reg_es256_none")
    state = state_for(app, c, fx, { k = "register", u = app.users[2].fs_uniquifier, n = "k", us = "first", uv = 0 })
    res = c:call("POST", "/wan-register/" .. state, { credential = fx.credential })
    assert.equals(400, res.status)
    state = state_for(app, c, fx, { k = "register", u = app.user.fs_uniquifier, n = "k", us = "first", uv = 0 })
    app.clock.now = app.clock.now + 61
    res, r = c:call("POST", "/wan-register/" .. state, { credential = fx.credential })
    assert.equals(400, res.status)
    assert.same({ "WebAuthn operation must be completed within 1 minutes. Please start over." }, r.errors)
    app.sec:close()
  end)

  it("signs in with a passkey alone, as /login answers; refuses the replay, a clone, a wrong signature", function()
    local fx = fixture("asrt_es256")
    local app, c = endpoint_app(fx)
    store_key(app, fx, "first")
    local res, r = c:call("POST", "/wan-signin", {})
    assert.equals(200, res.status)
    assert.is_false(r.is_secondary)
    assert.is_nil(r.credential_options.allowCredentials)
    local state = state_for(app, c, fx, { k = "signin", s = 0, r = 0 })
    res, r = c:call("POST", "/wan-signin/" .. state, { credential = fx.credential })
    assert.equals(200, res.status, res.body)
    assert.is_table(r.user)
    assert.equals("/", r.post_login_url)
    assert.equals(200, (c:call("GET", "/wan-register")).status) -- signed in
    local key = app.sec.datastore:find_webauthn(wan.b64u_decode(fx.credential.rawId))
    assert.equals(2, key.sign_count)
    -- the same answer again (another client): the state is bound and spent
    local c2 = helpers.api(app.sec)
    c2.jar.fsec_wan = c.jar.fsec_wan
    res, r = c2:call("POST", "/wan-signin/" .. state, { credential = fx.credential })
    assert.equals(400, res.status)
    assert.same({ "Input not appropriate for requested API" }, r.errors)
    -- signed in: /wan-signin is for anonymous users
    assert.is_true((c:call("POST", "/wan-signin", {})).status >= 400)
    app.sec:close()

    -- a counter gone back: a clone, refused, and nobody signed in; an
    -- event of its own says so
    fx = fixture("asrt_counter_backwards")
    local seen = {}
    app, c = endpoint_app(fx, { events = function(_, e) seen[#seen + 1] = e end })
    store_key(app, fx, "first")
    c:call("POST", "/wan-signin", {})
    res, r = c:call("POST", "/wan-signin/" .. state_for(app, c, fx, { k = "signin", s = 0, r = 0 }),
                    { credential = fx.credential })
    assert.equals(400, res.status)
    assert.same({ credential = { "Could not verify WebAuthn credential: clone." } }, r.field_errors)
    assert.equals(7, app.sec.datastore:find_webauthn(wan.b64u_decode(fx.credential.rawId)).sign_count)
    local names = {}
    for _, e in ipairs(seen) do names[#names + 1] = e.event .. ":" .. e.outcome .. ":" .. tostring(e.reason) end
    assert.same({ "login:failure:bad_key", "wan_clone:failure:clone" }, names)
    assert.equals(401, (c:call("GET", "/wan-register")).status)
    app.sec:close()

    for name, cause in pairs{ asrt_flipped_signature = "signature", asrt_wrong_rp_id = "rp_id",
                              asrt_wrong_origin = "origin" } do
      fx = fixture(name)
      app, c = endpoint_app(fx)
      store_key(app, fx, "first")
      c:call("POST", "/wan-signin", {})
      res, r = c:call("POST", "/wan-signin/" .. state_for(app, c, fx, { k = "signin", s = 0, r = 0 }),
                      { credential = fx.credential })
      assert.equals(400, res.status, name)
      assert.same({ credential = { "Could not verify WebAuthn credential: " .. cause .. "." } }, r.field_errors)
      app.sec:close()
    end
  end)

  it("binds a key to its user: unknown key, another user's handle, wrong usage, disabled account", function()
    local fx = fixture("asrt_es256")
    local function try(app, c, data)
      c:call("POST", "/wan-signin", {})
      data.k, data.s, data.r = "signin", 0, 0
      local res, r = c:call("POST", "/wan-signin/" .. state_for(app, c, fx, data), { credential = fx.credential })
      assert.equals(400, res.status)
      return r.field_errors.credential[1]
    end
    local app, c = endpoint_app(fx)
    assert.equals("Unregistered WebAuthn credential id.", try(app, c, {}))
    app.sec:close()
    -- the key stored for another user: the handle the browser sends is not theirs
    app, c = endpoint_app(fx)
    assert(app.sec.datastore:set_webauthn_user_handle(app.users[2]))
    store_key(app, fx, "first", nil, app.users[2])
    assert.equals("Credential user handle didn't match", try(app, c, {}))
    app.sec:close()
    -- a sign-in that named another account (identity): that account's
    app, c = endpoint_app(fx)
    store_key(app, fx, "first")
    assert.equals("Credential user handle didn't match", try(app, c, { u = app.users[2].fs_uniquifier }))
    app.sec:close()
    app, c = endpoint_app(fx)
    store_key(app, fx, "secondary")
    assert.equals("Credential not registered for this use (first or secondary)", try(app, c, {}))
    app.sec:close()
    app, c = endpoint_app(fx)
    store_key(app, fx, "first")
    assert(app.sec.datastore:deactivate_user(app.user))
    assert.equals("Account is disabled.", try(app, c, {}))
    app.sec:close()
    -- without the key, a disabled account is not told apart
    fx = fixture("asrt_flipped_signature")
    app, c = endpoint_app(fx)
    store_key(app, fx, "first")
    assert(app.sec.datastore:deactivate_user(app.user))
    assert.equals("Could not verify WebAuthn credential: signature.", try(app, c, {}))
    app.sec:close()
  end)

  it("an identity lists its keys; with generic responses an unknown one is not told apart", function()
    local fx = fixture("asrt_es256")
    local app, c = endpoint_app(fx)
    store_key(app, fx, "first")
    local res, r = c:call("POST", "/wan-signin", { identity = EMAIL })
    assert.equals(200, res.status)
    assert.equals(fx.credential.rawId, r.credential_options.allowCredentials[1].id)
    res, r = c:call("POST", "/wan-signin", { identity = "nobody@example.com" })
    assert.equals(400, res.status)
    assert.same({ "You must specify a valid identity to sign in" }, r.field_errors.identity)
    app.sec:close()
    app, c = endpoint_app(fx, { return_generic_responses = true })
    res, r = c:call("POST", "/wan-signin", { identity = "nobody@example.com" })
    assert.equals(200, res.status)
    assert.is_nil(r.credential_options.allowCredentials)
    -- hints off: the identity is ignored
    app.sec:close()
    app, c = endpoint_app(fx, { wan_allow_user_hints = false })
    store_key(app, fx, "first")
    res, r = c:call("POST", "/wan-signin", { identity = EMAIL })
    assert.equals(200, res.status)
    assert.is_nil(r.credential_options.allowCredentials)
    app.sec:close()
  end)

  it("a key as a second factor: the password, then /wan-signin in the same browser only", function()
    local fx = fixture("asrt_es256")
    local app, c = endpoint_app(fx)
    store_key(app, fx, "secondary")
    local res, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(200, res.status)
    assert.is_true(r.tf_required)
    assert.equals("webauthn", r.tf_method)
    assert.equals("/wan-signin", r.tf_signin_url)
    assert.equals(401, (c:call("GET", "/wan-register")).status) -- not signed in yet
    res, r = c:call("POST", "/wan-signin", { identity = "other@example.com" })
    assert.equals(200, res.status)
    assert.is_true(r.is_secondary)
    -- the identity is not taken: the keys are the password's user's
    assert.equals(fx.credential.rawId, r.credential_options.allowCredentials[1].id)
    res = c:call("POST", "/wan-signin/" .. state_for(app, c, fx, { k = "signin", s = 1, r = 0,
                                                                      u = app.user.fs_uniquifier }),
                    { credential = fx.credential })
    assert.equals(200, res.status, res.body)
    assert.equals(200, (c:call("GET", "/wan-register")).status)
    app.sec:close()
  end)

  it("/wan-verify makes the session fresh; /verify says a key could; /wan-delete removes a key", function()
    local fx = fixture("asrt_es256")
    local app, c = endpoint_app(fx, { freshness = 60 }, true)
    store_key(app, fx, "first")
    local _, r = c:call("GET", "/verify")
    assert.is_true(r.has_webauthn_verify_credential)
    app.clock.now = app.clock.now + 120 -- no longer fresh
    assert.equals(401, (c:call("GET", "/wan-register")).status)
    local res
    res, r = c:call("POST", "/wan-verify", {})
    assert.equals(200, res.status)
    assert.equals(fx.credential.rawId, r.credential_options.allowCredentials[1].id)
    res = c:call("POST", "/wan-verify/" .. state_for(app, c, fx, { k = "verify", u = app.user.fs_uniquifier }),
                 { credential = fx.credential })
    assert.equals(200, res.status, res.body)
    res = c:call("GET", "/wan-register")
    assert.equals(200, res.status)
    res, r = c:call("POST", "/wan-delete", { name = "nope" })
    assert.equals(400, res.status)
    assert.same({ name = { "nope not registered with current user." } }, r.field_errors)
    res = c:call("POST", "/wan-delete", { name = "key-first" })
    assert.equals(200, res.status)
    res, r = c:call("GET", "/wan-register")
    assert.same({}, r.registered_credentials)
    assert.matches('"registered_credentials":[]', res.body, 1, true)
    _, r = c:call("GET", "/verify")
    assert.is_false(r.has_webauthn_verify_credential)
    app.sec:close()
  end)

  it("meters assertions on the account's lockout: a locked account's key is refused unchecked", function()
    local fx = fixture("asrt_es256")
    local app, c = endpoint_app(fx, { login_lockout_threshold = 3 })
    store_key(app, fx, "first")
    local causes = {}
    for i = 1, 4 do
      -- the server's own states: the recorded answer is to another challenge
      local _, r = c:call("POST", "/wan-signin", {})
      _, r = c:call("POST", "/wan-signin/" .. r.wan_state, { credential = fx.credential })
      causes[i] = r.field_errors.credential[1]
    end
    assert.equals("Could not verify WebAuthn credential: challenge.", causes[1])
    assert.equals("Could not verify WebAuthn credential: locked.", causes[4])
    -- the right answer now: still locked
    c:call("POST", "/wan-signin", {})
    local _, r = c:call("POST", "/wan-signin/" .. state_for(app, c, fx, { k = "signin", s = 0, r = 0 }),
                        { credential = fx.credential })
    assert.same({ "Could not verify WebAuthn credential: locked." }, r.field_errors.credential)
    app.sec:close()
  end)
end)

describe("WebAuthn endpoints on the memory datastore #quick", function()
  it("sign in once with a passkey; the replay and a clone refused", function()
    local fx = fixture("asrt_es256")
    local app, c = endpoint_app(fx, { datastore_kind = "memory" })
    store_key(app, fx, "first")
    c:call("POST", "/wan-signin", {})
    local state = state_for(app, c, fx, { k = "signin", s = 0, r = 0 })
    local res = c:call("POST", "/wan-signin/" .. state, { credential = fx.credential })
    assert.equals(200, res.status, res.body)
    assert.equals(400, (c:call("POST", "/wan-signin/" .. state, { credential = fx.credential })).status)
    app.sec:close()
    fx = fixture("asrt_counter_backwards")
    app, c = endpoint_app(fx, { datastore_kind = "memory" })
    store_key(app, fx, "first")
    c:call("POST", "/wan-signin", {})
    local r
    res, r = c:call("POST", "/wan-signin/" .. state_for(app, c, fx, { k = "signin", s = 0, r = 0 }),
                    { credential = fx.credential })
    assert.equals(400, res.status)
    assert.same({ credential = { "Could not verify WebAuthn credential: clone." } }, r.field_errors)
    app.sec:close()
  end)
end)

describe("WebAuthn pages #quick", function()
  it("draw the ceremony for fsec's script (no inline script), and /verify offers the key", function()
    local fx = fixture("asrt_es256")
    local app = endpoint_app(fx)
    store_key(app, fx, "first")
    local b = helpers.client()
    local function get(path, method, body, query)
      local h = { accept = "text/html" }
      if body then h["content-type"] = "application/x-www-form-urlencoded" end
      return b:take(assert(app.sec:handle(b:req{ method = method or "GET", path = path, headers = h, body = body,
                                                 query = query })))
    end
    local res = get("/login")
    assert.matches('href="/wan-signin"', res.body, 1, true)
    local csrf = res.body:match('name="csrf_token" value="([^"]+)"')
    res = get("/login", "POST", "email=" .. EMAIL:gsub("@", "%%40") .. "&password=" .. PW .. "&csrf_token=" .. csrf)
    assert.equals(302, res.status)
    res = get("/verify", nil, nil, { next = "/notes" })
    assert.matches('href="/wan-verify?next=%2Fnotes"', res.body, 1, true)
    res = get("/wan-register")
    assert.equals(200, res.status)
    assert.matches("key-first", res.body, 1, true)
    csrf = res.body:match('name="csrf_token" value="([^"]+)"')
    res = get("/wan-register", "POST", "name=new+key&usage=secondary&csrf_token=" .. csrf)
    assert.equals(200, res.status)
    local form = res.body:match('<form id="wan%-response".->')
    assert.matches('data-wan="create"', form, 1, true)
    assert.matches('action="/wan%-register/[%w%-_.]+"', form)
    local options = cjson.decode((form:match('data%-options="([^"]+)"'):gsub("&quot;", '"'):gsub("&#39;", "'")))
    assert.equals(fx.rp_id, options.rp.id)
    assert.equals(fx.credential.rawId, options.excludeCredentials[1].id)
    assert.matches('<script src="/fs-static/js/webauthn.js"></script>', res.body, 1, true)
    assert.is_nil(res.body:find("<script>", 1, true))
    res = get("/fs-static/js/webauthn.js")
    assert.equals(200, res.status)
    assert.matches("^text/javascript", res.headers["Content-Type"])
    app.sec:close()
  end)
end)

describe("WebAuthn with a two-factor code method too #quick", function()
  it("the code page links /wan-signin, which takes the key in the same sign-in", function()
    local fx = fixture("asrt_es256")
    local app = endpoint_app(fx)
    store_key(app, fx, "secondary")
    assert(app.sec.datastore:set_field(app.user, "tf_primary_method", "authenticator"))
    assert(app.sec.datastore:set_field(app.user, "tf_totp_secret",
                                       require("fsec.otp").seal(app.sec._cfg, require("fsec.otp").new_secret())))
    local c = helpers.api(app.sec)
    local res, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(200, res.status)
    assert.equals("authenticator", r.tf_method)
    assert.equals("/wan-signin", r.tf_signin_url)
    res = app.sec:handle(c:req{ path = "/tf-validate", headers = { accept = "text/html" } })
    assert.matches('href="/wan-signin"', res.body, 1, true)
    local _, sr = c:call("POST", "/wan-signin", {})
    assert.is_true(sr.is_secondary)
    res = c:call("POST", "/wan-signin/" .. state_for(app, c, fx, { k = "signin", s = 1, r = 0,
                                                                   u = app.user.fs_uniquifier }),
                 { credential = fx.credential })
    assert.equals(200, res.status, res.body)
    assert.equals(200, (c:call("GET", "/wan-register")).status)
    app.sec:close()
  end)
end)
