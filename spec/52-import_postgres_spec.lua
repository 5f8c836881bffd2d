-- Issue 22: `fsec import flask-security postgresql://...` from a
-- Flask-Security PostgreSQL database made by the real library (Debian's
-- python3-flask-security 5.1.2, SQLAlchemy over python3-psycopg2) on a
-- real server (spec/tools/postgres.lua), and `fsec --db postgresql://...`.
-- The command runs for real (bin/fsec, Lua 5.4, a subprocess) in the Lua
-- 5.4 pass; the library (fsec.import, fsec.import.postgres) runs in both.
-- Each test has its own schema of the one server, named by the URI's
-- options (search_path), as an application would configure it.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local postgres = require "spec.tools.postgres"
local example = require "spec.tools.example_app" -- poll
local cjson = require "cjson"

local cli_tool = require "spec.tools.fsec_cli"

local ESC = "\27"
local q = cli_tool.q

-- bin/fsec --db db ARGS (Lua 5.4): rc, output, seconds; never with a
-- password or password file from the caller's environment.
local function fsec(db, args, opts)
  opts = opts or {}
  opts.env = "env -u PGPASSWORD -u PGPASSFILE"
  return cli_tool.run(db, args, opts)
end

-- The server's URI with a libpq `options` (%-encoded: "-csearch_path=s").
local function in_schema(pg, schema, extra)
  return pg.uri .. "&options=-csearch_path%3D" .. schema .. (extra or "")
end

local schemas = 0
-- A fresh schema (SQL run in it first, when given): its URI.
local function schema(pg, sql)
  schemas = schemas + 1
  local name = "s" .. schemas
  local ok, out = postgres.psql(pg, ("CREATE SCHEMA %s; SET search_path = %s; %s"):format(name, name, sql or ""))
  assert(ok, out)
  return in_schema(pg, name), name
end

