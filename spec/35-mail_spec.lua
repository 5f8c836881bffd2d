-- The development mailer (fsec.mail without send_mail): one .eml file per
-- message, never two messages in one file, whatever the number of
-- processes writing into the folder.
local helpers = require "spec.helpers"

-- A fresh copy of fsec.mail: a process of its own as far as the module's
-- state goes (nginx workers fork from one master, each with its own copy
-- of the same state).
local function fresh_mail()
  package.loaded["fsec.mail"] = nil
  local m = require "fsec.mail"
  package.loaded["fsec.mail"] = nil
  return m
end

local function eml_files(dir)
  local out = {}
  local p = io.popen("ls -1 " .. dir .. " 2>/dev/null")
  for name in p:lines() do
    if name:find("%.eml$") then out[#out + 1] = name end
  end
  p:close()
  return out
end

local function new_sec(dir, logs)
  return helpers.new{ database = helpers.tmpfile("mail.db"), mail_dir = dir,
                      log = function(_, msg) if logs then logs[#logs + 1] = msg end end }
end

describe("the development mailer #quick", function()
  -- These tests replace os.execute and os.time for a moment (restored
  -- after): to see that no shell runs, and to fix the second in a file
  -- name. luacheck's 122 (setting a field of a standard global) is what
  -- they mean to do, so it is silenced on those lines only.
  local real_execute = os.execute
  after_each(function() os.execute = real_execute end) -- luacheck: ignore 122

  it("writes every message to a file of its own when two processes send many at the same second", function()
    local dir = helpers.tmpdir() .. "/devmail-" .. math.random(1e9)
    local sec = new_sec(dir)
    local a, b = fresh_mail(), fresh_mail()
    local mkdirs = 0
    os.execute = function(cmd) -- luacheck: ignore 122
      if cmd:find("mkdir", 1, true) then mkdirs = mkdirs + 1 end
      return real_execute(cmd)
    end
    local N = 40
    for i = 1, N do
      assert.is_true(a.send(sec, "reset", { email = ("a%d@example.org"):format(i) }, "http://x/reset/a" .. i))
      assert.is_true(b.send(sec, "reset", { email = ("b%d@example.org"):format(i) }, "http://x/reset/b" .. i))
    end
    os.execute = real_execute -- luacheck: ignore 122
    local names = eml_files(dir)
    assert.equals(2 * N, #names)
    -- each file holds its own message, whole
    local seen = {}
    for _, name in ipairs(names) do
      assert.matches("^%d+%-%d+%-[%w_-]+%-reset%.eml$", name)
      local text = helpers.read(dir .. "/" .. name)
      local to = text:match("\nTo: ([^\n]+)")
      assert.is_nil(seen[to], to)
      seen[to] = true
      assert.equals("http://x/reset/" .. to:match("^(%w+)@"), text:match("X%-Fsec%-Link: (%S+)"))
    end
    -- the folder was made without a shell (fsec.core, mode 0700)
    assert.equals(0, mkdirs)
    -- names sort by time: the time comes first
    for _, name in ipairs(names) do
      assert.is_true(math.abs(tonumber(name:match("^(%d+)")) - os.time()) < 60)
    end
  end)

  it("never writes over a file already in the folder", function()
    local dir = helpers.tmpdir() .. "/devmail-" .. math.random(1e9)
    assert.is_true(helpers.sh("mkdir -p " .. dir))
    local sec = new_sec(dir)
    local m = fresh_mail()
    local core = require "fsec.core"
    local real_random, real_time = core.random_id, os.time
    -- the name the next message would take, taken already
    local ids = { "SAMESAMESAMESAMESAMESA", "SAMESAMESAMESAMESAMESA", "OTHEROTHEROTHEROTHEROT" }
    local calls = 0
    core.random_id = function(n) calls = calls + 1; return ids[calls] or real_random(n) end
    os.time = function() return 1800000000 end -- luacheck: ignore 122
    local taken = dir .. "/1800000000-00001-SAMESAMESAME-reset.eml"
    local f = assert(io.open(taken, "w")); f:write("an earlier message\n"); f:close()
    local ok, err = pcall(m.send, sec, "reset", { email = "c@example.org" }, "http://x/reset/c")
    core.random_id, os.time = real_random, real_time -- luacheck: ignore 122
    assert.is_true(ok, err)
    assert.equals("an earlier message\n", helpers.read(taken))
    local names = eml_files(dir)
    assert.equals(2, #names)
    local other = helpers.read(dir .. "/1800000000-00001-OTHEROTHEROT-reset.eml")
    assert.matches("\nTo: c@example.org\n", other, 1, true)
  end)

  for _, case in ipairs{ { "empty", "" }, { "with a NUL byte", helpers.tmpdir() .. "/m\0x" } } do
    it("refuses a mail_dir " .. case[1] .. " (logged, no file written)", function()
      local logs = {}
      local sec = { _cfg = { mail_dir = case[2], email_sender = "no-reply@localhost",
                             email_subject_password_reset = "Password reset instructions" },
                    _log = function(_, msg) logs[#logs + 1] = msg end }
      local before = eml_files("/")
      assert.is_false(fresh_mail().send(sec, "reset", { email = "d@example.org" }, "http://x/reset/d"))
      assert.equals(1, #logs)
      assert.matches("mail_dir", logs[1], 1, true)
      assert.same(before, eml_files("/"))
      assert.is_nil(io.open(helpers.tmpdir() .. "/m"))
    end)
  end
end)
