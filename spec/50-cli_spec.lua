-- The `fsec` command, run for real (Lua 5.4) against real database files,
-- including Flask-Security databases made by python3-flask-security.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local cjson = require "cjson"

local enabled = not jit -- bin/fsec is a Lua 5.4 program
local KEY = string.rep("k", 32)

local function fsec_cmd(db, args, stdin, env)
  local cmd = ("LUA_PATH=%q LUA_CPATH=%q FSEC_SECRET_KEY=%s FSEC_PASSWORD_SALT=salty %s lua5.4 bin/fsec --db %s %s 2>&1")
    :format(package.path, package.cpath, KEY, env or "", db, args)
  if stdin then cmd = ("printf '%%s\\n' %q | "):format(stdin) .. cmd end
  local p = io.popen(cmd .. "; echo \"rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, out:gsub("rc=%d+%s*$", "")
end

local function make_fs_db(v3)
  local path = helpers.tmpfile(v3 and "fs3.db" or "fs.db")
  assert(helpers.sh(peer.command("fs_make_db.py", { path, "salty", v3 and "--v3" or nil }) .. " 2>/dev/null"),
    "python3-flask-security could not make a database")
  return path
end

local d = enabled and describe or function(name) pending(name .. " (Lua 5.4 pass)") end

d("the fsec command", function()
  it("creates users with the registration rules, never a password argument", function()
    local db = helpers.tmpfile("cli.db")
    local rc, out = fsec_cmd(db, "users create Matt@Example.com --password-stdin --confirmed", "s3cret-pass")
    assert.equals(0, rc, out)
    assert.matches("created user Matt@Example.com", out, 1, true)
    rc, out = fsec_cmd(db, "users create short@example.com --password-stdin", "short")
    assert.equals(1, rc)
    assert.equals("fsec: Password must be at least 8 characters\n", out)
    rc, out = fsec_cmd(db, "users create matt@example.com --password-stdin", "another-pass")
    assert.equals(1, rc); assert.matches("email already exists", out)
    rc = fsec_cmd(db, "users create x@example.com --password hunter22")
    assert.equals(2, rc)
    rc, out = fsec_cmd(db, "users create y@example.com --password-stdin", "s3cret-pass", "FSEC_SECRET_KEY=")
    assert.equals(1, rc); assert.matches("needs --config FILE or FSEC_SECRET_KEY", out, 1, true)
    local sec = helpers.new{ database = db, password_salt = "salty" }
    local u = sec.datastore:find_user{ email = "matt@example.com" }
    assert.is_true(sec:verify_password("s3cret-pass", u.password))
    assert.truthy(u.confirmed_at)
  end)

  it("lists, filters and prints JSON", function()
    local db = helpers.tmpfile("list.db")
    fsec_cmd(db, "roles create admin --permissions user-read")
    fsec_cmd(db, "users create a@example.com --password-stdin --role admin", "password-1")
    fsec_cmd(db, "users create b@example.com --password-stdin", "password-2")
    local rc, out = fsec_cmd(db, "users list")
    assert.equals(0, rc)
    assert.matches("1\ta@example.com\tactive\tunconfirmed\tadmin\n2\tb@example.com\tactive\tunconfirmed\t\n", out, 1, true)
    rc, out = fsec_cmd(db, "users list --role admin --json")
    assert.equals(0, rc, out)
    local list = cjson.decode(out)
    assert.equals(1, #list); assert.equals("a@example.com", list[1].email)
    assert.same({ "admin" }, list[1].roles)
    -- lists stay lists when empty: [] not {}
    rc, out = fsec_cmd(db, "users list --json")
    assert.equals(0, rc, out); assert.matches('"roles":[]}]', out, 1, true) -- b has no role
    rc, out = fsec_cmd(db, "users list --role nobody --json")
    assert.equals(0, rc, out); assert.equals("[]\n", out)
    -- output that cannot be written is a failure
    rc = fsec_cmd(db, "users list > /dev/full")
    assert.equals(1, rc)
  end)

  it("makes a database only for the commands that create things; read-only ones refuse a missing file", function()
    local missing = helpers.tmpfile("typo.db")
    for _, cmd in ipairs{ "db check", "users list", "users delete x@example.com", "roles add x@example.com admin" } do
      local rc, out = fsec_cmd(missing, cmd)
      assert.equals(1, rc, cmd)
      assert.matches("no database at " .. missing, out, 1, true)
      assert.is_nil(io.open(missing), cmd)
    end
    assert.equals(0, (fsec_cmd(missing, "roles create admin")))
    assert.equals(0, (fsec_cmd(missing, "db check")))
  end)

  it("activates, deactivates, resets access and deletes", function()
    local db = helpers.tmpfile("acts.db")
    fsec_cmd(db, "users create a@example.com --password-stdin", "password-1")
    local sec = helpers.new{ database = db, password_salt = "salty" }
    local uq = sec.datastore:find_user{ email = "a@example.com" }.fs_uniquifier
    assert.equals(0, (fsec_cmd(db, "users deactivate a@example.com")))
    assert.is_false(sec.datastore:find_user{ email = "a@example.com" }.active)
    local rc, out = fsec_cmd(db, "users deactivate a@example.com")
    assert.equals(0, rc); assert.matches("(no change)", out, 1, true)
    assert.equals(0, (fsec_cmd(db, "users activate a@example.com")))
    assert.is_true(sec.datastore:find_user{ email = "a@example.com" }.active)
    assert.equals(0, (fsec_cmd(db, "users reset-access a@example.com")))
    assert.not_equals(uq, sec.datastore:find_user{ email = "a@example.com" }.fs_uniquifier)
    assert.equals(0, (fsec_cmd(db, "users delete a@example.com")))
    assert.is_nil(sec.datastore:find_user{ email = "a@example.com" })
    rc, out = fsec_cmd(db, "users delete a@example.com")
    assert.equals(1, rc); assert.equals("fsec: no user a@example.com\n", out)
  end)

  it("changes a password and ends the user's sessions", function()
    local db = helpers.tmpfile("cp.db")
    fsec_cmd(db, "users create a@example.com --password-stdin", "password-1")
    local sec = helpers.new{ database = db, password_salt = "salty" }
    local u = sec.datastore:find_user{ email = "a@example.com" }
    local c = helpers.client()
    local res = sec:new_response()
    assert(sec:login_user(c:req(), res, u)); c:take(res)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    assert.equals(0, (fsec_cmd(db, "users change-password a@example.com --password-stdin", "password-new")))
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    assert.is_true(sec:verify_password("password-new", sec.datastore:find_user{ email = "a@example.com" }.password))
  end)

  it("manages roles and their permissions", function()
    local db = helpers.tmpfile("roles.db")
    fsec_cmd(db, "users create a@example.com --password-stdin", "password-1")
    assert.equals(0, (fsec_cmd(db, 'roles create editor --description Editors --permissions "post-read,post-write"')))
    assert.equals(0, (fsec_cmd(db, "roles add a@example.com editor")))
    local rc, out = fsec_cmd(db, "roles add-permissions editor post-delete")
    assert.equals(0, rc); assert.equals("editor: post-read,post-write,post-delete\n", out)
    rc, out = fsec_cmd(db, "roles remove-permissions editor post-read")
    assert.equals(0, rc, out); assert.equals("editor: post-write,post-delete\n", out)
    local sec = helpers.new{ database = db, password_salt = "salty" }
    assert.is_true(sec.datastore:find_user{ email = "a@example.com" }:has_permission("post-delete"))
    assert.equals(0, (fsec_cmd(db, "roles remove a@example.com editor")))
    assert.same({}, sec.datastore:find_user{ email = "a@example.com" }.roles)
    rc, out = fsec_cmd(db, "roles add a@example.com ghost")
    assert.equals(1, rc); assert.matches("role 'ghost' does not exist", out, 1, true)
  end)

  it("checks the database", function()
    local db = helpers.tmpfile("check.db")
    fsec_cmd(db, "users create a@example.com --password-stdin", "password-1")
    local rc, out = fsec_cmd(db, "db check --json")
    assert.equals(0, rc)
    assert.same({ schema_version = require("fsec.core").SCHEMA_VERSION, integrity = "ok", users = 1, roles = 0 },
                cjson.decode(out))
  end)

  it("has --help on every subcommand", function()
    for _, sub in ipairs{ "", "users", "users create", "users list", "users activate", "users deactivate",
                          "users delete", "users reset-access", "users tf-reset", "users wan-delete", "users change-password", "roles",
                          "roles create", "roles add", "roles remove", "roles add-permissions",
                          "roles remove-permissions", "db", "db check", "import", "import flask-security" } do
      local rc, out = fsec_cmd("x.db", sub .. " --help")
      assert.equals(0, rc, sub)
      assert.matches("Usage:", out, 1, true)
    end
  end)

  for _, v3 in ipairs{ false, true } do
    it("imports a Flask-Security " .. (v3 and "3.0-layout" or "Too") .. " database; logins keep working", function()
      local src = make_fs_db(v3)
      local db = helpers.tmpfile("imported.db")
      local rc, out = fsec_cmd(db, "import flask-security " .. src)
      assert.equals(0, rc, out)
      assert.matches("imported 3 users (0 already present) and 2 roles", out, 1, true)
      rc, out = fsec_cmd(db, "import flask-security " .. src .. " --quiet")
      assert.equals(0, rc, out)
      assert.matches("imported 0 users (3 already present) and 0 roles", out, 1, true)
      local sec = helpers.new{ database = db, password_salt = "salty" }
      local ds = sec.datastore
      assert.equals(3, (ds:counts()))
      local alice = ds:find_user{ email = "alice@example.com" }
      assert.is_true(alice:has_role("admin")); assert.is_true(alice:has_permission("user-write"))
      assert.equals(7, alice.login_count)
      assert.equals(1706704496, alice.confirmed_at) -- 2024-01-31 12:34:56 UTC
      assert.equals("192.0.2.2", alice.current_login_ip)
      assert.is_false(ds:find_user{ email = "bob@example.com" }.active)
      for _, who in ipairs{ "alice", "carol" } do
        local u = ds:find_user{ email = who .. "@example.com" }
        assert.is_true(sec:verify_and_update_password(who .. "-password", u), who)
        assert.matches("^%$argon2id%$", ds:find_user{ id = u.id }.password) -- upgraded at login
      end
    end)
  end

  -- one SQL statement on a source database (sqlite3, or Python's module)
  local function sql(db, stmt)
    assert.is_true(helpers.sh(("sqlite3 %s %q 2>/dev/null || env -u LD_PRELOAD /usr/bin/python3 -c %q"):format(db, stmt,
      ("import sqlite3; c = sqlite3.connect('%s'); c.execute(%q); c.commit()"):format(db, stmt))))
  end

  it("imports a NULL active as disabled, reports users it cannot take, and re-imports after an email change", function()
    local v3 = make_fs_db(true)
    sql(v3, "UPDATE user SET active = NULL WHERE email = 'carol@example.com'")
    local db = helpers.tmpfile("null-active.db")
    local rc, out = fsec_cmd(db, "import flask-security " .. v3 .. " --quiet")
    assert.equals(0, rc, out)
    assert.is_false(helpers.new{ database = db, password_salt = "salty" }.datastore:find_user{ email = "carol@example.com" }.active)

    local src = make_fs_db(false)
    sql(src, "INSERT INTO user (id, email, active, fs_uniquifier, password) VALUES (10, 'ALICE@example.com', 1, 'uq10', 'x')")
    db = helpers.tmpfile("clash.db")
    rc, out = fsec_cmd(db, "import flask-security " .. src .. " --quiet")
    assert.equals(0, rc, out)
    assert.matches("imported 3 users (0 already present)", out, 1, true)
    assert.matches("user id 10 (ALICE@example.com): the email or fs_uniquifier of user alice@example.com", out, 1, true)
    assert.matches("not imported: 1 users whose email another user took", out, 1, true)
    -- the source changes an email and gains a user: a second run adds that user only
    sql(src, "UPDATE user SET email = 'alice.new@example.com' WHERE email = 'alice@example.com'")
    sql(src, "DELETE FROM user WHERE id = 10")
    sql(src, "INSERT INTO user (id, email, active, fs_uniquifier, password) VALUES (11, 'dave@example.com', 1, 'uq11', 'x')")
    rc, out = fsec_cmd(db, "import flask-security " .. src .. " --quiet")
    assert.equals(0, rc, out)
    assert.matches("imported 1 users (3 already present)", out, 1, true)
    assert.equals(4, (helpers.new{ database = db, password_salt = "salty" }.datastore:counts()))
  end)

  it("imports the model's own columns declared in register_fields, checked as /register checks them", function()
    local src = make_fs_db(false)
    sql(src, "ALTER TABLE user ADD COLUMN display_name VARCHAR(64)")
    sql(src, "ALTER TABLE user ADD COLUMN age INTEGER")
    sql(src, "ALTER TABLE user ADD COLUMN nickname VARCHAR(64)") -- not declared: never read
    sql(src, "UPDATE user SET display_name = 'Alice A', age = 30, nickname = 'ally' WHERE email = 'alice@example.com'")
    sql(src, "UPDATE user SET display_name = 'bad' || char(27) || '[31m', age = 'old' WHERE email = 'bob@example.com'")
    local cfg = helpers.tmpfile("fields-config.lua")
    local f = assert(io.open(cfg, "w"))
    f:write(([[return { secret_key = %q, password_salt = "salty", allow_weak_password_hash = true,
      password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
      register_fields = { { name = "display_name", max_length = 40 }, { name = "age", type = "integer" } } }]])
      :format(KEY))
    f:close()
    local db = helpers.tmpfile("fields-import.db")
    local rc, out = fsec_cmd(db, "--config " .. cfg .. " import flask-security " .. src .. " --quiet")
    assert.equals(0, rc, out)
    assert.matches("user id %d+: field display_name refused %(FIELD_INVALID%): not imported", out)
    assert.matches("user id %d+: field age refused %(FIELD_NOT_INTEGER%): not imported", out)
    assert.is_nil(out:find("\27", 1, true)) -- the value is never printed
    local ds = helpers.new{ database = db, password_salt = "salty" }.datastore
    assert.same({ display_name = "Alice A", age = 30 }, ds:find_user{ email = "alice@example.com" }.fields)
    assert.same({}, ds:find_user{ email = "bob@example.com" }.fields)
    -- without register_fields nothing of the model's own is read
    db = helpers.tmpfile("fields-import-none.db")
    rc, out = fsec_cmd(db, "import flask-security " .. src .. " --quiet")
    assert.equals(0, rc, out)
    assert.same({}, helpers.new{ database = db, password_salt = "salty" }.datastore:find_user{ email = "alice@example.com" }.fields)
  end)

  it("names the role or the source in its errors, not a line of its own code", function()
    local src = make_fs_db(false)
    sql(src, "UPDATE role SET name = 'a,b' WHERE name = 'admin'")
    local rc, out = fsec_cmd(helpers.tmpfile("badrole.db"), "import flask-security " .. src .. " --quiet")
    assert.equals(1, rc)
    assert.matches("role 'a,b': EINVAL", out, 1, true)
    assert.is_nil(out:find("import.lua", 1, true))
    local junk = helpers.tmpfile("junk.db")
    local f = io.open(junk, "w"); f:write(string.rep("not a database ", 100)); f:close()
    rc, out = fsec_cmd(helpers.tmpfile("fromjunk.db"), "import flask-security " .. junk .. " --quiet")
    assert.equals(1, rc)
    assert.matches(junk .. ": file is not a database", out, 1, true)
  end)

  it("imports all or nothing", function()
    local src = make_fs_db(false)
    -- carol's address made invalid: sqlite3, or Python's sqlite3 module
    local update = "UPDATE user SET email = 'not an email' WHERE email = 'carol@example.com'"
    local py = "import sqlite3; c = sqlite3.connect('%s'); c.execute('UPDATE user SET email = ? WHERE email = ?', "
               .. "('not an email', 'carol@example.com')); c.commit()"
    assert.is_true(helpers.sh(("sqlite3 %s \"" .. update .. "\" 2>/dev/null || env -u LD_PRELOAD /usr/bin/python3 -c \""
                               .. py .. "\""):format(src, src)))
    local db = helpers.tmpfile("partial.db")
    local rc, out = fsec_cmd(db, "import flask-security " .. src .. " --quiet")
    assert.equals(1, rc)
    assert.matches("not an email", out, 1, true)
    assert.equals(0, (helpers.new{ database = db, password_salt = "salty" }.datastore:counts()))
  end)

  it("answers a usage error in one line, with exit code 2", function()
    local rc, out = fsec_cmd(helpers.tmpfile("usage.db"), "users frobnicate")
    assert.equals(2, rc)
    assert.matches("^fsec: .*frobnicate.*%(fsec %-%-help for usage%)\n$", out)
  end)

  it("builds the binary breached list that fsec maps, with no --db; refuses unsorted input", function()
    local core = require "fsec.core"
    local text = helpers.tmpfile("hibp.txt")
    local hashes = { core.sha1_hex("password1234") .. ":7", core.sha1_hex("letmein123") .. ":2" }
    table.sort(hashes)
    local f = assert(io.open(text, "wb"))
    f:write(table.concat(hashes, "\r\n"), "\r\n")
    f:close()
    local bin = helpers.tmpfile("hibp.bin")
    local cmd = ("LUA_PATH=%q LUA_CPATH=%q lua5.4 bin/fsec breached build %s %s 2>&1; echo rc=$?")
      :format(package.path, package.cpath, text, bin)
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    assert.equals("built " .. bin .. ": 2 entries\nrc=0\n", out)
    local list = assert(core.breached_open(bin))
    assert.equals(7, list:password("password1234"))
    assert.equals(0, list:password("password12345"))
    assert.same({ 2, "binary" }, { list:size() })
    list:close()
    -- unsorted: exit 1, the line named, no output file
    f = assert(io.open(text, "wb"))
    f:write(hashes[2], "\n", hashes[1], "\n")
    f:close()
    local rc
    rc, out = fsec_cmd(helpers.tmpfile("unused.db"), ("breached build %s %s.new"):format(text, bin))
    assert.equals(1, rc)
    assert.matches("line 2: not sorted by hash", out, 1, true)
    assert.is_nil(io.open(bin .. ".new", "rb"))
    -- every other command still needs --db
    p = io.popen(("LUA_PATH=%q LUA_CPATH=%q lua5.4 bin/fsec users list 2>&1; echo rc=$?")
      :format(package.path, package.cpath))
    out = p:read("*a")
    p:close()
    assert.equals("fsec: option '--db' must be used 1 time (fsec --help for usage)\nrc=2\n", out)
  end)
end)
