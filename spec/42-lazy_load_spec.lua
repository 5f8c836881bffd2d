-- fsec loads its endpoint code at the first request that needs it, not
-- when an application requires fsec (docs/performance.md, "Memory"):
-- a worker that only checks tokens and sessions keeps none of it; and
-- Flask-Security's names table only for a configuration that uses them. Each
-- test runs a fresh interpreter (this one has loaded everything), on
-- the runtime busted runs.
local helpers = require "spec.helpers"

local LUA = jit and "luajit" or "lua5.4"
local unpack = table.unpack or unpack

-- The endpoint modules, and what the check runs with all their features on.
local LAZY = { "fsec.views", "fsec.twofactor", "fsec.mfcodes", "fsec.unified", "fsec.changeemail",
               "fsec.username", "fsec.wanviews", "fsec.webauthn" }
local PRELUDE = [[
local helpers = require "spec.helpers"
local LAZY = { "fsec.views", "fsec.twofactor", "fsec.mfcodes", "fsec.unified", "fsec.changeemail",
               "fsec.username", "fsec.wanviews", "fsec.webauthn" }
local function loaded()
  local out = {}
  for _, m in ipairs(LAZY) do if package.loaded[m] then out[#out + 1] = m end end
  return table.concat(out, " ")
end
local sec = helpers.new{ database = helpers.tmpfile("lazy.db"), two_factor = true, unified_signin = true,
  multi_factor_recovery_codes = true, webauthn = true, change_email = true, username_enable = true,
  username_recovery = true, change_username = true, freshness = 3600, external_url = "https://lazy.example",
  totp_secrets = { ["1"] = "a-totp-secret-of-some-length" }, totp_issuer = "fsec-test" }
local user = assert(sec.datastore:create_user{ email = "lazy@example.org", password = sec:hash_password("pw-lazy-123") })
local token = sec:get_auth_token(user)
local function get(path, h)
  local headers = { accept = "application/json" }
  for k, v in pairs(h or {}) do headers[k] = v end
  return sec:handle(helpers.request{ method = "GET", path = path, headers = headers })
end
]]

-- Run a script (PRELUDE, then body) in a fresh interpreter: its output
-- and whether it exited 0.
local function run(body)
  local f = helpers.tmpfile("lazy.lua")
  local h = assert(io.open(f, "w"))
  h:write(PRELUDE, body)
  h:close()
  local env = ("LUA_PATH=%q LUA_CPATH=%q FSEC_BUILD_DIR=%q "):format(package.path, package.cpath,
                                                                     os.getenv("FSEC_BUILD_DIR") or "build")
  local p = assert(io.popen(env .. LUA .. " " .. f .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return out, ok
end

describe("endpoint code loaded at first use #quick", function()
  it("a token and a session check load none of the endpoint modules", function()
    local out, ok = run([[
      assert(sec:check(helpers.request{ path = "/app", headers = { ["authentication-token"] = token } },
                       { auth = { "token" } }) == true, "token refused")
      assert(sec:check(helpers.request{ path = "/app" }, { auth = { "session" } }) ~= true, "no session allowed")
      io.write("loaded:", loaded(), "\n")
    ]])
    assert.is_true(ok, out)
    assert.equals("loaded:\n", out)
  end)

  it("each endpoint loads its own module, answers as before, and leaves the others unloaded", function()
    local out, ok = run([[
      local res = get("/login")
      io.write("login ", res.status, " ", loaded(), "\n")
      res = get("/us-signin")
      io.write("us-signin ", res.status, " ", loaded(), "\n")
      res = get("/fs-static/js/webauthn.js", { accept = "*/*" })
      io.write("wan-script ", res.status, " ", loaded(), "\n")
      res = get("/nothing-here")
      io.write("unknown ", tostring(res), "\n")
    ]])
    assert.is_true(ok, out)
    assert.equals(table.concat({
      "login 200 fsec.views fsec.twofactor",
      "us-signin 200 fsec.views fsec.twofactor fsec.unified",
      "wan-script 200 fsec.views fsec.twofactor fsec.unified fsec.wanviews fsec.webauthn",
      "unknown nil", "" }, "\n"), out)
  end)

  it("a module that fails to load fails the request with its error (nothing answered in its place)", function()
    local out, ok = run([[
      package.preload["fsec.unified"] = function() error("unified is broken here") end
      local okc, err = pcall(get, "/us-signin")
      io.write(tostring(okc), " ", tostring(err):match("unified is broken here") or tostring(err), "\n")
      -- the next request fails too, naming the module (LuaJIT's require
      -- reports the previous error; Lua 5.4's tries the loader again)
      okc, err = pcall(get, "/us-signin")
      io.write(tostring(okc), " ", tostring(err):match("unified") and "names it" or tostring(err), "\n")
    ]])
    assert.is_true(ok, out)
    assert.equals("false unified is broken here\nfalse names it\n", out)
    -- fsec.views itself failing: every endpoint method raises its error
    out, ok = run([[
      package.preload["fsec.views"] = function() error("views are broken here") end
      for _, m in ipairs{ "handle", "csrf_token" } do
        local okc, err = pcall(sec[m], sec, helpers.request{ method = "GET", path = "/login" })
        io.write(m, " ", tostring(okc), " ", tostring(err):match("views are broken here")
          or tostring(err):match("fsec%.views") and "names it" or tostring(err), "\n")
      end
    ]])
    assert.is_true(ok, out)
    -- (the second call: LuaJIT's require names the module and its
    -- previous error, Lua 5.4's runs the loader again)
    assert.matches("^handle false views are broken here\ncsrf_token false [%w ]+\n$", out)
    assert.is_nil(out:find("true", 1, true))
  end)

  it("fsec.flaskconf loads only for a configuration with a key that is not fsec's", function()
    local out, ok = run([[
      io.write(tostring(package.loaded["fsec.flaskconf"] ~= nil), "\n")
      local config = require "fsec.config"
      -- a Flask-Security name is translated, an unknown key still named
      local c = assert(config.validate(helpers.config{ SECURITY_LOGIN_URL = "/sign-in" }))
      io.write(tostring(package.loaded["fsec.flaskconf"] ~= nil), " ", c.login_url, "\n")
      local bad, err = config.validate(helpers.config{ SECURITY_NO_SUCH_THING = 1 })
      io.write(tostring(bad), " ", err, "\n")
      bad, err = config.validate(helpers.config{ no_such_key = 1 })
      io.write(tostring(bad), " ", err, "\n")
    ]])
    assert.is_true(ok, out)
    assert.equals("false\ntrue /sign-in\n"
      .. "nil unknown configuration key: SECURITY_NO_SUCH_THING (no Flask-Security setting of that name)\n"
      .. "nil unknown configuration key(s): no_such_key\n", out)
  end)

  it("fsec.endpoints lists every handler of each module, and each module's handlers are listed", function()
    local endpoints = require "fsec.endpoints"
    local seen = {}
    for _, m in ipairs(endpoints.MODULES) do
      local want = {}
      for name in pairs(require(m.module).handlers) do want[#want + 1] = name end
      table.sort(want)
      local got = { unpack(m.handlers) }
      table.sort(got)
      assert.same(want, got, m.module)
      seen[m.module] = true
    end
    for _, m in ipairs(LAZY) do
      if m ~= "fsec.views" and m ~= "fsec.webauthn" then assert.is_true(seen[m], m) end
    end
  end)
end)
