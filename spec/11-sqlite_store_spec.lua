-- The embedded SQLite store through fsec.new: persistence, password
-- upgrade, and the faults of issue 3 (missing or read-only folder, busy,
-- full, SIGKILL during concurrent registrations).
local fsec = require "fsec"
local helpers = require "spec.helpers"

local LUA = jit and "luajit" or "lua5.4"

local function new(db, extra)
  local c = helpers.config{ database = db }
  for k, v in pairs(extra or {}) do c[k] = v end
  return fsec.new(c)
end

describe("fsec.new with a database", function()
  it("creates the file and keeps users across reopening", function()
    local db = helpers.tmpfile("auth.db")
    local sec = new(db)
    local u = assert(sec.datastore:create_user{ email = "Matt@Example.com",
      password = sec:hash_password("s3cret-pass") })
    sec:close()
    local again = new(db)
    local f = again.datastore:find_user{ email = "matt@example.com" }
    assert.equals(u.id, f.id)
    assert.is_true(again:verify_password("s3cret-pass", f.password))
    assert.equals(require("fsec.core").SCHEMA_VERSION, again.datastore:schema_version())
    again:close()
  end)

  it("reports SQLite's memory: page cache, statements, heap", function()
    local sec = new(helpers.tmpfile("mem.db"))
    assert(sec.datastore:create_user{ email = "m@example.com" })
    assert(sec.datastore:find_user{ email = "m@example.com" })
    local m = sec.datastore:memory()
    assert.is_true(m.cache_bytes > 0)
    assert.is_true(m.statement_bytes > 0)
    assert.is_true(m.sqlite_heap_bytes >= m.cache_bytes + m.statement_bytes)
    sec:close()
  end)

  it("fails loudly for a missing folder, never falling back to memory", function()
    assert.has_error(function() new("/nonexistent-fsec/auth.db") end,
      "fsec.new: database: EDB: cannot open database '/nonexistent-fsec/auth.db': unable to open database file")
  end)

  it("fails loudly for a read-only folder", function()
    local dir = helpers.tmpdir() .. "/ro"
    assert.is_true(helpers.sh("mkdir -p " .. dir .. " && chmod 755 " .. dir))
    -- root ignores permissions: run the open as 'nobody' when we are root;
    -- nobody may not reach the checkout, so it gets a readable copy of fsec
    local lib = helpers.tmpdir() .. "/lib-ro"
    local so = package.searchpath("fsec.core", package.cpath)
    assert.is_true(helpers.sh(("mkdir -p %s/fsec && cp -r lua/. %s/ && cp %s %s/fsec/core.so && chmod -R a+rX %s")
      :format(lib, lib, so, lib, lib)))
    local script = ("package.path=%q; package.cpath=%q; local ok, err = pcall(require('fsec').new, "
      .. "{ secret_key = string.rep('k', 32), password_salt = 's', database = %q }); "
      .. "io.write(ok and 'opened' or err)"):format(lib .. "/?.lua;" .. package.path, lib .. "/?.so;" .. package.cpath,
                                                   dir .. "/auth.db")
    local prefix = helpers.sh("[ $(id -u) -eq 0 ]") and "setpriv --reuid=nobody --regid=nogroup --clear-groups " or ""
    local p = io.popen(prefix .. LUA .. " -e " .. ("%q"):format(script) .. " 2>&1")
    local out = p:read("*a")
    p:close()
    assert.matches("fsec.new: database: E%u+: cannot open database", out)
  end)

  it("refuses database and datastore together", function()
    assert.has_error(function()
      new(":memory:", { datastore = require("fsec.datastore.memory").new() })
    end, "fsec.new: database and datastore are exclusive: give one")
  end)

  it("accepts a custom datastore and checks its interface", function()
    local ds = require("fsec.datastore.memory").new()
    local sec = fsec.new(helpers.config{ datastore = ds })
    assert.equals(ds, sec.datastore)
    assert.has_error(function() fsec.new(helpers.config{ datastore = { find_user = print } }) end,
      "fsec.new: datastore: datastore lacks method 'create_user'")
  end)
end)

