-- Issue 24 §1a: fsec.flaskusers, the read-only lookup of users in a
-- running Flask-Security app's own database (the `flask_users` key). The
-- databases are made by the real library (Debian's python3-flask-security
-- 5.1.2: spec/peer/fs_make_db.py): alice (active, admin with permissions),
-- bob (inactive, editor), carol (no role). SQLite in both runtimes;
-- PostgreSQL (spec/tools/postgres.lua) too, on a real server.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local postgres = require "spec.tools.postgres"
local flaskusers = require "fsec.flaskusers"
local config = require "fsec.config"

-- A Flask-Security database at target (a file, or a PostgreSQL URI): the
-- target. v3: the 3.0 layout (no fs_uniquifier).
local function make_db(target, v3)
  local args = { target, "salty" }
  if v3 then args[#args + 1] = "--v3" end
  assert(helpers.sh(peer.command("fs_make_db.py", args) .. " >/dev/null 2>&1"),
    "python3-flask-security could not make the database")
  return target
end

-- SQL run on a SQLite file with a connection of the test's own (what the
-- Flask app would write).
local function sqlite_exec(path, sql)
  local env = require("luasql.sqlite3").sqlite3()
  local con = assert(env:connect(path))
  local function run(stmt)
    local cur = assert(con:execute(stmt))
    if type(cur) == "userdata" then cur:close() end -- a pragma answers a row
  end
  run("PRAGMA busy_timeout = 5000")
  for stmt in sql:gmatch("[^;]+") do
    if stmt:find("%S") then run(stmt) end
  end
  con:close()
  env:close()
end

local function sqlite_value(path, sql)
  local env = require("luasql.sqlite3").sqlite3()
  local con = assert(env:connect(path))
  local cur = assert(con:execute(sql))
  local v = cur:fetch()
  cur:close()
  con:close()
  env:close()
  return v
end

local function file_sum(path)
  local p = io.popen("sha256sum " .. path)
  local s = p:read("*a")
  p:close()
  return s:match("^%x+")
end

-- A clock the test moves.
local function clock()
  local t = { now = 1000 }
  t.fn = function() return t.now end
  return t
end

