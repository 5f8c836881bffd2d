-- The security catalogue (§7 of the reference), row by row: the checks
-- that no other spec makes. Every test name starts with its row id;
-- docs/catalogue.md maps each row to its tests (here and elsewhere) and
-- spec/check-catalogue.sh checks that the names it cites exist.
local fsec = require "fsec"
local helpers = require "spec.helpers"
local cjson = require "cjson"
local core = require "fsec.core"

local PW = "password-1"
local LUA = jit and "luajit" or "lua5.4"
local GENERIC = "Authentication failed - identity or password/passcode invalid"

-- A Security on a fresh database with every endpoint on, one confirmed
-- user (matt@example.com / PW), an injected clock, a mail folder and a
-- log that is kept. extra overrides ("nil" removes a key).
local function setup(extra)
  local app = helpers.app{ db = "cat.db", clock = true, mail = true, endpoints = true, log = "keep",
    config = extra, users = { { email = "matt@example.com", password = PW, confirmed = true } } }
  return app.sec, app.user, app.clock, app.maildir, app.logs
end

local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of

local function signed_in(sec, email, password, scheme)
  local c = api(sec, scheme)
  local res = c:call("POST", "/login", { email = email or "matt@example.com", password = password or PW })
  assert.equals(200, res.status)
  return c
end

local function token_of(link) return link:match("/([^/]+)$") end

