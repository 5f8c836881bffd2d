-- fsec.core's multi-factor primitives (issue 23): TOTP codes and their
-- match, passlib's Base32, the sealing keyring, the imports of
-- Flask-Security's secrets and the QR code. Codes are cross-checked
-- against oathtool and pyotp, not against fsec's own code.
local core = require "fsec.core"

local T0 = 1700000000 -- shared/reference/wave2.md §2.4
local C0 = 56666666
local KEY_B32 = "IIUGK3DNVW2XM3VN6UPAHIAUMJGITENS"
local WINDOW = { "973001", "847393", "367345", "011412", "984129", "308342", "831685", "071157", "918620" }

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function unhex(h) return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end)) end

local KEY = unhex("4228656c6dadb5766eadf51e03a014624c8991b2")

local function run(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

describe("core.base32 #quick", function()
  it("encodes RFC 4648 upper-case without padding, and decodes it back", function()
    assert.equals(KEY_B32, core.base32_encode(KEY))
    assert.equals(KEY, core.base32_decode(KEY_B32))
    assert.equals("MZXW6YTBOI", core.base32_encode("foobar"))
    assert.equals("", core.base32_encode(""))
    for n = 0, 41 do
      local s = core.otp_secret():rep(3):sub(1, n)
      assert.equals(s, core.base32_decode(core.base32_encode(s)))
    end
  end)

  it("reads keys as passlib does: case, 8 and 0, spaces, optional padding", function()
    assert.equals(KEY, core.base32_decode(KEY_B32:lower()))
    assert.equals(KEY, core.base32_decode("IIUG K3DN VW2X M3VN 6UPA HIAU MJGI TENS"))
    assert.equals("foobar", core.base32_decode("mzxw6ytb0i======"))
    assert.equals("foobar", core.base32_decode("MZXW6YTBOI"))
    assert.equals("\8", core.base32_decode("8a"))
  end)

  it("refuses other characters and impossible lengths with EINVAL", function()
    for _, bad in ipairs{ "MZXW61", "MZX", "M", "MZXW6YQ==", "MZXW6Y=Q", "IIUG-K3DN", "MZ\0W", "é" } do
      local v, code = core.base32_decode(bad)
      assert.is_nil(v, bad)
      assert.equals("EINVAL", code)
    end
  end)
end)

describe("core.totp_code and core.totp_match #quick", function()
  it("gives the worked example's codes for steps -4..+4 and matches each at its counter", function()
    assert.equals("984129", core.totp_code(KEY, T0))
    for k = -4, 4 do
      assert.equals(WINDOW[k + 5], core.totp_code(KEY, T0 + 30 * k))
      assert.equals(C0 + k, core.totp_match(KEY, WINDOW[k + 5], T0))
    end
    assert.equals(C0, core.totp_match(KEY, "984129", T0 + 29.9)) -- ngx.now() fractions
  end)

  it("refuses the steps just outside the window, and finds them in a wider one", function()
    for _, k in ipairs{ -5, 5 } do
      local code = core.totp_code(KEY, T0 + 30 * k)
      local ok, why = core.totp_match(KEY, code, T0)
      assert.is_false(ok)
      assert.equals("invalid", why)
      assert.equals(C0 + k, core.totp_match(KEY, code, T0, { window = 5 }))
    end
  end)

  it("says replayed for a code of a step at or below opts.after", function()
    local ok, why = core.totp_match(KEY, "984129", T0, { after = C0 })
    assert.is_false(ok)
    assert.equals("replayed", why)
    assert.equals("replayed", select(2, core.totp_match(KEY, "973001", T0, { after = C0 })))
    assert.equals(C0 + 1, core.totp_match(KEY, "308342", T0, { after = C0 }))
    assert.equals(C0, core.totp_match(KEY, "984129", T0, { after = C0 - 1 }))
    assert.equals("invalid", select(2, core.totp_match(KEY, "123456", T0, { after = C0 })))
  end)

  it("normalises as passlib does, then wants exactly `digits` ASCII digits", function()
    assert.equals(C0, core.totp_match(KEY, "984 129", T0))
    assert.equals(C0, core.totp_match(KEY, "984-129", T0))
    assert.equals(C0, core.totp_match(KEY, " 984129=\n", T0))
    for _, bad in ipairs{ "98412", "9841290", "", "98412a", "\217\169" .. "84129", "\239\188\153" .. "84129",
                          "984\0" .. "129", ("9"):rep(100000) } do
      local ok, why = core.totp_match(KEY, bad, T0)
      assert.is_false(ok)
      assert.equals("format", why)
    end
  end)

  it("makes the RFC 6238 SHA-256 and SHA-512 codes with 8 digits", function()
    local k256 = ("12345678901234567890"):rep(2):sub(1, 32)
    local k512 = ("1234567890"):rep(7):sub(1, 64)
    assert.equals("91819424", core.totp_code(k256, 1234567890, { alg = "sha256", digits = 8 }))
    assert.equals("93441116", core.totp_code(k512, 1234567890, { alg = "sha512", digits = 8 }))
    assert.equals(math.floor(1234567890 / 30), core.totp_match(k512, "93441116", 1234567890, { alg = "sha512", digits = 8 }))
    assert.equals("89005924", core.totp_code("12345678901234567890", 1234567890, { digits = 8 }))
  end)

  it("raises on options out of range and on bad keys (programmer errors)", function()
    for _, opts in ipairs{ { digits = 5 }, { digits = 9 }, { step = 0 }, { window = 51 }, { alg = "md5" },
                           { window = 1.5 }, { after = "x" }, { step = "30" } } do
      assert.has_error(function() core.totp_code(KEY, T0, opts) end)
      assert.has_error(function() core.totp_match(KEY, "984129", T0, opts) end)
    end
    assert.has_error(function() core.totp_code("", T0) end)
    assert.has_error(function() core.totp_code(("k"):rep(129), T0) end)
    assert.has_error(function() core.totp_code(KEY, -1) end)
    assert.has_error(function() core.totp_match(KEY, 984129, T0) end)
  end)

  it("makes 20-byte random keys", function()
    local a, b = core.otp_secret(), core.otp_secret()
    assert.equals(20, #a)
    assert.not_equals(a, b)
  end)
end)

describe("core.totp_code against other implementations", function()
  local times = { 0, 59, T0, T0 + 15, 2000000000, 1111111109 }

  it("agrees with oathtool --totp", function()
    assert.is_true(os.execute("command -v oathtool >/dev/null") ~= false, "oathtool is not installed")
    for i = 1, 3 do
      local key = core.otp_secret()
      for _, t in ipairs(times) do
        local want = run(("oathtool --totp -s 30 -N @%d %s"):format(t, hex(key))):match("%d+")
        assert.equals(want, core.totp_code(key, t), ("key %d at %d"):format(i, t))
      end
    end
    local want8 = run(("oathtool --totp=sha256 -d 8 -N @%d %s"):format(T0, hex(KEY))):match("%d+")
    assert.equals(want8, core.totp_code(KEY, T0, { alg = "sha256", digits = 8 }))
  end)

  it("agrees with pyotp (Debian's python3)", function()
    local keys = { KEY, core.otp_secret(), core.otp_secret() }
    local lines = {}
    for _, key in ipairs(keys) do
      for _, t in ipairs(times) do
        lines[#lines + 1] = ("print(pyotp.TOTP(%q).at(%d))"):format(core.base32_encode(key), t)
      end
    end
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write("import pyotp\n", table.concat(lines, "\n"), "\n")
    f:close()
    local out = run("env -u LD_PRELOAD /usr/bin/python3 " .. script .. " 2>&1")
    os.remove(script)
    local got = {}
    for code in out:gmatch("%d+") do got[#got + 1] = code end
    assert.equals(#lines, #got, out)
    local n = 0
    for _, key in ipairs(keys) do
      for _, t in ipairs(times) do
        n = n + 1
        assert.equals(got[n], core.totp_code(key, t))
      end
    end
  end)
end)

describe("core.keyring #quick", function()
  local S1, S2 = "first-secret-of-the-ring", "second-secret-of-the-ring"

  it("seals under the current tag and unseals with the tag it was sealed under", function()
    local kr = assert(core.keyring{ ["1"] = S1 })
    assert.equals("1", kr:current())
    local s = kr:seal(KEY)
    assert.matches("^%$fsec%$1%$1%$[%w_-]+$", s)
    local pt, tag = kr:unseal(s)
    assert.equals(KEY, pt)
    assert.equals("1", tag)
    assert.not_equals(s, kr:seal(KEY)) -- a random nonce
    assert.equals("", (kr:unseal(kr:seal(""))))
  end)

  it("rotates: a new tag seals, the older one still unseals; an unknown tag is EKEY", function()
    local old = assert(core.keyring{ ["1"] = S1 })
    local both = assert(core.keyring{ ["1"] = S1, ["2"] = S2 })
    local sealed_old = old:seal("secret")
    assert.equals("2", both:current())
    local pt, tag = both:unseal(sealed_old)
    assert.equals("secret", pt)
    assert.equals("1", tag)
    local sealed_new = both:seal("secret")
    assert.matches("^%$fsec%$1%$2%$", sealed_new)
    local v, code = old:unseal(sealed_new)
    assert.is_nil(v)
    assert.equals("EKEY", code)
  end)

  it("takes passlib's current tag: numerically largest when all digits, else the largest", function()
    assert.equals("10", assert(core.keyring{ ["9"] = S1, ["10"] = S2, ["02"] = S1 }):current())
    assert.equals("a1", assert(core.keyring{ ["9"] = S1, ["10"] = S2, a1 = S1 }):current())
    assert.equals("12", assert(core.keyring{ [3] = S1, [12] = S2 }):current()) -- integer keys
  end)

  it("refuses short secrets and bad tags, naming the tag and never the secret", function()
    local kr, err, code = core.keyring{ ["1"] = S1, two = "short-secret" }
    assert.is_nil(kr)
    assert.equals("EINVAL", code)
    assert.matches("'two'", err, 1, true)
    assert.is_nil(err:find("short-secret", 1, true))
    for _, map in ipairs{ {}, { ["-1"] = S1 }, { ["a b"] = S1 }, { [("t"):rep(33)] = S1 }, { ["1"] = 42 },
                          { [1.5] = S1 }, { [true] = S1 } } do
      local r, e = core.keyring(map)
      assert.is_nil(r)
      assert.is_string(e)
      assert.is_nil(e:find(S1, 1, true))
    end
    assert.has_error(function() core.keyring("1") end)
  end)

  it("stretches each secret once (argon2id) and unseals cheaply", function()
    local t0 = os.clock()
    local kr = assert(core.keyring{ ["1"] = S1 })
    local made = os.clock() - t0
    local s = kr:seal(KEY)
    t0 = os.clock()
    for _ = 1, 2000 do assert(kr:unseal(s)) end
    local per = (os.clock() - t0) / 2000
    assert.is_true(made > 0.002, ("keyring made in %.4f s: no argon2?"):format(made))
    assert.is_true(per < made / 20, ("unseal %.6f s against %.4f s to make"):format(per, made))
  end)

  it("can be closed; a closed keyring raises", function()
    local kr = assert(core.keyring{ ["1"] = S1 })
    kr:close()
    kr:close()
    assert.has_error(function() kr:seal("x") end, "attempt to use a closed fsec.Keyring")
    assert.equals("fsec.Keyring", getmetatable(kr))
  end)
end)

describe("core.keyring under attack #quick", function()
  local kr = assert(core.keyring{ a = "first-secret-of-the-ring", b = "second-secret-of-the-ring" })

  it("refuses every one-character change of a sealed value (EAUTH, or EINVAL when not base64url)", function()
    local s = kr:seal(KEY, "user:1")
    for i = #"$fsec$1$b$" + 1, #s do
      local c = s:sub(i, i) == "A" and "B" or "A"
      local v, code = kr:unseal(s:sub(1, i - 1) .. c .. s:sub(i + 1), "user:1")
      assert.is_nil(v)
      assert.is_true(code == "EAUTH" or (i == #s and code == "EINVAL"), code)
    end
  end)

  it("binds the aad: one user's sealed key does not open as another's", function()
    local s = kr:seal(KEY, "user:1")
    assert.equals("EAUTH", select(2, kr:unseal(s, "user:2")))
    assert.equals("EAUTH", select(2, kr:unseal(s)))
    assert.equals(KEY, (kr:unseal(s, "user:1")))
  end)

  it("binds the tag: relabelling a value to the other key is EAUTH", function()
    local s = kr:seal("x")
    assert.equals("EAUTH", select(2, kr:unseal((s:gsub("^%$fsec%$1%$b%$", "$fsec$1$a$")))))
  end)

  it("answers nil, code (never raises) for hostile strings", function()
    local hostile = { "", "$", "$fsec$", "$fsec$1$", "$fsec$1$b", "$fsec$1$b$", "$fsec$1$b$$", "$fsec$2$b$AAAA",
                      "$fsec$1$../../x$AAAA", "$fsec$1$b$" .. ("A"):rep(100000), "$fsec$1$b$\0\0\0",
                      "$fsec$1$b$" .. ("/"):rep(64), kr:seal("x") .. "=" }
    for i = 1, 200 do hostile[#hostile + 1] = "$fsec$1$b$" .. core.base64_encode(core.otp_secret():rep(i % 7)) end
    for _, h in ipairs(hostile) do
      local v, code = kr:unseal(h)
      assert.is_nil(v)
      assert.is_true(code == "EINVAL" or code == "EAUTH" or code == "EKEY", tostring(code))
    end
  end)
end)

describe("imports of Flask-Security's secrets #quick", function()
  it("decrypts the worked example's passlib enckey to the raw key", function()
    -- {"enckey":{"c":14,"k":"JBIH4DMLLWL7GZTDQJN47CCTHBUTYEQJ","s":"IGUDKJUESDZP477P7XPQ","t":"1","v":1},...}
    local salt = core.base32_decode("IGUDKJUESDZP477P7XPQ")
    local ct = core.base32_decode("JBIH4DMLLWL7GZTDQJN47CCTHBUTYEQJ")
    local raw = core.passlib_totp_decrypt("my-totp-secret", salt, ct, 14)
    assert.equals("4228656c6dadb5766eadf51e03a014624c8991b2", hex(raw))
    assert.equals("984129", core.totp_code(raw, T0))
    assert.not_equals(raw, core.passlib_totp_decrypt("wrong-secret", salt, ct, 14)) -- no MAC
    for _, cost in ipairs{ 0, 21, -1 } do
      local v, code = core.passlib_totp_decrypt("my-totp-secret", salt, ct, cost)
      assert.is_nil(v)
      assert.equals("EINVAL", code)
    end
  end)

  local FKEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
  local FTOKEN = "gAAAAABlU_EAAAAAAAAAAAAAAAAAAAAAAK7xDuuhadwkHbDBzbj97JVAFVk-gBSr7R1Mv2kp78XVg0rQSTdUnshcBSVHzAPP2w=="

  it("decrypts the worked example's Fernet token, with cryptography's time rule", function()
    assert.equals("3f9a-1c2b-77d0", core.fernet_decrypt(FKEY, FTOKEN))
    assert.equals("3f9a-1c2b-77d0", core.fernet_decrypt(FKEY, FTOKEN, 100, T0 + 100))
    assert.equals("EEXPIRED", select(2, core.fernet_decrypt(FKEY, FTOKEN, 100, T0 + 101)))
    assert.equals("EEXPIRED", select(2, core.fernet_decrypt(FKEY, FTOKEN, 100, T0 - 61)))
    assert.equals("EEXPIRED", select(2, core.fernet_decrypt(FKEY, FTOKEN, 60)))
  end)

  it("says EAUTH for another key or a changed token, EINVAL for what is no token", function()
    assert.equals("EAUTH", select(2, core.fernet_decrypt(FKEY:gsub("^AA", "AQ"), FTOKEN)))
    local forged = FTOKEN:sub(1, 20) .. (FTOKEN:sub(21, 21) == "A" and "B" or "A") .. FTOKEN:sub(22)
    assert.equals("EAUTH", select(2, core.fernet_decrypt(FKEY, forged, 0))) -- the MAC before the time
    for _, bad in ipairs{ "", "gAAAAA", "not base64!", ("A"):rep(10000) } do
      assert.equals("EINVAL", select(2, core.fernet_decrypt(FKEY, bad)))
    end
    assert.equals("EINVAL", select(2, core.fernet_decrypt("c2hvcnQ=", FTOKEN)))
  end)
end)

describe("core.qr_svg #quick", function()
  local URI = "otpauth://totp/fsec-test:alice@example.com?secret=" .. KEY_B32 .. "&issuer=fsec-test"

  it("draws the otpauth URI as one crisp path in a 49-module viewBox (version 6 and a border of 4)", function()
    local svg = assert(core.qr_svg(URI))
    assert.matches('^<svg xmlns="http://www.w3.org/2000/svg" width="490" height="490" viewBox="0 0 49 49" '
      .. 'shape%-rendering="crispEdges">', svg)
    local _, paths = svg:gsub("<path", "")
    assert.equals(1, paths)
    local d = svg:match('<path fill="#000" d="([^"]+)"')
    local dark, seen = 0, {}
    for x, y, n, m in d:gmatch("M(%d+) (%d+)h(%d+)v1h%-(%d+)z") do
      x, y, n = tonumber(x), tonumber(y), tonumber(n)
      assert.equals(n, tonumber(m))
      assert.is_true(x >= 4 and y >= 4 and x + n <= 45 and y < 45)
      for i = 0, n - 1 do
        assert.is_nil(seen[y * 49 + x + i])
        seen[y * 49 + x + i] = true
      end
      dark = dark + n
    end
    -- the three finder patterns' dark modules (7x7 ring + 3x3 core) are there
    for _, o in ipairs{ { 4, 4 }, { 38, 4 }, { 4, 38 } } do
      for i = 0, 6 do
        assert.is_true(seen[o[2] * 49 + o[1] + i] and seen[(o[2] + 6) * 49 + o[1] + i] and true)
        assert.is_true(seen[(o[2] + i) * 49 + o[1]] and seen[(o[2] + i) * 49 + o[1] + 6] and true)
      end
      assert.is_nil(seen[(o[2] + 1) * 49 + o[1] + 1])
      assert.is_true(seen[(o[2] + 3) * 49 + o[1] + 3])
    end
    assert.is_true(dark > 41 * 41 / 3 and dark < 41 * 41 * 2 / 3, dark)
  end)

  it("keeps the case of the text (two symbols for abc and ABC)", function()
    assert.not_equals(core.qr_svg("abc123"), core.qr_svg("ABC123"))
  end)

  it("refuses text over 1024 bytes with ETOOLONG, and a NUL with ENUL", function()
    assert.is_string(core.qr_svg(("a"):rep(1024)))
    local v, code = core.qr_svg(("a"):rep(1025))
    assert.is_nil(v)
    assert.equals("ETOOLONG", code)
    assert.equals("ENUL", select(2, core.qr_svg("a\0b")))
  end)
end)