-- A Flask-Security database made by the real library in a fresh schema
-- (spec/peer/fs_make_db.py, the generator of spec/50-cli_spec.lua): alice
-- (bcrypt, admin, tracking set), bob (bcrypt, inactive, editor), carol
-- (pbkdf2_sha512), and with argon2: dave (argon2). v3: the 3.0 layout
-- (no fs_uniquifier).
local function make_fs_db(pg, v3, argon2)
  local uri, name = schema(pg)
  local args = { uri, "salty" }
  if v3 then args[#args + 1] = "--v3" end
  if argon2 then args[#args + 1] = "--argon2" end
  assert(helpers.sh(peer.command("fs_make_db.py", args) .. " 2>/dev/null"),
    "python3-flask-security could not make a PostgreSQL database")
  return uri, name
end

-- SQL in a schema of the server.
local function sql(pg, name, text)
  local ok, out = postgres.psql(pg, ("SET search_path = %s; %s"):format(name, text))
  assert(ok, out)
end

-- Flask-Security's tables as its models make them on PostgreSQL, with
-- bigint ids and one timestamp with time zone (hand-made databases vary).
local FS_SCHEMA = [[
CREATE TABLE role (id bigint PRIMARY KEY, name varchar(80) UNIQUE, description varchar(255), permissions text);
CREATE TABLE "user" (id bigint PRIMARY KEY, email varchar(255) UNIQUE, username varchar(255),
  password varchar(255), active boolean, fs_uniquifier varchar(64), confirmed_at timestamp,
  last_login_at timestamp, current_login_at timestamptz, last_login_ip varchar(64),
  current_login_ip varchar(64), login_count integer);
CREATE TABLE roles_users (user_id bigint, role_id bigint);
]]

-- Sign in through fsec's /login endpoint on the imported store.
local function signs_in(db, email, password)
  local sec = helpers.new{ database = db, password_salt = "salty" }
  local c = helpers.api(sec)
  local res, r = c:call("POST", "/login", { email = email, password = password })
  local ok = res.status == 200 and sec:current_user(c:req()).email == email
  return ok, r
end

-- A TCP listener on a free loopback port that counts the connections it
-- accepts (each closed at once): { port, count(), stop() }. It shows
-- whether a command tried to connect at all.
local LISTENER = [[
import os, socket, sys, time
d = sys.argv[1]
end = time.time() + 600  # never outlives a killed spec by long
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
s.settimeout(0.05)
def put(name, v):
    open(d + "/" + name + ".tmp", "w").write(str(v))
    os.rename(d + "/" + name + ".tmp", d + "/" + name)
n = 0
put("count", 0)
put("port", s.getsockname()[1])
while not os.path.exists(d + "/stop") and time.time() < end:
    try:
        c, _ = s.accept()
        c.close()
        n += 1
        put("count", n)
    except socket.timeout:
        pass
put("done", 1)
]]

local function listener()
  local dir = helpers.tmpfile("listener")
  assert(helpers.sh("mkdir " .. q(dir)))
  local script = dir .. "/listen.py"
  local f = assert(io.open(script, "w"))
  f:write(LISTENER)
  f:close()
  assert(helpers.sh(("%s %s %s >/dev/null 2>&1 &"):format(peer.PY, q(script), q(dir))))
  local l = { dir = dir }
  assert(example.poll(30, function() return helpers.read(dir .. "/port") end), "the listener did not start")
  l.port = tonumber(helpers.read(dir .. "/port"))
  function l.count() return tonumber(helpers.read(dir .. "/count")) end
  function l.stop()
    assert(helpers.sh("touch " .. q(dir .. "/stop")))
    example.poll(10, function() return helpers.read(dir .. "/done") end)
  end
  return l
end


describe("issue 22: import from a Flask-Security PostgreSQL database", function()
  if not postgres.present(it, pending) then return end
  if not peer.present(it, pending) then return end
  local pg
  setup(function() pg = postgres.new() end)
  teardown(function() if pg then postgres.remove(pg) end end)

  local cli = not jit and it or function(name) pending(name .. " (Lua 5.4 pass)") end

  for _, v3 in ipairs{ false, true } do
    cli("imports a Flask-Security " .. (v3 and "3.0-layout" or "Too") .. " database from PostgreSQL; old passwords"
        .. " sign in", function()
      local src = make_fs_db(pg, v3, true)
      local db = helpers.tmpfile("from-pg.db")
      local rc, out = fsec(db, "import flask-security " .. q(src))
      assert.equals(0, rc, out)
      assert.matches("imported 4 users (0 already present) and 2 roles from " .. src, out, 1, true)
      rc, out = fsec(db, "import flask-security --quiet " .. q(src))
      assert.equals(0, rc, out)
      assert.matches("imported 0 users (4 already present) and 0 roles", out, 1, true)
      local ds = helpers.new{ database = db, password_salt = "salty" }.datastore
      local alice = ds:find_user{ email = "alice@example.com" }
      assert.is_true(alice:has_role("admin")); assert.is_true(alice:has_permission("user-write"))
      assert.equals(7, alice.login_count)
      assert.equals(1706704496, alice.confirmed_at) -- 2024-01-31 12:34:56, naive UTC
      assert.equals(1706774400, alice.last_login_at) -- 2024-02-01 08:00:00
      assert.equals("192.0.2.2", alice.current_login_ip)
      -- a real boolean false ("f" in text) is a disabled account
      local bob = ds:find_user{ email = "bob@example.com" }
      assert.is_false(bob.active)
      assert.is_true(bob:has_role("editor"))
      assert.is_true(ds:find_user{ email = "carol@example.com" }.active)
      -- bcrypt, pbkdf2_sha512 and argon2 hashes made by Flask-Security:
      -- the old passwords sign in through /login (the first two are
      -- upgraded to fsec's argon2id parameters there)
      assert.matches("^%$argon2id%$v=19%$m=1024,t=1,", ds:find_user{ email = "dave@example.com" }.password)
      for _, who in ipairs{ "alice", "carol", "dave" } do
        local ok, r = signs_in(db, who .. "@example.com", who .. "-password")
        assert.is_true(ok, who .. ": " .. cjson.encode(r))
        assert.matches("^%$argon2id%$", ds:find_user{ email = who .. "@example.com" }.password)
        assert.is_false((signs_in(db, who .. "@example.com", "wrong-password")), who)
      end
    end)
  end

  cli("reads times in UTC and ISO whatever the session's TimeZone and DateStyle, and booleans as booleans", function()
    local src, name = make_fs_db(pg, false)
    -- current_login_at with a time zone; the session the URI asks for in
    -- a far time zone with day-first dates (as a server's settings may be)
    sql(pg, name, [[ALTER TABLE "user" ALTER COLUMN current_login_at TYPE timestamptz
      USING current_login_at AT TIME ZONE 'UTC';
      ALTER TABLE roles_users DROP CONSTRAINT IF EXISTS roles_users_user_id_fkey;
      ALTER TABLE "user" ALTER COLUMN id TYPE bigint; ALTER TABLE roles_users ALTER COLUMN user_id TYPE bigint;
      UPDATE roles_users SET user_id = user_id + 9007199254740990;
      UPDATE "user" SET id = id + 9007199254740990;]])
    local far = src .. "%20-cTimeZone%3DPacific%2FChatham%20-cDateStyle%3DSQL%2CDMY"
    -- the harness's psql sees what a client without fsec's settings sees
    local ok, seen = postgres.psql(pg, "SET search_path = " .. name
      .. [[; SET TimeZone = 'Pacific/Chatham'; SET DateStyle = 'SQL, DMY';
      SELECT confirmed_at || ' ' || current_login_at FROM "user" WHERE email = 'alice@example.com']])
    assert.is_true(ok, seen)
    assert.matches("^31/01/2024 12:34:56", seen) -- not ISO: a naive reader would lose the dates
    local db = helpers.tmpfile("tz.db")
    local rc, out = fsec(db, "import flask-security --quiet " .. q(far))
    assert.equals(0, rc, out)
    local ds = helpers.new{ database = db, password_salt = "salty" }.datastore
    local alice = ds:find_user{ email = "alice@example.com" }
    assert.equals(1706704496, alice.confirmed_at)
    assert.equals(1706866200, alice.current_login_at) -- 2024-02-02 09:30:00 UTC
    assert.is_false(ds:find_user{ email = "bob@example.com" }.active)
    -- ids past 2^53 (bigint) keep their links exactly
    assert.same({ "admin" }, alice.roles)
    assert.same({ "editor" }, ds:find_user{ email = "bob@example.com" }.roles)
    assert.same({}, ds:find_user{ email = "carol@example.com" }.roles)
  end)

  it("keeps bigint ids exact and booleans as booleans through the library (this runtime)", function()
    local src = schema(pg, FS_SCHEMA .. [[
      INSERT INTO role VALUES (9007199254740992, 'admin', NULL, 'user-write'), (9007199254740993, 'editor', NULL, NULL);
      INSERT INTO "user" (id, email, active, fs_uniquifier) VALUES
        (9007199254740992, 'a@example.com', true, 'uqa'), (9007199254740993, 'b@example.com', false, 'uqb');
      INSERT INTO roles_users VALUES (9007199254740992, 9007199254740992), (9007199254740993, 9007199254740993);]])
    local ds = assert(require("fsec.datastore.sqlite").new{ path = helpers.tmpfile("lib.db") })
    local lines = {}
    local summary = require("fsec.import").flask_security(ds, src, { warn = false,
      say = function(l) lines[#lines + 1] = l end })
    assert.equals(2, summary.users, table.concat(lines, "\n"))
    local a, b = ds:find_user{ email = "a@example.com" }, ds:find_user{ email = "b@example.com" }
    assert.same({ "admin" }, a.roles); assert.is_true(a.active)
    assert.same({ "editor" }, b.roles); assert.is_false(b.active)
  end)

  it("reads in one read-only snapshot, with its own search_path and no row security", function()
    local src, name = schema(pg, FS_SCHEMA)
    local s = require("fsec.import.postgres").open(src, { "user", "role" })
    local function one(text)
      local cur, err = s.con:execute(text)
      if not cur then return nil, tostring(err) end
      local row = cur:fetch({}, "n")
      cur:close()
      return row and row[1]
    end
    local ok, err = pcall(function()
      assert.equals("on", one("SHOW default_transaction_read_only"))
      assert.equals("on", one("SHOW transaction_read_only"))
      assert.equals("repeatable read", one("SHOW transaction_isolation"))
      assert.equals("off", one("SHOW row_security"))
      assert.equals("pg_catalog, pg_temp", one("SHOW search_path"))
      local none, werr = one(('INSERT INTO %s."user" (id, email) VALUES (1, \'x@example.com\')'):format(name))
      assert.is_nil(none)
      assert.matches("read%-only transaction", werr)
      assert.equals(name, s.tables.user.schema)
    end)
    s:close()
    assert(ok, err)
    -- and nothing was written there
    local rok, count = postgres.psql(pg, ('SELECT count(*) FROM %s."user"'):format(name))
    assert.is_true(rok, count)
    assert.equals("0", count:match("%d+"))
  end)

  cli("refuses a hostile source by name, fast, escaped, importing nothing", function()
    local looping = [[WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
      SELECT i::bigint AS id, 'u' || i || '@example.com' AS email, NULL::text AS username, NULL::text AS password,
             true AS active, 'uq' || i AS fs_uniquifier FROM n]]
    local tables = FS_SCHEMA:gsub('CREATE TABLE "user" %b();', "")
    local one_user = [[INSERT INTO "user" (id, email, active, fs_uniquifier) VALUES (1, 'a@example.com', true, 'uq1');]]
    local cases = {
      { "a view named user (a query running forever)", tables .. 'CREATE VIEW "user" AS ' .. looping .. ";",
        "user is a view, not a table" },
      { "a materialized view named role", FS_SCHEMA:gsub("CREATE TABLE role %b();", "")
        .. "CREATE MATERIALIZED VIEW role AS SELECT 1::bigint AS id, 'admin'::text AS name, NULL::text AS description;",
        "role is a materialized view, not a table" },
      { "a generated column (named with an escape sequence)", FS_SCHEMA:gsub("login_count integer%)",
        'login_count integer, "burn' .. ESC .. '[2J" bigint GENERATED ALWAYS AS (length(email)) STORED)') .. one_user,
        "column burn\\x1b[2J of user is generated" },
      { "a column of a type of its own", "CREATE DOMAIN mail AS text;"
        .. FS_SCHEMA:gsub("email varchar%(255%) UNIQUE", "email mail UNIQUE") .. one_user,
        "column email of user has the type %s.mail, not a built-in one" },
      { "a child table of user (it could be a foreign one)", FS_SCHEMA .. one_user
        .. [[CREATE TABLE more_users () INHERITS ("user");]], "user has child tables" },
      { "a row-level policy that sleeps per row", FS_SCHEMA .. one_user
        .. [[ALTER TABLE "user" ENABLE ROW LEVEL SECURITY; ALTER TABLE "user" FORCE ROW LEVEL SECURITY;
        CREATE POLICY slow ON "user" USING (pg_sleep(30) IS NOT NULL);]], "row-level security" },
    }
    for _, c in ipairs(cases) do
      local src, name = schema(pg, c[2])
      local db = helpers.tmpfile("into.db")
      local rc, out, secs = fsec(db, "import flask-security --quiet " .. q(src), { limit = 40 })
      assert.equals(1, rc, c[1] .. ": " .. out)
      assert.matches(c[3]:format(name), out, 1, true)
      helpers.assert_terminal_safe(out, c[1])
      assert.is_true(secs < 15, c[1] .. " took " .. secs .. " s")
      local _, check = fsec(db, "db check --json")
      assert.equals(0, cjson.decode(check).users, c[1])
    end
  end)

  cli("finds the tables where the application's search_path does: a view in an earlier schema is refused", function()
    local _, real = schema(pg, FS_SCHEMA .. [[INSERT INTO "user" (id, email, active, fs_uniquifier)
      VALUES (1, 'a@example.com', true, 'uq1');]])
    local _, shadow = schema(pg, [[CREATE VIEW role AS SELECT 1::bigint AS id, 'admin'::text AS name,
      NULL::text AS description, 'everything'::text AS permissions;]])
    -- the application reads role from the shadow schema (a view) and
    -- user from the real one
    local src = in_schema(pg, shadow .. "%2C" .. real)
    local db = helpers.tmpfile("shadow.db")
    local rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(1, rc, out)
    assert.matches("role is a view, not a table", out, 1, true)
    -- the real schema alone imports
    rc, out = fsec(db, "import flask-security --quiet " .. q(in_schema(pg, real)))
    assert.equals(0, rc, out)
    assert.matches("imported 1 users", out, 1, true)
  end)

  cli("imports all or nothing from PostgreSQL, naming the user", function()
    local src, name = make_fs_db(pg, false)
    sql(pg, name, [[UPDATE "user" SET email = 'not an email' WHERE email = 'carol@example.com']])
    local db = helpers.tmpfile("partial.db")
    local rc, out = fsec(db, "import flask-security --quiet " .. q(src))
    assert.equals(1, rc)
    assert.matches("user not an email", out, 1, true)
    assert.equals(0, (helpers.new{ database = db, password_salt = "salty" }.datastore:counts()))
  end)

  cli("keeps second factors from a PostgreSQL source, with the source's keys (issue 23)", function()
    local uri = schema(pg)
    local ok, info = pcall(cjson.decode, peer.run("fs_make_db.py", { uri, "salty", "--factors" }))
    assert(ok and type(info) == "table", "python3-flask-security could not make the database")
    local function private(name, text)
      local path = helpers.tmpfile(name)
      local f = assert(io.open(path, "w"))
      f:write(text)
      f:close()
      assert(helpers.sh("chmod 600 " .. q(path)))
      return path
    end
    local totp = { ["1"] = "fsec-own-totp-secret-for-spec-52" }
    local cfg = private("config.lua", ('return { secret_key = %q, password_salt = "salty", two_factor = true, totp_issuer = "x",'
      .. ' totp_secrets = { ["1"] = %q } }')
      :format(cli_tool.KEY, totp["1"]))
    local secrets = private("totp.json", cjson.encode(info.totp_secrets))
    local keys = private("keys.txt", info.recovery_keys[1] .. "\n")
    local db = helpers.tmpfile("factors-from-pg.db")
    -- without the keys: refused, nothing written
    local rc, out = fsec(db, ("--config %s import flask-security --quiet %s"):format(q(cfg), q(uri)))
    assert.equals(1, rc, out)
    assert.matches("3 users have an authenticator", out, 1, true)
    rc, out = fsec(db, ("--config %s import flask-security --json --totp-secrets %s --recovery-keys %s %s")
      :format(q(cfg), q(secrets), q(keys), q(uri)))
    assert.equals(0, rc, out)
    local f = cjson.decode(out:match("(%b{})%s*$")).factors
    assert.equals(4, f.tf_kept); assert.equals(2, f.us_kept); assert.equals(15, f.codes_kept)
    local sec = helpers.new{ database = db, password_salt = "salty", secret_key = cli_tool.KEY, totp_secrets = totp }
    local otp, core = require "fsec.otp", require "fsec.core"
    for email, want in pairs(info.users) do
      if want.method then
        local u = sec.datastore:find_user{ email = email }
        assert.equals(want.method, u.tf_primary_method, email)
        assert.is_number(core.totp_match(otp.unseal(sec._cfg, u.tf_totp_secret), want.code, want.now), email)
      end
    end
  end)

  cli("refuses a URI with a password before connecting, never printing it", function()
    local l = listener()
    local secret = "Pw" .. ("%x"):format(os.time()) .. "s3cret"
    local base = ("127.0.0.1:%d/fsec_test"):format(l.port)
    local uris = {
      ("postgresql://fsec:%s@%s"):format(secret, base),
      ("postgres://:%s@%s"):format(secret, base),
      ("postgresql://fsec@%s?password=%s"):format(base, secret),
      ("postgresql://fsec@%s?sslmode=disable&%%70assword=%s"):format(base, secret),
      ("postgresql://fsec@%s?PASSWORD=%s"):format(base, secret),
    }
    local ok, err = pcall(function()
      local src = helpers.tmpfile("fs.db")
      for _, uri in ipairs(uris) do
        for _, run in ipairs{ { helpers.tmpfile("into.db"), "import flask-security --quiet " .. q(uri) },
                              { uri, "users list" }, { uri, "db check" },
                              { uri, "users create a@example.com --password-stdin", "password-1" },
                              { uri, "import flask-security --quiet " .. q(src) } } do
          local rc, out = fsec(run[1], run[2], { stdin = run[3] })
          assert.equals(1, rc, run[2] .. ": " .. out)
          assert.matches("a password in the URI is refused", out, 1, true)
          assert.is_nil(out:find(secret, 1, true), run[2] .. " printed the password: " .. out)
        end
      end
      assert.equals(0, l.count()) -- nothing reached the port
      -- the control: the same URI without a password does connect (the
      -- listener answers nothing and hangs up: the import fails)
      local rc, out = fsec(helpers.tmpfile("into.db"),
        "import flask-security --quiet " .. q(("postgresql://fsec@%s?sslmode=disable"):format(base)))
      assert.equals(1, rc, out)
      assert.is_true(example.poll(10, function() return (l.count() or 0) >= 1 end), "no connection seen")
    end)
    l.stop()
    assert(ok, err)
  end)
end)


-- `fsec --db postgresql://...`: the store picks its backend from the
-- path (core/src/store.c). Until the PostgreSQL store is built in, the
-- tests that use it are pending, saying so.
describe("issue 22: fsec --db postgresql://", function()
  if not postgres.present(it, pending) then return end
  if jit then pending("bin/fsec runs on Lua 5.4 (Lua 5.4 pass)") return end
  local pg
  setup(function() pg = postgres.new() end)
  teardown(function() if pg then postgres.remove(pg) end end)

  it("takes a URI for the commands that read: no 'no database at' for a URI", function()
    local l = listener()
    local ok, err = pcall(function()
      local uri = ("postgresql://fsec@127.0.0.1:%d/nowhere?sslmode=disable&connect_timeout=5"):format(l.port)
      for _, cmd in ipairs{ "users list", "db check", "roles list" } do
        local rc, out = fsec(uri, cmd)
        assert.equals(1, rc, out)
        assert.is_nil(out:find("no database at", 1, true), cmd .. ": " .. out)
      end
      assert.is_false(helpers.sh("test -e postgresql:"), "a file was made for the URI")
    end)
    l.stop()
    assert(ok, err)
  end)

  local function on_pg(name, fn)
    it(name, function()
      local uri = schema(pg)
      local ds = assert(require("fsec.datastore.sqlite").new{ path = uri })
      assert.equals("postgresql", ds:backend())
      ds:close()
      fn(uri)
    end)
  end

  on_pg("creates, lists and checks users and roles on PostgreSQL", function(uri)
    assert.equals(0, (fsec(uri, "roles create admin --permissions user-read")))
    local rc, out = fsec(uri, "users create a@example.com --password-stdin --role admin --confirmed",
                         { stdin = "password-1" })
    assert.equals(0, rc, out)
    rc, out = fsec(uri, "users list --json")
    assert.equals(0, rc, out)
    local list = cjson.decode(out)
    assert.equals("a@example.com", list[1].email); assert.same({ "admin" }, list[1].roles)
    rc, out = fsec(uri, "db check --json")
    assert.equals(0, rc, out)
    local report = cjson.decode(out)
    assert.equals(1, report.users); assert.equals(1, report.roles)
    assert.is_true(signs_in(uri, "a@example.com", "password-1"))
  end)

  on_pg("imports a Flask-Security PostgreSQL database into a PostgreSQL store", function(uri)
    local src = make_fs_db(pg, false)
    local rc, out = fsec(uri, "import flask-security --quiet " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("imported 3 users (0 already present) and 2 roles", out, 1, true)
    assert.is_true(signs_in(uri, "alice@example.com", "alice-password"))
    assert.is_false(helpers.new{ database = uri, password_salt = "salty" }.datastore
      :find_user{ email = "bob@example.com" }.active)
  end)
end)
