-- The example app in nginx on a real PostgreSQL (issue 22): every
-- datastore call in the thread pool (fsec.openresty.remote), the
-- revocation epoch read before the caches are used, and the faults:
-- PostgreSQL stopped under nginx answers 503 with Retry-After (never a
-- wrong answer), and service comes back with the server, nginx untouched.
-- LuaJIT pass with nginx only, as spec/40.
local helpers = require "spec.helpers"
local example = require "spec.tools.example_app"
local postgres = require "spec.tools.postgres"


local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

describe_or_pending("the example app on PostgreSQL", function()
  if not postgres.present(it, pending) then return end
  local pg, app

  setup(function()
    pg = postgres.new()
    -- a short datastore queue: the herd test below overflows it unless
    -- lookups of one user share one job
    app = postgres.start_example(pg, "FSEC_DB_QUEUE=2")
  end)
  teardown(function()
    if app then example.stop(app) end
    if pg then postgres.remove(pg) end
  end)

  local function token_status(token)
    return example.request(app, { path = "/bench/token-inline",
                                  headers = { Accept = "application/json", ["Authentication-Token"] = token } })
  end

  local function login()
    local c = example.api(app)
    local s, r = c.call("POST", "/login?include_auth_token",
                        { email = "admin@example.org", password = example.admin_password(app) })
    assert.equals(200, s)
    return r.user.authentication_token, c
  end

  it("keeps its users in PostgreSQL and signs in through the thread pool", function()
    local ok, out = postgres.psql(pg, "select count(*) from users where email = 'admin@example.org'")
    assert.is_true(ok, out)
    assert.equals("1", out:match("%d+"))
    local token = login()
    for _ = 1, 5 do assert.equals(200, token_status(token).status) end -- cache hits and misses
    local c = example.api(app)
    local s = c.call("POST", "/register", { email = "pg-new@example.org", password = "battery staple",
                                            password_confirm = "battery staple" })
    assert.equals(200, s)
    ok, out = postgres.psql(pg, "select count(*) from users where email = 'pg-new@example.org'")
    assert.is_true(ok, out)
    assert.equals("1", out:match("%d+"))
  end)

  it("keeps a session's data in PostgreSQL, through the thread pool, for both workers", function()
    local _, c = login()
    assert.equals(200, (c.call("POST", "/notes", { note = "kept in pg" })))
    for _ = 1, 6 do -- both workers, each through its own datastore jobs
      local s, r = c.call("GET", "/notes")
      assert.equals(200, s)
      assert.same({ "kept in pg" }, r.notes)
    end
    local ok, out = postgres.psql(pg, "select count(*) from sessions where data like '%kept in pg%'")
    assert.is_true(ok, out)
    assert.equals("1", out:match("%d+"))
    assert.equals(200, (c.call("POST", "/logout", {})))
    ok, out = postgres.psql(pg, "select count(*) from sessions where data like '%kept in pg%'")
    assert.is_true(ok, out)
    assert.equals("0", out:match("%d+"))
  end)

  -- the workers' connections (application_name fsec), as one string of pids
  local function fsec_backends()
    local ok, out = postgres.psql(pg, "select string_agg(pid::text, ' ') from pg_stat_activity"
                                      .. " where application_name = 'fsec' and backend_type = 'client backend'")
    assert.is_true(ok, out)
    local pids = out:match("[%d ]+")
    assert.truthy(pids, "no connection of the workers")
    return pids
  end

  it("sees a revocation made outside nginx within revocation_interval", function()
    local token = login()
    assert.equals(200, token_status(token).status) -- cached now, in one worker or both
    assert(postgres.psql(pg, "update users set fs_token_uniquifier = 'rotated-by-hand'"
                             .. " where email = 'admin@example.org'"))
    local refused = example.poll(5, function() return token_status(token).status == 401 end)
    assert.is_truthy(refused, "the token still works 5 s after its uniquifier was rotated in the database")
    -- and stays refused on every worker (several requests: both workers)
    for _ = 1, 6 do assert.equals(401, token_status(token).status) end
  end)

  it("changes a password in one transaction: old tokens end, this session goes on", function()
    local c = example.api(app)
    local s = c.call("POST", "/register", { email = "pg-change@example.org", password = "battery staple",
                                               password_confirm = "battery staple" })
    assert.equals(200, s)
    assert(postgres.psql(pg, "update users set confirmed_at = 1 where email = 'pg-change@example.org'"))
    local r
    s, r = c.call("POST", "/login?include_auth_token", { email = "pg-change@example.org", password = "battery staple" })
    assert.equals(200, s)
    local token = r.user.authentication_token
    assert.equals(200, token_status(token).status)
    s = c.call("POST", "/change", { password = "battery staple", new_password = "correct horse",
                                    new_password_confirm = "correct horse" })
    assert.equals(200, s)
    assert.equals(401, token_status(token).status) -- the token ended with the old password
    -- the session that changed it stays signed in: its cookie was made
    -- with the new uniquifier inside the same transaction
    local r2 = example.request(app, { path = "/bench/session", jar = c.jar, headers = { Accept = "application/json" } })
    assert.equals(200, r2.status)
  end)

  it("serves a herd of one user's requests after the caches emptied with one lookup, no 503", function()
    local token, c = login()
    for _ = 1, 6 do assert.equals(200, token_status(token).status) end -- cached in both workers
    -- the workers' connections, held still: every lookup waits
    local pids = fsec_backends()
    assert(helpers.sh("kill -STOP " .. pids))
    local resumed = false
    local run_ok, err = pcall(function()
      -- a logout empties every worker's cache at once (before its write,
      -- which then waits on its held connection)
      local hdr = ("-H 'Accept: application/json' -H 'Content-Type: application/json' -H 'X-CSRF-Token: %s'")
        :format(c.csrf)
      assert(helpers.sh(("curl -s -o /dev/null -b %s -c %s %s -d '{}' %s/logout >/dev/null 2>&1 &")
        :format(c.jar, c.jar, hdr, app.base)))
      helpers.sh("sleep 0.5")
      assert(helpers.sh("(sleep 2; kill -CONT " .. pids .. ") >/dev/null 2>&1 &"))
      local list = {}
      for i = 1, 40 do
        list[i] = { path = "/bench/token-inline", headers = { Accept = "application/json",
                                                              ["Authentication-Token"] = token } }
      end
      local statuses = {}
      for i, r in ipairs(example.parallel(app, list)) do statuses[i] = r.status end
      resumed = true
      for i, st in ipairs(statuses) do
        assert.equals(200, st, "request " .. i .. " of the herd: " .. table.concat(statuses, ","))
      end
    end)
    if not resumed then helpers.sh("kill -CONT " .. pids) end
    assert(run_ok, err)
  end)

  describe("with users cached for 30 s (FSEC_CACHE_TTL)", function()
    local app30
    -- a second nginx on the same database: the first one's secrets
    setup(function()
      app30 = postgres.start_example(pg, "FSEC_CACHE_TTL=30 FSEC_SECRETS_DIR=" .. app.dir .. "/secrets")
    end)
    teardown(function() if app30 then example.stop(app30) end end)

    -- A database that hangs (here: the workers' connections held still)
    -- rather than failing: a worker's reading of the epoch then never
    -- ends. Its caches must stop standing for the database once that
    -- reading is older than revocation_interval (0.5 s), or a revocation
    -- made meanwhile is missed for cache_ttl, 30 s here.
    it("stops using its caches when the epoch reading hangs: no revocation missed past 1 s", function()
      local c = example.api(app30)
      local s, r = c.call("POST", "/login?include_auth_token",
                          { email = "admin@example.org", password = example.admin_password(app) })
      assert.equals(200, s)
      local token = r.user.authentication_token
      local function probe(curl)
        return { path = "/bench/token-inline", curl = curl,
                 headers = { Accept = "application/json", ["Authentication-Token"] = token } }
      end
      for _ = 1, 6 do assert.equals(200, example.request(app30, probe()).status) end -- cached in both workers
      local pids = fsec_backends()
      assert(helpers.sh("kill -STOP " .. pids))
      local run_ok, err = pcall(function()
        -- the revocation, through a connection of its own
        assert(postgres.psql(pg, "update users set fs_token_uniquifier = 'rotated-in-a-stall'"
                                 .. " where email = 'admin@example.org'"))
        -- requests keep coming to both workers: each starts a reading that hangs
        assert(helpers.sh(("(for i in $(seq 1 30); do curl -s -o /dev/null -m 5 -H %s %s & sleep 0.1; done;"
                           .. " wait) >/dev/null 2>&1 &")
          :format("'Authentication-Token: " .. token .. "'", app30.base .. "/bench/token-inline")))
        helpers.sh("sleep 1.6")
        local list = {}
        for i = 1, 8 do list[i] = probe("-m 1.5") end
        local statuses = {}
        for i, a in ipairs(example.parallel(app30, list)) do statuses[i] = a.status end
        for i, st in ipairs(statuses) do
          assert.are_not.equals(200, st, "request " .. i .. " was served from the caches 1.6 s into the"
                                         .. " stall, after the revocation: " .. table.concat(statuses, ","))
        end
      end)
      helpers.sh("kill -CONT " .. pids)
      assert(run_ok, err)
      -- and once the database answers, the revocation stands
      local refused = example.poll(10, function() return example.request(app30, probe()).status == 401 end)
      assert.is_truthy(refused, "the token still works after the stall ended")
    end)
  end)

  -- Found by an attack review: on PostgreSQL a change-email link was
  -- checked, then written, with the thread pool's yield between, so one
  -- link posted at once moved the account 7 times of 8 (a notice each),
  -- and links to two addresses both applied. Now one move, from the
  -- address the link was made for.
  describe("with change-email links raced (no throttle, deep queues)", function()
    local app2
    setup(function()
      app2 = postgres.start_example(pg, "FSEC_THROTTLE=off FSEC_THREAD_QUEUE=256 FSEC_SECRETS_DIR="
                                        .. app.dir .. "/secrets")
    end)
    teardown(function() if app2 then example.stop(app2) end end)

    it("moves an account once when its links to two addresses are posted 16 times at once", function()
      local email, x, y = "pg-move@example.org", "pg-move-x@example.org", "pg-move-y@example.org"
      local c = example.api(app2)
      assert.equals(200, (c.call("POST", "/register", { email = email, password = "battery staple",
                                                         password_confirm = "battery staple" })))
      assert(postgres.psql(pg, "update users set confirmed_at = 1 where email = '" .. email .. "'"))
      assert.equals(200, (c.call("POST", "/login", { email = email, password = "battery staple" })))
      assert.equals(200, (c.call("POST", "/change-email", { email = x })))
      assert.equals(200, (c.call("POST", "/change-email", { email = y })))
      local lx = example.poll(10, function() return example.link_to(app2, x) end)
      local ly = example.poll(10, function() return example.link_to(app2, y) end)
      assert.truthy(lx and ly, "links not mailed")
      local reqs = {}
      for i = 1, 16 do reqs[i] = { "POST", i % 2 == 0 and lx or ly } end
      local won, statuses = {}, {}
      for i, r in ipairs(example.answered(app2, reqs)) do
        statuses[i] = r.status
        if r.status == 200 then won[#won + 1] = i else assert.equals(400, r.status) end
      end
      assert.equals(1, #won, "successes: " .. table.concat(statuses, ","))
      local ok, out = postgres.psql(pg, "select email from users where email like 'pg-move%'")
      assert.is_true(ok, out)
      assert.equals(won[1] % 2 == 0 and x or y, out:match("pg%-move%S*")) -- the winner's address
      helpers.sh("sleep 1") -- the notice leaves after the answer
      local notices = 0
      for _, m in ipairs(example.mails(app2)) do
        if m.kind == "change_email_notice" and (m.to or ""):find(email, 1, true) then notices = notices + 1 end
      end
      assert.equals(1, notices)
    end)
  end)

  it("answers 503 with Retry-After while PostgreSQL is down, then serves again", function()
    local token = login()
    assert.equals(200, token_status(token).status)
    postgres.stop(pg)
    local ok, err = pcall(function()
      -- never a wrong answer: a 503 (with Retry-After), never a 200 or 401
      local seen503 = example.poll(5, function() return token_status(token).status == 503 end)
      assert.is_truthy(seen503, "no 503 while PostgreSQL is down")
      for _ = 1, 4 do
        local r = token_status(token)
        assert.equals(503, r.status)
        assert.equals("1", r.headers["retry-after"])
      end
      local c = example.api(app)
      local s = c.call("POST", "/login", { email = "admin@example.org", password = "whatever" })
      assert.equals(503, s)
    end)
    postgres.start(pg)
    assert(ok, err)
    local back = example.poll(15, function() return token_status(token).status == 200 end)
    assert.is_truthy(back, "service did not come back after PostgreSQL restarted")
  end)
end)
