-- A real PostgreSQL for the specs (issue 22): Debian's `postgresql`
-- package, started in a temporary folder of its own and removed after.
-- Not a spec itself (no _spec suffix); both runtimes.
--
-- The server runs as the `postgres` user when the specs run as root
-- (PostgreSQL refuses to run as root), listens on 127.0.0.1 only, on a free
-- port, with its unix socket in the folder. The superuser `postgres` is
-- trusted on that socket only (it owns the folder); the test role `fsec`
-- logs in over TCP with a random password (scram-sha-256), which never
-- appears on a command line: the role is made through psql's stdin, and
-- clients find the password in a 0600 password file that the URI names
-- (libpq's `passfile` parameter; pg.env gives PGPASSFILE for the same).
local helpers = require "spec.helpers"
local cjson = require "cjson"
local app = require "spec.tools.example_app"  -- free_port, poll, run

local M = {}

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Client and server commands: never with the sanitizer's preload, and
-- never with a password or password file from the caller's environment.
local CLEAN = "env -u LD_PRELOAD -u PGPASSWORD -u PGPASSFILE -u PGSERVICE "

--- The newest installed server's bin folder, or nil.
function M.bindir()
  local dir = app.run("ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1"):match("[^\n]+")
  if dir and helpers.sh(("test -x %s/initdb -a -x %s/pg_ctl -a -x %s/psql"):format(dir, dir, dir)) then
    return dir
  end
end

local function is_root() return app.run("id -u"):match("%d+") == "0" end

--- Can a server be started here (the packages installed; as root, the
-- postgres user and runuser there too)?
function M.available()
  if not M.bindir() then return false end
  if is_root() then
    return helpers.sh("getent passwd postgres >/dev/null && command -v runuser >/dev/null")
  end
  return true
end

--- For a describe body: true when a server can start. Otherwise declares
-- why not: a failing test under FSEC_REQUIRE_PG=1 (scripts/test.sh sets
-- it: in CI a missing PostgreSQL fails), else a pending one; false.
function M.present(it, pending)
  if M.available() then return true end
  local why = "PostgreSQL is not installed (apt-get install postgresql libpq-dev)"
  if os.getenv("FSEC_REQUIRE_PG") == "1" then
    it("needs postgresql", function() error(why) end)
  else
    pending(why)
  end
  return false
end

-- A command run as the server's owner, in the server's folder.
local function as_owner(pg, cmd)
  local inner = "cd " .. q(pg.dir) .. " && " .. CLEAN .. pg.bin .. "/" .. cmd
  if pg.root then return CLEAN .. "runuser -u postgres -- sh -c " .. q(inner) end
  return CLEAN .. "sh -c " .. q(inner)
end

local function random_hex(bytes)
  local f = assert(io.open("/dev/urandom", "rb"))
  local raw = f:read(bytes)
  f:close()
  return (raw:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function write_file(path, text, mode)
  -- made with its mode before the secret goes in
  assert(helpers.sh(("umask 077 && : > %s && chmod %s %s"):format(q(path), mode, q(path))))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

--- The server's main process id (postmaster.pid's first line), or nil.
function M.pid(pg)
  local s = helpers.read(pg.data .. "/postmaster.pid")
  return s and s:match("^(%d+)")
end

--- Is the server's main process alive?
function M.running(pg)
  local pid = M.pid(pg)
  return pid ~= nil and helpers.sh("kill -0 " .. pid .. " 2>/dev/null")
end

--- Start the (stopped) server again, on the same port and folder; waits
-- until it accepts connections (30 s at most).
function M.start(pg)
  local ok = helpers.sh(as_owner(pg, ("pg_ctl -D data -l server.log -w -t 30 start >/dev/null 2>&1")))
  if not ok then
    error("PostgreSQL did not start:\n" .. tostring(helpers.read(pg.dir .. "/server.log")), 0)
  end
end

--- Stop it (fast: open sessions are cut) and wait until it has gone.
function M.stop(pg)
  local pid = M.pid(pg)
  helpers.sh(as_owner(pg, "pg_ctl -D data -m fast -w -t 30 stop >/dev/null 2>&1"))
  if pid then
    app.poll(30, function() return not helpers.sh("kill -0 " .. pid .. " 2>/dev/null") end)
  end
end

function M.restart(pg)
  M.stop(pg)
  M.start(pg)
end

--- psql as the test role through the URI: { ok, out } (stdout and stderr).
function M.psql(pg, sql)
  local p = io.popen(CLEAN .. pg.bin .. "/psql -XAtq -v ON_ERROR_STOP=1 " .. q(pg.uri)
                     .. " -c " .. q(sql) .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = out:match("rc=(%d+)%s*$")
  return rc == "0", (out:gsub("rc=%d+%s*$", ""))
end

-- SQL as the superuser over the unix socket (stdin: the role's password
-- is never on a command line).
local function admin_sql(pg, sql)
  local path = pg.dir .. "/admin.sql"
  write_file(path, sql, "600")
  if pg.root then assert(helpers.sh("chown postgres " .. q(path))) end
  local ok = helpers.sh(as_owner(pg, ("psql -XAtq -v ON_ERROR_STOP=1 -h %s -p %d -U postgres -d postgres -f admin.sql >/dev/null 2>&1")
                                     :format(q(pg.dir), pg.port)))
  os.remove(path)
  assert(ok, "PostgreSQL: setting up the test role failed")
end

-- initdb and the settings: loopback only, the socket in the folder.
local function init(pg)
  assert(helpers.sh(as_owner(pg, "initdb -D data -U postgres --auth-local=trust --auth-host=scram-sha-256"
                                 .. " -E UTF8 --locale=C.UTF-8 >initdb.log 2>&1")),
         "initdb failed: " .. tostring(helpers.read(pg.dir .. "/initdb.log")))
  local conf = assert(io.open(pg.data .. "/postgresql.conf", "a"))
  conf:write(("\n# spec/tools/postgres.lua\nlisten_addresses = '127.0.0.1'\nport = %d\n"
              .. "unix_socket_directories = '%s'\nlogging_collector = off\n"):format(pg.port, pg.dir))
  conf:close()
end

--- Start a fresh server with a database for the test role. opts.db
-- (the database name, "fsec_test"). Returns pg: { uri (libpq URI, its
-- passfile named in it), env ("PGPASSFILE=..." for shell commands), dir,
-- data, port, bin, db, user }. Remove it with M.remove (or use M.with).
function M.new(opts)
  opts = opts or {}
  local pg = { bin = assert(M.bindir(), "no PostgreSQL server installed"), root = is_root(),
               db = opts.db or "fsec_test", user = "fsec" }
  pg.dir = app.run("mktemp -d /tmp/fsec-pg-XXXXXX"):match("[^\n]+")
  pg.data = pg.dir .. "/data"
  if pg.root then assert(helpers.sh("chown postgres: " .. q(pg.dir))) end
  local ok, err = pcall(function()
    for attempt = 1, 5 do  -- another run may take the port between the check and the start
      pg.port = app.free_port()
      if attempt == 1 then init(pg) else
        local conf = assert(io.open(pg.data .. "/postgresql.conf", "a"))
        conf:write(("port = %d\n"):format(pg.port))
        conf:close()
      end
      local started, e = pcall(M.start, pg)
      if started then break end
      if attempt == 5 then error(e, 0) end
    end
    local password = random_hex(24)
    admin_sql(pg, ("CREATE ROLE %s LOGIN PASSWORD '%s';\nCREATE DATABASE %s OWNER %s;\n")
                  :format(pg.user, password, pg.db, pg.user))
    -- the client's file (the test runner reads it; the server never does)
    pg.passfile = pg.dir .. "/pgpass"
    write_file(pg.passfile, ("127.0.0.1:%d:%s:%s:%s\n"):format(pg.port, pg.db, pg.user, password), "600")
    pg.uri = ("postgresql://%s@127.0.0.1:%d/%s?passfile=%s"):format(pg.user, pg.port, pg.db, pg.passfile)
    pg.env = "PGPASSFILE=" .. q(pg.passfile)
  end)
  if not ok then
    M.remove(pg)
    error(err, 0)
  end
  return pg
end

--- The URI with a copy of the password file at path (0600; made before
-- the secret goes in): for a client that runs as another user, such as
-- nginx's workers (scripts/serve-example.sh gives var/ to nobody).
function M.uri_with_passfile(pg, path)
  write_file(path, assert(helpers.read(pg.passfile)), "600")
  return (pg.uri:gsub("passfile=[^&]*", "passfile=" .. path))
end

--- Stop the server if it runs and remove its folder.
function M.remove(pg)
  if M.running(pg) then M.stop(pg) end
  if pg.dir and pg.dir:match("^/tmp/fsec%-pg%-") then helpers.sh("rm -rf " .. q(pg.dir)) end
end

--- fn(pg) on a fresh server (opts as for M.new), stopped and removed
-- after, also when fn errors (the error is raised again).
function M.with(opts, fn)
  local pg = M.new(opts)
  local ok, err = pcall(fn, pg)
  M.remove(pg)
  if not ok then error(err, 0) end
end

--- The example app with two workers on pg's database: env holds more
-- variables for it ("A=1 B=2"), config more keys of FSEC_EXAMPLE_CONFIG.
-- The workers (nobody, when root) read their own copy of the password file.
function M.start_example(pg, env, config)
  local dir = app.dir()
  local cfg = { database = M.uri_with_passfile(pg, dir .. "/var/pgpass") }
  for k, v in pairs(config or {}) do cfg[k] = v end
  return app.start{ dir = dir, workers = 2,
                    env = (env and (env .. " ") or "") .. "FSEC_EXAMPLE_CONFIG=" .. q(cjson.encode(cfg)) }
end


return M
