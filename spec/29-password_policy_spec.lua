-- The password policy at real scale (issue 25): Flask-Security-Too's
-- "zxcvbn" complexity checker in C (libzxcvbn) with its score setting and
-- messages, the checker hook's contract (a wrong return type denies,
-- never passes), and the breached-password list mapped and searched in C
-- (HIBP's text and fsec's binary form, the count threshold, hostile
-- files refused at start). Through the real nginx: spec/40.
local helpers = require "spec.helpers"
local core = require "fsec.core"
local ep = require "spec.tools.endpoint_app"

local setup = ep.setup_for("policy.db", "keep")
local api = helpers.api

local function register(sec, email, pw)
  local res, r = api(sec):call("POST", "/register", { email = email, password = pw, password_confirm = pw })
  return res.status, r.field_errors and r.field_errors.password
end

local function write(name, text)
  local path = helpers.tmpfile(name)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

describe("zxcvbn complexity #quick", function()
  it("refuses weak passwords with zxcvbn's warning, or PASSWORD_TOO_SIMPLE", function()
    local sec = setup{ password_complexity_checker = "zxcvbn" }
    local cases = {
      { "aaaaaaaaaaaa", 'Repeats like "aaa" are easy to guess.' },
      { "abcdefghijkl", 'Sequences like "abc" or "6543" are easy to guess.' },
      { "asdfghjkl;", "Straight rows of keys are easy to guess." },
      { "password12", "This is similar to a commonly used password." },
      { "iloveyou2", "This is a very common password." },
      { "19871987", 'Repeats like "abcabcabc" are only slightly harder to guess than "abc".' },
    }
    for _, c in ipairs(cases) do
      local status, errs = register(sec, "weak@example.com", c[1])
      assert.equals(400, status, c[1])
      assert.same({ c[2] }, errs, c[1])
    end
    assert.is_nil(sec.datastore:find_user{ email = "weak@example.com" })
    assert.equals(200, (register(sec, "strong@example.com", "correct horse battery staple river")))
  end)

  it("counts the user's email and username as known words", function()
    local sec = setup{ password_complexity_checker = "zxcvbn" }
    local pw = "zebulonquarterman"
    local status, errs = register(sec, "zebulonquarterman@example.com", pw)
    assert.equals(400, status)
    assert.same({ "Password not complex enough" }, errs) -- zxcvbn has no warning for user words
    assert.equals(200, (register(sec, "someone.else@example.com", pw)))
  end)

  it("takes zxcvbn_minimum_score, mapped from ZXCVBN_MINIMUM_SCORE", function()
    local sec = setup{ SECURITY_PASSWORD_COMPLEXITY_CHECKER = "zxcvbn", SECURITY_ZXCVBN_MINIMUM_SCORE = 0 }
    assert.equals(0, sec.config.zxcvbn_minimum_score)
    assert.equals(200, (register(sec, "lax@example.com", "aaaaaaaaaaaa")))
    local strict = setup{ password_complexity_checker = "zxcvbn", zxcvbn_minimum_score = 4 }
    local status, errs = register(strict, "strict@example.com", "horse battery")
    assert.equals(400, status)
    assert.same({ "Password not complex enough" }, errs) -- score 3: no warning above 2
  end)

  it("refuses other checker names and scores out of 0..4", function()
    assert.has_error(function() helpers.new{ password_complexity_checker = "zxcvbn2" } end)
    assert.has_error(function() helpers.new{ password_complexity_checker = "zxcvbn", zxcvbn_minimum_score = 5 } end)
  end)

  it("core.password_strength: score, warning, bits; hostile arguments", function()
    local score, warning, bits = core.password_strength("password")
    assert.equals(0, score); assert.equals("This is a top-10 common password.", warning)
    assert.is_true(bits < 10)
    score, warning = core.password_strength("xK9#mq2Lw!t7Zr")
    assert.equals(4, score); assert.is_nil(warning)
    assert.equals(0, (core.password_strength("alicewonder", { "alicewonder", 42, true })))
    local ok, _, code = core.password_strength("a\0b")
    assert.is_nil(ok); assert.equals("ENUL", code)
    local many = {}
    for i = 1, 17 do many[i] = "w" .. i end
    assert.has_error(function() core.password_strength("x", many) end)
    assert.has_error(function() core.password_strength(12345678) end)
  end)
end)

