local fsec = require "fsec"
local helpers = require "spec.helpers"

describe("signed tokens #quick", function()
  local clock, sec
  before_each(function()
    clock = helpers.clock()
    sec = helpers.new{ clock = clock.fn }
  end)

  it("round-trips data and binds the purpose (issue example)", function()
    local tok = assert(sec:generate_token("confirm", { uid = "abc", n = 1 }))
    local expired, invalid, data = sec:get_token_status(tok, "confirm", 3600)
    assert.is_false(expired)
    assert.is_false(invalid)
    assert.same({ uid = "abc", n = 1 }, data)
    expired, invalid, data = sec:get_token_status(tok, "reset", 3600)
    assert.is_false(expired); assert.is_true(invalid); assert.is_nil(data)
  end)

  it("keeps JSON types", function()
    local v = { list = { 1, 2, 3 }, s = "\u{e9}t\u{e9} \"q\"", t = true,
                f = false, nested = { deep = { x = 2.5 } } }
    local _, invalid, data = sec:get_token_status(sec:generate_token("x", v), "x")
    assert.is_false(invalid)
    assert.same(v, data)
    if math.type then assert.equals("integer", math.type(data.list[1])) end
    _, invalid, data = sec:get_token_status(sec:generate_token("x", "str"), "x")
    assert.is_false(invalid); assert.equals("str", data)
    _, invalid, data = sec:get_token_status(sec:generate_token("x"), "x")
    assert.is_false(invalid); assert.is_nil(data)
  end)

  it("expires only tokens whose signature is valid", function()
    local tok = sec:generate_token("reset", { uid = "u" })
    clock.now = clock.now + 3601
    local expired, invalid, data, iat = sec:get_token_status(tok, "reset", 3600)
    assert.is_true(expired); assert.is_false(invalid)
    assert.same({ uid = "u" }, data)
    assert.equals(clock.now - 3601, iat)
    local forged = tok:sub(1, 20) .. (tok:sub(21, 21) == "A" and "B" or "A") .. tok:sub(22)
    expired, invalid, data = sec:get_token_status(forged, "reset", 3600)
    assert.is_false(expired); assert.is_true(invalid); assert.is_nil(data)
  end)

  it("rejects tokens issued in the future beyond the skew", function()
    clock.now = clock.now + 61
    local tok = sec:generate_token("login", {})
    clock.now = clock.now - 61
    local _, invalid = sec:get_token_status(tok, "login", 3600)
    assert.is_true(invalid)
    clock.now = clock.now + 1
    _, invalid = sec:get_token_status(tok, "login", 3600)
    assert.is_false(invalid)
  end)

  it("signs with the first key and verifies with any listed key", function()
    local old = helpers.new{ secret_key = helpers.KEY, clock = clock.fn }
    local rotated = helpers.new{ secret_key = { helpers.KEY2, helpers.KEY }, clock = clock.fn }
    local fresh = helpers.new{ secret_key = helpers.KEY2, clock = clock.fn }
    local t_old = old:generate_token("auth", { u = 1 })
    local t_new = rotated:generate_token("auth", { u = 1 })
    assert.is_false(select(2, rotated:get_token_status(t_old, "auth")))
    assert.is_false(select(2, fresh:get_token_status(t_new, "auth")))
    assert.is_true(select(2, old:get_token_status(t_new, "auth")))
  end)

  it("rejects every single-character change", function()
    local tok = sec:generate_token("auth", { uid = "abc" })
    local alphabet = "AQgw_-9z"
    for i = 1, #tok do
      for j = 1, #alphabet do
        local c = alphabet:sub(j, j)
        if c ~= tok:sub(i, i) then
          local bad = tok:sub(1, i - 1) .. c .. tok:sub(i + 1)
          local _, invalid, data = sec:get_token_status(bad, "auth")
          assert.is_true(invalid, bad)
          assert.is_nil(data)
        end
      end
    end
  end)

  it("treats bad input as invalid, not as an error", function()
    local tok = sec:generate_token("auth", {})
    for _, bad in ipairs{ "", "AQ", tok .. "=", tok .. ".", " " .. tok,
                          tok:sub(1, 10) .. "\0" .. tok:sub(12),
                          string.rep("A", 5000), "\255\254" } do
      local expired, invalid, data = sec:get_token_status(bad, "auth")
      assert.is_false(expired); assert.is_true(invalid); assert.is_nil(data)
    end
    for _, bad in ipairs{ {}, 42, true } do
      assert.is_true(select(2, sec:get_token_status(bad, "auth")))
    end
    assert.is_true(select(2, sec:get_token_status(nil, "auth")))
  end)

  it("raises on programmer errors", function()
    assert.has_error(function() sec:generate_token(nil, {}) end,
      "bad argument #1 to 'generate_token' (string expected, got nil)")
    assert.has_error(function() sec:get_token_status("x", "auth", "10") end,
      "bad argument #3 to 'get_token_status' (non-negative integer or nil expected, got string)")
    -- a negative max_age would have meant "no limit"
    local tok = sec:generate_token("reset", { u = "abc" })
    for _, bad in ipairs{ -1, -3600, -math.huge, 0 / 0 } do
      assert.has_error(function() sec:get_token_status(tok, "reset", bad) end,
        "bad argument #3 to 'get_token_status' (non-negative integer or nil expected, got number)")
    end
    assert.is_false((sec:get_token_status(tok, "reset", 0))) -- issued this second: not older than 0
  end)

  it("refuses numbers it cannot carry exactly and nesting it could not read back", function()
    for _, n in ipairs{ 123456789012345, 2 ^ 53, 0.1 + 0.2, -98765432109876543 } do
      local tok, err, code = sec:generate_token("x", { user_id = n })
      assert.is_nil(tok, tostring(n)); assert.equals("EINVAL", code); assert.matches("14 significant digits", err)
    end
    assert.equals("EINVAL", select(3, sec:generate_token("x", { [123456789012345] = true })))
    -- lists with holes and mixed tables would come back changed (nulls,
    -- string keys): refused too; what round-trips is kept
    for _, bad in ipairs{ { [1] = 1, [3] = 3 }, { [2] = "b" }, { 1, a = 2 }, { t = { [1] = 1, [3] = 3 } } } do
      local tok, err, code = sec:generate_token("x", bad)
      assert.is_nil(tok); assert.equals("EINVAL", code); assert.matches("would not come back as given", err)
    end
    for _, good in ipairs{ {}, { 1, 2, 3 }, { a = { "x", "y" }, b = false }, { s = "", n = 0 } } do
      local _, invalid, data = sec:get_token_status(assert(sec:generate_token("x", good)), "x")
      assert.is_false(invalid); assert.same(good, data)
    end
    for _, n in ipairs{ 12345678901234, -2 ^ 40, 0.5, 1800000000 } do
      local tok = assert(sec:generate_token("x", { n = n, list = { n } }))
      local _, invalid, data = sec:get_token_status(tok, "x")
      assert.is_false(invalid); assert.equals(n, data.n); assert.equals(n, data.list[1])
    end
    local deep = {}
    local c = deep
    for _ = 1, 40 do c[1] = {}; c = c[1] end
    local tok, err, code = sec:generate_token("x", deep)
    assert.is_nil(tok); assert.equals("EINVAL", code); assert.matches("nesting", err)
  end)

  it("refuses data that is not JSON or too large", function()
    local tok, err, code = sec:generate_token("x", { f = function() end })
    assert.is_nil(tok); assert.equals("EINVAL", code); assert.matches("JSON", err)
    tok, err, code = sec:generate_token("x", { s = string.rep("x", 5000) })
    assert.is_nil(tok); assert.equals("ETOOLONG", code); assert.is_string(err)
    local big = helpers.new{ token_max_length = 16384 }
    assert.truthy(big:generate_token("x", { s = string.rep("x", 5000) }))
  end)

  it("gives 128-bit or longer random identifiers", function()
    local seen = {}
    for _ = 1, 200 do
      local id = fsec.random_id()
      assert.equals(22, #id)
      assert.matches("^[%w_-]+$", id)
      assert.is_nil(seen[id])
      seen[id] = true
    end
    assert.equals(43, #sec:random_id(32))
    assert.has_error(function() fsec.random_id(8) end)
  end)
end)

describe("core.base64_decode (HTTP Basic credentials) #quick", function()
  local core = require "fsec.core"

  it("decodes strict padded Base64 and refuses every other spelling", function()
    assert.equals("abc", core.base64_decode("YWJj"))
    assert.equals("ab", core.base64_decode("YWI="))
    assert.is_nil(core.base64_decode("YWI"))        -- padding missing
    assert.is_nil(core.base64_decode("YW J j"))     -- blanks
    -- a byte >= 0x80: libsodium 1.0.18 alone would read it as '/'
    assert.is_nil(core.base64_decode("\128\128\128\128"))
    assert.is_nil(core.base64_decode("YW\255j"))
  end)
end)
