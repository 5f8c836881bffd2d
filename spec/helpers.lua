-- Fixtures shared by the specs. Loaded by busted before every spec file
-- (see .busted). Points package.cpath at the fsec.core built for the
-- running interpreter: build/lua54 or build/luajit (override the build
-- directory with FSEC_BUILD_DIR, e.g. for the sanitizer build).

local build = os.getenv("FSEC_BUILD_DIR") or "build"
local sub = jit and "luajit" or "lua54"
package.cpath = build .. "/" .. sub .. "/?.so;" .. package.cpath

local helpers = {}

helpers.KEY = "0123456789abcdef0123456789abcdef-spec-key"
helpers.KEY2 = "fedcba9876543210fedcba9876543210-spec-key2"
helpers.SALT = "salty-pepper"

--- A configuration with cheap argon2 parameters; `extra` overrides keys.
function helpers.config(extra)
  local c = {
    secret_key = helpers.KEY,
    password_salt = helpers.SALT,
    password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
    allow_weak_password_hash = true,
  }
  for k, v in pairs(extra or {}) do
    if v == "nil" then c[k] = nil else c[k] = v end
  end
  return c
end

function helpers.new(extra)
  return require("fsec").new(helpers.config(extra))
end

--- A clock the test moves by hand.
function helpers.clock(start)
  local t = { now = start or 1800000000 }
  t.fn = function() return t.now end
  return t
end

return helpers
