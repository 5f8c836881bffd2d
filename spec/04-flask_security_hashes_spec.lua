-- Cross-checks against the real Flask-Security (Debian's
-- python3-flask-security 5.1.2): hashes it makes verify in fsec, and
-- argon2id hashes fsec makes verify in Flask-Security. The test command
-- installs the peer and sets FSEC_REQUIRE_PEER=1, so in CI a missing peer
-- fails instead of skipping.
-- Hashes only: spec/33-flask_security_answers_spec.lua compares the
-- endpoints' answers with the same peer.
local helpers = require "spec.helpers"
local cjson = require "cjson"

-- env -u LD_PRELOAD: the sanitizer run preloads libasan, which python
-- must not inherit.
local PY = "env -u LD_PRELOAD /usr/bin/python3"
local SCRIPT = "spec/peer/fs_hashes.py"
local PW = "p\u{E4}ssword \u{FB01} ok" -- non-ASCII, NFKD-sensitive

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function run(args)
  local cmd = PY .. " " .. SCRIPT
  for _, a in ipairs(args) do cmd = cmd .. " " .. shell_quote(a) end
  local f = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = f:read("*a")
  f:close()
  return out
end

local function peer_available()
  return os.execute(PY .. " -c 'import flask_security, flask_sqlalchemy' 2>/dev/null")
end

describe("Flask-Security compatibility", function()
  local have = peer_available()
  have = have == true or have == 0
  if not have then
    if os.getenv("FSEC_REQUIRE_PEER") == "1" then
      it("needs python3-flask-security", function()
        error("python3-flask-security is not installed")
      end)
    else
      pending("python3-flask-security not installed")
    end
    return
  end

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
