-- The examples run, under this runtime, and say what the README says.
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
    assert.matches("EPOLICY: address on the deny list", out, 1, true)
    assert.matches("200\twelcome to the admin area, alice@example.org", out, 1, true)
    assert.matches("302\t/login?next=/api/me", out, 1, true)
    assert.matches("alice: 1 login(s), last from 192.0.2.1", out, 1, true)
    assert.matches("after logout:\t403", out, 1, true)
  end)

  it("the OpenResty example takes a short FSEC_PASSWORD_SALT (a Flask-Security one) and refuses a short key", function()
    local dir = helpers.tmpdir() .. "/ex-" .. math.random(1e9)
    helpers.sh("mkdir -p " .. dir .. "/var")
    for _, name in ipairs{ "secret_key", "password_salt" } do
      local f = assert(io.open(dir .. "/var/" .. name, "w"))
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
