-- The real PostgreSQL the issue 22 specs run against (spec/tools/postgres.lua):
-- it starts from Debian's package, answers through its URI with the test
-- role's password (from a 0600 file, never a command line), listens on
-- loopback only, keeps its data across a stop and start mid-test, and
-- leaves no process and no folder behind, also when the test errors.
local helpers = require "spec.helpers"
local postgres = require "spec.tools.postgres"
local app = require "spec.tools.example_app"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

describe("PostgreSQL test server (spec/tools/postgres.lua)", function()
  if not postgres.present(it, pending) then return end

  it("answers select 1 through its URI, as the test role with its password, on loopback only", function()
    postgres.with({}, function(pg)
      local ok, out = postgres.psql(pg, "select 1")
      assert.is_true(ok, out)
      assert.equals("1", out:match("^%s*(.-)%s*$"))
      ok, out = postgres.psql(pg, "select current_user || ' ' || current_database()")
      assert.is_true(ok, out)
      assert.equals("fsec fsec_test", out:match("^%s*(.-)%s*$"))
      -- password auth is real: without the password file the role is refused
      local bare = pg.uri:gsub("%?passfile=.*$", "")
      assert.is_false(helpers.sh(("env -u LD_PRELOAD -u PGPASSWORD PGPASSFILE=/dev/null %s/psql -XAtqw %s -c 'select 1' >/dev/null 2>&1")
                                 :format(pg.bin, q(bare))))
      -- the file holding it is the runner's alone
      assert.equals("600", app.run("stat -c %a " .. q(pg.passfile)):match("%d+"))
      -- loopback only, and no password on any command line
      ok, out = postgres.psql(pg, "show listen_addresses")
      assert.is_true(ok, out)
      assert.equals("127.0.0.1", out:match("^%s*(.-)%s*$"))
      -- every socket listening on the port (local addresses), IPv6 too
      local listening = app.run(("ss -ltnH 'sport = :%d' | awk '{print $4}'"):format(pg.port))
      assert.equals("127.0.0.1:" .. pg.port, listening:match("^%s*(.-)%s*$"))
      local secret = helpers.read(pg.passfile):match("([^:\n]+)\n?$")
      assert.is_true(#secret >= 32)
      assert.falsy(app.run("env -u LD_PRELOAD ps -eo args"):find(secret, 1, true))
      assert.falsy((helpers.read(pg.dir .. "/server.log") or ""):find(secret, 1, true))
    end)
  end)

  it("keeps its data across a stop and a start mid-test, on the same URI", function()
    postgres.with({}, function(pg)
      assert.is_true(postgres.psql(pg, "create table t (v text); insert into t values ('kept')"))
      local before = postgres.pid(pg)
      postgres.stop(pg)
      assert.is_false(postgres.running(pg))
      local ok = postgres.psql(pg, "select 1")
      assert.is_false(ok)  -- down means down: a fault test sees the gap
      postgres.start(pg)
      assert.is_true(postgres.running(pg))
      assert.are_not.equal(before, postgres.pid(pg))
      local out
      ok, out = postgres.psql(pg, "select v from t")
      assert.is_true(ok, out)
      assert.equals("kept", out:match("^%s*(.-)%s*$"))
    end)
  end)

  it("stops and removes its folder after the test, also when the test errors", function()
    local seen = {}
    postgres.with({}, function(pg) seen[1] = { dir = pg.dir, pid = postgres.pid(pg) } end)
    local ok, err = pcall(postgres.with, {}, function(pg)
      seen[2] = { dir = pg.dir, pid = postgres.pid(pg) }
      error("the test failed")
    end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("the test failed", 1, true))
    for _, s in ipairs(seen) do
      assert.truthy(s.pid)
      assert.is_false(helpers.sh("kill -0 " .. s.pid .. " 2>/dev/null"), "server still running: " .. s.pid)
      assert.is_false(helpers.sh("test -e " .. q(s.dir)), "folder left: " .. s.dir)
      -- and none of its children (backends, checkpointer...): no process
      -- of the server's owner works in the folder any more
      local owner = app.run("id -u"):match("%d+") == "0" and "postgres" or "$(id -u)"
      local left = app.run(("for p in $(env -u LD_PRELOAD pgrep -u %s); do readlink /proc/$p/cwd; done 2>/dev/null | grep -F %s")
                           :format(owner, q(s.dir)))
      assert.equals("", left)
    end
  end)
end)