describe("the password_complexity_checker contract #quick", function()
  local denied = {
    { "false", function() return false end },
    { "a number", function() return 0 end },
    { "a list holding a number", function() return { 1 } end },
    { "a list holding a table", function() return { "ok", {} } end },
    { "a table with a string key", function() return { reason = "x" } end },
    { "a function", function() return print end },
    { "an error", function() error("checker broke") end },
  }
  for _, d in ipairs(denied) do
    it("denies a checker that returns " .. d[1] .. ", and logs it", function()
      local sec, _, _, _, logs = setup{ password_complexity_checker = d[2] }
      local status, errs = register(sec, "d@example.com", "correct horse battery staple")
      assert.equals(400, status)
      assert.same({ "Password not complex enough" }, errs)
      local logged = table.concat(logs, "\n")
      assert.matches("password_complexity_checker", logged, 1, true)
      assert.matches("password refused", logged, 1, true)
      assert.not_matches("correct horse", logged, 1, true) -- never the password
    end)
  end

  it("passes nil, true and an empty list; shows a message or a list of them", function()
    local answer
    local sec = setup{ password_complexity_checker = function() return answer end }
    for i, a in ipairs({ nil, true, {} }) do
      answer = a
      assert.equals(200, (register(sec, "ok" .. i .. "@example.com", "correct horse battery staple")))
    end
    answer = "too guessable"
    assert.same({ "too guessable" }, select(2, register(sec, "m@example.com", "correct horse battery staple")))
    answer = { "one", "two" }
    assert.same({ "one", "two" }, select(2, register(sec, "m@example.com", "correct horse battery staple")))
  end)
end)

