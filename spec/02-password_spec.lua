local fsec = require "fsec"
local helpers = require "spec.helpers"

local PW = "correct horse battery staple"

describe("password hashing #quick", function()
  local sec
  setup(function() sec = helpers.new() end)

  it("hashes to an argon2id PHC string and verifies", function()
    local h = assert(sec:hash_password(PW))
    assert.matches("^%$argon2id%$v=19%$m=1024,t=1,p=1%$", h)
    assert.is_true(sec:verify_password(PW, h))
    assert.is_false(sec:verify_password("wrong", h))
  end)

  it("uses OWASP-level argon2 parameters by default", function()
    local s = fsec.new{ secret_key = helpers.KEY, password_salt = "salt" }
    local h = s:hash_password(PW)
    local m, t, p = h:match("m=(%d+),t=(%d+),p=(%d+)")
    assert.is_true(tonumber(m) >= 19456)
    assert.is_true(tonumber(t) >= 2)
    assert.equals("1", p)
  end)

  it("salts every hash", function()
    assert.not_equals(sec:hash_password(PW), sec:hash_password(PW))
  end)

  it("normalizes with NFKD by default, configurable", function()
    local h = sec:hash_password("\u{FB01}refly-pass") -- "fi" ligature
    assert.is_true(sec:verify_password("firefly-pass", h))
    local nfc = helpers.new{ password_normalize_form = "NFC" }
    assert.is_false(nfc:verify_password("\u{FB01}refly-pass",
      nfc:hash_password("firefly-pass")))
    -- composed and decomposed é are the same password under NFKD and NFC
    local e1, e2 = "caf\u{E9}-secret", "cafe\u{301}-secret"
    assert.is_true(sec:verify_password(e2, sec:hash_password(e1)))
    assert.is_true(nfc:verify_password(e2, nfc:hash_password(e1)))
    local none = helpers.new{ password_normalize_form = false }
    assert.is_false(none:verify_password(e2, none:hash_password(e1)))
  end)

  it("depends on the password salt (Flask-Security's double hash)", function()
    local other = helpers.new{ password_salt = "another-salt" }
    assert.is_false(other:verify_password(PW, sec:hash_password(PW)))
  end)

  it("refuses bad passwords with a clear error before hashing", function()
    local s = helpers.new{ password_max_bytes = 16 }
    local before = s:hash_count()
    local h, err, code = s:hash_password(string.rep("x", 17))
    assert.is_nil(h)
    assert.equals("ETOOLONG", code)
    assert.matches("longer than 16 bytes", err)
    h, err, code = s:hash_password("ab\0cd")
    assert.is_nil(h); assert.equals("ENUL", code); assert.is_string(err)
    h, err, code = s:hash_password("\255\254")
    assert.is_nil(h); assert.equals("EUTF8", code); assert.is_string(err)
    local ok
    ok, err, code = s:verify_password("ab\0cd", sec:hash_password(PW))
    assert.is_false(ok); assert.equals("ENUL", code); assert.is_string(err)
    assert.equals(before, s:hash_count())
  end)

  it("raises on wrong argument types, naming the argument", function()
    assert.has_error(function() sec:hash_password(nil) end,
      "bad argument #1 to 'hash_password' (string expected, got nil)")
    assert.has_error(function() sec:hash_password(12345678) end,
      "bad argument #1 to 'hash_password' (string expected, got number)")
    assert.has_error(function() sec:verify_password(PW, {}) end,
      "bad argument #2 to 'verify_password' (string expected, got table)")
  end)

  it("verifies malformed or over-cap hashes as false without hashing", function()
    local before = sec:hash_count()
    local cases = {
      { "", "EHASHFMT" },
      { "not a hash", "EHASHFMT" },
      { "$argon2id$v=19$m=65536,t=2,p=1$", "EHASHFMT" },
      { "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "EHASHCAP" },
      { "$2b$31$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", "EHASHCAP" },
      { "$pbkdf2-sha512$2500000$c2FsdA$" .. ("A"):rep(86), "EHASHCAP" },
      { "$pbkdf2-sha512$25000$c2FsdA$aGFzaA", "EHASHFMT" }, -- a 4-byte checksum: truncated
    }
    for _, c in ipairs(cases) do
      local ok, err, code = sec:verify_password(PW, c[1])
      assert.is_false(ok, c[1])
      assert.equals(c[2], code, c[1])
      assert.is_string(err)
    end
    assert.equals(before, sec:hash_count()) -- none of them ran a hash
    local good = sec:hash_password(PW)
    -- Every truncation is refused unrun, except one: cutting the 43-char
    -- (32-byte) tag to 22 chars can spell a well-formed 16-byte tag (as
    -- passlib writes), which no parser can tell apart; it verifies false.
    local lookalike = #good - 21
    for i = 1, #good - 1 do
      before = sec:hash_count()
      assert.is_false(sec:verify_password(PW, good:sub(1, i)))
      if i ~= lookalike then assert.equals(before, sec:hash_count(), i) end
    end
  end)

  it("reports needs_update for other schemes and parameters", function()
    local h = sec:hash_password(PW)
    assert.is_false(sec:needs_update(h))
    local stronger = helpers.new{ password_hash_options = { argon2 = { time_cost = 2, memory_cost = 1024 } } }
    assert.is_true(stronger:needs_update(h))
    assert.is_true(sec:needs_update("$2b$05$Jj6yD2x/1.couOZYgNnlRu6NM4YMbW90tutbRlUhozjn21RWOC9Ki"))
    local v, err, code = sec:needs_update("junk")
    assert.is_nil(v); assert.equals("EHASHFMT", code); assert.is_string(err)
  end)

  it("counts one expensive hash per hash and per verify", function()
    local s = helpers.new()
    assert.equals(0, s:hash_count())
    local h = s:hash_password(PW)
    s:verify_password("nope", h)
    assert.equals(2, s:hash_count())
  end)

  it("accepts plaintext only when configured", function()
    local ok, _, code = sec:verify_password("hunter22", "hunter22")
    assert.is_false(ok); assert.equals("EHASHFMT", code)
    local pt = helpers.new{ password_schemes = { "argon2", "plaintext" } }
    assert.is_true(pt:verify_password("hunter22", "hunter22"))
    assert.is_false(pt:verify_password("hunter2", "hunter22"))
  end)

  it("refuses a closed engine", function()
    local s = helpers.new()
    s:close()
    assert.has_error(function() s:hash_password(PW) end,
      "attempt to use a closed fsec.Engine")
  end)
end)
