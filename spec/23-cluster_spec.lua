-- Issue 22: several nodes on one database. Two nginx instances of the
-- example app (scripts/serve-example.sh), two workers each, share one
-- database, one secrets folder and one mail folder, as
-- scripts/run-cluster.sh runs them; curl drives them from outside. On
-- PostgreSQL (spec/tools/postgres.lua, the real server) and, as a
-- sanity variant, on one SQLite file (one machine only):
--   - register on A, confirm and log in on B, the token on both;
--   - a logout on A, and a password change on B, are seen by the other
--     node within the revocation bound (measured: median and max printed);
--   - parallel wrong guesses spread over both nodes get at most the
--     lockout threshold of real password checks;
--   - PostgreSQL stopped mid-load and started again: 503 with Retry-After
--     in the gap (never a 500, never a 200 that is not kept), service back
--     without restarting nginx, every registration answered 200 stored;
-- and scripts/run-cluster.sh itself: one command starts it all behind a
-- balancer, and Ctrl-C stops all of it, PostgreSQL too.
-- Runs in the LuaJIT pass only (nginx's Lua is LuaJIT), not under ASan.
-- FSEC_CLUSTER_DB=sqlite (or postgresql) runs one variant only: the
-- SQLite one is the quick sanity check of the harness.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local example = require "spec.tools.example_app"
local postgres = require "spec.tools.postgres"

local read, run, poll, now = helpers.read, example.run, example.poll, example.now

local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

-- Issue 22: a revocation is seen by every worker of every node within 1 s
-- (revocation_interval 0.5 s by default). The margin covers the polling
-- itself (a curl and a date each round) on a loaded machine.
local BOUND, MARGIN = 1.0, 0.5
local THRESHOLD = 10 -- login_lockout_threshold's default
local ROUNDS = 10
local PASSWORD = "battery staple horse"

local KINDS = os.getenv("FSEC_CLUSTER_DB") and { os.getenv("FSEC_CLUSTER_DB") } or { "postgresql", "sqlite" }

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
-- (read as the file loads, in every pass: never with the sanitizer preload)
local ROOT = run("env -u LD_PRELOAD id -u"):match("%d+") == "0"

-- The nodes' environment: the shared places, the verification log (one
-- line per real password check: spec/70), cheap hashes (what is counted
-- is how many checks run), no throttle and a long hashing queue (every
-- guess reaches the lockout, which must hold by itself).
local function node_env(shared, database)
  local settings = cjson.encode{ password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
                                 allow_weak_password_hash = true }
  return table.concat({
    "FSEC_DATABASE=" .. q(database), "FSEC_SECRETS_DIR=" .. q(shared .. "/secrets"),
    "FSEC_MAIL_DIR=" .. q(shared .. "/var/mail"), "FSEC_EXAMPLE_VERIFY_LOG=1", "FSEC_THROTTLE=off",
    "FSEC_THREAD_QUEUE=256", "FSEC_THREAD_WAIT=120", "FSEC_EXAMPLE_CONFIG=" .. q(settings) }, " ")
end

-- A folder the nodes share: secrets/ (example_app.admin and
-- link_to read it as an app's), var/mail and db/ (the workers' own: they
-- run as nobody when the specs run as root).
local function shared_folder()
  local dir = example.dir()
  assert(helpers.sh(("mkdir -p %s/var/mail %s/db %s/secrets && chmod 711 %s/var"):format(dir, dir, dir, dir)))
  if ROOT then assert(helpers.sh(("chown nobody:nogroup %s/var/mail %s/db"):format(dir, dir))) end
  return dir
end

-- The two backends: the database the nodes are given, removed after.
local BACKENDS = {
  postgresql = {
    new = function(shared)
      local pg = postgres.new{}
      -- the workers' copy of the password file (the server's folder is
      -- postgres's alone), named by the URI they connect with
      local pass = shared .. "/db/pgpass"
      assert(helpers.sh(("cp %s %s && chmod 600 %s"):format(q(pg.passfile), q(pass), q(pass))))
      if ROOT then assert(helpers.sh("chown nobody:nogroup " .. q(pass))) end
      return { pg = pg, url = (pg.uri:gsub("passfile=.*$", "passfile=" .. pass)) }
    end,
    remove = function(db) postgres.remove(db.pg) end,
  },
  sqlite = {
    new = function(shared) return { url = shared .. "/db/auth.db" } end,
    remove = function() end,
  },
}

