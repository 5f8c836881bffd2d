-- Cross-checks against the real Flask-Security (Debian's
-- python3-flask-security 5.1.2): hashes it makes verify in fsec, and
-- argon2id hashes fsec makes verify in Flask-Security. The test command
-- installs the peer and sets FSEC_REQUIRE_PEER=1, so in CI a missing peer
-- fails instead of skipping.
-- Hashes only: spec/33-flask_security_answers_spec.lua compares the
-- endpoints' answers with the same peer.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local cjson = require "cjson"

local PW = "p\u{E4}ssword \u{FB01} ok" -- non-ASCII, NFKD-sensitive

local function run(args) return peer.run("fs_hashes.py", args) end

describe("Flask-Security compatibility", function()
  if not peer.present(it, pending) then return end

  it("verifies every hash Flask-Security makes, double and single", function()
    local hashes = cjson.decode(run{ "hash", helpers.SALT, PW })
    assert.equals(12, #hashes)
    local double = helpers.new()
    local single = helpers.new{ password_salt = "nil", password_single_hash = true }
    for _, h in ipairs(hashes) do
      local sec = h.mode == "double" and double or single
      local other = h.mode == "double" and single or double
      local ok, err = sec:verify_password(PW, h.hash)
      assert.is_true(ok, h.scheme .. "/" .. h.mode .. ": " .. tostring(err))
      assert.is_false(sec:verify_password(PW .. "x", h.hash))
      assert.is_false(other:verify_password(PW, h.hash))
      -- anything but fsec's own argon2id asks for an upgrade
      assert.is_true(sec:needs_update(h.hash))
    end
  end)

  it("makes hashes Flask-Security verifies", function()
    local sec = helpers.new()
    local h = sec:hash_password(PW)
    assert.equals("true\n", run{ "verify", helpers.SALT, PW, h })
    assert.equals("false\n", run{ "verify", helpers.SALT, PW .. "x", h })
  end)
end)
