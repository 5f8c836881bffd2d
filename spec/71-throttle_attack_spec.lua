-- Issue 19's throttling, mail and access-log items: attacks through the
-- real nginx example, from other loopback addresses as other clients
-- (127.0.0.2 floods; 127.0.8.x, 127.0.9.x are legitimate users), plus the
-- library's limiter on both runtimes.
local helpers = require "spec.helpers"
local example = require "spec.tools.example_app"
local cjson = require "cjson"

local read, median = helpers.read, example.median
local with_app, http, api = example.with_app, example.http, example.api

local nginx_it = example.enabled and it or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

-- Start spec/tools/flood.sh in the background: its answers go to
-- out, and it stops when stop exists (or after its count or seconds).
local function flood(app, o)
  local out, stop = app.dir .. ".flood." .. math.random(1e9), app.dir .. ".stop." .. math.random(1e9)
  os.remove(stop)
  helpers.sh(("(sh spec/tools/flood.sh %s %s '%s' %s %d %d %d %d %s > %s 2>&1; touch %s.done) &")
    :format(app.base, o.path, o.body, o.from, o.parallel, o.rate, o.max, o.seconds, stop, out, out))
  local f = { out = out, stop = stop }
  function f.answers()
    local list = {}
    for line in (read(out) or ""):gmatch("[^\n]+") do
      local code, took, retry = line:match("^(%d+) ([%d.]+) ?(%S*)")
      if code then list[#list + 1] = { code = tonumber(code), time = tonumber(took), retry = retry } end
    end
    return list
  end
  local poll = example.poll
  -- it hits the server: more than `before` answers came, or (a server
  -- that queues them) 10 of its connections are open
  local function hitting(before)
    return #f.answers() > before
      or tonumber(example.run("ss -tnH state established src " .. o.from .. " | wc -l")) >= 10
  end
  -- wait until its first batch is out and hits the server
  function f.wait_hitting(seconds)
    return poll(seconds, function() return read(stop .. ".started") and hitting(0) end)
  end
  function f.running() return read(out .. ".done") == nil end
  -- pause it: no new batch, and every request it sent answered
  function f.pause(seconds)
    helpers.sh("touch " .. stop .. ".pause")
    return poll(seconds, function()
      return read(stop .. ".paused") and tonumber(read(stop .. ".sent") or "") == #f.answers()
    end)
  end
  -- resume it, and wait until it hits the server again
  function f.resume(seconds)
    local before = #f.answers()
    os.remove(stop .. ".pause")
    return poll(seconds, function() return not read(stop .. ".paused") and hitting(before) end)
  end
  function f.finish()
    helpers.sh("touch " .. stop)
    local deadline = os.time() + 90
    while not read(out .. ".done") and os.time() <= deadline do helpers.sh("sleep 0.1") end
    return f.answers()
  end
  return f
end

local function count(list, pred)
  local n = 0
  for _, a in ipairs(list) do if pred(a) then n = n + 1 end end
  return n
end

-- A signed-out client's JSON login from an address: status, seconds.
local function login_time(app, from, email, password)
  local c = api(app, { from = from })
  local s, _, _, _, took = c.call("POST", "/login", { email = email, password = password })
  return s, took
end

-- A Security on a fresh database with one confirmed user, and a JSON POST
-- to it from a client address (the library tests, both runtimes).
local PW = "password-1"
local function setup(extra)
  local app = helpers.app{ db = "thr.db", mail = true, extra = extra,
    config = { recoverable = true, confirmable = true, external_url = "http://localhost" },
    users = { { email = "matt@example.com", password = PW, confirmed = true } } }
  return app.sec, app.maildir
end
local function post(sec, path, body, addr)
  return sec:handle(helpers.request{ method = "POST", path = path, remote_addr = addr or "192.0.2.7",
    headers = { accept = "application/json", ["content-type"] = "application/json" }, body = cjson.encode(body) })
end


describe("issue 19 item 4: one client cannot starve the others", function()
  nginx_it("W19-04: a flood of bogus logins from one address leaves another address's login within 2x its idle time", function()
    with_app({ workers = 2 }, function(app)
      local email, password = example.admin(app)
      -- each login from its own address (127.0.8.x idle, 127.0.9.x under the
      -- flood): a person signs in once, within nginx's per-address rate.
      -- Idle and flooded logins alternate (the flood paused, then resumed):
      -- the machine's other load drifts, and both sides see the same.
      -- 1 + 8 + 8 logins: within the account's 20 a minute.
      login_time(app, "127.0.8.100", email, password) -- warm: the helper processes, the caches
      local f = flood(app, { path = "/login", body = '{"email":"bogus%d@example.org","password":"wrong password"}',
                             from = "127.0.0.2", parallel = 20, rate = 100, max = 100000, seconds = 200 })
      assert.is_true(f.wait_hitting(30), "the flood did not start in 30 s")
      local idle, busy, codes = {}, {}, {}
      for i = 1, 8 do
        assert.is_true(f.pause(60), "the flood's requests were not all answered within 60 s")
        local s, t = login_time(app, "127.0.8." .. i, email, password)
        assert.equals(200, s)
        idle[i] = t
        assert.is_true(f.resume(30), "the flood did not resume")
        s, t = login_time(app, "127.0.9." .. i, email, password)
        codes[i], busy[i] = s, t
      end
      local during, running = #f.answers(), f.running()
      local answers = f.finish()
      local m_idle, m_busy = median(idle), median(busy)
      io.stderr:write(("\n[W19-04] legitimate login: idle median %.3f s, under flood median %.3f s (%.2fx);"
        .. " flood: %d answers (%d during the measurement), %d x 429, %d x 503, %d x 400\n")
        :format(m_idle, m_busy, m_busy / m_idle, #answers, during, count(answers, function(a) return a.code == 429 end),
                count(answers, function(a) return a.code == 503 end), count(answers, function(a) return a.code == 400 end)))
      for i = 1, #codes do assert.equals(200, codes[i], "legitimate login " .. i .. " under the flood") end
      assert.is_true(running and during >= 40, "the flood ran all along: " .. during .. " answers")
      assert.is_true(m_busy <= 2 * m_idle, ("under the flood %.3f s against %.3f s idle"):format(m_busy, m_idle))
      -- the flood was told to back off, with a time to wait, not served
      local throttled = count(answers, function(a) return a.code == 429 end)
      assert.is_true(throttled > #answers / 2, throttled .. " of " .. #answers .. " throttled")
      assert.equals(throttled, count(answers, function(a) return a.code == 429 and tonumber(a.retry) and tonumber(a.retry) >= 1 end))
    end)
  end)
end)

describe("issue 19 item 4: the hashing queue is bounded", function()
  nginx_it("W19-04: logins from 150 addresses at once: the excess gets 503 with Retry-After at once, not a long queue", function()
    with_app({ workers = 2 }, function(app)
      local f = flood(app, { path = "/login", body = '{"email":"nobody%d@example.org","password":"wrong password"}',
                             from = "127.0.1.%d", parallel = 150, rate = 1000, max = 150, seconds = 90 })
      local answers
      local deadline = os.time() + 120
      repeat
        helpers.sh("sleep 0.2")
        answers = f.answers()
      until read(f.out .. ".done") or os.time() > deadline
      local refused, slowest = {}, 0
      for _, a in ipairs(answers) do
        if a.code == 503 then refused[#refused + 1] = a.time end
        if a.time > slowest then slowest = a.time end
      end
      io.stderr:write(("\n[W19-04 queue] 150 logins from 150 addresses: %d x 400, %d x 503 (median %.3f s),"
        .. " slowest answer %.2f s\n"):format(count(answers, function(a) return a.code == 400 end), #refused,
        #refused > 0 and median(refused) or -1, slowest))
      assert.equals(150, #answers)
      assert.equals(150, count(answers, function(a) return a.code == 400 or a.code == 503 end))
      assert.is_true(#refused >= 1, "no login was refused: the queue is unbounded")
      -- at once: in the time a few requests take on this loaded machine,
      -- not after a wait for the queue (thread_wait)
      assert.is_true(median(refused) < 2, "503s came after " .. median(refused) .. " s")
      assert.is_true(slowest < 10, "an answer waited " .. slowest .. " s")
      assert.equals(#refused, count(answers, function(a) return a.code == 503 and tonumber(a.retry) end))
    end)
  end)

  nginx_it("W19-04: guesses at one account from 60 addresses: past its limit 429 with Retry-After, no hash", function()
    with_app({ workers = 2 }, function(app)
      local email = example.admin(app)
      local f = flood(app, { path = "/login", body = '{"email":"' .. email .. '","password":"guess %d"}',
                             from = "127.0.2.%d", parallel = 4, rate = 60, max = 60, seconds = 90 })
      local deadline = os.time() + 120
      while not read(f.out .. ".done") and os.time() <= deadline do helpers.sh("sleep 0.2") end
      local answers = f.answers()
      local checked = count(answers, function(a) return a.code == 400 end)
      local throttled = count(answers, function(a) return a.code == 429 and tonumber(a.retry) end)
      -- a full hashing queue may refuse some too (503, Retry-After)
      local busy = count(answers, function(a) return a.code == 503 and tonumber(a.retry) end)
      io.stderr:write(("\n[W19-04 account] 60 guesses from 60 addresses: %d checked (400), %d x 429, %d x 503\n")
        :format(checked, throttled, busy))
      local codes = {}
      for _, a in ipairs(answers) do codes[#codes + 1] = a.code .. "/" .. a.retry end
      assert.equals(60, #answers)
      assert.equals(60, checked + throttled + busy, table.concat(codes, " "))
      assert.is_true(throttled >= 30, table.concat(codes, " "))
      assert.is_true(checked <= 20, checked .. " password checks for one account in a minute")
    end)
  end)
end)


describe("issue 19 item 4: the bounded queue holds under clients that leave", function()
  nginx_it("W19-04: clients that leave while waiting for a hashing slot do not keep their places in the queue", function()
    with_app({ env = "FSEC_THREAD_QUEUE=2 FSEC_THREAD_WAIT=30" }, function(app)
      -- as in spec/40: nginx ends a request whose client left, unless a
      -- handler says otherwise
      local conf = read(app.dir .. "/conf/nginx.conf")
      conf = conf:gsub("http {", "http {\n  lua_check_client_abort on;", 1)
      local fh = io.open(app.dir .. "/conf/nginx.conf", "w"); fh:write(conf); fh:close()
      local function workers()
        return example.run("ps -o pid=,args= --ppid " .. app.pid .. " | grep 'nginx: worker' | grep -v 'shutting down'")
      end
      local old = workers()
      helpers.sh("kill -HUP " .. app.pid)
      assert.is_true(example.poll(30, function()
        local now = workers()
        return now:find("worker", 1, true) and now ~= old
      end), "nginx did not reload")
      assert.is_true(example.poll(30, function()
        return helpers.sh(("curl -sf %s/hello >/dev/null"):format(app.base))
      end))
      -- 6 clients log in at once and leave after 100 ms: one hashes, two
      -- wait in the queue (2), three are refused
      local c = api(app, { from = "127.0.12.1" })
      local cmd = {}
      for i = 1, 6 do
        cmd[i] = ("curl -s -o /dev/null -m 0.1 --interface 127.0.12.%d -b %s -H 'Content-Type: application/json'"
          .. " -H 'Accept: application/json' -H 'X-CSRF-Token: %s' -d '{\"email\":\"gone%d@example.org\","
          .. "\"password\":\"wrong password\"}' %s/login &"):format(i, c.jar, c.csrf, i, app.base)
      end
      helpers.sh(table.concat(cmd, " ") .. " wait")
      -- the pool free again: a login hashes at once
      local n = 0
      assert.is_true(example.poll(30, function()
        n = n + 1
        return (login_time(app, "127.0.13." .. n, "nobody@example.org", "wrong password")) == 400
      end), "the pool never freed")
      -- two at once: one hashes, one waits in the queue (not refused: the
      -- places of the clients that left were given back)
      local g = flood(app, { path = "/login", body = '{"email":"again%d@example.org","password":"wrong password"}',
                             from = "127.0.14.%d", parallel = 2, rate = 2, max = 2, seconds = 60 })
      assert.is_true(example.poll(60, function() return #g.answers() == 2 end))
      local codes = {}
      for i, a in ipairs(g.answers()) do codes[i] = a.code end
      assert.same({ 400, 400 }, codes)
    end)
  end)
end)


-- The library itself (both runtimes): the limiter, and the limits at
-- sec:handle and HTTP Basic.
describe("issue 19: fsec.ratelimit and fsec.throttle", function()
  local ratelimit = require "fsec.ratelimit"

  it("the limiter counts a sliding window per key, gives refused hits back and says how long to wait", function()
    local t = { now = 1000 }
    local clock = function() return t.now end
    local l = ratelimit.new(ratelimit.memory(clock), clock)
    for _ = 1, 3 do assert.is_true((l:hit("k", 3, 10))) end
    local ok, wait = l:hit("k", 3, 10)
    assert.is_false(ok)
    assert.is_true(wait >= 1 and wait <= 20, tostring(wait))
    assert.is_true((l:hit("other", 3, 10))) -- keys are apart
    for _ = 1, 50 do assert.is_false((l:hit("k", 3, 10))) end -- refused: not counted
    t.now = 1010 -- next window: the 3 still weigh fully at its start
    assert.is_false((l:hit("k", 3, 10)))
    t.now = 1015 -- half of them slid out: 1.5 + 1 <= 3
    assert.is_true((l:hit("k", 3, 10)))
    t.now = 1040
    for _ = 1, 3 do assert.is_true((l:hit("k", 3, 10))) end
    -- all or nothing: a hit refused by one limit counts against none
    assert.is_true((l:hit_all{ { "a", 1, 10 } }))
    assert.is_false((l:hit_all{ { "b", 5, 10 }, { "a", 1, 10 } }))
    for _ = 1, 5 do assert.is_true((l:hit("b", 5, 10))) end
    -- the memory backend stays bounded by its key count
    local m = ratelimit.memory(clock, 100)
    local small = ratelimit.new(m, clock)
    for i = 1, 1000 do small:hit("client" .. i, 1, 10) end
    assert.is_true(m.count() <= 100, tostring(m.count()))
  end)

  it("a client over throttle_client_limit and an account over throttle_identity_limit get 429 and Retry-After before any hash", function()
    local sec = setup{ csrf_enabled = false, throttle_client_limit = 5, throttle_identity_limit = 8 }
    for i = 1, 5 do assert.equals(400, post(sec, "/login", { email = "x" .. i .. "@example.com", password = "wrong pw" }).status) end
    local before = sec:hash_count()
    local res = post(sec, "/login", { email = "y@example.com", password = "wrong pw" })
    assert.equals(429, res.status)
    assert.is_true(tonumber(res.headers["Retry-After"]) >= 1)
    assert.equals(before, sec:hash_count())
    -- one account from many addresses: its own limit (email folded)
    for i = 1, 8 do
      assert.equals(400, post(sec, "/login", { email = i % 2 == 0 and "MATT@example.com" or "matt@example.com",
                                               password = "wrong pw" }, "198.51.100." .. i).status)
    end
    before = sec:hash_count()
    res = post(sec, "/login", { email = "matt@example.com", password = PW }, "198.51.100.99")
    assert.equals(429, res.status)
    assert.equals(before, sec:hash_count())
    -- HTTP Basic: the same limits, answered 429 by check()
    local basic = setup{ throttle_client_limit = 2, auth_mechanisms = { "basic" } }
    local function try()
      local req = helpers.request{ headers = { authorization = "Basic " .. require("fsec.core").base64_encode("nobody@example.com:x"),
                                               accept = "application/json" } }
      return select(2, basic:check(req, { auth = { "basic" } }))
    end
    assert.equals(401, try()); assert.equals(401, try())
    assert.equals(429, try())
    assert.has_error(function() helpers.new{ throttle_window = 0 } end) -- a bad window is refused
  end)
end)


describe("issue 19 item 5: instruction mail is rate-limited", function()
  -- n POSTs of path for email, each from its own address (from: a %d pattern)
  local function requests(app, path, email, from, n)
    local codes, retry = {}, {}
    for i = 1, n do
      local c = api(app, { from = from:format(i) })
      local s, _, hd = c.call("POST", path, { email = email })
      codes[i], retry[i] = s, hd["retry-after"]
    end
    return codes, retry
  end
  local function mails_to(app, email)
    return count(example.mails(app), function(m) return m.to == email end)
  end

  nginx_it("W19-05: 30 POST /reset for one address from 30 addresses send at most 5 mails; the rest answer 429", function()
    with_app({}, function(app)
      local email = example.admin(app)
      local codes, retry = requests(app, "/reset", email, "127.0.3.%d", 30)
      helpers.sh("sleep 0.5") -- mail leaves after the response
      local sent = mails_to(app, email)
      io.stderr:write(("\n[W19-05] 30 resets of one address from 30 addresses: %d mails, %d x 200, %d x 429\n")
        :format(sent, count(codes, function(c) return c == 200 end), count(codes, function(c) return c == 429 end)))
      assert.is_true(sent >= 1 and sent <= 5, sent .. " mails")
      for i, c in ipairs(codes) do
        assert.is_true(c == 200 or (c == 429 and tonumber(retry[i]) ~= nil), "answer " .. i .. ": " .. c)
      end
      assert.equals(sent, count(codes, function(c) return c == 200 end))
      -- and one client for many addresses: its own limit
      local a = api(app, { from = "127.0.3.200" })
      local client_codes = {}
      for i = 1, 25 do client_codes[i] = a.call("POST", "/confirm", { email = ("c%d@example.org"):format(i) }) end
      assert.is_true(count(client_codes, function(c) return c == 429 end) >= 1, table.concat(client_codes, " "))
    end)
  end)

  nginx_it("W19-05: with generic responses, over the limit the answer is the same and no mail goes", function()
    with_app({ env = "FSEC_GENERIC_RESPONSES=1" }, function(app)
      local email = example.admin(app)
      local function shape(path, address, from)
        local c = api(app, { from = from })
        local s, r = c.call("POST", path, { email = address })
        r = r or {}
        r.csrf_token = nil
        return s .. " " .. cjson.encode(r)
      end
      for _, path in ipairs{ "/reset", "/confirm" } do
        local unknown = shape(path, "nobody@example.org", "127.0.4.250")
        for i = 1, 12 do
          assert.equals(unknown, shape(path, email, ("127.0.4.%d"):format(i)), path .. " #" .. i)
        end
      end
      helpers.sh("sleep 0.5")
      local sent = mails_to(app, email)
      io.stderr:write(("\n[W19-05 generic] 24 requests for one address: %d mails\n"):format(sent))
      assert.is_true(sent <= 5, sent .. " mails")
    end)
  end)

  it("mail past mail_address_limit: 429 without generic responses; with them the same answer and no mail", function()
    local sec, dir = setup{ csrf_enabled = false, mail_address_limit = 2 }
    assert.equals(200, post(sec, "/reset", { email = "matt@example.com" }, "192.0.2.1").status)
    assert.equals(200, post(sec, "/reset", { email = "Matt@example.com" }, "192.0.2.2").status)
    local res = post(sec, "/reset", { email = "matt@example.com" }, "192.0.2.3")
    assert.equals(429, res.status)
    assert.is_true(tonumber(res.headers["Retry-After"]) >= 1)
    assert.equals(2, #helpers.mails(dir))
    local g, gdir = setup{ csrf_enabled = false, mail_address_limit = 2, mail_client_limit = 3, return_generic_responses = true }
    local answers = {}
    local function shape(r) -- the status and the answer, its fresh CSRF token aside
      local j = cjson.decode(r.body)
      j.response.csrf_token = nil
      return r.status .. " " .. cjson.encode(j)
    end
    for i = 1, 4 do answers[i] = shape(post(g, "/reset", { email = "matt@example.com" }, "192.0.2." .. i)) end
    for i = 1, 4 do answers[#answers + 1] = shape(post(g, "/reset", { email = "nobody" .. i .. "@example.com" }, "192.0.2.50")) end
    for i = 2, #answers do assert.equals(answers[1], answers[i]) end
    assert.equals(2, #helpers.mails(gdir))
    -- a bad limit is refused
    assert.has_error(function() helpers.new{ mail_address_limit = -1 } end)
  end)
end)


describe("issue 19 item 8 (mail): known and unknown addresses take the same time", function()
  nginx_it("W19-08: with generic responses, POST /reset medians of 200 known and 200 unknown addresses differ by < 10 %", function()
    with_app({ env = "FSEC_GENERIC_RESPONSES=1" }, function(app)
      -- 200 confirmed accounts, one hash for all (the app's own store)
      local sec = example.security(app)
      local hash = assert(sec:hash_password("password-123"))
      for i = 1, 200 do
        assert(sec.datastore:create_user{ email = ("known%d@example.org"):format(i), password = hash, confirmed_at = os.time() })
      end
      sec:close()
      -- one curl, requests one after another, known and unknown
      -- interleaved, each from its own address (no limit in the way)
      local jar = app.dir .. ".timing.jar"
      local _, _, _, j = http(app, "GET", "/login", { jar = jar, headers = { Accept = "application/json" } })
      local token = j.response.csrf_token
      local cfg = {}
      for i = 1, 200 do
        -- each pair in a random order: the mail's work runs a moment after
        -- a known address's answer, and must not always land on one kind
        local pair = math.random(2) == 1 and { "known", "unknown" } or { "unknown", "known" }
        for _, kind in ipairs(pair) do
          cfg[#cfg + 1] = ('url = "%s/reset"\ndata = "{\\"email\\":\\"%s%d@example.org\\"}"\ninterface = "127.0.%d.%d"\n'
            .. 'cookie = "%s"\nheader = "Accept: application/json"\nheader = "Content-Type: application/json"\n'
            .. 'header = "X-CSRF-Token: %s"\noutput = "/dev/null"\nwrite-out = "%s %%{http_code} %%{time_total}\\n"\n')
            :format(app.base, kind, i, kind == "known" and 5 or 6, i, jar, token, kind)
        end
      end
      local f = io.open(app.dir .. ".timing.cfg", "w")
      f:write(table.concat(cfg, "next\n"))
      f:close()
      -- three rounds of the 400 (each account and address once a round,
      -- within the mail limits): 600 of each, interleaved
      local times = { known = {}, unknown = {} }
      for _ = 1, 3 do
        for line in example.run("curl -s -K " .. app.dir .. ".timing.cfg"):gmatch("[^\n]+") do
          local kind, code, took = line:match("^(%a+) (%d+) ([%d.]+)")
          assert.equals("200", code, line)
          table.insert(times[kind], tonumber(took))
        end
      end
      assert.equals(600, #times.known); assert.equals(600, #times.unknown)
      local k, u = median(times.known), median(times.unknown)
      local diff = math.abs(k - u) / math.min(k, u)
      io.stderr:write(("\n[W19-08] POST /reset medians of 600: known %.3f ms, unknown %.3f ms (%.1f %%)\n")
        :format(k * 1000, u * 1000, diff * 100))
      -- every known address was mailed (after the answers)
      local mailed
      local deadline = os.time() + 20
      repeat
        mailed = count(example.mails(app), function(m) return m.to and m.to:find("^known") end)
        if mailed < 600 then helpers.sh("sleep 0.2") end
      until mailed >= 600 or os.time() > deadline
      assert.equals(600, mailed)
      assert.is_true(diff < 0.10, ("known %.3f ms, unknown %.3f ms"):format(k * 1000, u * 1000))
    end)
  end)
end)


describe("issue 19: tokens stay out of the access log", function()
  nginx_it("W19-13: ?auth_token= and mailed links' tokens are not written to the access log", function()
    with_app({}, function(app)
      local secret = "SECRET" .. math.random(1e9)
      local paths = { "/api/me?auth_token=" .. secret, "/login?auth_token=" .. secret,
                      "/reset/" .. secret, "/confirm/" .. secret .. "?auth_token=" .. secret,
                      "/change-email/" .. secret, "/tf-setup/" .. secret, "/us-setup/" .. secret,
                      "/wan-register/" .. secret, "/wan-signin/" .. secret, "/wan-verify/" .. secret }
      for _, p in ipairs(paths) do http(app, "GET", p, { headers = { Accept = "application/json" } }) end
      local log
      local deadline = os.time() + 10
      local lines
      repeat
        log = read(app.dir .. "/logs/access.log") or ""
        lines = select(2, log:gsub("\n", ""))
        if lines < #paths + 1 then helpers.sh("sleep 0.1") end
      until lines >= #paths + 1 or os.time() > deadline -- the start's /hello and these
      assert.matches("GET /api/me ", log, 1, true)
      assert.matches("GET /reset/<token> ", log, 1, true)
      assert.matches("GET /change-email/<token> ", log, 1, true)
      assert.is_nil(log:find(secret, 1, true), log)
    end)
  end)
end)
