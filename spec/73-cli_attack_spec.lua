-- Issue 19 item 10: the `fsec` command and the import on hostile input.
-- The command runs for real (bin/fsec under Lua 5.4, a subprocess) on
-- crafted SQLite files and hostile names; the login budget is attacked
-- through the real nginx example (LuaJIT pass).
local helpers = require "spec.helpers"
local cjson = require "cjson"
local example = require "spec.tools.example_app"

local cli_tool = require "spec.tools.fsec_cli"

local BUILD = os.getenv("FSEC_BUILD_DIR") or "build"
local KEY = cli_tool.KEY
local ESC, BEL, CSI = "\27", "\7", "\194\155" -- CSI: U+009B, a C1 control, as UTF-8

local q = cli_tool.q

-- Run bin/fsec (Lua 5.4, from either runtime) on db with the argument
-- string args (already quoted): rc, everything it printed, seconds.
-- A run past `limit` seconds is killed (rc 124).
local fsec = cli_tool.run

-- SQL on a file, with the sqlite3 shell (char(N) makes any code point).
local function sql(db, text)
  local f = helpers.tmpfile("x.sql")
  local h = assert(io.open(f, "w"))
  h:write(text)
  h:close()
  assert(helpers.sh(("sqlite3 %s < %s"):format(q(db), f)), "sqlite3 failed on " .. text)
end

-- The tables of a Flask-Security database, as its models make them.
local FS_SCHEMA = [[
CREATE TABLE role (id INTEGER PRIMARY KEY, name VARCHAR(80) UNIQUE, description VARCHAR(255), permissions TEXT);
CREATE TABLE user (id INTEGER PRIMARY KEY, email VARCHAR(255) UNIQUE, username VARCHAR(255),
  password VARCHAR(255), active BOOLEAN, fs_uniquifier VARCHAR(64), confirmed_at DATETIME,
  last_login_at DATETIME, current_login_at DATETIME, last_login_ip VARCHAR(64),
  current_login_ip VARCHAR(64), login_count INTEGER);
CREATE TABLE roles_users (user_id INTEGER, role_id INTEGER);
]]

local function source(name, extra)
  local path = helpers.tmpfile(name)
  sql(path, FS_SCHEMA .. (extra or ""))
  return path
end

local assert_terminal_safe = helpers.assert_terminal_safe

-- Well-formed hashes with costly parameters (they match nothing): bcrypt
-- cost 16 and pbkdf2-sha512 at 2,000,000 rounds, both within the caps
-- (3.5 s and 1 s a verify here), and Flask-Security's own argon2 default.
local CRYPT53 = "abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234"
local BCRYPT16 = "$2b$16$" .. CRYPT53
local PBKDF2_2M = "$pbkdf2-sha512$2000000$c2FsdA$" .. ("A"):rep(86)

local cli = not jit and describe or function(name) pending(name .. " (Lua 5.4 pass)") end

