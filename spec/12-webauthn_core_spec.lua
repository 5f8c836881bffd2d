-- fsec.core's WebAuthn checks (issue 26): core.wan_register, core.wan_assert,
-- core.wan_key_alg and core.sha256 over the recorded objects of
-- spec/fixtures/webauthn/ (spec/tools/make_webauthn_fixtures.py), each
-- accepted or refused with the reason its fixture names.
local core = require "fsec.core"
local cjson = require "cjson.safe"

local DIR = "spec/fixtures/webauthn/"


local function b64url_decode(s)
  s = s:gsub("-", "+"):gsub("_", "/")
  s = s .. ("="):rep((4 - #s % 4) % 4)
  return assert(core.base64_decode(s), "bad base64url")
end

local function fixtures()
  local out = {}
  local ls = assert(io.popen("ls " .. DIR .. "*.json"))
  for path in ls:lines() do
    local f = assert(io.open(path, "rb"))
    local fx = assert(cjson.decode(f:read("*a")))
    f:close()
    fx.name = path:match("([%w_]+)%.json$")
    out[#out + 1] = fx
  end
  ls:close()
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

local function named(name)
  for _, fx in ipairs(fixtures()) do
    if fx.name == name then return fx end
  end
  error("no fixture " .. name)
end

-- core.wan_register / core.wan_assert on a fixture, with its opts and
-- optionally other bytes: what they return.
local function run(fx, change)
  local r = fx.credential.response
  local cdj = b64url_decode(r.clientDataJSON)
  local opts = { require_uv = fx.opts.require_uv, algs = fx.opts.algs }
  local args
  if fx.kind == "registration" then
    args = { b64url_decode(r.attestationObject), core.sha256(cdj), fx.rp_id, opts }
  else
    args = { b64url_decode(fx.public_key), b64url_decode(r.authenticatorData), core.sha256(cdj),
             b64url_decode(r.signature), fx.rp_id, opts }
  end
  if change then change(args) end
  if fx.kind == "registration" then return core.wan_register((table.unpack or unpack)(args)) end
  return core.wan_assert((table.unpack or unpack)(args))
end


describe("core.sha256", function()
  it("is SHA-256 (FIPS 180-2 examples)", function()
    local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
    assert.equals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex(core.sha256("abc")))
    assert.equals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex(core.sha256("")))
  end)
end)


describe("core.wan_register and core.wan_assert on the recorded objects", function()
  local all = fixtures()

  it("has the fixtures", function()
    assert.is_true(#all >= 40)
  end)

  for _, fx in ipairs(all) do
    it(fx.name .. ": " .. fx.expect.core .. " (" .. fx.note .. ")", function()
      local info, reason = run(fx)
      if fx.expect.core == "ok" then
        assert.is_table(info, reason)
        assert.is_nil(reason)
      else
        assert.is_nil(info)
        assert.equals(fx.expect.core, reason)
      end
    end)
  end
end)


describe("core.wan_register", function()
  it("reports what a registration holds", function()
    local fx = named("reg_es256_packed_x5c")
    local info = assert(run(fx))
    assert.equals("packed", info.fmt)
    assert.equals("basic", info.attestation)
    assert.equals(-7, info.alg)
    assert.equals(b64url_decode(fx.credential.rawId), info.credential_id)
    assert.equals(1, info.sign_count)
    assert.equals(0x45, info.flags)
    assert.is_true(info.uv)
    assert.is_false(info.be)
    assert.is_false(info.bs)
    assert.equals(16, #info.aaguid)
    assert.equals(-7, core.wan_key_alg(info.public_key))
    -- the key stored is the one the assertions verify with
    assert.equals(b64url_decode(named("asrt_es256").public_key), info.public_key)
  end)

  it("names self and none attestation", function()
    local info = assert(run(named("reg_eddsa_packed_self")))
    assert.equals("self", info.attestation)
    assert.equals(-8, info.alg)
    info = assert(run(named("reg_rs256_none")))
    assert.equals("none", info.fmt)
    assert.equals("none", info.attestation)
    assert.equals(-257, core.wan_key_alg(info.public_key))
  end)

  it("refuses under another client data hash or RP ID", function()
    local fx = named("reg_es256_packed_self")
    assert.same({ nil, "attestation" }, { run(fx, function(a) a[2] = ("\0"):rep(32) end) })
    assert.same({ nil, "rp_id" }, { run(fx, function(a) a[3] = "localhost.evil.test" end) })
    assert.same({ nil, "user_verified" }, { run(named("reg_uv_clear_not_required"),
      function(a) a[4] = { require_uv = true } end) })
  end)

  it("refuses every truncation and hostile bytes without raising", function()
    local fx = named("reg_rs256_packed_x5c")
    local att = b64url_decode(fx.credential.response.attestationObject)
    for n = 0, #att - 1 do
      local info = run(fx, function(a) a[1] = att:sub(1, n) end)
      assert.is_nil(info, n)
    end
    for _, junk in ipairs{ "", "\0", ("\255"):rep(100), ("\xa3"):rep(5000), ("x"):rep(20000) } do
      assert.same({ nil, "malformed" }, { core.wan_register(junk, ("\0"):rep(32), "localhost") })
    end
  end)

  it("raises on wrong argument types", function()
    assert.has_error(function() core.wan_register("x", "short", "localhost") end)
    assert.has_error(function() core.wan_register(nil, ("\0"):rep(32), "localhost") end)
    assert.has_error(function() core.wan_register("x", ("\0"):rep(32), "localhost", { algs = {} }) end)
    assert.has_error(function() core.wan_register("x", ("\0"):rep(32), "localhost", { algs = { "a" } }) end)
  end)
end)


describe("core.wan_assert", function()
  it("reports the sign count and flags", function()
    local info = assert(run(named("asrt_be_bs_flags")))
    assert.equals(2, info.sign_count)
    assert.equals(0x1d, info.flags)
    assert.is_true(info.uv)
    assert.is_true(info.be)
    assert.is_true(info.bs)
    info = assert(run(named("asrt_counter_backwards")))
    assert.equals(3, info.sign_count) -- the clone rule is the caller's
  end)

  it("refuses a key that is not one, as 'key'", function()
    local fx = named("asrt_es256")
    assert.same({ nil, "key" }, { run(fx, function(a) a[1] = "" end) })
    assert.same({ nil, "key" }, { run(fx, function(a) a[1] = a[1]:sub(1, -2) .. "\0" end) })
    assert.same({ nil, "signature" }, { run(fx, function(a) a[4] = "" end) })
    assert.same({ nil, "signature" }, { run(fx, function(a) a[3] = ("\0"):rep(32) end) })
  end)

  it("refuses the assertion with any one byte of authData or signature changed", function()
    for _, name in ipairs{ "asrt_es256", "asrt_eddsa", "asrt_rs256", "chromium_asrt_es256" } do
      local fx = named(name)
      assert.is_table(run(fx))
      for _, field in ipairs{ 2, 4 } do -- authenticator_data, signature
        local args
        run(fx, function(a) args = a end) -- the arguments, as decoded
        local bytes = args[field]
        for i = 1, #bytes do
          local changed = bytes:sub(1, i - 1) .. string.char((bytes:byte(i) + 1) % 256) .. bytes:sub(i + 1)
          local info, reason = run(fx, function(a) a[field] = changed end)
          assert.is_nil(info, name .. " byte " .. i .. " of argument " .. field)
          assert.is_string(reason)
        end
      end
    end
  end)

  it("refuses a signature made for another assertion", function()
    local a, b = named("asrt_es256"), named("asrt_reused_challenge")
    local sig = b64url_decode(b.credential.response.signature)
    assert.same({ nil, "signature" }, { run(a, function(args) args[4] = sig end) })
  end)
end)


describe("core.wan_key_alg", function()
  it("reads each supported key's alg", function()
    assert.equals(-7, core.wan_key_alg(b64url_decode(named("asrt_es256").public_key)))
    assert.equals(-8, core.wan_key_alg(b64url_decode(named("asrt_eddsa").public_key)))
    assert.equals(-257, core.wan_key_alg(b64url_decode(named("asrt_rs256").public_key)))
  end)

  it("refuses what is not a supported key", function()
    assert.same({ nil, "malformed" }, { core.wan_key_alg("") })
    assert.same({ nil, "malformed" }, { core.wan_key_alg("\x80") })
    -- an ES384 key (alg -35): not supported
    local es384 = "\xa5\x01\x02\x03\x38\x22\x20\x02\x21\x58\x20" .. ("a"):rep(32) .. "\x22\x58\x20" .. ("b"):rep(32)
    assert.same({ nil, "key" }, { core.wan_key_alg(es384) })
  end)
end)


describe("core.LIMITS for WebAuthn", function()
  it("are exported", function()
    assert.equals(1023, core.LIMITS.wan_credential_id)
    assert.equals(16384, core.LIMITS.wan_attestation)
  end)
end)