describe("verify_and_update_password", function()
  -- A bcrypt hash made by passlib, double-hashed with helpers.SALT.
  local LEGACY_PW = "correct horse battery staple"
  local LEGACY = "$2b$05$Jj6yD2x/1.couOZYgNnlRu6NM4YMbW90tutbRlUhozjn21RWOC9Ki"

  for _, kind in ipairs{ "sqlite", "memory" } do
    it("upgrades a legacy hash to argon2id on success (" .. kind .. ")", function()
      local sec = kind == "sqlite" and new(helpers.tmpfile("upg.db"))
        or fsec.new(helpers.config{ datastore = require("fsec.datastore.memory").new() })
      local ds = sec.datastore
      local u = assert(ds:create_user{ email = "old@x.org", password = LEGACY })
      assert.is_false(sec:verify_and_update_password("wrong", u))
      assert.equals(LEGACY, ds:find_user{ id = u.id }.password)
      assert.is_true(sec:verify_and_update_password(LEGACY_PW, u))
      local stored = ds:find_user{ id = u.id }.password
      assert.matches("^%$argon2id%$v=19%$m=1024,t=1,p=1%$", stored)
      assert.equals(stored, u.password)
      local before = sec:hash_count()
      assert.is_true(sec:verify_and_update_password(LEGACY_PW, u))
      assert.equals(before + 1, sec:hash_count()) -- verified, not rehashed
      assert.equals(stored, ds:find_user{ id = u.id }.password)
      assert.is_false(sec:verify_and_update_password(LEGACY_PW, { password = nil }))
    end)
  end
end)

