-- Bugs luacheck found (issue 21, spec/check-luacheck.sh): each test
-- fails on the code before its fix.
local helpers = require "spec.helpers"

describe("verify_and_update_password", function()
  -- A bcrypt hash made by passlib, double-hashed with helpers.SALT: a
  -- scheme fsec verifies and rewrites as argon2id.
  local LEGACY_PW = "correct horse battery staple"
  local LEGACY = "$2b$05$Jj6yD2x/1.couOZYgNnlRu6NM4YMbW90tutbRlUhozjn21RWOC9Ki"

  it("says why a due upgrade did not happen when the new hash fails", function()
    local sec = helpers.new{ datastore = require("fsec.datastore.memory").new() }
    local ds = sec.datastore
    local u = assert(ds:create_user{ email = "old@x.org", password = LEGACY })
    assert.is_true(sec:needs_update(LEGACY))
    -- the adapter's hasher as fsec.openresty's thread pool answers when
    -- every slot is taken (EBUSY): verifying still runs, hashing cannot
    local engine = helpers.new()
    sec:set_hasher{
      verify = function(pw, h) return engine:verify_password(pw, h) end,
      hash = function() return nil, "EBUSY: every hashing slot is taken", "EBUSY" end,
    }
    local ok, err, code = sec:verify_and_update_password(LEGACY_PW, u)
    assert.is_true(ok) -- the password was right
    assert.equals("EBUSY", code)
    assert.matches("hashing slot", err, 1, true)
    assert.equals(LEGACY, ds:find_user{ id = u.id }.password) -- nothing written
    -- the next sign-in, with hashing back, does the upgrade
    sec:set_hasher(nil)
    ok, err, code = sec:verify_and_update_password(LEGACY_PW, u)
    assert.is_true(ok); assert.is_nil(err); assert.is_nil(code)
    assert.matches("^%$argon2id%$", ds:find_user{ id = u.id }.password)
  end)
end)