describe("the breached-password list #quick", function()
  local PW5 = core.sha1_hex("password1234") -- seen 5 times
  local UNCOUNTED = core.sha1_hex("letmein123") -- listed without a count
  local function text()
    local lines = { PW5 .. ":5", UNCOUNTED, "0000000000000000000000000000000000000000:1" }
    table.sort(lines)
    return table.concat(lines, "\r\n") .. "\r\n"
  end

  for _, form in ipairs({ "text", "binary" }) do
    it("refuses at password_breached_count and above (" .. form .. ")", function()
      local list = write("breached.txt", text())
      if form == "binary" then
        local bin = helpers.tmpfile("breached.bin")
        assert.equals(3, core.breached_build(list, bin))
        list = bin
      end
      local sec = setup{ password_breached_file = list }
      assert.same({ "Password on breached list" }, select(2, register(sec, "a@example.com", "password1234")))
      assert.equals(200, (register(sec, "b@example.com", "password12345")))
      -- Too's PASSWORD_BREACHED_COUNT: seen 5 times passes a threshold of 6;
      -- a line with no count is refused at any threshold
      sec = setup{ password_breached_file = list, SECURITY_PASSWORD_BREACHED_COUNT = 6 }
      assert.equals(6, sec.config.password_breached_count)
      assert.equals(200, (register(sec, "c@example.com", "password1234")))
      assert.same({ "Password on breached list" }, select(2, register(sec, "d@example.com", "letmein123")))
    end)
  end

  it("is checked before complexity, as Too does", function()
    local list = write("breached.txt", text())
    local sec = setup{ password_breached_file = list, password_complexity_checker = "zxcvbn" }
    assert.same({ "Password on breached list" }, select(2, register(sec, "a@example.com", "password1234")))
  end)

  it("refuses a malformed, unsorted or truncated list at start, naming the line", function()
    local function refused(pattern, body)
      local ok, err = pcall(helpers.new, { password_breached_file = write("bad.txt", body) })
      assert.is_false(ok)
      assert.matches(pattern, tostring(err), 1, true)
    end
    refused("line 2: not sorted by hash", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:1\n" .. PW5 .. ":5\n")
    refused("line 1: not HEX40[:COUNT]", "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD\n")
    refused("line 1: not HEX40[:COUNT]", PW5 .. ":5 # comment\n")
    refused("empty list", "")
    local bin = helpers.tmpfile("full.bin")
    core.breached_build(write("ok.txt", text()), bin)
    local f = assert(io.open(bin, "rb"))
    local data = f:read("a")
    f:close()
    refused("truncated or corrupt", data:sub(1, #data - 1))
    refused("truncated header", data:sub(1, 20))
  end)

  it("build refuses unsorted input and leaves no output", function()
    local out = helpers.tmpfile("never.bin")
    local n, err, code = core.breached_build(write("u.txt", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\n" .. PW5 .. "\n"), out)
    assert.is_nil(n); assert.equals("EINVAL", code)
    assert.matches("line 2: not sorted by hash", err, 1, true)
    assert.is_nil(io.open(out, "rb"))
  end)
end)

describe("the HIBP range hook (password_breached_range) #quick", function()
  local PW = "password1234"
  local HEX = core.sha1_hex(PW)

  -- A range answer for prefix: the password's suffix with count (when
  -- given), among others, and HIBP's padding lines (count 0).
  local function answer(count)
    local lines = { ("0"):rep(35) .. ":3", ("F"):rep(35) .. ":0" }
    if count then lines[#lines + 1] = HEX:sub(6):lower() .. ":" .. count end
    return table.concat(lines, "\r\n")
  end

  it("sends only the hash's first 5 hex characters and matches the suffix itself", function()
    local asked = {}
    local count
    local sec = setup{ password_breached_range = function(prefix)
      asked[#asked + 1] = prefix
      return answer(count)
    end }
    count = 9
    assert.same({ "Password on breached list" }, select(2, register(sec, "a@example.com", PW)))
    assert.same({ HEX:sub(1, 5) }, asked)
    count = nil -- listed under the prefix, not this suffix
    assert.equals(200, (register(sec, "b@example.com", PW)))
    count = 0 -- a padding line for it: not breached
    assert.equals(200, (register(sec, "c@example.com", PW)))
    assert.same({ HEX:sub(1, 5), HEX:sub(1, 5), HEX:sub(1, 5) }, asked) -- never more of the hash
  end)

  it("takes password_breached_count as its threshold", function()
    local sec = setup{ password_breached_range = function() return answer(4) end, password_breached_count = 5 }
    assert.equals(200, (register(sec, "a@example.com", PW)))
    sec = setup{ password_breached_range = function() return answer(5) end, password_breached_count = 5 }
    assert.same({ "Password on breached list" }, select(2, register(sec, "b@example.com", PW)))
  end)

  local failing = {
    { "nil and an error", function() return nil, "timeout" end, "failed: timeout" },
    { "an error raised", function() error("connection refused") end, "raised:" },
    { "a number", function() return 200 end, "returned a number" },
    { "a body not of SUFFIX:COUNT lines", function() return "<html>rate limited</html>" end, "not SUFFIX:COUNT" },
  }
  for _, f in ipairs(failing) do
    it("refuses when the hook gives " .. f[1] .. " (strict), passes when not strict", function()
      local sec, _, _, _, logs = setup{ password_breached_range = f[2] }
      assert.same({ "Failed to contact breached passwords site" }, select(2, register(sec, "a@example.com", PW)))
      assert.matches(f[3], table.concat(logs, "\n"), 1, true)
      local lax, _, _, _, lax_logs = setup{ password_breached_range = f[2], password_breached_range_strict = false }
      assert.equals(200, (register(lax, "b@example.com", PW)))
      assert.matches("password not checked", table.concat(lax_logs, "\n"), 1, true)
    end)
  end
end)

-- Against the reference: Python's zxcvbn (python3-zxcvbn, what
-- Flask-Security-Too calls) gives the same warning, word for word, and a
-- weak score too, for passwords both estimators read the same way. (Not
-- every password: libzxcvbn's dictionaries are not Python zxcvbn's.)
describe("zxcvbn's warnings against Python's zxcvbn", function()
  it("are the same text for the same weaknesses", function()
    local cases = { "password", "aaaaaaaaaaaa", "abcdefghij", "19871987", "iloveyou2", "p@ssw0rd12" }
    local script = "import json,sys,zxcvbn\nfor p in json.load(sys.stdin):\n"
      .. "  r = zxcvbn.zxcvbn(p)\n  print(r['score'], r['feedback']['warning'])\n"
    local input = helpers.tmpfile("zxcvbn-cases.json")
    local f = assert(io.open(input, "w")); f:write(require("cjson").encode(cases)); f:close()
    local py = helpers.tmpfile("zxcvbn-ref.py")
    f = assert(io.open(py, "w")); f:write(script); f:close()
    local p = assert(io.popen("/usr/bin/python3 " .. py .. " < " .. input .. " 2>&1"))
    local out = p:read("a")
    p:close()
    local i = 0
    for line in out:gmatch("[^\n]+") do
      i = i + 1
      local score, warning = line:match("^(%d) (.+)$")
      assert.truthy(score, "python3-zxcvbn (scripts/deps.sh test): " .. out)
      local fscore, fwarning = core.password_strength(cases[i])
      assert.is_true(tonumber(score) <= 2 and fscore <= 2, cases[i])
      assert.equals(warning, fwarning, cases[i])
    end
    assert.equals(#cases, i)
  end)
end)
