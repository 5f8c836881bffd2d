-- The security catalogue (§7 of the reference), row by row: the checks
-- that no other spec makes. Every test name starts with its row id;
-- docs/catalogue.md maps each row to its tests (here and elsewhere) and
-- spec/check-catalogue.sh checks that the names it cites exist.
-- This file: 7.1 passwords and hashing.
local fsec = require "fsec"
local helpers = require "spec.helpers"
local core = require "fsec.core"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local LUA = jit and "luajit" or "lua5.4"
local setup = ep.setup_for("cat.db", "keep")
local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of
local signed_in, shape = ep.signed_in, ep.shape
local stored_password = ep.stored_password
local read = helpers.read

------------------------------------------------------------------------
-- 7.1 Passwords & hashing
------------------------------------------------------------------------

describe("catalogue 7.1 passwords #quick", function()
  it("P-01: a registration stores an argon2id PHC hash at the configured cost; equal passwords hash apart", function()
    local sec = setup()
    for _, email in ipairs{ "p1a@example.com", "p1b@example.com" } do
      local res = api(sec):call("POST", "/register", { email = email, password = "battery staple",
                                                       password_confirm = "battery staple" })
      assert.equals(200, res.status)
    end
    local a, b = stored_password(sec, "p1a@example.com"), stored_password(sec, "p1b@example.com")
    for _, h in ipairs{ a, b } do
      local salt, tag = h:match("^%$argon2id%$v=19%$m=1024,t=1,p=1%$([%w+/]+)%$([%w+/]+)$")
      assert.equals(22, #salt, h); assert.equals(43, #tag, h)
    end
    assert.not_equals(a, b)
    -- without test parameters: at least OWASP's minimum
    local prod = fsec.new{ secret_key = helpers.KEY, password_salt = helpers.SALT }
    local m, t, p = prod:hash_password("battery staple"):match("^%$argon2id%$v=19%$m=(%d+),t=(%d+),p=(%d+)%$")
    assert.is_true(tonumber(m) >= 19456 and tonumber(t) >= 2 and p == "1")
  end)

  it("P-02: 64- and 128-character, 4096-byte, emoji and spaced passwords register and sign in", function()
    local sec = setup{ password_max_bytes = 4096, password_length_max = 4096 }
    local pws = { string.rep("a", 63) .. "1", string.rep("b", 128), string.rep("c", 4096),
                  "\u{1F600} emoji and spaces \u{1F680}\u{1F680}", "  leading and trailing  " }
    for i, pw in ipairs(pws) do
      local email = ("p2-%d@example.com"):format(i)
      local res = api(sec):call("POST", "/register", { email = email, password = pw, password_confirm = pw })
      assert.equals(200, res.status, #pw)
      res = api(sec):call("POST", "/login", { email = email, password = pw })
      assert.equals(200, res.status, #pw)
    end
    -- the defaults (Flask-Security's 8..128 code points) refuse longer ones cleanly
    local d = setup()
    local long = string.rep("d", 129)
    local res, r = api(d):call("POST", "/register", { email = "p2@example.com", password = long, password_confirm = long })
    assert.equals(400, res.status)
    assert.same({ "Password must be at least 8 characters" }, r.field_errors.password)
  end)

  it("P-03: a 1 MiB password is refused before any hashing at register, login, change and in the API", function()
    local big = string.rep("x", 1024 * 1024)
    local sec = setup()
    local c = signed_in(sec)
    local before = sec:hash_count()
    for _, t in ipairs{
      { "/register", { email = "p3@example.com", password = big, password_confirm = big }, api(sec) },
      { "/login", { email = "matt@example.com", password = big }, api(sec) },
      { "/change", { password = PW, new_password = big, new_password_confirm = big }, c },
    } do
      local res = t[3]:call("POST", t[1], t[2])
      assert.equals(413, res.status, t[1]) -- over max_body_bytes: not even parsed
    end
    -- with a body limit above it, the form refuses the field (over 4096 bytes)
    local roomy = setup{ max_body_bytes = 4 * 1024 * 1024 }
    local rc = signed_in(roomy)
    local rbefore = roomy:hash_count()
    for _, t in ipairs{
      { "/register", { email = "p3@example.com", password = big, password_confirm = big }, api(roomy), "password" },
      { "/login", { email = "matt@example.com", password = big }, api(roomy), "password" },
      { "/change", { password = PW, new_password = big, new_password_confirm = big }, rc, "new_password" },
    } do
      local res, r = t[3]:call("POST", t[1], t[2])
      assert.equals(400, res.status, t[1])
      assert.is_table(r.field_errors[t[4]], t[1])
    end
    assert.equals(rbefore, roomy:hash_count())
    -- the API: ETOOLONG, no hash either
    local h, _, code = sec:hash_password(big)
    assert.is_nil(h); assert.equals("ETOOLONG", code)
    local ok
    ok, _, code = sec:verify_password(big, stored_password(sec))
    assert.is_false(ok); assert.equals("ETOOLONG", code)
    assert.equals(before, sec:hash_count())
    assert.equals(1, (sec.datastore:counts()))
  end)

  it("P-04: a legacy bcrypt hash of an 80-byte password accepts its 72-byte twin only until the first login rehashes it", function()
    -- passlib's raw bcrypt of LONG (core/tests/vectors.h: VEC_LONG_BCRYPT)
    local LONG = string.rep("a", 72) .. "-tail-ok"
    local BCRYPT = "$2b$05$jvuE23j9bLqXhKGaQoDBCeiLb1hqaeiyvM7nP2SibZZkFK19CCCYu"
    local twin = LONG:sub(1, 72) .. "ZZZZZZZZ"
    local sec, _, clock = setup{ password_single_hash = true, password_salt = "nil" }
    assert(sec.datastore:create_user{ email = "old@example.com", password = BCRYPT, confirmed_at = clock.now })
    assert.is_true(sec:verify_password(LONG, BCRYPT))
    assert.is_true(sec:verify_password(twin, BCRYPT)) -- inherent to bcrypt: documented
    local res = api(sec):call("POST", "/login", { email = "old@example.com", password = LONG })
    assert.equals(200, res.status)
    local now = stored_password(sec, "old@example.com")
    assert.matches("^%$argon2id%$", now)
    assert.is_false(sec:verify_password(twin, now))
    res = api(sec):call("POST", "/login", { email = "old@example.com", password = twin })
    assert.equals(400, res.status)
    res = api(sec):call("POST", "/login", { email = "old@example.com", password = LONG })
    assert.equals(200, res.status)
    -- new hashes are never bcrypt
    assert.has_error(function() helpers.new{ password_hash = "bcrypt" } end)
  end)

  it("P-05: a password with a NUL byte is refused (ENUL) on both paths, never truncated", function()
    local sec = setup()
    local h, _, code = sec:hash_password("ab\0cd-long-enough")
    assert.is_nil(h); assert.equals("ENUL", code)
    local ok
    ok, _, code = sec:verify_password("ab\0cd", sec:hash_password("ab"))
    assert.is_false(ok); assert.equals("ENUL", code)
    ok, _, code = sec:verify_password("ab\0cd", "$2b$05$v/fBCEn1Z.Sy5TcEOYSGFucbAD3WXMVMnBxw0wdIKL45bh9uEFy86")
    assert.is_false(ok); assert.equals("ENUL", code)
    local res, r = api(sec):call("POST", "/register", { email = "nul@example.com", password = "ab\0cd-long-enough",
                                                        password_confirm = "ab\0cd-long-enough" })
    assert.equals(400, res.status)
    assert.is_table(r.field_errors.password)
    assert.is_nil(sec.datastore:find_user{ email = "nul@example.com" })
  end)

  it("P-06: malformed and over-cap stored hashes verify false without running, and log in as a wrong password does", function()
    local sec, _, clock = setup{ return_generic_responses = true }
    local S, T = "c2FsdHNhbHRzYWx0c2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
    local bad = {
      "", "$argon2id$", "$argon2id$v=19$m=1024,t=1,p=1$" .. S, ("$argon2id$v=19$m=1024,t=1,p=1$" .. S .. "$" .. T):sub(1, 60),
      string.rep("$", 200), string.rep("A", 128),
      "$argon2id$v=19$m=4294967295,t=2,p=1$" .. S .. "$" .. T,
      "$argon2id$v=19$m=4194304,t=2,p=1$" .. S .. "$" .. T,
      "$argon2id$v=19$m=65536,t=4294967295,p=1$" .. S .. "$" .. T,
      "$argon2id$v=19$m=65536,t=2,p=0$" .. S .. "$" .. T,
      "$2x$05$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", "*0",
    }
    local before = sec:hash_count()
    for _, h in ipairs(bad) do
      assert.is_false((sec:verify_password(PW, h)), h)
      assert.equals(before, sec:hash_count(), h)
    end
    local wrong = shape((api(sec):call("POST", "/login", { email = "matt@example.com", password = "not-it" })))
    for i, h in ipairs{ "*0", "$argon2id$v=19$m=4194304,t=2,p=1$" .. S .. "$" .. T } do
      local email = ("p6-%d@example.com"):format(i)
      assert(sec.datastore:create_user{ email = email, password = h, confirmed_at = clock.now })
      local res = api(sec):call("POST", "/login", { email = email, password = PW })
      assert.equals(wrong, shape(res), h)
    end
  end)

  it("P-07: a passlib argon2id p=8 hash verifies, needs an update, is rehashed at login; parallel logins keep a good hash", function()
    local P8 = "$argon2id$v=19$m=8192,t=2,p=8$OUfIWctZK+Wc8/4/R+jdOw$9DIXLzyGVqTBXWqY33kvTw" -- passlib, helpers.SALT
    local LPW = "correct horse battery staple"
    local db = helpers.tmpfile("p07.db")
    local sec, _, clock = setup{ database = db }
    local u = assert(sec.datastore:create_user{ email = "p8@example.com", password = P8, confirmed_at = clock.now })
    assert.is_true(sec:needs_update(P8))
    assert.is_true(sec:verify_password(LPW, P8))
    local res = api(sec):call("POST", "/login", { email = "p8@example.com", password = LPW })
    assert.equals(200, res.status)
    local now = stored_password(sec, "p8@example.com")
    assert.matches("^%$argon2id%$v=19%$m=1024,t=1,p=1%$", now)
    assert.is_false(sec:needs_update(now))
    -- weaker argon2 parameters are upgraded the same way
    local weak = helpers.new{ password_hash_options = { argon2 = { time_cost = 1, memory_cost = 512 } } }
    local wh = weak:hash_password(LPW)
    assert.is_true(sec:needs_update(wh))
    -- four processes log in at once with the legacy hash: every one
    -- succeeds and the stored hash ends up current and verifying
    assert(sec.datastore:set_password(u, P8))
    local script = ([[
      local fsec = require "fsec"
      local sec = fsec.new{ secret_key = %q, password_salt = %q, database = %q, database_busy_timeout = 20000,
        password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } }, allow_weak_password_hash = true }
      local u = sec.datastore:find_user{ email = "p8@example.com" }
      io.write(sec:verify_and_update_password(%q, u) and "ok" or "fail")
    ]]):format(helpers.KEY, helpers.SALT, db, LPW)
    local env = ("LUA_PATH=%q LUA_CPATH=%q "):format(package.path, package.cpath)
    local cmds = {}
    for i = 1, 4 do
      cmds[i] = ("%s%s -e %q > %s.out%d 2>&1 &"):format(env, LUA, script, db, i)
    end
    assert.is_true(helpers.sh("(" .. table.concat(cmds, " ") .. " wait)"))
    for i = 1, 4 do assert.equals("ok", read(db .. ".out" .. i)) end
    now = stored_password(sec, "p8@example.com")
    assert.matches("^%$argon2id%$v=19%$m=1024,t=1,p=1%$", now)
    assert.is_true(sec:verify_password(LPW, now))
  end)

  it("P-08: registered with a composed é, signs in with the decomposed one (NFKD)", function()
    local sec = setup()
    local composed, decomposed = "caf\u{E9}-au-lait", "cafe\u{301}-au-lait"
    local res = api(sec):call("POST", "/register", { email = "p8n@example.com", password = composed,
                                                     password_confirm = composed })
    assert.equals(200, res.status)
    res = api(sec):call("POST", "/login", { email = "p8n@example.com", password = decomposed })
    assert.equals(200, res.status)
  end)

  it("P-09: a change with a missing or wrong current password changes nothing and signals nothing", function()
    local sec, _, _, maildir = setup()
    local c = signed_in(sec)
    local fired = 0
    sec:connect("password_changed", function() fired = fired + 1 end)
    local before = stored_password(sec)
    for _, body in ipairs{
      { new_password = "a-new-password", new_password_confirm = "a-new-password" },
      { password = "", new_password = "a-new-password", new_password_confirm = "a-new-password" },
      { password = "wrong-password", new_password = "a-new-password", new_password_confirm = "a-new-password" },
    } do
      local res, r = c:call("POST", "/change", body)
      assert.equals(400, res.status)
      assert.is_table(r.field_errors.password)
    end
    assert.equals(before, stored_password(sec))
    assert.equals(0, fired)
    assert.equals(0, #mails(maildir))
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("P-10: a breached password is refused at register, change and reset", function()
    local list = helpers.tmpfile("breached.txt")
    local f = io.open(list, "w")
    f:write(core.sha1_hex("password1234"), ":3000\n")
    f:close()
    local sec, _, _, maildir = setup{ password_breached_file = list }
    local msg = { "Password on breached list" }
    local res, r = api(sec):call("POST", "/register", { email = "p10@example.com", password = "password1234",
                                                        password_confirm = "password1234" })
    assert.equals(400, res.status); assert.same(msg, r.field_errors.password)
    local before = stored_password(sec)
    local c = signed_in(sec)
    res, r = c:call("POST", "/change", { password = PW, new_password = "password1234", new_password_confirm = "password1234" })
    assert.equals(400, res.status); assert.same(msg, r.field_errors.new_password)
    local a = api(sec)
    a:call("POST", "/reset", { email = "matt@example.com" })
    local link = path_of(mails(maildir)[1].link)
    res, r = a:call("POST", link, { password = "password1234", password_confirm = "password1234" })
    assert.equals(400, res.status); assert.same(msg, r.field_errors.password)
    assert.equals(before, stored_password(sec))
    assert.is_nil(sec.datastore:find_user{ email = "p10@example.com" })
  end)
end)
