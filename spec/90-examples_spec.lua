-- The examples run, under this runtime, and say what the guides say.
local helpers = require "spec.helpers"

local LUA = jit and "luajit" or "lua5.4"

local function run(script)
  local env = ("LUA_PATH=%q LUA_CPATH=%q "):format(package.path, package.cpath)
  local p = io.popen(env .. LUA .. " " .. script .. " 2>&1; echo rc=$?")
  local out = p:read("*a")
  p:close()
  return out
end

describe("examples", function()
  it("basic.lua hashes, verifies, upgrades and signs", function()
    local out = run("examples/basic.lua")
    assert.matches("rc=0", out, 1, true)
    assert.matches("verify right password:%s+true", out)
    assert.matches("legacy bcrypt verifies:%s+true", out)
    assert.matches("as reset:   expired, invalid:%s+false%s+true", out)
  end)

  it("auth_flow.lua signs in, checks access and signs out", function()
    local out = run("examples/auth_flow.lua")
    assert.matches("rc=0", out, 1, true)
    -- one readable line a step, numbered in order: no table addresses, no tabs
    local lines = {}
    for l in out:gmatch("[^\n]+") do
      local n, text = l:match("^(%d+)%. (.+)$")
      if n then lines[#lines + 1] = text; assert.equals(#lines, tonumber(n)) end
    end
    assert.is_nil(out:find("table: 0x", 1, true))
    assert.is_nil(out:find("\t", 1, true))
    assert.same({
      "users: alice@example.org (admin), bob@example.org",
      "alice signs in with a wrong password: refused (invalid email or password)",
      "alice signs in from 203.0.113.7, on the deny list: refused (EPOLICY: address on the deny list)",
      "alice signs in (the email in any case): signed in (cookies session, remember_token)",
      "alice opens /admin with her session: 200 welcome to the admin area, alice@example.org",
      "nobody signed in opens /admin: 403 You do not have permission to view this resource.",
      "a browser opens /api/me signed out: 302 to /login?next=/api/me",
      "a script opens /api/me with alice's token: 200 {\"user\":\"alice@example.org\"}",
      "alice's record: 1 login(s), last from 192.0.2.1",
      "alice signs out, then her old cookies open /admin: 403 You do not have permission to view this resource.",
    }, lines)
    -- the signal's receiver ran for the one login that succeeded
    local _, audits = out:gsub("audit: alice@example.org signed in via password", "")
    assert.equals(1, audits)
    -- only the API the guides document (docs/lua.md, docs/datastore.md):
    -- no module's internals
    local src = helpers.read("examples/auth_flow.lua")
    assert.is_nil(src:find("require%(\"fsec%.[%w_]+\"%)"))
    assert.is_nil(src:find("sec%._"))
    local lua_doc = assert(helpers.read("docs/lua.md"))
    local ds_doc = assert(helpers.read("docs/datastore.md"))
    for m in src:gmatch("sec:([%w_]+)%(") do
      assert.truthy(lua_doc:find("sec:" .. m .. "(", 1, true) or ds_doc:find("sec:" .. m .. "(", 1, true),
        "sec:" .. m .. " is not in docs/lua.md or docs/datastore.md")
    end
    for m in src:gmatch("ds:([%w_]+)[%(%{]") do
      assert.truthy(ds_doc:find("ds:" .. m, 1, true), "ds:" .. m .. " is not in docs/datastore.md")
    end
  end)

  it("the OpenResty example takes a short FSEC_PASSWORD_SALT (a Flask-Security one) and refuses a short key", function()
    local dir = helpers.tmpdir() .. "/ex-" .. math.random(1e9)
    helpers.sh("mkdir -p " .. dir .. "/secrets")
    for _, name in ipairs{ "secret_key", "password_salt", "totp_secret" } do
      local f = assert(io.open(dir .. "/secrets/" .. name, "w"))
      f:write(("f"):rep(40), "\n")
      f:close()
    end
    local function config(env, field)
      local p = io.popen(("%s LUA_PATH=%q LUA_CPATH=%q %s -e %q 2>&1"):format(env,
        "examples/openresty/?.lua;" .. package.path, package.cpath, LUA,
        ("print(require('fsec_example').config(%q).%s)"):format(dir, field)))
      local out = p:read("*a")
      p:close()
      return out
    end
    assert.equals("my-flask-salt\n", config("FSEC_PASSWORD_SALT=my-flask-salt", "password_salt"))
    assert.equals(("f"):rep(40) .. "\n", config("FSEC_PASSWORD_SALT=", "password_salt"))
    assert.matches("FSEC_SECRET_KEY is shorter than 32 bytes", config("FSEC_SECRET_KEY=short", "secret_key"), 1, true)
  end)
end)
