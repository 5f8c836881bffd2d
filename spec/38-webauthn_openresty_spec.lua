-- WebAuthn end to end in the real nginx (Debian's nginx + lua-nginx-
-- module): the example app (passkeys on) driven by headless Chromium with
-- its virtual authenticators (spec/browser/webauthn.mjs): register a
-- passkey, sign in with it alone, re-authenticate at /wan-verify, a key
-- as a second factor after a password, delete a key, and a cloned key
-- (its counter behind) refused. And from outside with curl: the script
-- the pages load, a state posted twice, a state from another browser.
-- Runs in the LuaJIT pass only (nginx's Lua is LuaJIT).
local helpers = require "spec.helpers"
local example = require "spec.tools.example_app"

local PW = "correct horse battery"

local function add_user(app, email)
  local sec = example.security(app)
  assert(sec.datastore:create_user{ email = email, password = assert(sec:hash_password(PW)),
                                    confirmed_at = os.time() })
  sec:close()
end

local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

describe_or_pending("WebAuthn in the example app in nginx", function()
  local app
  setup(function() app = example.start{ workers = 1 } end)
  teardown(function()
    if app then example.stop(app) end
  end)
  -- a failure shows the app's error log
  local function run(fn) example.logged(app, fn) end

  it("serves the pages' script, as JavaScript that no browser sniffs otherwise", function()
    run(function()
      local s, h, body = example.http(app, "GET", "/fs-static/js/webauthn.js")
      assert.equals(200, s)
      assert.matches("^text/javascript", h["content-type"])
      assert.equals("nosniff", h["x-content-type-options"])
      assert.matches("navigator.credentials", body, 1, true)
      assert.equals(405, (example.http(app, "POST", "/fs-static/js/webauthn.js")))
    end)
  end)

  it("takes a sign-in state once, and only from the browser that asked for it", function()
    run(function()
      local email = "wan-state@example.org"
      add_user(app, email)
      local c = example.api(app, { from = "127.0.9.1" })
      local s, r = c.call("POST", "/wan-signin", {})
      assert.equals(200, s)
      assert.is_string(r.wan_state)
      assert.equals("127.0.0.1", r.credential_options.rpId) -- the Host curl sent
      local state = r.wan_state
      -- another browser (no binding cookie): refused, and it spends nothing
      local other = example.api(app, { from = "127.0.9.2" })
      s, r = other.call("POST", "/wan-signin/" .. state, { credential = "{}" })
      assert.equals(400, s)
      assert.same({ "Input not appropriate for requested API" }, r.errors)
      -- this browser: a malformed credential is refused, the challenge spent
      s, r = c.call("POST", "/wan-signin/" .. state, { credential = "{}" })
      assert.equals(400, s)
      assert.same({ credential = { "Input not appropriate for requested API" } }, r.field_errors)
      s, r = c.call("POST", "/wan-signin/" .. state, { credential = "{}" })
      assert.equals(400, s)
      assert.same({ [""] = { "Input not appropriate for requested API" } }, r.field_errors)
    end)
  end)

  it("takes a real browser through passkeys and security keys (headless Chromium)", function()
    run(function()
      local have = helpers.sh("command -v node >/dev/null && test -x /usr/bin/chromium"
        .. " && test -d spec/browser/node_modules/playwright-core")
      if not have then
        if os.getenv("FSEC_REQUIRE_BROWSER") == "1" then error("chromium, node or playwright-core missing") end
        pending("chromium, node or playwright-core missing")
        return
      end
      local email = "browser-wan@example.org"
      add_user(app, email)
      local build = os.getenv("FSEC_BUILD_DIR") or "build"
      local artifacts = (os.getenv("FSEC_ARTIFACTS") or (build .. "/artifacts")) .. "/browser-webauthn"
      helpers.sh("rm -rf " .. artifacts) -- an earlier run's screenshots prove nothing
      local out = example.run(("node spec/browser/webauthn.mjs %s %s %s '%s' 2>&1; echo rc=$?")
        :format(app.base, artifacts, email, PW))
      assert.matches("browser webauthn ok", out, 1, true)
      assert.matches("rc=0", out, 1, true)
      for _, shot in ipairs{ "wan-registered-passkey", "wan-signed-in", "wan-verified", "wan-second-factor",
                             "wan-deleted", "wan-clone-refused" } do
        assert.is_true(helpers.sh("ls " .. artifacts .. "/*-" .. shot .. ".png >/dev/null 2>&1"), shot)
      end
    end)
  end)
end)