-- The checks every database kind passes: target is made, exec(sql)
-- writes to it as the Flask app would.
local function behaves(target_fn, exec_fn)
  local target, exec, users, t

  before_each(function()
    target, exec = target_fn(), exec_fn
    t = clock()
    users = flaskusers.new(nil, target, { clock = t.fn, check = true })
  end)
  after_each(function() users:close() end)

  it("finds a user by id, fs_uniquifier and fs_token_uniquifier, with roles and permissions", function()
    local alice = assert(users:find{ id = 1 })
    assert.equals("1", alice.id)
    assert.equals("alice@example.com", alice.email)
    assert.is_true(alice.active)
    assert.is_true(alice.is_active)
    assert.same({ "admin" }, alice.roles)
    assert.is_true(alice:has_role("admin"))
    assert.is_true(alice:has_permission("user-read"))
    assert.is_true(alice:has_permission("user-write"))
    assert.is_false(alice:has_permission("post-write"))
    assert.matches("^%$2b%$", alice.password)
    assert.equals(32, #alice.fs_uniquifier)
    local same = assert(users:find{ fs_uniquifier = alice.fs_uniquifier })
    assert.equals("1", same.id)
    -- fsqla_v3 has no fs_token_uniquifier column: nobody is found by it
    assert.is_nil(users:find{ fs_token_uniquifier = alice.fs_uniquifier })
    exec([[ALTER TABLE "user" ADD COLUMN fs_token_uniquifier VARCHAR(64);
           UPDATE "user" SET fs_token_uniquifier = 'tok-alice' WHERE id = 1]])
    users:close()
    users = flaskusers.new(nil, target, { clock = t.fn })
    assert.equals("alice@example.com", users:find{ fs_token_uniquifier = "tok-alice" }.email)
    assert.equals("tok-alice", users:find{ id = "1" }.fs_token_uniquifier)
  end)

  it("answers an inactive user as inactive, and nobody for an unknown one", function()
    local bob = assert(users:find{ id = "2" })
    assert.is_false(bob.active)
    assert.same({ "editor" }, bob.roles)
    assert.is_true(bob:has_permission("post-write"))
    local carol = assert(users:find{ id = 3 })
    assert.same({}, carol.roles)
    assert.is_nil(users:find{ id = 99 })
    assert.is_nil(users:find{ fs_uniquifier = "0123456789abcdef0123456789abcdef" })
  end)

  it("answers nobody for hostile values, and never runs them as SQL", function()
    for _, v in ipairs{ "1 OR 1=1", "1' OR '1'='1", "-1", "1.0", "", ("9"):rep(21), "1\0", {}, true } do
      assert.is_nil(users:find{ id = v }, tostring(v))
    end
    for _, v in ipairs{ "x'OR'1'='1", "x'OR/**/1=1--", "x\"OR\"1\"=\"1", "x' OR '1'='1", "a\0b",
                        ("a"):rep(256), "caf\195\169", "a\nb", "" } do
      assert.is_nil(users:find{ fs_uniquifier = v }, v)
    end
    -- a quote inside a stored uniquifier is found as it is, and only it
    exec([[UPDATE "user" SET fs_uniquifier = 'it''s-carol' WHERE id = 3]])
    assert.equals("carol@example.com", users:find{ fs_uniquifier = "it's-carol" }.email)
    assert.is_nil(users:find{ fs_uniquifier = "it'" })
    -- every user still there: nothing was dropped or changed
    assert.equals("alice@example.com", users:find{ id = 1 }.email)
  end)

  it("refuses a query on another field, or on two at once", function()
    assert.has_error(function() users:find{ email = "alice@example.com" } end)
    assert.has_error(function() users:find{ id = 1, fs_uniquifier = "x" } end)
    assert.is_nil(users:find("1"))
  end)

  it("keeps an answer at most ttl seconds: a deactivation is seen after it", function()
    assert.is_true(users:find{ id = 1 }.active)
    exec([[UPDATE "user" SET active = false WHERE id = 1]])
    t.now = t.now + 1.9
    assert.is_true(users:find{ id = 1 }.active) -- the kept answer, within 2 s
    t.now = t.now + 0.1
    assert.is_false(users:find{ id = 1 }.active)
    -- a user made after a miss is found once the miss's answer has aged
    assert.is_nil(users:find{ fs_uniquifier = "new-user-uq" })
    exec([[UPDATE "user" SET fs_uniquifier = 'new-user-uq' WHERE id = 3]])
    assert.is_nil(users:find{ fs_uniquifier = "new-user-uq" })
    t.now = t.now + 2
    assert.equals("3", users:find{ fs_uniquifier = "new-user-uq" }.id)
  end)

  it("lends copies: a caller changing its user changes no other answer", function()
    local a = users:find{ id = 1 }
    a.active, a.roles[1] = false, "root"
    a.permissions["everything"] = true
    local b = users:find{ id = 1 }
    assert.is_true(b.active)
    assert.same({ "admin" }, b.roles)
    assert.is_nil(b.permissions.everything)
  end)

  it("keeps at most size answers", function()
    local small = flaskusers.new(nil, target, { clock = t.fn, size = 3 })
    for i = 1, 50 do small:find{ fs_uniquifier = "nobody-" .. i } end
    assert.is_true(small.count <= 3, "kept: " .. small.count)
    assert.equals("1", small:find{ id = 1 }.id)
    small:close()
  end)
end

describe("fsec.flaskusers", function()
  if not peer.present(it, pending) then return end

  describe("on a SQLite file made by Flask-Security", function()
    local path, master
    -- one database made by Flask-Security (a second or two of Python),
    -- copied for every test that changes it
    local function fresh(name)
      master = master or make_db(helpers.tmpfile("fs-master.db"))
      local copy = helpers.tmpfile(name)
      assert(helpers.sh(("cp %s %s"):format(master, copy)))
      return copy
    end
    behaves(function()
      path = fresh("fs.db")
      return path
    end, function(sql) sqlite_exec(path, sql) end)

    it("never writes the file: opened read-only, query_only", function()
      local users = flaskusers.new(nil, path, { check = true })
      local before = file_sum(path)
      for i = 1, 20 do users:find{ id = i % 4 } end
      assert.equals(before, file_sum(path))
      -- the reader's own connection refuses a write
      local con = users.reader.src.con
      local ok = con:execute([[UPDATE "user" SET active = 1 WHERE id = 2]])
      assert.is_nil(ok)
      assert.equals(0, tonumber(sqlite_value(path, [[SELECT active FROM "user" WHERE id = 2]])))
      users:close()
    end)

    it("takes SQLAlchemy's sqlite:/// URI, relative and absolute", function()
      local users = flaskusers.new(nil, "sqlite:///" .. path, { check = true })
      assert.equals("alice@example.com", users:find{ id = 1 }.email)
      users:close()
      -- three slashes: a path relative to the folder the process runs in (here, the checkout)
      local cwd = assert(os.getenv("PWD"))
      local _, depth = cwd:gsub("/[^/]+", "")
      users = flaskusers.new(nil, "sqlite:///" .. ("../"):rep(depth) .. path:sub(2), { check = true })
      assert.equals("alice@example.com", users:find{ id = 1 }.email)
      users:close()
    end)

    it("names a missing table or column, at the check or at the first lookup (then denying)", function()
      local broken = fresh("broken.db")
      sqlite_exec(broken, "DROP TABLE roles_users")
      local ok, err = pcall(flaskusers.new, nil, broken, { check = true })
      assert.is_false(ok)
      assert.matches("no table roles_users", err)
      local logged = {}
      local users = flaskusers.new(nil, broken, { log = function(m) logged[#logged + 1] = m end })
      local u, e = users:find{ id = 1 }
      assert.is_nil(u)
      assert.matches("^EUNAVAILABLE", e)
      assert.matches("no table roles_users", logged[1])
      local nocol = fresh("nocol.db")
      sqlite_exec(nocol, [[ALTER TABLE "user" DROP COLUMN active]])
      ok, err = pcall(flaskusers.new, nil, nocol, { check = true })
      assert.is_false(ok)
      assert.matches("table user has no column active", err)
      ok, err = pcall(flaskusers.new, nil, helpers.tmpfile("absent.db"), { check = true })
      assert.is_false(ok)
      assert.matches("cannot read", err)
    end)

    it("reads the 3.0 layout: by id only (no fs_uniquifier there)", function()
      local v3 = make_db(helpers.tmpfile("v3.db"), true)
      local users = flaskusers.new(nil, v3, { check = true })
      assert.equals("alice@example.com", users:find{ id = 1 }.email)
      assert.is_nil(users:find{ id = 1 }.fs_uniquifier)
      assert.is_nil(users:find{ fs_uniquifier = "anything" })
      users:close()
    end)

    it("refuses a view in place of a table", function()
      local viewed = fresh("view.db")
      sqlite_exec(viewed, [[ALTER TABLE role RENAME TO role_t; CREATE VIEW role AS SELECT * FROM role_t]])
      local ok, err = pcall(flaskusers.new, nil, viewed, { check = true })
      assert.is_false(ok)
      assert.matches("role is a view", err)
    end)
  end)

  describe("on PostgreSQL", function()
    if not postgres.present(it, pending) then return end
    local pg
    setup(function() pg = postgres.new() end)
    teardown(function() if pg then postgres.remove(pg) end end)

    behaves(function()
      postgres.psql(pg, [[DROP SCHEMA public CASCADE; CREATE SCHEMA public]])
      return make_db(pg.uri)
    end, function(sql) assert(postgres.psql(pg, sql)) end)

    it("reads in a read-only session", function()
      postgres.psql(pg, [[DROP SCHEMA public CASCADE; CREATE SCHEMA public]])
      make_db(pg.uri)
      local users = flaskusers.new(nil, pg.uri, { check = true })
      assert.equals("alice@example.com", users:find{ id = 1 }.email)
      local cur = users.reader.src.con:execute([[UPDATE public."user" SET active = true WHERE id = 2]])
      assert.is_nil(cur)
      users:close()
    end)

    it("refuses a password in the URI, before connecting", function()
      local bad = pg.uri:gsub("://fsec@", "://fsec:secret@")
      assert.has_error(function() flaskusers.new(nil, bad) end)
    end)
  end)
end)

describe("the flask_users key", function()
  it("takes a path, a sqlite:/// URI or a postgresql:// URI, and nothing else", function()
    local base = { secret_key = ("k"):rep(32), password_salt = "salt", flask_secret_key = "flask-secret" }
    for _, v in ipairs{ "/srv/app/app.db", "sqlite:////srv/app.db", "sqlite:///app.db",
                        "postgresql://app@db/app?passfile=/etc/app.pgpass" } do
      base.flask_users = v
      assert.truthy(config.validate(base), v)
    end
    for _, v in ipairs{ "", "mysql://app@db/app", "postgresql://app:secret@db/app", "a\0b" } do
      base.flask_users = v
      local c, err = config.validate(base)
      assert.is_nil(c, v)
      assert.matches("flask_users", err)
    end
    base.flask_users = 1
    assert.is_nil(config.validate(base))
  end)
end)