-- What a response shows a client, the CSRF token aside.
local function shape(res)
  local names = {}
  for _, sc in ipairs(res.cookies) do names[#names + 1] = sc:match("^([^=]+)=") end
  table.sort(names)
  local body = (res.body or ""):gsub('"csrf_token":"[^"]*",?', ""):gsub(",}", "}")
  return ("%d %s %s"):format(res.status, table.concat(names, ","), body)
end

local function stored_password(sec, email)
  return sec.datastore:find_user{ email = email or "matt@example.com" }.password
end

local function json_req(t)
  local h = { accept = "application/json" }
  for k, v in pairs(t.headers or {}) do h[k] = v end
  t.headers = h
  return helpers.request(t)
end

local read = helpers.read


------------------------------------------------------------------------
-- 7.1 Passwords & hashing
------------------------------------------------------------------------

describe("catalogue 7.1 passwords", function()
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


------------------------------------------------------------------------
-- 7.2 Enumeration resistance
------------------------------------------------------------------------

describe("catalogue 7.2 enumeration", function()
  it("E-01: in generic mode unknown, wrong-password, disabled and unconfirmed logins get one answer: status, body, cookies", function()
    local sec = setup{ return_generic_responses = true, confirmable = true }
    sec.datastore:create_user{ email = "off@example.com", password = sec:hash_password(PW), active = false }
    sec.datastore:create_user{ email = "new@example.com", password = sec:hash_password(PW) }
    local seen
    for _, case in ipairs{ { "nobody@example.com", PW }, { "matt@example.com", "wrong" },
                           { "off@example.com", PW }, { "new@example.com", PW } } do
      local res, r = api(sec):call("POST", "/login", { email = case[1], password = case[2] })
      assert.same({ GENERIC }, r.errors)
      local s = shape(res)
      seen = seen or s
      assert.equals(seen, s, case[1])
    end
  end)

  it("E-02: every failed login costs exactly one hash, in both modes, whatever the reason", function()
    for _, generic in ipairs{ false, true } do
      local sec = setup{ return_generic_responses = generic, confirmable = true, login_lockout_threshold = 2 }
      local ds = sec.datastore
      ds:create_user{ email = "off@example.com", password = sec:hash_password(PW), active = false }
      ds:create_user{ email = "new@example.com", password = sec:hash_password(PW) }
      ds:create_user{ email = "nopw@example.com" }
      local locked = ds:create_user{ email = "locked@example.com", password = sec:hash_password(PW), confirmed_at = 1 }
      ds:record_failed_login(locked, 900); ds:record_failed_login(locked, 900)
      for _, case in ipairs{ { "nobody@example.com", PW }, { "matt@example.com", "wrong" }, { "off@example.com", PW },
                             { "new@example.com", PW }, { "nopw@example.com", PW }, { "locked@example.com", PW } } do
        local c = api(sec)
        local before = sec:hash_count()
        local res = c:call("POST", "/login", { email = case[1], password = case[2] })
        assert.equals(400, res.status, case[1])
        assert.equals(before + 1, sec:hash_count(), case[1] .. (generic and " (generic)" or ""))
      end
    end
  end)

  it("E-03: a user without a password or with an unusable one costs one hash and gets the generic failure", function()
    local sec, _, clock = setup{ return_generic_responses = true }
    local wrong = shape((api(sec):call("POST", "/login", { email = "matt@example.com", password = "not-it" })))
    local cases = { { "nopw@example.com", nil }, { "bang@example.com", "!" }, { "star@example.com", "*" },
                    { "fmt@example.com", "$argon2id$v=19$m=1024,t=1,p=1$broken" } }
    for _, case in ipairs(cases) do
      assert(sec.datastore:create_user{ email = case[1], password = case[2], confirmed_at = clock.now })
      local c = api(sec)
      local before = sec:hash_count()
      local res = c:call("POST", "/login", { email = case[1], password = PW })
      assert.equals(wrong, shape(res), case[1])
      assert.equals(before + 1, sec:hash_count(), case[1])
    end
  end)

  it("E-05: forgot-password answers known and unknown emails alike; a failing mailer is logged, never shown", function()
    local sec, _, _, _, logs = setup{ return_generic_responses = true,
                                      send_mail = function() error("smtp is down") end }
    local known = shape((api(sec):call("POST", "/reset", { email = "matt@example.com" })))
    local unknown = shape((api(sec):call("POST", "/reset", { email = "nobody@example.com" })))
    assert.equals(known, unknown)
    assert.matches("^200 ", known)
    assert.is_nil(known:find("smtp", 1, true))
    assert.matches("sending reset mail failed", table.concat(logs, "\n"), 1, true)
    -- per-account limits go in the throttle hook (answers 429 before any work)
    local seen = {}
    sec:policy("throttle", function(req, name)
      if name ~= "forgot" then return true end
      local ok, body = pcall(cjson.decode, req.body or "")
      local email = ok and type(body) == "table" and tostring(body.email):lower() or "?"
      seen[email] = (seen[email] or 0) + 1
      return seen[email] <= 3, "too many requests for this account"
    end)
    local c = api(sec)
    for i = 1, 4 do
      local res = c:call("POST", "/reset", { email = "matt@example.com" })
      assert.equals(i <= 3 and 200 or 429, res.status)
    end
  end)

  it("E-06: in generic mode registering a taken email answers as a new registration, creates nothing, costs one hash", function()
    local sec = setup{ return_generic_responses = true, confirmable = true }
    local not_registered = 0
    sec:connect("user_not_registered", function() not_registered = not_registered + 1 end)
    local fresh = shape((api(sec):call("POST", "/register", { email = "fresh@example.com",
      password = "battery staple", password_confirm = "battery staple" })))
    local c = api(sec)
    local before = sec:hash_count()
    local res = c:call("POST", "/register", { email = "MATT@example.com", password = "battery staple",
                                              password_confirm = "battery staple" })
    assert.equals(before + 1, sec:hash_count())
    assert.equals(fresh, shape(res))
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    assert.equals(2, (sec.datastore:counts()))
    assert.equals(1, not_registered)
    assert.is_true(sec:verify_password(PW, stored_password(sec))) -- the owner's password is untouched
  end)

  it("E-06: the owner of a taken email gets a mail saying someone tried to register", function()
    local sec, _, _, maildir = setup{ return_generic_responses = true, confirmable = true }
    api(sec):call("POST", "/register", { email = "matt@example.com", password = "battery staple",
                                         password_confirm = "battery staple" })
    local to_owner = 0
    for _, m in ipairs(mails(maildir)) do
      if m.to == "matt@example.com" then
        to_owner = to_owner + 1
        assert.equals("welcome_existing", m.kind)
        assert.matches("/reset$", m.link)
      end
    end
    assert.equals(1, to_owner)
  end)

  it("E-07: in generic mode confirmation and passwordless requests do not reveal whether an account exists", function()
    local sec = setup{ return_generic_responses = true, confirmable = true }
    sec.datastore:create_user{ email = "new@example.com", password = sec:hash_password(PW) }
    local answers = {}
    for _, email in ipairs{ "new@example.com", "matt@example.com", "nobody@example.com" } do
      answers[#answers + 1] = shape((api(sec):call("POST", "/confirm", { email = email })))
    end
    assert.equals(answers[1], answers[2]); assert.equals(answers[1], answers[3])
    local pl = setup{ return_generic_responses = true, passwordless = true }
    local a = shape((api(pl):call("POST", "/login", { email = "matt@example.com" })))
    local b = shape((api(pl):call("POST", "/login", { email = "nobody@example.com" })))
    assert.equals(a, b)
    assert.matches("^200 ", a)
  end)
end)


------------------------------------------------------------------------
-- 7.3 Tokens
------------------------------------------------------------------------

describe("catalogue 7.3 tokens", function()
  it("T-01: a mailed reset token names the user's uniquifier and its issue time, and round-trips", function()
    local sec, u, clock, maildir = setup{ confirmable = true, passwordless = false }
    api(sec):call("POST", "/reset", { email = "matt@example.com" })
    local tok = token_of(mails(maildir)[1].link)
    local expired, invalid, data, iat = sec:get_token_status(tok, "reset", 3600)
    assert.is_false(expired); assert.is_false(invalid)
    assert.equals(u.fs_uniquifier, data.u)
    assert.equals(clock.now, iat)
  end)

  it("T-04: truncated, empty, oversized, padded, trailing, non-canonical, standard-alphabet and dotted tokens are invalid", function()
    local sec = setup()
    local tok = sec:generate_token("reset", { u = "x" })
    local cases = { "", tok:sub(1, #tok - 1), tok:sub(1, 10), string.rep("A", 1024 * 1024), tok .. "=", tok .. ".",
                    tok .. "\n", tok .. "garbage", "QUJ", tok:gsub("%-", "+"):gsub("_", "/"), tok .. ".x.y",
                    "x." .. tok, tok:sub(1, 20) .. "." .. tok:sub(21) }
    -- a token whose last character carries spare bits: set one (non-canonical)
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    local odd = sec:generate_token("reset", { u = "xy" })
    if #odd % 4 ~= 0 then
      local i = alphabet:find(odd:sub(-1), 1, true)
      cases[#cases + 1] = odd:sub(1, -2) .. alphabet:sub(i + 1, i + 1)
    end
    for _, bad in ipairs(cases) do
      if bad ~= tok then
        local expired, invalid, data = sec:get_token_status(bad, "reset", 3600)
        assert.is_false(expired); assert.is_true(invalid, bad:sub(1, 80)); assert.is_nil(data)
      end
    end
    assert.is_false(select(2, sec:get_token_status(tok, "reset", 3600)))
  end)

  it("T-05: a token is valid at max_age - 1 and max_age, expired at max_age + 1 (itsdangerous' boundary)", function()
    local sec, _, clock = setup()
    local tok = sec:generate_token("reset", { u = "x" })
    local t0 = clock.now
    local function status(age)
      clock.now = t0 + age
      local expired, invalid = sec:get_token_status(tok, "reset", 600)
      return invalid and "invalid" or expired and "expired" or "valid"
    end
    assert.equals("valid", status(599))
    assert.equals("valid", status(600))
    assert.equals("expired", status(601))
    assert.equals("expired", status(86400 * 365))
    -- a token has no form without an issue time: a bare header is invalid
    assert.is_true(select(2, sec:get_token_status("AQ", "reset", 600)))
  end)

  it("T-07: a reset token at /confirm, a confirm token at /reset, a login token at /reset are invalid", function()
    local sec, _, _, maildir = setup{ confirmable = true, passwordless = false }
    sec.datastore:create_user{ email = "new@example.com", password = sec:hash_password(PW) }
    local c = api(sec)
    c:call("POST", "/reset", { email = "matt@example.com" })
    c:call("POST", "/confirm", { email = "new@example.com" })
    local reset, confirm
    for _, m in ipairs(mails(maildir)) do
      if m.kind == "reset" then reset = token_of(m.link) else confirm = token_of(m.link) end
    end
    local res = sec:handle(json_req{ path = "/confirm/" .. reset })
    assert.equals(400, res.status)
    assert.same({ "Invalid confirmation token." }, cjson.decode(res.body).response.errors)
    res = sec:handle(json_req{ path = "/reset/" .. confirm })
    assert.equals(400, res.status)
    assert.same({ "Invalid reset password token." }, cjson.decode(res.body).response.errors)
    local login = sec:generate_token("login", { u = sec.datastore:find_user{ email = "matt@example.com" }.fs_uniquifier })
    res = sec:handle(json_req{ path = "/reset/" .. login })
    assert.equals(400, res.status)
    assert.is_nil(sec.datastore:find_user{ email = "new@example.com" }.confirmed_at)
  end)

  it("T-08: a reset token dies with a password change", function()
    local sec, _, _, maildir = setup()
    local c = signed_in(sec)
    api(sec):call("POST", "/reset", { email = "matt@example.com" })
    local link = path_of(mails(maildir)[1].link)
    local res = c:call("POST", "/change", { password = PW, new_password = "changed-password",
                                            new_password_confirm = "changed-password" })
    assert.equals(200, res.status)
    local a = api(sec)
    local r
    res, r = a:call("POST", link, { password = "attacker-choice", password_confirm = "attacker-choice" })
    assert.equals(400, res.status)
    assert.same({ "Invalid reset password token." }, r.field_errors[""])
    assert.is_true(sec:verify_password("changed-password", stored_password(sec)))
  end)
end)


------------------------------------------------------------------------
-- 7.4 Sessions, cookies, CSRF
------------------------------------------------------------------------

describe("catalogue 7.4 sessions and CSRF", function()
  it("S-02: a password change replaces the session cookie; the old one is refused", function()
    local sec = setup()
    local c = signed_in(sec)
    local old = c.jar.session
    local res = c:call("POST", "/change", { password = PW, new_password = "changed-password",
                                            new_password_confirm = "changed-password" })
    assert.equals(200, res.status)
    assert.not_equals(old, c.jar.session)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ cookies = { session = old } }).is_authenticated)
  end)

  it("S-02: re-authentication (/verify) gives a new session; the cookie from before it is refused", function()
    local sec, _, clock = setup()
    local c = signed_in(sec)
    local old = c.jar.session
    clock.now = clock.now + 120
    local res = c:call("POST", "/verify", { password = PW })
    assert.equals(200, res.status)
    assert.not_equals(old, c.jar.session)
    assert.is_false(sec:current_user(helpers.request{ cookies = { session = old } }).is_authenticated)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("C-30: session and remember cookies are __Host-, Secure, HttpOnly, SameSite, Path=/, no Domain, small; no token in a Location", function()
    local sec, _, _, maildir = setup{ confirmable = true, passwordless = false }
    local c = api(sec, "https")
    local res = c:call("POST", "/login", { email = "matt@example.com", password = PW, remember = true })
    assert.equals(200, res.status)
    local all = {}
    for _, sc in ipairs(res.cookies) do all[#all + 1] = sc end
    for _, name in ipairs{ "__Host-session", "__Host-remember_token" } do
      local sc = helpers.set_cookie(res, name)
      assert.truthy(sc, name)
      for _, attr in ipairs{ "; Secure", "; HttpOnly", "; Path=/", "; SameSite=Lax" } do
        assert.truthy(sc:find(attr, 1, true), name .. attr)
      end
      assert.is_nil(sc:lower():find("domain=", 1, true))
    end
    -- every cookie fsec sets in a round of flows: small, HttpOnly, Secure over HTTPS
    local h = helpers.client("https")
    local html = function(t)
      local r = sec:handle(h:req(t)); h:take(r)
      for _, sc in ipairs(r.cookies) do all[#all + 1] = sc end
      return r
    end
    local page = html{ path = "/login" }
    local csrf = page.body:match('name="csrf_token" value="([^"]+)"')
    local r = html{ method = "POST", path = "/login", body = "email=matt%40example.com&password=" .. PW
                      .. "&csrf_token=" .. csrf, headers = { ["content-type"] = "application/x-www-form-urlencoded" } }
    assert.equals(302, r.status)
    local locations = { r.headers.Location }
    api(sec, "https"):call("POST", "/reset", { email = "matt@example.com" })
    local link = path_of(mails(maildir)[1].link)
    r = html{ path = link }
    locations[#locations + 1] = r.headers.Location
    r = html{ path = "/confirm/" .. token_of(mails(maildir)[1].link) }
    locations[#locations + 1] = r.headers.Location
    for _, sc in ipairs(all) do
      assert.is_true(#sc:match("^[^;]*") <= 4096, sc:sub(1, 40))
      if not sc:find("Max-Age=0", 1, true) then -- (deletions carry no value)
        assert.truthy(sc:find("; HttpOnly", 1, true), sc:sub(1, 40))
        assert.truthy(sc:find("; Secure", 1, true), sc:sub(1, 40))
      end
    end
    local tokens = { token_of(mails(maildir)[1].link), c.jar["__Host-session"], c.jar["__Host-remember_token"] }
    for _, loc in ipairs(locations) do
      for _, t in ipairs(tokens) do assert.is_nil(loc:find(t, 1, true), loc) end
      assert.is_nil(loc:find("auth_token", 1, true))
    end
  end)

  it("C-33: POSTs without a CSRF token, with another client's or with a stale one are refused and change nothing", function()
    local sec, _, clock, maildir = setup{ session_idle_timeout = 7200 }
    local c = signed_in(sec)
    local anon = api(sec)
    local other = api(sec)
    local stale_anon = anon.csrf
    local posts = {
      { anon, "/register", { email = "c33@example.com", password = "battery staple", password_confirm = "battery staple" } },
      { anon, "/reset", { email = "matt@example.com" } },
      { anon, "/login", { email = "matt@example.com", password = PW } },
      { c, "/change", { password = PW, new_password = "changed-password", new_password_confirm = "changed-password" } },
      { c, "/logout", nil },
    }
    local before = stored_password(sec)
    local function try(csrf)
      for _, p in ipairs(posts) do
        local cl = p[1]
        local keep = cl.csrf
        cl.csrf = csrf(cl)
        local res = cl:call("POST", p[2], p[3])
        cl.csrf = keep
        assert.equals(400, res.status, p[2])
      end
    end
    try(function() return nil end)                   -- missing
    try(function() return other.csrf end)            -- another client's
    clock.now = clock.now + 3601                     -- older than csrf_time_limit
    try(function(cl) return cl == anon and stale_anon or cl.csrf end)
    assert.equals(before, stored_password(sec))
    assert.is_nil(sec.datastore:find_user{ email = "c33@example.com" })
    assert.equals(0, #mails(maildir))
  end)

  it("C-34: cross-site POSTs (Origin: evil, Sec-Fetch-Site: cross-site) without the token are refused", function()
    local sec = setup()
    local c = signed_in(sec)
    local before = stored_password(sec)
    for _, h in ipairs{ { origin = "https://evil.example" }, { ["sec-fetch-site"] = "cross-site" } } do
      local keep = c.csrf
      c.csrf = nil
      local res = c:call("POST", "/change", { password = PW, new_password = "changed-password",
                                              new_password_confirm = "changed-password" }, nil, h)
      c.csrf = keep
      assert.equals(400, res.status)
      -- a form post, as a cross-site page would send it
      res = sec:handle(c:req{ method = "POST", path = "/logout", headers = {
        ["content-type"] = "application/x-www-form-urlencoded", origin = h.origin, ["sec-fetch-site"] = h["sec-fetch-site"] },
        body = "" })
      assert.equals(400, res.status)
    end
    assert.equals(before, stored_password(sec))
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("C-35: GET /logout, GET /change and GET /register change nothing; logout is POST-only by default", function()
    local sec = setup()
    local c = signed_in(sec)
    local before = stored_password(sec)
    local res = sec:handle(c:req{ path = "/logout" })
    assert.equals(405, res.status)
    res = sec:handle(c:req{ path = "/change", query = { password = PW, new_password = "changed-password",
                                                        new_password_confirm = "changed-password" } })
    assert.equals(200, res.status) -- the form
    res = sec:handle(helpers.request{ path = "/register", query = { email = "c35@example.com",
      password = "battery staple", password_confirm = "battery staple" } })
    assert.equals(200, res.status)
    assert.equals(before, stored_password(sec))
    assert.is_nil(sec.datastore:find_user{ email = "c35@example.com" })
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("C-36: GET /login (JSON) while signed in never returns an auth token, even with include_auth_token", function()
    local sec = setup()
    local c = signed_in(sec)
    local res, r = c:call("GET", "/login", nil, { include_auth_token = "" })
    assert.equals(200, res.status)
    assert.equals("table", type(r.user))
    assert.is_nil(r.user.authentication_token)
    assert.is_nil(res.body:find("authentication_token", 1, true))
  end)
end)


------------------------------------------------------------------------
-- 7.5 Identity input
------------------------------------------------------------------------

describe("catalogue 7.5 identity input", function()
  it("I-01: SQL-looking emails are refused or stored literally; counts move only by what was created, the file stays intact", function()
    local sec = setup()
    local users0 = sec.datastore:counts()
    local created = 0
    for _, email in ipairs{ "' OR '1'='1", "a'--@x.com", "\"; DROP TABLE user;--@x.com", "%27@x.com", "x\0@x.com",
                            "' OR 1=1 --@x.com" } do
      local res = api(sec):call("POST", "/register", { email = email, password = "battery staple",
                                                       password_confirm = "battery staple" })
      if res.status == 200 then
        created = created + 1
        assert.equals(email, sec.datastore:find_user{ email = email }.email) -- literal
      else
        assert.equals(400, res.status)
      end
      res = api(sec):call("POST", "/login", { email = email, password = "x' OR '1'='1" })
      assert.equals(400, res.status)
    end
    assert.equals(users0 + created, (sec.datastore:counts()))
    assert.truthy(sec.datastore:find_user{ email = "matt@example.com" })
    assert.is_true((sec.datastore:integrity_check()))
  end)

  it("I-02: a NUL byte in an identity is refused at login and registration", function()
    local sec = setup()
    for _, path in ipairs{ "/login", "/register" } do
      local res, r = api(sec):call("POST", path, { email = "matt\0@example.com", password = PW, password_confirm = PW })
      assert.equals(400, res.status); assert.is_table(r.field_errors.email)
    end
    local res = api(sec):call("POST", "/login", { email = "matt@example.com\0evil", password = PW })
    assert.equals(400, res.status)
  end)

  it("I-03: invalid UTF-8, overlong forms, lone surrogates and 10 KB identities are refused", function()
    local sec = setup()
    for _, email in ipairs{ "\255\254@x.com", "a\192\175@x.com", "a\237\160\128@x.com", string.rep("a", 10240) .. "@x.com",
                            "matt@example.com\255" } do
      for _, path in ipairs{ "/login", "/register" } do
        local res, r = api(sec):call("POST", path, { email = email, password = PW, password_confirm = PW })
        assert.equals(400, res.status, path)
        assert.is_table(r.field_errors.email, path)
      end
    end
    assert.equals(1, (sec.datastore:counts()))
  end)

  it("I-04: look-alike identities follow the documented mail-system folding; reset mail goes to the stored address", function()
    local sec, _, _, maildir = setup()
    local ds = sec.datastore
    ds:create_user{ email = "mike@example.com" }
    ds:create_user{ email = "kim@example.com", password = sec:hash_password(PW) }
    ds:create_user{ email = "strasse@example.com" }
    assert.is_nil(ds:find_user{ email = "m\u{131}ke@example.com" })          -- dotless i: another address
    assert.equals("kim@example.com", ds:find_user{ email = "\u{212A}im@example.com" }.email) -- Kelvin K lowercases to k
    -- the local part is NFC + simple lowercase: these are other mailboxes
    assert.is_nil(ds:find_user{ email = "\u{FF4D}ike@example.com" })         -- fullwidth m
    assert.is_nil(ds:find_user{ email = "stra\u{DF}e@example.com" })          -- ß is not ss
    -- the domain is IDNA-mapped: width, case and the ideographic full stop
    assert.equals("mike@example.com", ds:find_user{ email = "mike@\u{FF45}xample\u{3002}COM" }.email)
    api(sec):call("POST", "/reset", { email = "\u{212A}IM@example.com" })
    local m = mails(maildir)
    assert.equals(1, #m)
    assert.equals("kim@example.com", m[1].to)
    -- and registering the look-alike of a taken address is refused as taken
    local res = api(sec):call("POST", "/register", { email = "\u{212A}im@example.com", password = "battery staple",
                                                     password_confirm = "battery staple" })
    assert.equals(400, res.status)
  end)

  it("I-05: emails of the wrong JSON type are a 400 field error, never coerced, never matching", function()
    local sec = setup()
    local bodies = {
      '{"email":["matt@example.com"],"password":"' .. PW .. '"}',
      '{"email":{"a":"matt@example.com"},"password":"' .. PW .. '"}',
      '{"email":42,"password":"' .. PW .. '"}',
      '{"email":true,"password":"' .. PW .. '"}',
      '{"email":1e400,"password":"' .. PW .. '"}',
      '{"email":"matt@example.com","password":["' .. PW .. '"]}',
      '{"email":"matt@example.com","password":{"$ne":""}}',
    }
    for _, b in ipairs(bodies) do
      local c = api(sec)
      local before = sec:hash_count()
      local res = c:call("POST", "/login", b)
      assert.equals(400, res.status, b)
      assert.is_false(sec:current_user(c:req()).is_authenticated, b)
      assert.equals(before, sec:hash_count(), b)
    end
    local res, r = api(sec):call("POST", "/login", '{"email":null,"password":"' .. PW .. '"}')
    assert.equals(400, res.status); assert.same({ "Email not provided" }, r.field_errors.email)
    -- duplicate keys: the last one wins (cjson), and is checked like any other
    res = api(sec):call("POST", "/login", '{"email":"nobody@example.com","email":"matt@example.com","password":"x"}')
    assert.equals(400, res.status)
  end)

  it("I-06: a JSON depth bomb of 2000 levels is a clean 400", function()
    local sec = setup()
    for _, path in ipairs{ "/login", "/register", "/reset" } do
      local c = api(sec)
      local res = c:call("POST", path, string.rep("[", 2000) .. string.rep("]", 2000))
      assert.equals(400, res.status, path)
      res = c:call("POST", path, '{"email":' .. string.rep('{"a":', 2000) .. "1" .. string.rep("}", 2000) .. "}")
      assert.equals(400, res.status, path)
    end
  end)

  it("I-07: case variants of an email reach one account and one failure counter", function()
    local sec = setup{ login_lockout_threshold = 3 }
    for _, e in ipairs{ "MATT@example.com", "Matt@Example.COM", "matt@EXAMPLE.com" } do
      assert.equals(400, (api(sec):call("POST", "/login", { email = e, password = "wrong" })).status)
    end
    assert.equals(3, sec.datastore:find_user{ email = "matt@example.com" }.failed_login_count)
    local res = api(sec):call("POST", "/login", { email = "mAtT@example.com", password = PW })
    assert.equals(400, res.status) -- locked, whichever spelling
  end)
end)


------------------------------------------------------------------------
-- 7.6 Redirects
------------------------------------------------------------------------

describe("catalogue 7.6 redirects", function()
  it("R-01: a hostile next in the form or the query string never sends the browser off site", function()
    -- 40 logins from one address to one account: over the throttle, which is not what this checks
    local sec = setup{ throttle_client_limit = 0, throttle_identity_limit = 0 }
    local hostile = { "http://evil.com", "//evil.com", "///evil.com", "\\\\\\evil.com", "/\\evil.com", " //evil.com",
                      "\t//evil.com", "\25////evil.com", "https:evil.com", "http:/evil.com", "https://localhost\\@evil.com",
                      "https://localhost@evil.com", "https://evil.com#@localhost", "javascript:alert(1)",
                      "data:text/html,x", "/\t/evil.com", "/\r\nLocation: //evil.com" }
    local function login_with(nxt, in_query)
      local h = helpers.client()
      local page = sec:handle(h:req{ path = "/login" }); h:take(page)
      local csrf = page.body:match('name="csrf_token" value="([^"]+)"')
      local body = "email=matt%40example.com&password=" .. PW .. "&csrf_token=" .. csrf
      local query = {}
      if in_query then query.next = nxt else body = body .. "&next=" .. nxt:gsub("[^%w]", function(ch)
        return ("%%%02X"):format(ch:byte()) end) end
      return sec:handle(h:req{ method = "POST", path = "/login", query = query, body = body,
                               headers = { ["content-type"] = "application/x-www-form-urlencoded" } })
    end
    for _, nxt in ipairs(hostile) do
      for _, q in ipairs{ false, true } do
        local res = login_with(nxt, q)
        if res.status == 302 then
          assert.equals("/", res.headers.Location, nxt)
        else
          assert.equals(400, res.status, nxt)
          assert.is_nil(res.headers.Location)
        end
      end
    end
    assert.equals("/profile?x=1#a", login_with("/profile?x=1#a", true).headers.Location)
  end)
end)


------------------------------------------------------------------------
-- 7.7 Access control
------------------------------------------------------------------------

describe("catalogue 7.7 access control", function()
  local function with_roles(sec, email, roles)
    local u = assert(sec.datastore:create_user{ email = email, password = sec:hash_password(PW), roles = roles,
                                                confirmed_at = 1 })
    local c = helpers.client()
    local res = sec:new_response()
    assert(sec:login_user(c:req(), res, u))
    c:take(res)
    return u, c
  end

  it("A-01: no roles, a wrong role or an unknown permission is a 403", function()
    local sec = setup()
    sec.datastore:create_role{ name = "admin", permissions = { "user-read" } }
    sec.datastore:create_role{ name = "editor" }
    local _, none = with_roles(sec, "none@example.com", {})
    local _, ed = with_roles(sec, "ed@example.com", { "editor" })
    local _, adm = with_roles(sec, "adm@example.com", { "admin" })
    for _, t in ipairs{ { none, { roles_required = { "admin" } } }, { ed, { roles_required = { "admin" } } },
                        { none, { roles_accepted = { "admin", "editor" } } },
                        { adm, { permissions_required = { "no-such-permission" } } },
                        { adm, { permissions_accepted = { "no-such-permission" } } },
                        { adm, { roles_required = { "no-such-role" } } } } do
      local ok, status = sec:check(t[1]:req{ headers = { accept = "application/json" } }, t[2])
      assert.is_false(ok); assert.equals(403, status)
    end
  end)

  it("A-02: roles_required and roles_accepted follow their truth tables, empty lists included", function()
    local sec = setup()
    sec.datastore:create_role{ name = "a" }
    sec.datastore:create_role{ name = "b" }
    local sets = { {}, { "a" }, { "b" }, { "a", "b" } }
    local function has_all(have, want)
      for _, w in ipairs(want) do
        local found = false
        for _, h in ipairs(have) do if h == w then found = true end end
        if not found then return false end
      end
      return true
    end
    local function has_any(have, want)
      if #want == 0 then return true end
      for _, w in ipairs(want) do if has_all(have, { w }) then return true end end
      return false
    end
    for i, have in ipairs(sets) do
      local _, c = with_roles(sec, ("a2-%d@example.com"):format(i), have)
      for _, want in ipairs(sets) do
        local req = c:req()
        assert.equals(has_all(have, want), (sec:check(req, { roles_required = want })), "required")
        assert.equals(has_any(have, want), (sec:check(c:req(), { roles_accepted = want })), "accepted")
        assert.equals(has_all(have, want) and has_any(have, want),
                      (sec:check(c:req(), { roles_required = want, roles_accepted = want })), "both")
      end
    end
  end)

  it("A-03: removing a role or deactivating the user denies the next request of a live session", function()
    local sec = setup()
    sec.datastore:create_role{ name = "admin" }
    local u, c = with_roles(sec, "a3@example.com", { "admin" })
    assert.is_true((sec:check(c:req(), { auth = { "session" }, roles_required = { "admin" } })))
    sec.datastore:remove_role_from_user(u, "admin")
    local ok, status = sec:check(c:req{ headers = { accept = "application/json" } },
                                 { auth = { "session" }, roles_required = { "admin" } })
    assert.is_false(ok); assert.equals(403, status)
    sec.datastore:deactivate_user(u)
    ok, status = sec:check(c:req{ headers = { accept = "application/json" } }, { auth = { "session" } })
    assert.is_false(ok); assert.equals(401, status)
  end)

  it("A-04: deleting a user ends its sessions, remember cookie and auth tokens, and its reset and confirm links", function()
    local sec, _, _, maildir = setup{ confirmable = true }
    local u = sec.datastore:find_user{ email = "matt@example.com" }
    local c = api(sec)
    assert.equals(200, (c:call("POST", "/login", { email = "matt@example.com", password = PW, remember = true })).status)
    local remember = c.jar.remember_token
    local token = sec:get_auth_token(u)
    api(sec):call("POST", "/reset", { email = "matt@example.com" })
    local reset = token_of(mails(maildir)[1].link)
    local confirm = sec:generate_token("confirm", { u = u.fs_uniquifier, e = core.digest(u.email) })
    assert.is_true(sec.datastore:delete_user(u))
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ cookies = { remember_token = remember } }).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ headers = { ["authentication-token"] = token } }).is_authenticated)
    local res = sec:handle(json_req{ path = "/reset/" .. reset })
    assert.equals(400, res.status)
    res = sec:handle(json_req{ path = "/confirm/" .. confirm })
    assert.equals(400, res.status)
  end)

  it("A-05: a hook or store that raises inside a check denies (and is logged), never allows", function()
    local sec, _, _, _, logs = setup()
    local c = signed_in(sec)
    sec:policy("access", function() error("hook bug") end)
    local ok, status = sec:check(c:req{ headers = { accept = "application/json" } }, { auth = { "session" } })
    assert.is_false(ok); assert.equals(403, status)
    assert.matches("hook bug", table.concat(logs, "\n"), 1, true)
    -- a datastore that raises: the check raises too (the server answers 500), it never allows
    local ds = require("fsec.datastore.memory").new()
    local msec = fsec.new(helpers.config{ datastore = ds, log = function() end })
    local mu = assert(ds:create_user{ email = "m@example.com", password = msec:hash_password(PW) })
    local mc = helpers.client()
    local res = msec:new_response()
    assert(msec:login_user(mc:req(), res, mu)); mc:take(res)
    ds.find_user_by_session = function() error("disk on fire") end
    local pok, a = pcall(msec.check, msec, mc:req(), { auth = { "session" } })
    assert.is_true(not pok or a == false)
    -- a store that cannot answer: 503
    ds.find_user_by_session = function() return nil, "EBUSY: store busy", "EBUSY" end
    local ok2, st = msec:check(mc:req(), { auth = { "session" } })
    assert.is_false(ok2); assert.equals(503, st)
  end)

  it("A-06: /verify with another user's password is refused", function()
    local sec = setup()
    sec.datastore:create_user{ email = "other@example.com", password = sec:hash_password("others-password"),
                               confirmed_at = 1 }
    local c = signed_in(sec)
    local res, r = c:call("POST", "/verify", { password = "others-password" })
    assert.equals(400, res.status)
    assert.same({ "Invalid password" }, r.field_errors.password)
    res = c:call("POST", "/verify", { email = "other@example.com", password = "others-password" })
    assert.equals(400, res.status)
    assert.equals(200, (c:call("POST", "/verify", { password = PW })).status)
  end)
end)


------------------------------------------------------------------------
-- 7.8 Brute force & lockout
------------------------------------------------------------------------

describe("catalogue 7.8 lockout", function()
  it("L-02: after 50 concurrent wrong guesses from 5 processes the lock holds against the right password", function()
    local db = helpers.tmpfile("l02.db")
    local sec = helpers.new{ database = db, login_lockout_threshold = 5, csrf_enabled = false, log = function() end }
    local victim = assert(sec.datastore:create_user{ email = "victim@example.com",
                                                     password = sec:hash_password("right-one") })
    local env = ("LUA_PATH=%q LUA_CPATH=%q "):format(package.path, package.cpath)
    local cmd = {}
    for i = 1, 5 do cmd[i] = env .. LUA .. " spec/tools/guess.lua " .. db .. " 10 &" end
    assert.is_true(helpers.sh("(" .. table.concat(cmd, " ") .. " wait) 2>&1"))
    assert.equals(50, sec.datastore:find_user{ id = victim.id }.failed_login_count)
    local res = sec:handle(json_req{ method = "POST", path = "/login",
      headers = { ["content-type"] = "application/json" },
      body = cjson.encode{ email = "victim@example.com", password = "right-one" } })
    assert.equals(400, res.status)
    assert.is_nil(helpers.set_cookie(res, "session"))
  end)

  it("L-03: 101 failures spread over an hour get at most 100 real password checks", function()
    local sec, _, clock = setup()
    local evaluated = 0
    sec:connect("user_failed_authn", function() evaluated = evaluated + 1 end)
    for _ = 1, 101 do
      api(sec):call("POST", "/login", { email = "matt@example.com", password = "wrong" })
      clock.now = clock.now + 35 -- 101 x 35 s = 59 minutes
    end
    assert.is_true(evaluated <= 100, evaluated)
    assert.is_true(evaluated >= 10) -- the threshold itself is reached
  end)

  it("L-04: a locked account can still reset its password, which unlocks it", function()
    local sec, _, _, maildir = setup{ login_lockout_threshold = 3 }
    for _ = 1, 3 do api(sec):call("POST", "/login", { email = "matt@example.com", password = "wrong" }) end
    assert.equals(400, (api(sec):call("POST", "/login", { email = "matt@example.com", password = PW })).status)
    local c = api(sec)
    assert.equals(200, (c:call("POST", "/reset", { email = "matt@example.com" })).status)
    local link = path_of(mails(maildir)[1].link)
    assert.equals(200, (c:call("POST", link, { password = "a-new-password", password_confirm = "a-new-password" })).status)
    assert.equals(200, (api(sec):call("POST", "/login", { email = "matt@example.com", password = "a-new-password" })).status)
  end)

  it("L-05: a disabled account is refused with a valid session, remember cookie, auth token, passwordless link or Basic", function()
    local sec, u, _, maildir = setup{ passwordless = true, auth_mechanisms = { "session", "token", "basic" } }
    local c = helpers.client()
    local res = sec:new_response()
    assert(sec:login_user(c:req(), res, u, { remember = true })); c:take(res)
    local token = sec:get_auth_token(u)
    api(sec):call("POST", "/login", { email = "matt@example.com" })
    local link = path_of(mails(maildir)[1].link)
    sec.datastore:deactivate_user(u)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ cookies = { remember_token = c.jar.remember_token } }).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ headers = { ["authentication-token"] = token } }).is_authenticated)
    assert.is_false(sec:current_user(helpers.request{ headers = {
      authorization = "Basic " .. core.base64_encode("matt@example.com:" .. PW) } }).is_authenticated)
    local h = helpers.client()
    res = sec:handle(h:req{ path = link }); h:take(res)
    assert.is_false(sec:current_user(h:req()).is_authenticated)
  end)

  it("L-05: failed HTTP Basic attempts count toward the lockout, like failed logins", function()
    local sec = setup{ login_lockout_threshold = 3, auth_mechanisms = { "session", "token", "basic" } }
    local function basic(pw)
      return sec:check(helpers.request{ headers = { accept = "application/json",
        authorization = "Basic " .. core.base64_encode("matt@example.com:" .. pw) } }, { auth = { "basic" } })
    end
    assert.is_true((basic(PW)))
    for _ = 1, 3 do assert.is_false((basic("wrong"))) end
    assert.is_false((basic(PW))) -- locked now, the right password included
    local res = api(sec):call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(400, res.status)
  end)

  it("E-03: over HTTP Basic an unusable stored hash costs the same one hash", function()
    local sec, _, clock = setup{ auth_mechanisms = { "session", "token", "basic" } }
    for _, case in ipairs{ { "bang@example.com", "!" }, { "fmt@example.com", "$argon2id$v=19$m=1024,t=1,p=1$broken" },
                           { "matt@example.com" }, { "nobody@example.com" } } do
      if case[2] then assert(sec.datastore:create_user{ email = case[1], password = case[2], confirmed_at = clock.now }) end
      local before = sec:hash_count()
      local ok = sec:check(helpers.request{ headers = { accept = "application/json",
        authorization = "Basic " .. core.base64_encode(case[1] .. ":not-the-password") } }, { auth = { "basic" } })
      assert.is_false(ok)
      assert.equals(before + 1, sec:hash_count(), case[1])
    end
  end)

  it("L-05: a locked account is refused over HTTP Basic with the right password", function()
    local sec = setup{ login_lockout_threshold = 3, auth_mechanisms = { "session", "token", "basic" } }
    for _ = 1, 3 do api(sec):call("POST", "/login", { email = "matt@example.com", password = "wrong" }) end
    local basic = helpers.request{ headers = { accept = "application/json",
      authorization = "Basic " .. core.base64_encode("matt@example.com:" .. PW) } }
    local ok = sec:check(basic, { auth = { "basic" } })
    assert.is_false(ok)
  end)
end)


------------------------------------------------------------------------
-- 7.9 Faults; K- rows
------------------------------------------------------------------------

describe("catalogue 7.9 faults", function()
  it("F-04: a read-only database file fails loudly at start, never silently read-only or in memory", function()
    local db = helpers.tmpfile("ro.db")
    local sec = helpers.new{ database = db }
    sec:close()
    assert.is_true(helpers.sh("chmod 444 " .. db .. " && chmod a+rx " .. helpers.tmpdir()))
    local lib = helpers.tmpdir() .. "/lib-f04"
    local so = package.searchpath("fsec.core", package.cpath)
    assert.is_true(helpers.sh(("mkdir -p %s/fsec && cp -r lua/. %s/ && cp %s %s/fsec/core.so && chmod -R a+rX %s")
      :format(lib, lib, so, lib, lib)))
    local script = ("package.path=%q; package.cpath=%q; local ok, sec = pcall(require('fsec').new, "
      .. "{ secret_key = string.rep('k', 32), password_salt = 's', database = %q }); "
      .. "if not ok then io.write('refused: ', sec) return end "
      .. "local u, err = sec.datastore:create_user{ email = 'w@x.org' } "
      .. "io.write(u and 'wrote' or ('opened, write failed: ' .. tostring(err)))")
      :format(lib .. "/?.lua;" .. package.path, lib .. "/?.so;" .. package.cpath, db)
    local prefix = helpers.sh("[ $(id -u) -eq 0 ]") and "setpriv --reuid=nobody --regid=nogroup --clear-groups " or ""
    local p = io.popen(prefix .. LUA .. " -e " .. ("%q"):format(script) .. " 2>&1")
    local out = p:read("*a")
    p:close()
    assert.matches("^refused: fsec.new: database: E%u+:", out)
  end)

  it("K-03: fsec serves no management endpoint; the example app listens on loopback only", function()
    local sec = setup{ url_prefix = "" }
    for _, path in ipairs{ "/admin", "/users", "/roles", "/api/users", "/fsec", "/manage", "/metrics" } do
      assert.is_nil(sec:handle(helpers.request{ path = path }), path)
    end
    local conf = read("examples/openresty/nginx.conf.in")
    for listen in conf:gmatch("listen%s+([^;]+);") do
      assert.matches("^127%.0%.0%.1:", listen)
    end
  end)
end)


------------------------------------------------------------------------
-- 7.10 Signals
------------------------------------------------------------------------

describe("catalogue 7.10 signals", function()
  it("G-01: each flow sends its signal once, with the user, and no password or token anywhere in signals or logs", function()
    local sec, _, _, maildir, logs = setup{ confirmable = true, trackable = true, login_without_confirmation = false }
    local got = {}
    local secrets = { PW, "battery staple", "a-new-password", "changed-password", "wrong-guess" }
    local function scan(v, depth)
      if depth > 6 then return end
      if type(v) == "string" then
        for _, s in ipairs(secrets) do assert.is_nil(v:find(s, 1, true), "secret in a signal: " .. s) end
        assert.is_nil(v:find("^%$argon2"), "hash in a signal")
      elseif type(v) == "table" then
        for k, x in pairs(v) do scan(k, depth + 1); scan(x, depth + 1) end
      end
    end
    for name in pairs(require("fsec.signals").NAMES) do
      sec:connect(name, function(ev)
        got[name] = (got[name] or 0) + 1
        scan(ev, 0)
        if ev.user then assert.is_not_nil(ev.user.id, name) end
      end)
    end
    local function count(name) return got[name] or 0 end
    local c = api(sec)
    c:call("POST", "/login", { email = "matt@example.com", password = "wrong-guess" })
    assert.equals(1, count("user_failed_authn"))
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(1, count("user_authenticated"))
    local u = sec.datastore:find_user{ email = "matt@example.com" }
    assert.equals(1, u.login_count); assert.equals("192.0.2.10", u.current_login_ip)
    assert.is_number(u.current_login_at)
    c:call("POST", "/change", { password = PW, new_password = "changed-password", new_password_confirm = "changed-password" })
    assert.equals(1, count("password_changed"))
    -- Flask-Security signs the user in again on a change (authn_via "change")
    assert.equals(2, count("user_authenticated"))
    c:call("POST", "/logout")
    local r = api(sec)
    r:call("POST", "/register", { email = "g01@example.com", password = "battery staple", password_confirm = "battery staple" })
    assert.equals(1, count("user_registered"))
    local link
    for _, m in ipairs(mails(maildir)) do if m.to == "g01@example.com" then link = path_of(m.link) end end
    helpers.follow(sec, link)
    assert.equals(1, count("user_confirmed"))
    r:call("POST", "/reset", { email = "g01@example.com" })
    assert.equals(1, count("reset_password_instructions_sent"))
    for _, m in ipairs(mails(maildir)) do if m.kind == "reset" then link = path_of(m.link) end end
    r:call("POST", link, { password = "a-new-password", password_confirm = "a-new-password" })
    assert.equals(1, count("password_reset"))
    assert.equals(2, count("user_authenticated")) -- nothing else signed in
    scan(logs, 0)
  end)
end)


------------------------------------------------------------------------
-- A-07: path rules in the real nginx (LuaJIT pass, nginx installed)
------------------------------------------------------------------------

local example = require "spec.tools.example_app"

describe("catalogue 7.7 path rules in nginx", function()
  it("A-07: every spelling of /admin is protected in the example app", function()
    if not example.enabled then pending("A-07 needs nginx and the LuaJIT pass"); return end
    example.with_app({}, function(app)
      for _, path in ipairs{ "/admin", "/admin/", "/ADMIN", "//admin", "/x/../admin", "/%61dmin", "/admin%2f",
                             "/admin;x", "/admin?x", "/./admin", "/admin/.", "/%2e/admin", "/adm%69n/" } do
        local r = example.request(app, { path = path, curl = "--path-as-is" })
        local status, body = r.status, r.body
        assert.is_nil(body:find("Only administrators", 1, true), path)
        assert.is_true(status == 302 or status == 401 or status == 403 or status == 404 or status == 400,
                       path .. " -> " .. tostring(status))
      end
    end)
  end)
end)