cli("issue 19 item 10: the fsec command on hostile input", function()
  it("prints no raw control character of a hostile name, role, permission, email or file name", function()
    local db = helpers.tmpfile("hostile.db")
    assert.equals(0, (fsec(db, "roles create editor --permissions post-read")))
    local rc, out = fsec(db, "users create victim@example.com --password-stdin --role editor",
                         { stdin = "victim-password" })
    assert.equals(0, rc, out)
    local runs = {
      -- errors that echo what was typed
      { "roles add victim@example.com " .. q(ESC .. "[31mghost"), 1, "role '\\x1b[31mghost' does not exist" },
      { "roles remove victim@example.com " .. q("gh" .. CSI .. "ost"), 1, "role 'gh\\u009bost' does not exist" },
      { "roles add-permissions " .. q(ESC .. "]0;pwned" .. BEL) .. " x", 1, "no role \\x1b]0;pwned\\x07" },
      { "users " .. q("frob" .. ESC .. "[2J"), 2, "frob\\x1b[2J" },
      -- a permission the store takes (C1 is text there), echoed back
      { "roles add-permissions editor " .. q(CSI .. "2J"), 0, "editor: post-read,\\u009b2J" },
    }
    for _, r in ipairs(runs) do
      rc, out = fsec(db, r[1])
      assert.equals(r[2], rc, r[1] .. ": " .. out)
      assert_terminal_safe(out, r[1])
      assert.matches(r[3], out, 1, true)
    end
    -- a database file from elsewhere: rows no fsec command would write
    sql(db, "UPDATE roles SET name = 'ed' || char(27) || ']0;pwned' || char(7) || char(155) || CAST(x'9b' AS TEXT)"
      .. " || char(8238) WHERE name = 'editor';")
    rc, out = fsec(db, "users list")
    assert.equals(0, rc, out)
    assert_terminal_safe(out, "users list")
    assert.matches("victim@example.com\tactive\tunconfirmed\ted\\x1b]0;pwned\\x07\\u009b\\x9b\\u202e", out, 1, true)
    rc, out = fsec(db, "users list --json")
    assert.equals(0, rc, out)
    assert_terminal_safe(out, "users list --json")
    -- still JSON, with the same text (the stray byte reads as U+FFFD)
    assert.same({ "ed\27]0;pwned\7\194\155\239\191\189\226\128\174" }, cjson.decode(out)[1].roles)

    -- the import: a source named with an escape sequence, a user whose
    -- email is one, a role name echoed in an error
    local src = helpers.tmpdir() .. "/legacy" .. ESC .. "]0;pwned" .. BEL .. ".db"
    sql(src, FS_SCHEMA .. "INSERT INTO user (id, email, active, fs_uniquifier) VALUES"
      .. " (1, 'a@example.com', 1, 'uq1');")
    rc, out = fsec(helpers.tmpfile("into.db"), "import flask-security --quiet " .. q(src))
    assert.equals(0, rc, out)
    assert_terminal_safe(out, "import summary")
    assert.matches("from " .. helpers.tmpdir() .. "/legacy\\x1b]0;pwned\\x07.db", out, 1, true)
    for _, bad in ipairs{ "'x' || char(27) || '[2J@example.com'", "'b' || char(155) || '@example.com'" } do
      local s2 = source("badmail.db", "INSERT INTO user (id, email, active, fs_uniquifier) VALUES (1, "
        .. bad .. ", 1, 'uq1');")
      rc, out = fsec(helpers.tmpfile("into.db"), "import flask-security --quiet " .. q(s2))
      assert.equals(1, rc, out)
      assert_terminal_safe(out, "import error")
      assert.matches("^fsec: user [xb]\\[xu]", out)
    end
  end)

  it("refuses C1 controls in role names, from the command and from an import, writing nothing", function()
    local db = helpers.tmpfile("c1.db")
    for _, name in ipairs{ "adm" .. CSI .. "in", "a\194\133b", "x\194\128" } do
      local rc, out = fsec(db, "roles create " .. q(name))
      assert.equals(1, rc, out)
      assert.equals("fsec: role name has a control character or comma\n", out)
    end
    local src = source("c1src.db", "INSERT INTO role (id, name, permissions) VALUES (1, 'ok', 'p'),"
      .. " (2, 'adm' || char(155) || 'in', 'user-write');"
      .. "INSERT INTO user (id, email, active, fs_uniquifier) VALUES (1, 'a@example.com', 1, 'uq1');")
    local rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(1, rc, out)
    assert.matches("role 'adm\\u009bin': EINVAL: role name has a control character or comma", out, 1, true)
    rc, out = fsec(db, "db check --json")
    assert.equals(0, rc, out)
    assert.same({ 0, 0 }, { cjson.decode(out).users, cjson.decode(out).roles })
    -- the datastore API in memory says the same
    local mem = require("fsec.datastore.memory").new()
    local r, err, code = mem:create_role{ name = "adm" .. CSI .. "in" }
    assert.is_nil(r)
    assert.equals("EINVAL", code, err)
  end)

  it("refuses an import that would add permissions to an existing role unless --merge-roles, naming them", function()
    local db = helpers.tmpfile("merge.db")
    assert.equals(0, (fsec(db, "roles create admin --permissions user-read")))
    assert.equals(0, (fsec(db, "roles create editor --permissions post-write")))
    local src = source("merge-src.db", [[
INSERT INTO role (id, name, permissions) VALUES (1, 'admin', 'user-read, user-write,user-delete'),
  (2, 'editor', 'post-write'), (3, 'viewer', 'post-read');
INSERT INTO user (id, email, active, fs_uniquifier) VALUES (1, 'mallory@example.com', 1, 'uq1');
INSERT INTO roles_users VALUES (1, 3);
]])
    local rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(1, rc, out)
    assert.equals("fsec: the import would add permissions to existing roles: admin (user-write,user-delete);"
      .. " nothing imported (check them, then run again with --merge-roles)\n", out)
    local function perms(name)
      local sec = helpers.new{ database = db }
      local r = sec.datastore:find_role(name)
      sec:close()
      return r and table.concat(r.permissions, ",")
    end
    local _, check = fsec(db, "db check --json")
    assert.same({ 0, 2 }, { cjson.decode(check).users, cjson.decode(check).roles }) -- nothing written
    assert.equals("user-read", perms("admin"))

    rc, out = fsec(db, "import flask-security --quiet --merge-roles " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("added permissions to the existing role admin (user-write,user-delete)", out, 1, true)
    assert.equals("user-read,user-write,user-delete", perms("admin"))
    assert.equals("post-read", perms("viewer"))
    -- a second run adds nothing: no flag needed
    rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("imported 0 users (1 already present) and 0 roles", out, 1, true)
  end)

  -- attack review (W2): a source linking its users to a role named like an
  -- existing one put them in this site's role (admin) without a word
  it("refuses an import whose new users would join an existing role unless --merge-roles, naming it", function()
    local db = helpers.tmpfile("join.db")
    assert.equals(0, (fsec(db, "roles create admin --permissions user-admin")))
    local src = source("join-src.db", [[
INSERT INTO role (id, name, permissions) VALUES (1, 'admin', ''), (2, 'viewer', '');
INSERT INTO user (id, email, active, fs_uniquifier) VALUES (1, 'mallory@example.com', 1, 'uq-m'),
  (2, 'bob@example.com', 1, 'uq-b');
INSERT INTO roles_users VALUES (1, 1), (2, 2);
]])
    local rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(1, rc, out)
    assert.equals("fsec: the import would add members to existing roles: admin (1 new members);"
      .. " nothing imported (check them, then run again with --merge-roles)\n", out)
    local _, check = fsec(db, "db check --json")
    assert.equals(0, cjson.decode(check).users) -- nothing written
    rc, out = fsec(db, "import flask-security --quiet --merge-roles " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("added members to the existing role admin (1 new members)", out, 1, true)
    local sec = helpers.new{ database = db }
    assert.is_true(sec.datastore:find_user{ email = "mallory@example.com" }:has_role("admin"))
    sec:close()
    -- a second run makes no one: no flag needed
    rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(0, rc, out)
  end)

  it("reads real tables only: a looping view, a virtual table, a generated column end in seconds with a clear error", function()
    local looping = [[
CREATE VIEW user AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
  SELECT i AS id, 'u' || i || '@example.com' AS email, NULL AS username, NULL AS password, 1 AS active,
         'uq' || i AS fs_uniquifier FROM n WHERE i < 0;
]]
    local cases = {
      { "view.db", FS_SCHEMA:gsub("CREATE TABLE user %b()", "") .. looping, "user is a view, not a table" },
      { "vtab.db", FS_SCHEMA:gsub("CREATE TABLE role %b()", "CREATE VIRTUAL TABLE role USING fts5(name, description,"
        .. " permissions)"), "role is a virtual table, not a table" },
      { "gen.db", FS_SCHEMA:gsub("login_count INTEGER%)", "login_count INTEGER, burn AS (length(hex(zeroblob(50000000)))))")
        .. "INSERT INTO user (id, email, active, fs_uniquifier) VALUES (1, 'a@example.com', 1, 'uq1');",
        "column burn of user is generated" },
    }
    for _, c in ipairs(cases) do
      local path = helpers.tmpfile(c[1])
      sql(path, c[2])
      local db = helpers.tmpfile("into.db")
      local rc, out, secs = fsec(db, "import flask-security --quiet " .. q(path), { limit = 30 })
      assert.equals(1, rc, c[1] .. ": " .. out)
      assert.matches(c[3], out, 1, true)
      assert.is_true(secs < 10, c[1] .. " took " .. secs .. " s")
      local _, check = fsec(db, "db check --json")
      assert.equals(0, cjson.decode(check).users)
    end
  end)

  -- attack review (W2): a des_crypt hash (Flask's passlib knows it; fsec
  -- does not) was kept, and with "plaintext" among fsec's schemes the hash
  -- itself then signed the user in
  it("imports a stored value that is no hash fsec can check without a password, naming the user", function()
    local DES = "LmG9d0sQ9fkK2" -- des_crypt of "secretpw" (passlib)
    local src = source("unknown-hash.db", ([[
INSERT INTO user (id, email, password, active, fs_uniquifier) VALUES
  (1, 'legacy@example.com', '%s', 1, 'uq1'), (2, 'ldap@example.com', '{SSHA}c2FsdHNhbHQ=', 1, 'uq2'),
  (3, 'cheap@example.com', '$2b$05$Jj6yD2x/1.couOZYgNnlRu6NM4YMbW90tutbRlUhozjn21RWOC9Ki', 1, 'uq3');
]]):format(DES))
    local db = helpers.tmpfile("unknown-into.db")
    local rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("2 imported users had a stored value that is not a password hash fsec can check", out, 1, true)
    assert.matches("  legacy@example.com\n", out, 1, true)
    local sec = helpers.new{ database = db, password_salt = "salty", password_schemes = { "argon2", "bcrypt", "plaintext" } }
    assert.is_nil(sec.datastore:find_user{ email = "legacy@example.com" }.password)
    assert.is_nil(sec.datastore:find_user{ email = "ldap@example.com" }.password)
    assert.matches("^%$2b%$05%$", sec.datastore:find_user{ email = "cheap@example.com" }.password)
    -- and the hash is no password, even with plaintext on
    local res = helpers.api(sec):call("POST", "/login", { email = "legacy@example.com", password = DES })
    assert.equals(400, res.status)
    sec:close()
  end)

  -- attack review (W2): a role name stored as a number stopped the import
  -- with an internal error (find_role's argument)
  it("refuses a role whose name is not text with a clear error, writing nothing", function()
    -- (columns without a type keep what they are given: 42 stays a number)
    local src = helpers.tmpfile("numrole.db")
    sql(src, [[
CREATE TABLE role (id INTEGER PRIMARY KEY, name, description, permissions);
CREATE TABLE user (id INTEGER PRIMARY KEY, email, username, password, active, fs_uniquifier, confirmed_at);
CREATE TABLE roles_users (user_id, role_id);
INSERT INTO role VALUES (1, 42, '', '');
INSERT INTO user VALUES (1, 'n@example.com', NULL, '', 1, 'uq1', NULL);
INSERT INTO roles_users VALUES (1, 1);
]])
    local db = helpers.tmpfile("numrole-into.db")
    local rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(1, rc, out)
    assert.matches("role id 1: its name is not text; nothing imported", out, 1, true)
    assert.is_nil(out:find("bad argument", 1, true))
  end)

  -- attack review (W2): the import read every column (SELECT *) and held
  -- every row: a rewritten schema gave an unused column a 1 MB DEFAULT,
  -- and a 2 MB file took 2 GB
  it("reads only the user columns it uses, and refuses a value over 64 KiB before reading rows", function()
    local big = ("x"):rep(70000)
    local src = source("wide.db", ([[
ALTER TABLE user ADD COLUMN notes TEXT;
INSERT INTO user (id, email, active, fs_uniquifier, notes) VALUES (1, 'wide@example.com', 1, 'uq1', '%s');
]]):format(big))
    local rc, out = fsec(helpers.tmpfile("wide-into.db"), "import flask-security --quiet " .. q(src))
    assert.equals(0, rc, out) -- notes is never read
    src = source("long.db", ([[
INSERT INTO user (id, email, active, fs_uniquifier) VALUES (1, 'long@example.com', 1, '%s');
]]):format(big))
    local db = helpers.tmpfile("long-into.db")
    rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(1, rc, out)
    assert.matches("a value of the user table's fs_uniquifier is 70000 bytes, over 65536: not a Flask-Security user's;"
                   .. " nothing imported", out, 1, true)
    local _, check = fsec(db, "db check --json")
    assert.equals(0, cjson.decode(check).users)
  end)

  it("imports users whose stored hash costs more than the verify budget without a password, naming them", function()
    local FS_ARGON2 = "$argon2id$v=19$m=102400,t=10,p=8$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA"
    local BCRYPT17 = "$2b$17$" .. CRYPT53 -- over the bcrypt cap as well
    local src = source("costly.db", ([[
INSERT INTO user (id, email, password, active, fs_uniquifier) VALUES
  (1, 'slow-bcrypt@example.com', '%s', 1, 'uq1'), (2, 'slow-pbkdf2@example.com', '%s', 1, 'uq2'),
  (3, 'over-cap@example.com', '%s', 1, 'uq3'), (4, 'flask-argon2@example.com', '%s', 1, 'uq4'),
  (5, 'cheap@example.com', '$2b$05$Jj6yD2x/1.couOZYgNnlRu6NM4YMbW90tutbRlUhozjn21RWOC9Ki', 1, 'uq5');
]]):format(BCRYPT16, PBKDF2_2M, BCRYPT17, FS_ARGON2))
    local function stored(db, email)
      local sec = helpers.new{ database = db, password_salt = "salty" } -- the salt of fsec(...)
      local u = sec.datastore:find_user{ email = email }
      sec:close()
      return u.password
    end
    local db = helpers.tmpfile("costly-into.db")
    local rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("3 imported users had stored hashes that cost too much to verify: imported without a password", out, 1, true)
    assert.matches("slow-bcrypt@example.com: stored bcrypt hash would cost 20.0 times a new hash, above the verify budget of 5",
                   out, 1, true)
    assert.matches("slow-pbkdf2@example.com: stored pbkdf2-sha512 hash would cost 8.8 times", out, 1, true)
    assert.matches("over-cap@example.com: stored bcrypt cost 17 is above cap", out, 1, true)
    for _, who in ipairs{ "slow-bcrypt", "slow-pbkdf2", "over-cap" } do
      assert.is_nil(stored(db, who .. "@example.com"), who)
    end
    assert.equals(FS_ARGON2, stored(db, "flask-argon2@example.com")) -- Flask-Security's default: 4.06
    assert.matches("^%$2b%$05%$", stored(db, "cheap@example.com"))

    -- --keep-costly-hashes keeps them, and says they cannot sign in yet
    db = helpers.tmpfile("costly-kept.db")
    rc, out = fsec(db, "import flask-security --quiet --keep-costly-hashes " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("3 imported users keep stored hashes that cost too much to verify", out, 1, true)
    assert.equals(BCRYPT16, stored(db, "slow-bcrypt@example.com"))

    -- the application's own budget (--config) is the one applied
    local conf = helpers.tmpfile("app.lua")
    local f = assert(io.open(conf, "w"))
    f:write(("return { secret_key = %q, password_salt = 'salty', password_verify_budget = 25 }"):format(KEY))
    f:close()
    db = helpers.tmpfile("costly-budget.db")
    rc, out = fsec(db, "--config " .. q(conf) .. " import flask-security --quiet " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("1 imported users had stored hashes that cost too much", out, 1, true) -- the cap alone
    assert.equals(BCRYPT16, stored(db, "slow-bcrypt@example.com"))
  end)

  it("password_verify_budget is checked: a number of new hashes, at least 1, or false", function()
    for _, v in ipairs{ 0.5, 0, -1, true, "5" } do
      local ok, err = pcall(helpers.new, { password_verify_budget = v })
      assert.is_false(ok, tostring(v))
      assert.matches("password_verify_budget", tostring(err), 1, true)
    end
    for _, v in ipairs{ 1, 2.5, false } do
      assert.truthy(helpers.new{ password_verify_budget = v }, tostring(v))
    end
  end)

  -- An attacker picks the scheme whose cost the model underestimates most:
  -- it must track real verify times (CPU time, best of 3, so that load
  -- from other processes does not count) within a factor of 3.
  it("estimates every scheme's verify cost within a factor of 3 of its measured time", function()
    if BUILD:find("asan", 1, true) then pending("timings mean nothing under the sanitizers"); return end
    local core = require "fsec.core"
    local e = assert(core.new{ secret_keys = { KEY }, caps = { verify_budget = 0 } })
    local function cpu(hash)
      local best = math.huge
      for _ = 1, 3 do
        local t0 = os.clock()
        local ok, err = e:verify_password("pw", hash)
        assert(ok == false and err == nil, hash .. ": " .. tostring(err))
        best = math.min(best, os.clock() - t0)
      end
      return best
    end
    local unit = cpu(e:dummy_hash()) -- one new hash
    for _, h in ipairs{
      "$2b$11$" .. CRYPT53,
      "$pbkdf2-sha256$300000$c2FsdA$" .. ("A"):rep(43),
      "$pbkdf2-sha512$150000$c2FsdA$" .. ("A"):rep(86),
      "$5$rounds=300000$saltsalt$" .. ("A"):rep(43),
      "$6$rounds=300000$saltsalt$" .. ("A"):rep(86),
      "$argon2id$v=19$m=32768,t=6,p=4$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA",
    } do
      local model = assert(e:hash_cost(h))
      local measured = cpu(h) / unit
      assert.is_true(measured / model < 3 and model / measured < 3,
        ("%s: model %.2f, measured %.2f new hashes"):format(h:sub(1, 24), model, measured))
    end
  end)
end)


local nginx = example.enabled and describe or function(name) pending(name .. " (LuaJIT pass with nginx)") end

nginx("issue 19 item 10: a login never spends more than the verify budget", function()
  it("logins for users with bcrypt-16 and pbkdf2 2,000,000-round hashes answer as fast as for unknown users", function()
    -- rows with costly hashes, however they got there (an import with
    -- --keep-costly-hashes, another tool, an older fsec), in the
    -- database the app then starts on
    example.with_app({ prepare = function(dir)
      local ds = assert(require("fsec.datastore.sqlite").new{ path = dir .. "/var/auth.db" })
      for i = 1, 5 do
        assert(ds:create_user{ email = ("slow%d@example.com"):format(i), password = i % 2 == 1 and BCRYPT16 or PBKDF2_2M,
                               confirmed_at = os.time() })
      end
      ds:close()
    end }, function(app)
      local c = example.api(app)
      local slow, unknown = {}, {}
      for i = 1, 5 do -- interleaved; one attempt per account (no lockout in play)
        local status, _, _, _, secs = c.call("POST", "/login", { email = ("slow%d@example.com"):format(i), password = "guess-" .. i })
        assert.equals(400, status)
        slow[i] = secs
        status, _, _, _, secs = c.call("POST", "/login", { email = ("nobody%d@example.com"):format(i), password = "guess-" .. i })
        assert.equals(400, status)
        unknown[i] = secs
      end
      table.sort(slow); table.sort(unknown)
      -- before the budget: 3.5 s (bcrypt 16) and 1 s (pbkdf2) against 0.2 s
      assert.is_true(slow[3] < 2 * unknown[3],
        ("median login %.3f s for a costly hash, %.3f s for an unknown user"):format(slow[3], unknown[3]))
    end)
  end)
end)