describe("store faults", function()
  it("the store binding raises for a role name holding a NUL byte (the C store reads C strings)", function()
    local st = assert(require("fsec.core").open_store{ path = ":memory:" })
    local ok, err = pcall(st.create_user, st, { email = "a@x.org", roles = { "admin\0x" } })
    assert.is_false(ok)
    assert.matches("a role name contains a NUL byte", err, 1, true)
  end)

  it("the store binding refuses a path with a NUL byte and a busy_timeout beyond an int (no truncation)", function()
    local core = require "fsec.core"
    local dir = helpers.tmpdir()
    local ok, err = pcall(core.open_store, { path = dir .. "/nul.db\0evil" })
    assert.is_false(ok); assert.matches("NUL byte", err, 1, true)
    assert.is_nil(io.open(dir .. "/nul.db")) -- nothing created under the shorter name
    ok, err = pcall(core.open_store, { path = ":memory:", busy_timeout = 2 ^ 32 + 5 })
    assert.is_false(ok); assert.matches("busy_timeout", err, 1, true)
    assert.is_false((pcall(core.open_store, { path = ":memory:", busy_timeout = -1 })))
    assert.has_error(function() helpers.new{ database = dir .. "/nul.db\0evil" } end,
      "fsec.new: database: must not contain a NUL byte")
  end)

  it("refuses a database it did not make (a Flask-Security file), leaving it byte for byte as it was", function()
    local db = helpers.tmpfile("foreign.db")
    local stmt = "CREATE TABLE user (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO user VALUES (1, 'a@x.org')"
    assert.is_true(helpers.sh(("sqlite3 %s %q 2>/dev/null || env -u LD_PRELOAD python3 -c %q"):format(db, stmt,
      ("import sqlite3; c = sqlite3.connect('%s'); c.executescript(%q); c.commit()"):format(db, stmt))))
    local before = helpers.read(db)
    assert.has_error(function() helpers.new{ database = db } end,
      "fsec.new: database: EDB: '" .. db .. "' is not an fsec database (it holds tables of its own); left unchanged")
    assert.equals(before, helpers.read(db)) -- not switched to WAL, nothing migrated
    assert.is_nil(io.open(db .. "-wal"))
  end)

  it("answers 'store busy' when another writer holds the lock", function()
    local db = helpers.tmpfile("busy.db")
    local a = new(db)
    local b = new(db, { database_busy_timeout = 100 })
    local u, err, code
    a.datastore:transaction(function()
      assert(a.datastore:create_user{ email = "a@x.org" })
      u, err, code = b.datastore:create_user{ email = "b@x.org" }
    end)
    assert.is_nil(u)
    assert.equals("EBUSY", code)
    assert.matches("store busy", err)
    assert.truthy(b.datastore:find_user{ email = "a@x.org" })
    assert.is_nil(b.datastore:find_user{ email = "b@x.org" })
  end)

  it("reports a full database cleanly and keeps it intact", function()
    -- 30 pages: the schema (11 migrations) takes about 22 of them
    local sec = new(helpers.tmpfile("full.db"), { database_max_pages = 30 })
    local ds, n, code = sec.datastore, 0, nil
    for i = 1, 100000 do
      local u, _, c = ds:create_user{ email = ("user%06d@example.org"):format(i) }
      if not u then code = c; break end
      n = n + 1
    end
    assert.equals("EFULL", code)
    assert.is_true(n > 10)
    assert.equals(n, (ds:counts()))
    assert.is_true((ds:integrity_check()))
  end)

  it("records one WebAuthn sign count of racing processes and connections (compare-and-set)", function()
    local db = helpers.tmpfile("wan-race.db")
    local sec = new(db)
    local ds = sec.datastore
    local u = assert(ds:create_user{ email = "race@example.com" })
    local cred = assert(ds:create_webauthn(u, { credential_id = "race-cred", public_key = "k",
                                                sign_count = 5, name = "key", usage = "first" }))
    -- two connections read count 5, both apply 6: one wins
    local other = assert(require("fsec.datastore.sqlite").new{ path = db })
    local a, b = assert(ds:find_webauthn("race-cred")), assert(other:find_webauthn("race-cred"))
    assert.is_true(other:webauthn_used(b, 6))
    assert.is_false(ds:webauthn_used(a, 6))
    other:close()
    -- eight processes replay count 6 -> 7 at once: exactly one stores it
    local got = helpers.race_webauthn(db, { id = cred.id, sign_count = 6 }, 7, 8)
    assert.same({ won = 1, lost = 7 }, got)
    assert.equals(7, ds:find_webauthn("race-cred").sign_count)
    sec:close()
  end)

  it("loses no acknowledged user when writers are killed (SIGKILL)", function()
    local rounds = tonumber(os.getenv("FSEC_CRASH_ROUNDS") or "3")
    for round = 1, rounds do
      local dir = helpers.tmpdir()
      local db = ("%s/crash-%d.db"):format(dir, round)
      local env = ("LUA_PATH=%q LUA_CPATH=%q "):format(package.path, package.cpath)
      local pids = {}
      for w = 1, 4 do
        local ack = ("%s/ack-%d-%d"):format(dir, round, w)
        local p = io.popen(env .. LUA .. " spec/tools/register.lua " .. db .. " " .. ack
          .. " w" .. w .. " >/dev/null 2>&1 & echo $!")
        pids[#pids + 1] = p:read("*l")
        p:close()
      end
      helpers.sh(("sleep %.1f"):format(1 + math.random() * 1.5))
      helpers.sh("kill -9 " .. table.concat(pids, " ") .. " 2>/dev/null")
      helpers.sh("sleep 0.2")
      local sec = new(db)
      local acked = 0
      for w = 1, 4 do
        -- a writer killed before it opened its log has none
        local f = io.open(("%s/ack-%d-%d"):format(dir, round, w))
        if f then
          for email in f:lines() do
            acked = acked + 1
            assert.truthy(sec.datastore:find_user{ email = email }, email .. " lost")
          end
          f:close()
        end
      end
      assert.is_true(acked > 0, "no writer got anything done")
      assert.is_true((sec.datastore:counts()) >= acked)
      assert.is_true((sec.datastore:integrity_check()))
      sec:close()
    end
  end)
end)

describe("transaction_deferred", function()
  local sqlite = require "fsec.datastore.sqlite"
  local core = require "fsec.core"

  it("syncs once after a commit, never after a rollback; plain transaction without a syncer", function()
    local ds = assert(sqlite.new{ path = helpers.tmpfile("deferred.db") })
    assert.same({ 1, 2 }, { ds:transaction_deferred(function(a, b) return a, b end, 1, 2) })
    local syncs = 0
    assert.is_true(ds:set_wal_syncer(function(wal) syncs = syncs + 1; return core.sync_wal(wal) end))
    assert.equals("x", ds:transaction_deferred(function()
      assert(ds:create_user{ email = "d1@x.org" })
      return "x"
    end))
    assert.equals(1, syncs)
    local ok, err = pcall(ds.transaction_deferred, ds, function()
      assert(ds:create_user{ email = "d2@x.org" })
      error("EINVAL: no", 0)
    end)
    assert.is_false(ok)
    assert.equals("EINVAL: no", err)
    assert.equals(1, syncs)
    assert.is_nil(ds:find_user{ email = "d2@x.org" })
    -- nested in a transaction: joins it, the outer commit fsyncs itself
    ds:transaction(function() ds:transaction_deferred(function() end) end)
    assert.equals(1, syncs)
    -- a syncer that raises: EDB, with its message
    ds:set_wal_syncer(function() error("disk gone") end)
    ok, err = pcall(ds.transaction_deferred, ds, function() end)
    assert.is_false(ok)
    assert.matches("^EDB: .*disk gone", err)
    assert.has_error(function() ds:set_wal_syncer("no") end)
    ds:close()
  end)

  it("makes each write outside a transaction its own deferred one: synced once, all or nothing", function()
    local ds = assert(sqlite.new{ path = helpers.tmpfile("deferred-writes.db") })
    local syncs, fail = 0, nil
    assert.is_true(ds:set_wal_syncer(function(wal)
      syncs = syncs + 1
      if fail then return nil, fail end
      return core.sync_wal(wal)
    end))
    local u = assert(ds:create_user{ email = "w1@x.org" })
    assert.equals(1, syncs)
    -- a method of several statements that fails writes nothing (the
    -- user is not left without the role asked for)
    local none, e, c = ds:create_user{ email = "w0@x.org", roles = { "no-such-role" } }
    assert.is_nil(none); assert.equals("ENOTFOUND", c); assert.matches("no%-such%-role", e)
    assert.is_nil(ds:find_user{ email = "w0@x.org" })
    assert.equals(1, syncs)
    assert.is_true(ds:set_password(u, "$h$"))
    assert.equals(1, (ds:record_failed_login(u, 60)))
    assert.equals(3, syncs)
    -- a write that fails rolls back and is not synced
    local dup, err, code = ds:create_user{ email = "W1@x.org" }
    assert.is_nil(dup); assert.equals("EEXIST", code); assert.matches("email already exists", err)
    assert.equals(3, syncs)
    -- reads do not sync; writes inside a transaction sync with it
    assert.equals("$h$", ds:find_user{ id = u.id }.password)
    ds:transaction_deferred(function()
      assert(ds:create_session(u, "sid-1", 2 ^ 31))
      assert(ds:track_login(u, "127.0.0.1"))
    end)
    assert.equals(4, syncs)
    -- a syncer that fails is the write's failure (EDB); the caller answers 503
    fail = "EDB: fsync: input/output error"
    local ok
    ok, err, code = ds:delete_session("sid-1")
    assert.is_nil(ok); assert.equals("EDB", code); assert.matches("input/output error", err, 1, true)
    -- argument errors still raise, naming the caller's line as without a syncer
    local raised
    ok, raised = pcall(function() ds:set_password("not a user", "x") end)
    assert.is_false(ok)
    assert.matches("11%-sqlite_store_spec%.lua:%d+: bad argument #1 to 'set_password' %(User expected, got string%)", raised)
    assert.equals(5, syncs)
    fail = nil
    ds:set_wal_syncer(nil)
    assert.is_true(ds:set_email(u, "w2@x.org"))
    assert.equals(5, syncs)
    assert.equals(1, (ds:counts()))
    ds:close()
  end)

  it("a write after the database file was deleted under it fails (EDB), not silently lost", function()
    local db = helpers.tmpfile("deleted.db")
    local ds = assert(sqlite.new{ path = db })
    assert.is_true(ds:set_wal_syncer(function(p) return core.sync_wal(p) end))
    assert(ds:create_user{ email = "before@x.org" })
    for _, suffix in ipairs{ "", "-wal", "-shm" } do os.remove(db .. suffix) end
    local u, err, code = ds:create_user{ email = "after@x.org" }
    assert.is_nil(u); assert.equals("EDB", code)
    assert.matches("is gone", err, 1, true)
    -- a missing WAL beside a database that is there: checkpointed, nothing to do
    local other = helpers.tmpfile("present.db")
    assert(io.open(other, "w")):close()
    assert.is_true(core.sync_wal(other .. "-wal"))
    ds:close()
  end)

  it("cannot defer without a WAL file", function()
    local ds = assert(sqlite.new{ path = ":memory:" })
    assert.is_false(ds:set_wal_syncer(function() return true end))
    ds:close()
  end)
end)

describe("fsec.openresty.thread.sync_wal", function()
  local sqlite = require "fsec.datastore.sqlite"
  local thread = require "fsec.openresty.thread"

  local function size(path)
    local f = assert(io.open(path, "rb"))
    local n = f:seek("end")
    f:close()
    return n
  end

  it("fsyncs the WAL, and past CHECKPOINT_BYTES copies it into the database", function()
    local db = helpers.tmpfile("ckpt.db")
    local ds = assert(sqlite.new{ path = db })
    assert.is_true(ds:set_wal_syncer(function() return true end)) -- the connection's checkpoint moves to 4000 pages
    ds:transaction(function()
      for i = 1, 300 do assert(ds:create_user{ email = ("c%d@x.org"):format(i) }) end
    end)
    local wal, before = db .. "-wal", size(db)
    assert.is_true(size(wal) > 0)
    local limit = thread.CHECKPOINT_BYTES
    thread.CHECKPOINT_BYTES = size(wal) -- not past it: fsync only
    assert.is_true(thread.sync_wal(false, wal))
    assert.equals(before, size(db))
    -- SQLite's memory in this process (every connection's): a checkpoint's
    -- own connection holds about 120 KiB while open
    local heap = ds:memory().sqlite_heap_bytes
    thread.CHECKPOINT_BYTES = 0
    assert.is_true(thread.sync_wal(false, wal))
    thread.CHECKPOINT_BYTES = limit
    assert.is_true(size(db) > before) -- the users are in the database file now
    -- the checkpoint's connection is closed: a worker-thread state keeps none
    local grown = ds:memory().sqlite_heap_bytes - heap
    assert.is_true(grown < 32 * 1024, "SQLite's memory grew " .. grown .. " bytes")
    local nope, err = thread.sync_wal(false, "/dev/null/x.db-wal")
    assert.is_nil(nope)
    assert.matches("^EDB: cannot open /dev/null/x.db%-wal", err)
    local code
    nope, err, code = require("fsec.core").sync_wal(wal .. "\0.txt") -- would fsync the WAL
    assert.is_nil(nope)
    assert.equals("EINVAL", code)
    assert.matches("NUL", err, 1, true)
    assert.equals("EINVAL", select(3, require("fsec.core").sync_wal("")))
    assert.has_error(function() require("fsec.core").sync_wal(nil) end)
    ds:close()
  end)

  it("checkpoints once per CHECKPOINT_BYTES of commits, not after every commit once the WAL grew", function()
    -- SQLite reuses a WAL file from its start after a checkpoint; the store
    -- cuts it back to core.WAL_LIMIT then, so its size still tells how
    -- much the WAL holds
    assert.equals(4 * 1024 * 1024, thread.CHECKPOINT_BYTES)
    local db = helpers.tmpfile("ckpt-grown.db")
    local ds = assert(sqlite.new{ path = db })
    local wal = db .. "-wal"
    assert.is_true(ds:set_wal_syncer(function() return true end)) -- as under nginx: checkpoints are the syncer's
    local n = 0
    repeat -- commits of a few pages each, until the WAL is past the limit
      n = n + 1
      assert(ds:create_user{ email = ("g%d@x.org"):format(n), username = ("g%d"):format(n) })
    until size(wal) > thread.CHECKPOINT_BYTES
    local before = size(db)
    assert.is_true(thread.sync_wal(false, wal)) -- checkpoints
    local after = size(db)
    assert.is_true(after > before)
    assert(ds:create_user{ email = "restart@x.org" }) -- starts the WAL over
    assert.is_true(size(wal) <= thread.CHECKPOINT_BYTES, "WAL file " .. size(wal))
    assert.is_true(thread.sync_wal(false, wal)) -- fsync only: nothing to copy yet
    assert.equals(after, size(db))
    assert.equals(n + 1, (ds:counts()))
    ds:close()
  end)
end)