-- Real password checks made so far, over both nodes.
local function verifications(nodes)
  local n = 0
  for _, node in ipairs(nodes) do
    for _ in (read(node.dir .. "/var/verify.log") or ""):gmatch("verify\n") do n = n + 1 end
  end
  return n
end

-- Seconds from now until fn() is true (polled as fast as curl goes),
-- or nil after `seconds`.
local function delay(seconds, fn)
  local t0 = now()
  repeat
    if fn() then return now() - t0 end
  until now() - t0 > seconds
end

local function report(what, delays)
  table.sort(delays)
  local max = delays[#delays]
  print(("%s: %d rounds, median %.3f s, max %.3f s (bound %.1f s)"):format(what, #delays,
        example.median(delays), max, BOUND))
  return max
end

-- A signed-in JSON client of `email` (logged in on `node`).
local function signed_in(node, email, password, token)
  local c = example.api(node)
  local status, r = c.call("POST", "/login" .. (token and "?include_auth_token" or ""),
                           { email = email, password = password })
  assert.equals(200, status, cjson.encode(r))
  return c, token and r.user.authentication_token
end

-- A confirmed user made through the endpoints (register on A, confirm on B).
local function registered(shared, a, b, email, password)
  local c = example.api(a)
  local status, r = c.call("POST", "/register", { email = email, password = password, password_confirm = password })
  assert.equals(200, status, cjson.encode(r))
  local link = poll(10, function() return example.link_to({ dir = shared }, email) end)
  assert.matches("^/confirm/", link)
  local jar = c.jar .. ".confirm"
  local s, _, page = example.http(b, "GET", link, { jar = jar })
  assert.equals(200, s)
  local hd
  s, hd = example.http(b, "POST", link, { jar = jar,
    headers = { ["X-CSRF-Token"] = page:match('name="csrf_token" value="([^"]+)"') } })
  assert.equals(302, s)
  assert.equals("/login", hd.location)
end

local function me(node, o) return (example.http(node, "GET", "/api/me", o)) end
local function with_token(token) return { headers = { ["Authentication-Token"] = token, Accept = "application/json" } } end
local function with_jar(jar) return { jar = jar, jar_read_only = true, headers = { Accept = "application/json" } } end

for _, kind in ipairs(KINDS) do
  local backend = assert(BACKENDS[kind], "FSEC_CLUSTER_DB is postgresql or sqlite")
  describe_or_pending("two nodes of the example app on one " .. kind .. " database (2 workers each)", function()
    if kind == "postgresql" and not postgres.present(it, pending) then return end
    local shared, db, a, b

    setup(function()
      shared = shared_folder()
      db = backend.new(shared)
      local env = node_env(shared, db.url)
      if kind == "postgresql" then
        -- both at once: bootstrap.lua makes the secrets and the admin once
        a = example.launch{ workers = 2, env = env }
        b = example.launch{ workers = 2, env = env }
        example.wait_up(a)
        example.wait_up(b)
      else
        -- SQLite: b once a's workers hold the file open (the journal files
        -- are then theirs: scripts/run-cluster.sh says why)
        a = example.start{ workers = 2, env = env }
        b = example.start{ workers = 2, env = env }
      end
    end)

    teardown(function()
      for _, node in ipairs{ a, b } do if node then example.stop(node) end end
      if db then backend.remove(db) end
    end)

    it("registers on A, confirms and logs in on B; the token works on both", function()
      assert.truthy(example.admin({ dir = shared }), "one admin, made once by either node")
      registered(shared, a, b, "both@example.org", PASSWORD)
      local c, token = signed_in(b, "both@example.org", PASSWORD, true)
      for _, node in ipairs{ a, b, a, b } do -- both workers of each node
        local s, _, _, j = example.http(node, "GET", "/api/me", with_token(token))
        assert.equals(200, s)
        assert.equals("both@example.org", j.email)
        assert.equals(200, me(node, with_jar(c.jar))) -- the session B made, on A too
      end
    end)

    it("a logout on A is refused by B within the bound", function()
      registered(shared, a, b, "logout@example.org", PASSWORD)
      local delays = {}
      for i = 1, ROUNDS do
        local c = signed_in(i % 2 == 0 and a or b, "logout@example.org", PASSWORD) -- made on either node
        local old = c.jar .. ".old"
        for _ = 1, 4 do assert.equals(200, me(b, with_jar(c.jar))) end -- B's workers have it cached
        assert(helpers.sh(("cp %s %s"):format(c.jar, old)))
        assert.equals(200, (c.at(a)("POST", "/logout")))
        delays[i] = delay(10, function() return me(b, with_jar(old)) == 401 end)
        assert.truthy(delays[i], "B still accepts the session 10 s after the logout on A")
        assert.equals(401, me(a, with_jar(old)))
      end
      assert.is_true(report("logout on A -> refused on B", delays) <= BOUND + MARGIN)
    end)

    it("a password change on B revokes the token on A within the bound", function()
      registered(shared, a, b, "change@example.org", PASSWORD)
      local delays, password = {}, PASSWORD
      for i = 1, ROUNDS do
        local c, token = signed_in(b, "change@example.org", password, true)
        for _ = 1, 4 do assert.equals(200, me(a, with_token(token))) end -- A's workers have it cached
        local new = PASSWORD .. " " .. i
        local s, r = c.call("POST", "/change", { password = password, new_password = new, new_password_confirm = new })
        assert.equals(200, s, cjson.encode(r))
        password = new
        delays[i] = delay(10, function() return me(a, with_token(token)) == 401 end)
        assert.truthy(delays[i], "A still accepts the token 10 s after the password change on B")
        assert.equals(401, me(b, with_token(token)))
      end
      assert.is_true(report("password change on B -> token refused on A", delays) <= BOUND + MARGIN)
    end)

    it("parallel wrong guesses over both nodes get at most the lockout threshold of checks", function()
      local email = "victim@example.org"
      registered(shared, a, b, email, PASSWORD)
      local before = verifications{ a, b }
      local c = example.api(a)
      local list = {}
      for i = 1, 80 do -- 40 a node, all at once, sharing the attacker's session and token
        list[i] = { app = i % 2 == 0 and a or b, method = "POST", path = "/login", jar = c.jar, jar_read_only = true,
                    headers = { Accept = "application/json", ["X-CSRF-Token"] = c.csrf },
                    json = { email = email, password = "guess-" .. i } }
      end
      local counts = {}
      for _, r in ipairs(example.parallel(a, list)) do
        counts[tostring(r.status)] = (counts[tostring(r.status)] or 0) + 1
        assert.is_true(r.status >= 400 and r.status < 500, "a wrong guess answered " .. tostring(r.status))
      end
      local n = verifications{ a, b } - before
      print(("lockout over two nodes: %d real checks for 80 guesses, answers %s"):format(n, cjson.encode(counts)))
      assert.is_true(n <= THRESHOLD, ("%d real checks for a threshold of %d"):format(n, THRESHOLD))
      assert.is_true(n >= 1)
      -- locked on both nodes: the right password is refused too
      for _, node in ipairs{ a, b } do
        assert.equals(400, (c.at(node)("POST", "/login", { email = email, password = PASSWORD })))
      end
    end)

    if kind == "postgresql" then
      it("PostgreSQL stopped mid-load: 503 with Retry-After, back without restarting nginx, no answered write lost", function()
        local function pids(node) return (run("pgrep -P " .. node.pid .. " -f '^nginx: worker' | sort"):gsub("%s+", " ")) end
        local workers = { pids(a), pids(b) }
        -- one registration loop per node, each email once, each answer
        -- recorded as "email status retry-after"
        local stop_file, loops = shared .. "/load.stop", {}
        for n, node in ipairs{ a, b } do
          local c = example.api(node)
          local log = ("%s/load-%d.log"):format(shared, n)
          local script = ([[
i=0
while [ ! -e %s ]; do
  i=$((i + 1)); e="load-%d-$i@example.org"
  printf '{"email":"%%s","password":"%s","password_confirm":"%s"}' "$e" > %s.body
  code=$(curl -s -m 20 -o /dev/null -D %s.hdr -w '%%{http_code}' -b %s -H 'Content-Type: application/json' \
    -H 'Accept: application/json' -H %s --data-binary @%s.body %s/register)
  ra=$(tr -d '\r' < %s.hdr | sed -n 's/^[Rr]etry-[Aa]fter: *//p')
  echo "$e $code ${ra:--}" >> %s
done]]):format(q(stop_file), n, PASSWORD, PASSWORD, log, log, q(c.jar), q("X-CSRF-Token: " .. c.csrf), log,
              node.base, log, log)
          local f = assert(io.open(log .. ".sh", "w"))
          f:write(script)
          f:close()
          loops[n] = { log = log, pid = run("sh " .. log .. ".sh >/dev/null 2>&1 & echo $!"):match("%d+") }
        end
        local function answers()
          local t = {}
          for n, l in ipairs(loops) do
            for e, code, ra in (read(l.log) or ""):gmatch("(%S+) (%d+) (%S+)\n") do
              t[#t + 1] = { email = e, status = tonumber(code), retry_after = ra ~= "-" and ra or nil, node = n }
            end
          end
          return t
        end
        local function count(pred)
          local k = 0
          for _, r in ipairs(answers()) do if pred(r) then k = k + 1 end end
          return k
        end
        local ok, err = pcall(function()
          assert.truthy(poll(20, function() return count(function(r) return r.status == 200 end) >= 10 end),
                        "the load does not get through: " .. tostring(read(loops[1].log)))
          local seen = #answers()
          local t_stop = now()
          postgres.stop(db.pg)
          -- the gap: both nodes answer 503 (with Retry-After), nothing else
          for n = 1, 2 do
            assert.truthy(poll(20, function()
              return count(function(r) return r.node == n and r.status == 503 end) >= 3
            end), "node " .. n .. " gave no 503 while PostgreSQL was down")
          end
          local gap_answers = #answers() - seen
          local t_start = now()
          postgres.start(db.pg)
          -- service returns: new 200s on both nodes after the start
          local before = {}
          for n = 1, 2 do before[n] = count(function(r) return r.node == n and r.status == 200 end) end
          local back = delay(30, function()
            return count(function(r) return r.node == 1 and r.status == 200 end) > before[1]
              and count(function(r) return r.node == 2 and r.status == 200 end) > before[2]
          end)
          assert.truthy(back, "no 200 on both nodes 30 s after PostgreSQL came back")
          print(("PostgreSQL down %.1f s: %d answers in the gap; both nodes answer 200 again %.2f s after the start")
                :format(t_start - t_stop, gap_answers, back))
        end)
        helpers.sh("touch " .. q(stop_file))
        for _, l in ipairs(loops) do poll(30, function() return not helpers.sh("kill -0 " .. l.pid .. " 2>/dev/null") end) end
        assert(ok, err)
        -- never a 500 or another answer: 200 or 503 with Retry-After
        local counts, stored = {}, {}
        local listed, emails = postgres.psql(db.pg, "select email from users")
        assert(listed, emails)
        for e in emails:gmatch("[^\n]+") do stored[e] = true end
        for _, r in ipairs(answers()) do
          counts[r.status] = (counts[r.status] or 0) + 1
          assert.is_true(r.status == 200 or r.status == 503, r.email .. " answered " .. r.status)
          if r.status == 503 then assert.truthy(r.retry_after, r.email .. ": 503 without Retry-After") end
          if r.status == 200 then assert.truthy(stored[r.email], r.email .. " was answered 200 but is not stored") end
        end
        print(("fault test: %d registrations answered 200 (all stored), %d answered 503 with Retry-After")
              :format(counts[200] or 0, counts[503] or 0))
        -- the same nginx: no master restarted, no worker replaced
        assert.equals(workers[1], pids(a))
        assert.equals(workers[2], pids(b))
      end)
    end
  end)
end


-- bootstrap.lua as serve-example.sh runs it, for several nodes starting
-- at the same moment on one database and one secrets folder.
describe_or_pending("bootstrap.lua on nodes that start at once", function()
  it("makes the secrets and the admin once, whichever node comes first", function()
    local build = os.getenv("FSEC_BUILD_DIR") or "build"
    for _ = 1, 3 do
      local shared = shared_folder()
      local database = shared .. "/db/auth.db"
      local env = ("FSEC_DATABASE=%s FSEC_SECRETS_DIR=%s FSEC_MAIL_DIR=%s LUA_PATH='examples/openresty/?.lua;lua/?.lua;;'"
                   .. " LUA_CPATH=%s"):format(q(database), q(shared .. "/secrets"), q(shared .. "/var/mail"),
                                            q(build .. "/luajit/?.so;;"))
      local nodes, cmds = {}, {}
      for n = 1, 4 do
        nodes[n] = example.dir()
        cmds[n] = ("(%s luajit examples/openresty/bootstrap.lua %s > %s.out 2>&1; echo rc=$? >> %s.out) &")
                  :format(env, q(nodes[n]), q(nodes[n]), q(nodes[n]))
      end
      assert(helpers.sh(table.concat(cmds, " ") .. " wait"))
      local created = 0
      for _, dir in ipairs(nodes) do
        local out = read(dir .. ".out")
        assert.truthy(out:find("rc=0\n", 1, true), out)
        if out:find("created the admin user", 1, true) then created = created + 1 end
      end
      assert.equals(1, created)
      local function line(name) return read(shared .. "/secrets/" .. name):match("^([^\n]+)\n$") end
      local fsec = require "fsec"
      local sec = fsec.new{ secret_key = line("secret_key"), password_salt = line("password_salt"), database = database }
      local email, password = line("admin-password.txt"):match("^(%S+) (%S+)$")
      local user = sec.datastore:find_user{ email = email }
      assert.truthy(user)
      assert.is_true(user:has_role("admin"))
      assert.is_true(sec:verify_password(password, user.password))
      sec:close()
    end
  end)
end)


-- The one command. Started as a terminal starts it (a session of its own,
-- SIGINT not ignored: a shell's background job would ignore it, and the
-- script's trap with it), in a folder of the test's (CLUSTER_DIR).
describe_or_pending("scripts/run-cluster.sh", function()
  -- PORT, PORT+1 and PORT+2 free
  local function free_ports()
    for _ = 1, 20 do
      local p = example.free_port()
      if not helpers.sh(("ss -Hltn | grep -Eq '127.0.0.1:(%d|%d) '"):format(p + 1, p + 2)) then return p end
    end
    error("no three free ports in a row")
  end

  for _, kind in ipairs(KINDS) do
    it("starts two nodes behind a balancer on " .. kind .. ", and Ctrl-C stops all of it", function()
      if kind == "postgresql" and not postgres.available() then
        assert.is_true(os.getenv("FSEC_REQUIRE_PG") ~= "1", "PostgreSQL is not installed")
        return
      end
      local dir = example.dir()
      local port = free_ports()
      local out = dir .. "/run.out"
      local sid = run(("CLUSTER_DB=%s CLUSTER_DIR=%s PORT=%d FSEC_DEV_MAILBOX=1 setsid perl -e '$SIG{INT} = \"DEFAULT\"; exec @ARGV'"
                       .. " sh scripts/run-cluster.sh > %s 2>&1 & echo $!"):format(kind, q(dir .. "/cluster"), port, q(out)))
                  :match("%d+")
      local base = { base = "http://127.0.0.1:" .. port, dir = dir }
      local ok, err = pcall(function()
        assert.truthy(poll(180, function()
          return (read(out) or ""):find("stop: Ctrl-C", 1, true) or not helpers.sh("kill -0 " .. sid .. " 2>/dev/null")
        end))
        local banner = read(out)
        assert.truthy(banner:find("stop: Ctrl-C", 1, true), banner)
        assert.truthy(banner:find("http://127.0.0.1:" .. port .. "/", 1, true), banner)
        local email, password = banner:match("admin sign%-in %(as first set%): (%S+) (%S+)")
        assert.truthy(email, banner)
        -- round robin: requests through the balancer reach both nodes
        for _ = 1, 4 do assert.equals(200, (example.http(base, "GET", "/hello"))) end
        local log = read(dir .. "/cluster/lb/logs/access.log") or ""
        for _, p in ipairs{ port + 1, port + 2 } do
          assert.truthy(log:find("-> 127.0.0.1:" .. p, 1, true), log)
        end
        -- the admin signs in through it, and the session holds on both nodes
        local c = example.api(base)
        assert.equals(200, (c.call("POST", "/login", { email = email, password = password })))
        for _ = 1, 4 do assert.equals(200, (example.http(base, "GET", "/admin", { jar = c.jar }))) end
        -- mail links name the balancer; the mailbox is reached through it
        assert.equals(200, (example.api(base).call("POST", "/reset", { email = email })))
        local link = poll(10, function()
          return run("cat " .. q(dir .. "/cluster/mail") .. "/*.eml 2>/dev/null")
                 :match("X%-Fsec%-Link: http://127%.0%.0%.1:" .. port .. "(/reset/%S+)")
        end)
        assert.truthy(link, "no reset mail naming the balancer")
        -- the link works through the balancer, and its token is in no log
        assert.equals(200, (example.http(base, "GET", link)))
        local token = link:match("/reset/(.+)$")
        for _, f in ipairs{ "lb/logs/access.log", "a/logs/access.log", "b/logs/access.log" } do
          assert.falsy((read(dir .. "/cluster/" .. f) or ""):find(token, 1, true), f .. " logs the reset token")
        end
        assert.truthy(read(dir .. "/cluster/lb/logs/access.log"):find('"GET /reset/<token>"', 1, true))
        assert.equals(200, (example.http(base, "GET", "/mail")))
        if kind == "postgresql" then -- loopback only, as the postgres user when root
          local lines = {} -- postmaster.pid: the pid first, the port fourth
          for l in read(dir .. "/cluster/pg/data/postmaster.pid"):gmatch("[^\n]*") do
            if l ~= "" then lines[#lines + 1] = l end
          end
          local pid, pgport = lines[1], lines[4]
          assert.equals("127.0.0.1:" .. pgport, run(("ss -Hltn 'sport = :%s' | awk '{print $4}'"):format(pgport)):match("%S+"))
          if ROOT then assert.equals("postgres", run("ps -o user= -p " .. pid):match("%S+")) end
        end
      end)
      local pg_pid = read(dir .. "/cluster/pg/data/postmaster.pid")
      pg_pid = pg_pid and pg_pid:match("^(%d+)")
      -- Ctrl-C: SIGINT to the terminal's foreground process group
      helpers.sh("kill -INT -" .. sid .. " 2>/dev/null")
      local gone = poll(60, function()
        return not helpers.sh("pgrep -s " .. sid .. " >/dev/null")
          and not (pg_pid and helpers.sh("kill -0 " .. pg_pid .. " 2>/dev/null"))
      end)
      helpers.sh("pkill -KILL -s " .. sid .. " 2>/dev/null")
      if pg_pid then helpers.sh("sh scripts/pg-local.sh stop " .. q(dir .. "/cluster/pg")) end
      assert(ok, tostring(err) .. "\n-- output:\n" .. tostring(read(out)))
      assert.truthy(gone, "processes left after Ctrl-C: " .. run("ps -o pid,user,args -s " .. sid))
      assert.truthy(read(out):find("run-cluster: stopped", 1, true), read(out))
    end)
  end
end)
