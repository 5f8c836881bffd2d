-- Issue 19 item 10: the `fsec` command and the import on hostile input.
-- The command runs for real (bin/fsec under Lua 5.4, a subprocess) on
-- crafted SQLite files and hostile names; the login budget is attacked
-- through the real nginx example (LuaJIT pass).
local helpers = require "spec.helpers"
local cjson = require "cjson"

local BUILD = os.getenv("FSEC_BUILD_DIR") or "build"
local KEY = string.rep("k", 32)
local ESC, BEL, CSI = "\27", "\7", "\194\155" -- CSI: U+009B, a C1 control, as UTF-8

-- A value as one shell word, whatever bytes it holds (but NUL).
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("*l"))
  p:close()
  return t
end

-- Run bin/fsec (Lua 5.4, from either runtime) on db with the argument
-- string args (already quoted): rc, everything it printed, seconds.
-- A run past `limit` seconds is killed (rc 124).
local function fsec(db, args, opts)
  opts = opts or {}
  local cmd = ("LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s/lua54/?.so;;' FSEC_SECRET_KEY=%s"
    .. " FSEC_PASSWORD_SALT=salty timeout -s KILL %d lua5.4 bin/fsec --db %s %s 2>&1")
    :format(BUILD, KEY, opts.limit or 60, q(db), args)
  if opts.stdin then cmd = ("printf '%%s\\n' %s | "):format(q(opts.stdin)) .. cmd end
  local t0 = now()
  local p = io.popen(cmd .. "; echo \"rc=$?\"")
  local out = p:read("*a")
  p:close()
  local secs = now() - t0
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, (out:gsub("rc=%d+%s*$", "")), secs
end

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

-- Output a terminal can show as text: no C0 but newline and tab, no DEL,
-- no C1 (as UTF-8), every other byte part of well-formed UTF-8.
local function assert_terminal_safe(out, what)
  assert.is_nil(out:find("[%z\1-\8\11-\31\127]"), what .. ": a raw C0 control or DEL in: " .. out)
  assert.is_nil(out:find("\194[\128-\159]"), what .. ": a raw C1 control in: " .. out)
  assert.is_truthy(utf8.len(out), what .. ": bytes that are not UTF-8 in: " .. out)
end

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
    assert.matches("victim@example.com\tactive\ted\\x1b]0;pwned\\x07\\u009b\\x9b\\u202e", out, 1, true)
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

end)
