-- The C store on a real PostgreSQL through fsec.new (issue 22): what the
-- SQLite store's faults spec (spec/11) asks, where it applies to a
-- server: writers killed with SIGKILL, and the server itself crashing
-- (an immediate stop, no checkpoint) in the middle of registrations, lose
-- no acknowledged user; a URI with a password is refused at
-- configuration time, naming no password.
local fsec = require "fsec"
local helpers = require "spec.helpers"
local postgres = require "spec.tools.postgres"

local LUA = jit and "luajit" or "lua5.4"

describe("the store on a real PostgreSQL", function()
  if not postgres.present(it, pending) then return end
  local pg
  setup(function() pg = postgres.new() end)
  teardown(function() if pg then postgres.remove(pg) end end)
  before_each(function()
    assert(postgres.psql(pg, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
  end)

  local function new()
    return fsec.new(helpers.config{ database = pg.uri })
  end

  -- writers (spec/tools/register.lua) on the database, their pids
  local function start_writers(dir, n)
    local env = ("LUA_PATH=%q LUA_CPATH=%q "):format(package.path, package.cpath)
    local pids = {}
    for w = 1, n do
      local p = io.popen(env .. LUA .. " spec/tools/register.lua '" .. pg.uri .. "' " .. dir .. "/ack-" .. w
        .. " w" .. w .. " >" .. dir .. "/err-" .. w .. " 2>&1 & echo $!")
      pids[#pids + 1] = p:read("*l")
      p:close()
    end
    return pids
  end

  -- every acknowledged email is a user; how many there were
  local function check_acks(sec, dir, n)
    local acked = 0
    for w = 1, n do
      local f = io.open(dir .. "/ack-" .. w)
      if f then
        for email in f:lines() do
          acked = acked + 1
          assert.truthy(sec.datastore:find_user{ email = email }, email .. " lost")
        end
        f:close()
      end
    end
    return acked
  end

  it("records one WebAuthn sign count of racing processes (compare-and-set)", function()
    local sec = new()
    local ds = sec.datastore
    local u = assert(ds:create_user{ email = "race@example.com" })
    local cred = assert(ds:create_webauthn(u, { credential_id = "race-cred", public_key = "k",
                                                sign_count = 5, name = "key", usage = "first" }))
    local got = helpers.race_webauthn(pg.uri, cred, 6, 8)
    assert.same({ won = 1, lost = 7 }, got)
    assert.equals(6, ds:find_webauthn("race-cred").sign_count)
    sec:close()
  end)

  it("keeps users across connections and says it is PostgreSQL", function()
    -- as docs/datastore.md shows it (the secrets and cheap hashing of the specs)
    local c = helpers.config()
    local sec = fsec.new{
      secret_key = c.secret_key, password_salt = c.password_salt,
      database = pg.uri, password_hash_options = c.password_hash_options,
      allow_weak_password_hash = c.allow_weak_password_hash,
    }
    assert(sec.datastore:create_user{ email = "pg@example.org", password = sec:hash_password("s3cret-pass") })
    sec:close()
    local again = new()
    assert.equals("postgresql", again.datastore:backend())
    assert.equals(require("fsec.core").SCHEMA_VERSION, again.datastore:schema_version())
    assert.truthy(again.datastore:find_user{ email = "PG@example.org" })
    again:close()
  end)

  it("loses no acknowledged user when writers are killed (SIGKILL)", function()
    local dir = helpers.tmpdir() .. "/pgcrash"
    assert(helpers.sh("mkdir -p " .. dir))
    new():close() -- migrate once, with the salt check
    local pids = start_writers(dir, 4)
    helpers.sh(("sleep %.1f"):format(1 + math.random()))
    helpers.sh("kill -9 " .. table.concat(pids, " ") .. " 2>/dev/null")
    local sec = new()
    local acked = check_acks(sec, dir, 4)
    assert.is_true(acked > 0, "no writer got anything done: " .. tostring(helpers.read(dir .. "/err-1")))
    sec:close()
  end)

  it("loses no acknowledged user when the server crashes and restarts mid-write", function()
    local dir = helpers.tmpdir() .. "/pgcrash2"
    assert(helpers.sh("mkdir -p " .. dir))
    new():close()
    local pids = start_writers(dir, 3)
    helpers.sh("sleep 1")
    -- an immediate stop is a crash: no checkpoint, recovery from the WAL
    local pid = postgres.pid(pg)
    assert(helpers.sh("kill -QUIT " .. pid)) -- immediate shutdown
    assert.truthy(require("spec.tools.example_app").poll(30, function() return not postgres.running(pg) end))
    helpers.sh("sleep 0.5")
    postgres.start(pg) -- the writers reconnect on their own and go on
    helpers.sh("sleep 1")
    helpers.sh("kill -9 " .. table.concat(pids, " ") .. " 2>/dev/null")
    local sec = new()
    local acked = check_acks(sec, dir, 3)
    assert.is_true(acked > 0, "no writer got anything done: " .. tostring(helpers.read(dir .. "/err-1")))
    -- and they went on after the restart: an error log would say why not
    for w = 1, 3 do assert.equals("", helpers.read(dir .. "/err-" .. w) or "") end
    sec:close()
  end)

  it("migrates an empty database on purpose with fsec db migrate, refuses a newer one", function()
    local cli = require "spec.tools.fsec_cli"
    local rc, out = cli.run(pg.uri, "db migrate --json")
    assert.equals(0, rc, out)
    local report = require("cjson").decode(out)
    assert.equals(require("fsec.core").SCHEMA_VERSION, report.schema_version)
    assert.equals("postgresql", report.backend)
    rc, out = cli.run(pg.uri, "db check --json")
    assert.equals(0, rc, out)
    assert(postgres.psql(pg, "update fsec_schema set version = 99"))
    rc, out = cli.run(pg.uri, "db migrate")
    assert.equals(1, rc)
    assert.matches("newer than this fsec", out)
    local ok, v = postgres.psql(pg, "select version from fsec_schema")
    assert.is_true(ok)
    assert.equals("99", v:match("%d+")) -- left as it was
  end)

  -- now(): seconds, to the millisecond
  local function now()
    local p = io.popen("date +%s.%N")
    local t = tonumber(p:read("*l"))
    p:close()
    return t
  end

  it("never waits past database_statement_timeout for a row another session holds", function()
    local sec = fsec.new(helpers.config{ database = pg.uri, database_statement_timeout = 1000 })
    local u = assert(sec.datastore:create_user{ email = "locked@example.org" })
    -- another session holds the user's row for 8 s
    local holder = ("env -u LD_PRELOAD %s/psql -XAtq %q -c %q >/dev/null 2>&1 &"):format(pg.bin, pg.uri,
      "BEGIN; SELECT 1 FROM users WHERE email = 'locked@example.org' FOR UPDATE; SELECT pg_sleep(8); COMMIT;")
    assert(helpers.sh(holder))
    assert.truthy(require("spec.tools.example_app").poll(10, function()
      local ok, out = postgres.psql(pg, "select count(*) from pg_locks l join pg_class c on c.oid = l.relation"
                                        .. " where c.relname = 'users' and l.mode = 'RowShareLock'")
      return ok and tonumber(out:match("%d+")) > 0
    end), "the holder did not take its lock")
    local t0 = now()
    local n, err, code = sec.datastore:reserve_login(u, 5, 600)
    local took = now() - t0
    assert.is_nil(n)
    assert.equals("EBUSY", code, err) -- answered 503 by the application
    assert.is_true(took < 4, ("waited %.1f s"):format(took))
    sec:close()
  end)

  it("gives up on a server that never answers within database_connect_timeout", function()
    -- a socket that completes the TCP handshake and then says nothing
    local silent = require("spec.tools.silent").start(helpers.tmpdir() .. "/silent")
    local port = silent.port
    local t0 = now()
    local ok, err = pcall(fsec.new, helpers.config{
      database = "postgresql://fsec@127.0.0.1:" .. port .. "/x", database_connect_timeout = 1000 })
    local took = now() - t0
    silent.stop()
    assert.is_false(ok)
    assert.matches("EUNAVAILABLE", err)
    assert.is_true(took < 5, ("waited %.1f s"):format(took)) -- libpq counts whole seconds, 2 at least
  end)

  it("refuses a URI with a password at configuration time, without repeating it", function()
    local ok, err = pcall(fsec.new, helpers.config{ database = "postgresql://u:hunter2-pw@127.0.0.1/x" })
    assert.is_false(ok)
    assert.matches("password file", err)
    assert.is_nil(tostring(err):find("hunter2", 1, true))
    ok, err = pcall(fsec.new, helpers.config{ database = "postgresql://u@127.0.0.1/x?password=hunter2-pw" })
    assert.is_false(ok)
    assert.is_nil(tostring(err):find("hunter2", 1, true))
  end)
end)
