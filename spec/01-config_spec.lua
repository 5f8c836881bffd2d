local fsec = require "fsec"
local helpers = require "spec.helpers"

local function new_error(cfg)
  local ok, err = pcall(fsec.new, cfg)
  assert.is_false(ok)
  return err
end

describe("the module", function()
  it("is the fsec.core of this build and this runtime", function()
    local path = package.searchpath("fsec.core", package.cpath)
    local build = os.getenv("FSEC_BUILD_DIR") or "build"
    assert.equals(build .. "/" .. (jit and "luajit" or "lua54") .. "/fsec/core.so", path)
    assert.equals(require("fsec.core").version, fsec.core_version)
  end)
end)

describe("fsec.new configuration", function()
  it("accepts the documented example", function()
    local sec = fsec.new{ secret_key = helpers.KEY, password_salt = "salt" }
    assert.equals("argon2", sec.config.password_hash)
    assert.equals("NFKD", sec.config.password_normalize_form)
  end)

  it("refuses a missing secret_key", function()
    assert.matches("secret_key is required", new_error{ password_salt = "s" })
  end)

  it("refuses a secret_key shorter than 32 bytes", function()
    assert.matches("secret_key: must be at least 32 bytes",
      new_error{ secret_key = string.rep("k", 31), password_salt = "s" })
    assert.matches("key 2", new_error{ secret_key = { helpers.KEY, "short" },
      password_salt = "s" })
  end)

  it("refuses unknown keys, naming them", function()
    assert.matches("unknown configuration key%(s%): passwrod_salt, zzz",
      new_error(helpers.config{ passwrod_salt = "x", zzz = 1 }))
  end)

  it("refuses wrong types, naming the key", function()
    assert.matches("password_max_bytes: number expected, got string",
      new_error(helpers.config{ password_max_bytes = "10" }))
    assert.matches("token_clock_skew: an integer from 0 to 86400 expected",
      new_error(helpers.config{ token_clock_skew = 1.5 }))
    assert.matches("secret_key: string or table expected, got number",
      new_error{ secret_key = 42, password_salt = "s" })
  end)

  it("refuses unknown or unsupported hash schemes", function()
    assert.matches("password_schemes: unknown value 'des_crypt'",
      new_error(helpers.config{ password_schemes = { "argon2", "des_crypt" } }))
    assert.matches("password_hash: only 'argon2'",
      new_error(helpers.config{ password_hash = "bcrypt" }))
  end)

  it("follows Flask-Security on salt and single hashing", function()
    assert.matches("password_salt is required",
      new_error{ secret_key = helpers.KEY })
    assert.matches("salt would be ignored",
      new_error(helpers.config{ password_single_hash = true }))
    local sec = fsec.new{ secret_key = helpers.KEY, password_single_hash = true,
      password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
      allow_weak_password_hash = true }
    assert.truthy(sec:hash_password("pw"))
  end)

  it("refuses argon2 parameters below OWASP's minimum unless allowed", function()
    assert.matches("below OWASP",
      new_error{ secret_key = helpers.KEY, password_salt = "s",
                 password_hash_options = { argon2 = { memory_cost = 1024 } } })
    assert.matches("parallelism must be 1",
      new_error(helpers.config{ password_hash_options = { argon2 = { parallelism = 4 } } }))
  end)

  it("is read-only after validation", function()
    local sec = helpers.new()
    assert.has_error(function() sec.config.token_max_length = 1 end,
      "configuration is read-only (key 'token_max_length')")
    -- nested tables read as copies: changing one changes nothing
    sec.config.password_hash_options.argon2.time_cost = 9
    assert.equals(1, sec.config.password_hash_options.argon2.time_cost)
    local list = sec.config.password_schemes
    assert.equals(6, #list) -- # and ipairs work on LuaJIT too
    list[1] = "plaintext"
    assert.equals("argon2", sec.config.password_schemes[1])
  end)

  it("does not keep the secrets where Lua can read them", function()
    local sec = helpers.new()
    assert.is_nil(sec.config.secret_key)
    assert.is_nil(sec.config.password_salt)
    for k, v in pairs(sec) do
      assert.not_equals(helpers.KEY, v, k)
    end
    assert.equals("fsec.Engine", getmetatable(sec._engine))
  end)

  it("does not change the caller's table", function()
    local cfg = helpers.config()
    fsec.new(cfg)
    assert.equals(helpers.KEY, cfg.secret_key)
  end)
end)
