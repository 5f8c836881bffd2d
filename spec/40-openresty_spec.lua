-- End to end in the real nginx (Debian's nginx + lua-nginx-module): the
-- example app driven over HTTP with curl, with 1 and 2 workers.
-- Runs in the LuaJIT pass only (nginx's Lua is LuaJIT), not under ASan.
local helpers = require "spec.helpers"
local cjson = require "cjson"

local build = os.getenv("FSEC_BUILD_DIR") or "build"

local read = helpers.read

-- The app's error log once it holds text (plain), or as it is after
-- tries x 0.1 s.
local function wait_log(app, text, tries)
  local log
  for _ = 1, tries or 20 do
    log = read(app.dir .. "/logs/error.log") or ""
    if log:find(text, 1, true) then break end
    helpers.sh("sleep 0.1")
  end
  return log
end

-- Starting and stopping the example app, and curl requests: shared with
-- the other specs that attack it (spec/tools/example_app.lua).
local example = require "spec.tools.example_app"
local start, stop, with_app, http = example.start, example.stop, example.with_app, example.http
local admin_password, enabled = example.admin_password, example.enabled

-- The status of a JSON client's GET of path with these header lines
-- (each sent as written, repeats included) and a file of more.
local function status_of(app, path, lines, file)
  return example.request(app, { path = path, headers = { Accept = "application/json" }, lines = lines,
                                header_file = file }).status
end

-- The newest mail, once there is one more than this app's last read:
-- mail leaves after the response (a timer), so it may come just after.
local function latest_mail(app)
  local seen = app.mails_read or 0
  local names
  for _ = 1, 50 do
    local p = io.popen("ls -1t " .. app.dir .. "/var/mail")
    names = {}
    for n in p:lines() do names[#names + 1] = n end
    p:close()
    if #names > seen then break end
    helpers.sh("sleep 0.05")
  end
  app.mails_read = #names
  return read(app.dir .. "/var/mail/" .. names[1])
end

local function latest_mail_link(app)
  return latest_mail(app):match("X%-Fsec%-Link: https?://[^/]+(%S+)")
end

local describe_or_pending = enabled and describe or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

describe_or_pending("the example app in nginx", function()
  for _, workers in ipairs{ 1, 2 } do
    it("runs register -> confirm -> login -> token -> API -> denied -> logout with " .. workers .. " worker(s)", function()
      with_app({ workers = workers }, function(app)
        local jar = app.dir .. ".jar"
        local c = example.api(app, { jar = jar })
        local s = c.call("POST", "/register", { email = "new@example.org", password = "battery staple",
                                                 password_confirm = "battery staple" })
        assert.equals(200, s)
        local link = latest_mail_link(app)
        assert.matches("^/confirm/", link)
        -- a mail scanner's HEAD answers through nginx, headers only, and
        -- confirms nothing; nor does the GET: it asks (a page with a
        -- button), and the button's POST confirms
        local p = io.popen("curl -s -I -o /dev/null -w '%{http_code}' '" .. app.base .. link .. "'")
        assert.equals("200", p:read("*a")); p:close()
        local st0, hd0 = http(app, "OPTIONS", "/login")
        assert.equals(200, st0); assert.equals("GET, POST, HEAD, OPTIONS", hd0.allow)
        local _, consent
        s, _, consent = http(app, "GET", link, { jar = jar })
        assert.equals(200, s)
        local page_csrf = consent:match('name="csrf_token" value="([^"]+)"')
        local hd
        s, hd = http(app, "POST", link, { jar = jar, headers = { ["X-CSRF-Token"] = page_csrf } })
        assert.equals(302, s)
        assert.equals("/login", hd.location) -- not /confirm: "already confirmed"
        local r
        s, r = c.call("POST", "/login?include_auth_token", { email = "new@example.org", password = "battery staple" })
        assert.equals(200, s)
        local token = r.user.authentication_token
        local _, _, _, j = http(app, "GET", "/api/me", { headers = { ["Authentication-Token"] = token } })
        assert.equals("new@example.org", j.email)
        assert.equals("token", j.via)
        assert.equals(tostring(j.id), j.upstream_user_header)
        -- protect() inside content_by_lua: the user, or the denial answered
        for _, path in ipairs{ "/bench/token", "/bench/token-inline" } do
          local st, _, body = http(app, "GET", path, { headers = { ["Authentication-Token"] = token } })
          assert.equals(200, st); assert.equals("hello\n", body)
          st, _, body = http(app, "GET", path, { headers = { ["Authentication-Token"] = token .. "x",
                                                                 Accept = "application/json" } })
          assert.equals(401, st); assert.is_nil(body:find("hello", 1, true))
          local st2, hd2, body2 = http(app, "GET", path) -- a browser: to the login page
          assert.equals(302, st2); assert.matches("^/login", hd2.location); assert.is_nil(body2:find("hello", 1, true))
        end
        -- a client cannot spoof the upstream user header
        _, _, _, j = http(app, "GET", "/api/me", { headers = { ["Authentication-Token"] = token, ["X-User-Id"] = "1" } })
        assert.equals(tostring(j.id), j.upstream_user_header)
        assert.equals(403, (http(app, "GET", "/admin", { jar = jar })))
        for _ = 1, 6 do -- spread over the workers: every one accepts the session
          assert.equals(200, (http(app, "GET", "/profile", { jar = jar })))
        end
        local ajar = app.dir .. ".admin.jar"
        local a = example.api(app, { jar = ajar })
        assert.equals(200, (a.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
        assert.equals(200, (http(app, "GET", "/admin", { jar = ajar })))
        if workers == 2 then -- sessions survive a reload (new workers)
          helpers.sh("kill -HUP " .. app.pid .. "; sleep 1")
          assert.equals(200, (http(app, "GET", "/admin", { jar = ajar })))
        end
        -- a GET (a forged <img src=/logout>) signs nobody out: POST with CSRF only
        assert.equals(405, (http(app, "GET", "/logout", { jar = jar })))
        assert.equals(200, (http(app, "GET", "/profile", { jar = jar })))
        helpers.sh(("cp %s %s.old"):format(jar, jar))
        s = c.call("POST", "/logout")
        assert.equals(200, s)
        local st, out = http(app, "GET", "/profile", { jar = jar })
        assert.equals(302, st)
        assert.equals("/login?next=/profile", out.location)
        -- the cookie from before the logout, in every worker at once (each
        -- cached the session above: the shared generation drops it)
        for _ = 1, 6 do
          assert.equals(302, (http(app, "GET", "/profile", { jar = jar .. ".old" })))
        end
        -- a reset link names this site, whatever Host the client sent
        local hjar, evil = app.dir .. ".host.jar", { Accept = "application/json", Host = "evil.example" }
        local _, _, _, hj = http(app, "GET", "/reset", { jar = hjar, headers = evil })
        evil["X-CSRF-Token"] = hj.response.csrf_token
        assert.equals(200, (http(app, "POST", "/reset", { jar = hjar, headers = evil, json = { email = "new@example.org" } })))
        assert.matches("X-Fsec-Link: " .. app.base .. "/reset/", latest_mail(app), 1, true)
        -- a raw URI that nginx routes to /login but that, as a form's
        -- action, would post to another host: the form posts to /login
        local raw = io.popen("curl -s --path-as-is '" .. app.base .. "//evil.example/..%2flogin'")
        local page = raw:read("*a"); raw:close()
        -- the example's own pages are framed by no other site either
        local _, ph = http(app, "GET", "/", { jar = jar })
        assert.equals("DENY", ph["x-frame-options"]); assert.equals("private, no-store", ph["cache-control"])
        assert.matches('<form method="post" action="/login"', page, 1, true)
        -- answers are kept by no cache; a broken Accept header is no error
        local _, lh = http(app, "GET", "/login", { headers = { Accept = "application/json" } })
        assert.equals("private, no-store", lh["cache-control"])
        assert.equals(200, (http(app, "GET", "/login", { headers = { Accept = ";" } })))
        assert.equals(302, (http(app, "GET", "/profile", { headers = { Accept = "text/html, ;q=0.5" } })))
        -- a body over the limit: 413
        local big = app.dir .. ".big"
        local f = io.open(big, "w"); f:write(string.rep("x", 100000)); f:close()
        assert.equals(413, (http(app, "POST", "/login", { data_file = big })))
        -- memory accounting (bench/nginx.sh): the cache holds users, SQLite pages
        local _, _, _, m = http(app, "GET", "/bench/memory?gc=1")
        assert.is_true(m.lua_heap_bytes > 0)
        -- a token request fills the token cache of the worker it reaches
        -- (its entry holds the token's user too); with 2 workers the
        -- memory request may reach the other, so some answer among a few
        -- must hold one
        local most = m.token_cache_entries
        for _ = 1, 10 do
          if most >= 1 then break end
          http(app, "GET", "/api/me", { headers = { ["Authentication-Token"] = token } })
          local _, _, _, m2 = http(app, "GET", "/bench/memory")
          most = math.max(most, m2.token_cache_entries)
        end
        assert.is_true(most >= 1)
        assert.is_true(m.sqlite.cache_bytes > 0)
        assert.is_true(m.sqlite.sqlite_heap_bytes >= m.sqlite.cache_bytes)
        -- the audit hook wrote both logins
        local audit = read(app.dir .. "/var/audit.log")
        assert.matches("login new@example.org via password", audit, 1, true)
        assert.matches("login admin@example.org via password", audit, 1, true)
      end)
    end)
  end

  it("revokes a cached token or session on every worker at once, through the cache-hit path", function()
    with_app({ workers = 2 }, function(app)
      local c = example.api(app, { jar = app.dir .. ".jar" })
      local pw = admin_password(app)
      local s, r = c.call("POST", "/login?include_auth_token", { email = "admin@example.org", password = pw })
      assert.equals(200, s)
      local token = r.user.authentication_token
      local sjar = app.dir .. ".s.jar"
      local sc = example.api(app, { jar = sjar })
      assert.equals(200, (sc.call("POST", "/login", { email = "admin@example.org", password = pw })))
      local cookie = "Cookie: session=" .. assert(read(sjar):match("\tsession\t(%S+)"))
      local function both(path, line) -- every worker, by enough requests
        local seen = {}
        for _ = 1, 12 do seen[status_of(app, path, { line })] = true end
        return seen
      end
      assert.same({ [200] = true }, both("/bench/token", "Authentication-Token: " .. token))
      assert.same({ [200] = true }, both("/bench/token-admit", "Authentication-Token: " .. token))
      assert.same({ [200] = true }, both("/bench/session", cookie))
      assert.same({ [200] = true }, both("/bench/session-admit", cookie))
      -- the session's logout: its cookie refused at once, in both workers
      assert.equals(200, (sc.call("POST", "/logout", {})))
      assert.same({ [401] = true }, both("/bench/session", cookie))
      assert.same({ [401] = true }, both("/bench/session-admit", cookie))
      -- a password change ends the auth tokens (c's session goes on)
      local new = pw .. " changed"
      s = c.call("POST", "/change", { password = pw, new_password = new, new_password_confirm = new })
      assert.equals(200, s)
      assert.same({ [401] = true }, both("/bench/token", "Authentication-Token: " .. token))
      assert.same({ [401] = true }, both("/bench/token-inline", "Authentication-Token: " .. token))
      assert.same({ [401] = true }, both("/bench/token-admit", "Authentication-Token: " .. token))
    end)
  end)

  it("runs an access hook on every checked request, the cached ones too", function()
    local block = helpers.tmpfile("block.txt")
    with_app({ env = "FSEC_EXAMPLE_BLOCK_FILE=" .. block }, function(app)
      local c = example.api(app, { jar = app.dir .. ".jar" })
      local s, r = c.call("POST", "/login?include_auth_token", { email = "admin@example.org", password = admin_password(app) })
      assert.equals(200, s)
      local token = r.user.authentication_token
      local function status(path) return status_of(app, path, { "Authentication-Token: " .. token }) end
      for _ = 1, 3 do -- cached after the first
        assert.equals(200, status("/bench/token")); assert.equals(200, status("/bench/token-inline"))
        assert.equals(200, status("/bench/token-admit"))
      end
      local f = assert(io.open(block, "w")); f:write("admin@example.org\n"); f:close()
      assert.equals(403, status("/bench/token")); assert.equals(403, status("/bench/token-inline"))
      assert.equals(403, status("/bench/token-admit"))
      os.remove(block)
      assert.equals(200, status("/bench/token")); assert.equals(200, status("/bench/token-inline"))
    end)
  end)

  it("reads a request header as nginx's $http_ variable does, through its header list", function()
    with_app({}, function(app)
      local c = example.api(app, { jar = app.dir .. ".jar" })
      local s, r = c.call("POST", "/login?include_auth_token", { email = "admin@example.org", password = admin_password(app) })
      assert.equals(200, s)
      local token = r.user.authentication_token
      local function status(lines, file, query)
        return status_of(app, "/bench/token-inline" .. (query or ""), lines, file)
      end
      assert.equals(200, status{ "Authentication-Token: " .. token })
      assert.equals(200, status{ "AUTHENTICATION-TOKEN: " .. token })            -- any case
      assert.equals(200, status{ "Authentication-Token: " .. token, "Authentication-Token: junk" }) -- the first
      assert.equals(401, status{ "Authentication-Token: junk", "Authentication-Token: " .. token })
      assert.equals(401, status{ "Authentication-Tokens: " .. token })           -- another name
      assert.equals(401, status{ "Authentication-Toke: " .. token })
      assert.equals(401, status{ "Authentication_Token: " .. token })            -- nginx drops "_" names
      assert.equals(401, status{ "Authentication-Token: " .. token .. "x" })
      -- the query's token comes before the header's (Flask-Security's order)
      assert.equals(200, status({}, nil, "?auth_token=" .. token))
      assert.equals(200, status({ "Authentication-Token: junk" }, nil, "?x=1&auth_token=" .. token))
      assert.equals(401, status({ "Authentication-Token: " .. token }, nil, "?auth_token=junk"))
      assert.equals(200, status({ "Authentication-Token: " .. token }, nil, "?"))
      assert.equals(200, status({ "Authentication-Token: " .. token }, nil, "?other=1"))
      -- more headers than the first buffer holds (64), and than fsec reads
      -- through the list at all (256: nginx's variable then)
      for _, n in ipairs{ 100, 400 } do
        local file = app.dir .. ".headers" .. n
        local f = io.open(file, "w")
        for i = 1, n do f:write("X-Filler-", i, ": ", i, "\n") end
        f:close()
        assert.equals(200, status({ "Authentication-Token: " .. token }, file))
        assert.equals(401, status({ "Authentication-Token: junk", "Authentication-Token: " .. token }, file))
        assert.equals(401, status({}, file))
      end
      -- the session cookie, read from the Cookie header as parse_cookies
      -- reads it (nginx joins Cookie headers sent twice with "; ")
      local sjar = app.dir .. ".session.jar"
      local sc = example.api(app, { jar = sjar })
      assert.equals(200, (sc.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
      local session = read(sjar):match("\tsession\t(%S+)")
      assert.truthy(session)
      local function session_status(lines) return status_of(app, "/bench/session-inline", lines) end
      assert.equals(200, session_status{ "Cookie: session=" .. session })
      assert.equals(200, session_status{ "Cookie: a=1;  session =  " .. session .. "  ; b=2" })
      assert.equals(200, session_status{ "Cookie: a=1", "Cookie: session=" .. session })
      assert.equals(401, session_status{ "Cookie: session=" .. session .. "; session=" .. session })
      assert.equals(401, session_status{ "Cookie: session=" .. session, "Cookie: session=" .. session })
      assert.equals(401, session_status{ "Cookie: xsession=" .. session })
      assert.equals(401, session_status{ "Cookie: session" })
      assert.equals(401, session_status{})
      -- and through the FFI path, not nginx's variables
      assert.is_nil(read(app.dir .. "/logs/error.log"):find("no FFI access", 1, true))
      -- a client's own X-User-Id never reaches the upstream, however written
      for _, name in ipairs{ "X-User-Id", "x-user-id", "X-USER-ID" } do
        local p = io.popen(("curl -s -H 'Authentication-Token: %s' -H '%s: 1' -H 'X-User-Id: 2' %s/api/me")
                           :format(token, name, app.base))
        local j = cjson.decode(p:read("*a"))
        p:close()
        assert.equals(tostring(j.id), j.upstream_user_header)
      end
    end)
  end)

  it("posts at most thread_jobs jobs at once: a burst of logins waits, and leaves no Lua states behind", function()
    -- logins with a wrong password, all at once: one argon2 each in the pool
    local function burst(app, n)
      local cmd = {}
      for i = 1, n do
        local jar = ("%s.burst%d.jar"):format(app.dir, i)
        -- each from its own address: the example lets one address post
        -- one credential at a time (limit_conn), and this is n clients
        local from = "--interface 127.0.10." .. i
        cmd[#cmd + 1] = ("( T=$(curl -s %s -c %s -b %s -H 'Accept: application/json' %s/login | sed 's/.*\"csrf_token\":\"\\([^\"]*\\)\".*/\\1/');"
          .. " curl -s %s -o /dev/null -w '%%{http_code}\\n' -c %s -b %s -H 'Content-Type: application/json' -H \"X-CSRF-Token: $T\""
          .. " -d '{\"email\":\"admin@example.org\",\"password\":\"wrong password\"}' %s/login ) &")
          :format(from, jar, jar, app.base, from, jar, jar, app.base)
      end
      local p = io.popen(table.concat(cmd, " ") .. " wait")
      local codes = {}
      for line in p:lines() do codes[#codes + 1] = tonumber(line) end
      p:close()
      return codes
    end
    local function states(app)
      local _, _, _, m = http(app, "GET", "/bench/memory")
      return m.lua_states
    end
    -- the example's limits (1 hashing job for its 1 thread, 1 fsync of a
    -- wrong password's count): every login answered, and the worker holds
    -- its own Lua state and at most 2 of nginx's thread states (a queue
    -- of 16 and a wait of 30 s: the example's 8 and 5 s would refuse some
    -- of the 12, 503, on a loaded machine)
    with_app({ env = "FSEC_THREAD_QUEUE=16 FSEC_THREAD_WAIT=30" }, function(app)
      local codes = burst(app, 12)
      assert.equals(12, #codes)
      for _, c in ipairs(codes) do assert.equals(400, c) end
      local n = states(app)
      assert.is_true(n >= 2 and n <= 3, "Lua states: " .. tostring(n))
      -- memory() also reports what the two L1 caches allocated at start
      -- (resty.lrucache.pureffi's slots, about 70 bytes an entry each, and
      -- 8,192 buckets of 4 bytes each at a load factor of 0.1; 512 entries
      -- each before the example's fsec_cache dict, 8 MiB)
      local _, _, _, m = http(app, "GET", "/bench/memory")
      assert.is_true(m.cache_slot_bytes > 2 * (512 * 16 + 8192 * 4) and m.cache_slot_bytes < 2 * (512 * 96 + 8192 * 4),
                     "cache slots: " .. tostring(m.cache_slot_bytes))
      assert.equals(8 * 1024 * 1024, m.shared_cache_capacity)
      assert.is_true(m.shared_cache_bytes >= 0 and m.shared_cache_bytes < m.shared_cache_capacity)
      -- those states carry what a hash and an fsync need, not fsec.user
      -- (loaded at the first datastore job, which SQLite never posts)
      local _, _, _, t = http(app, "GET", "/bench/thread-memory")
      assert.is_true(t.ok)
      assert.is_true(t.heap_bytes > 0)
      assert.matches("fsec.openresty.thread", t.modules, 1, true)
      assert.is_nil((" " .. t.modules .. " "):find(" fsec.user ", 1, true), t.modules)
      assert.is_boolean(t.semaphore) -- bench/nginx.sh's semaphore row reads it
      assert.equals(n, states(app)) -- and asking made no new state
    end)
    -- one job at a time, and a wait too short for the queue: the excess
    -- fails as unavailable (503, Retry-After), never hashed in the event loop
    with_app({ env = "FSEC_THREAD_JOBS=1 FSEC_THREAD_WAIT=0.02" }, function(app)
      local codes = burst(app, 8)
      assert.equals(8, #codes)
      local seen = {}
      for _, c in ipairs(codes) do seen[c] = (seen[c] or 0) + 1 end
      assert.is_true((seen[400] or 0) >= 1, "some logins hashed: " .. table.concat(codes, " "))
      assert.is_true((seen[503] or 0) >= 1, "some logins waited too long: " .. table.concat(codes, " "))
      assert.equals(8, (seen[400] or 0) + (seen[503] or 0))
      local n = states(app) -- its own, 1 hashing job, 1 fsync
      assert.is_true(n >= 2 and n <= 3, "Lua states: " .. tostring(n))
      -- every slot came back: one login on the idle pool hashes at once
      for _ = 1, 3 do assert.same({ 400 }, burst(app, 1)) end
      local log = read(app.dir .. "/logs/error.log")
      assert.is_nil(log:find("hashing inline", 1, true))
      assert.matches("thread pool 'fsec' busy", log, 1, true)
    end)
  end)

  it("names the session cookie by the connection's scheme (__Host- and Secure over TLS)", function()
    with_app({}, function(app)
      -- a TLS listener beside the plain one, in the same server block, on
      -- a port below the kernel's ephemeral range (32768-60999): port + 10000
      -- landed there and once collided with a client's outgoing connection
      local tls_port
      repeat tls_port = example.free_port() until tls_port ~= app.port
      assert.is_true(helpers.sh(("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1"
        .. " -keyout %s/tls.key -out %s/tls.crt >/dev/null 2>&1"):format(app.dir, app.dir)))
      local conf = read(app.dir .. "/conf/nginx.conf")
      local plain = "listen 127.0.0.1:" .. app.port .. ";"
      conf = conf:gsub(plain:gsub("%p", "%%%0"), (plain .. " listen 127.0.0.1:%d ssl; ssl_certificate %s/tls.crt;"
        .. " ssl_certificate_key %s/tls.key;"):format(tls_port, app.dir, app.dir), 1)
      local f = io.open(app.dir .. "/conf/nginx.conf", "w"); f:write(conf); f:close()
      helpers.sh("kill -HUP " .. app.pid)
      local tls = "https://127.0.0.1:" .. tls_port
      for _ = 1, 50 do
        if helpers.sh("curl -skf " .. tls .. "/hello >/dev/null 2>&1") then break end
        helpers.sh("sleep 0.1")
      end
      local jar = app.dir .. ".tls.jar"
      local function curl(args)
        local p = io.popen("curl -sk -c " .. jar .. " -b " .. jar .. " " .. args)
        local out = p:read("*a")
        p:close()
        return out
      end
      local csrf = curl("-H 'Accept: application/json' " .. tls .. "/login"):match('"csrf_token":"([^"]+)"')
      assert.truthy(csrf)
      local headers = curl(("-D - -o /dev/null -H 'Content-Type: application/json' -H 'X-CSRF-Token: %s'"
        .. " -d '{\"email\":\"admin@example.org\",\"password\":\"%s\"}' %s/login"):format(csrf, admin_password(app), tls))
      local value = headers:match("[Ss]et%-[Cc]ookie: __Host%-session=([^;]+);[^\r\n]*Secure")
      assert.truthy(value, headers)
      local function code(base, cookie)
        local p = io.popen(("curl -sk -o /dev/null -w '%%{http_code}' -H 'Accept: application/json' -H 'Cookie: %s' %s/bench/session-inline")
                           :format(cookie, base))
        local c = tonumber(p:read("*a"))
        p:close()
        return c
      end
      assert.equals(200, code(tls, "__Host-session=" .. value))
      assert.equals(401, code(tls, "session=" .. value))           -- over TLS the name is __Host-session
      assert.equals(401, code(app.base, "__Host-session=" .. value)) -- and over plain HTTP it is session
    end)
  end)

  it("takes a real browser through the HTML flow (headless Chromium)", function()
    local have = helpers.sh("command -v node >/dev/null && test -x /usr/bin/chromium && test -d spec/browser/node_modules/playwright-core")
    if not have then
      if os.getenv("FSEC_REQUIRE_BROWSER") == "1" then error("chromium, node or playwright-core missing") end
      return pending("chromium, node or playwright-core missing")
    end
    local app = start({ env = "FSEC_DEV_MAILBOX=1" }) -- the flow reads its link at /mail
    local artifacts = (os.getenv("FSEC_ARTIFACTS") or (build .. "/artifacts")) .. "/browser"
    helpers.sh("rm -rf " .. artifacts) -- an earlier run's screenshots prove nothing
    local p = io.popen(("node spec/browser/flow.mjs %s %s 2>&1; echo rc=$?"):format(app.base, artifacts))
    local out = p:read("*a")
    p:close()
    stop(app)
    assert.matches("browser flow ok", out, 1, true)
    assert.matches("rc=0", out, 1, true)
    assert.is_true(helpers.sh("test -s " .. artifacts .. "/09-profile.png"))
  end)

  it("shows a template override and a second language in a real browser (headless Chromium)", function()
    local have = helpers.sh("command -v node >/dev/null && test -x /usr/bin/chromium && test -d spec/browser/node_modules/playwright-core")
    if not have then
      if os.getenv("FSEC_REQUIRE_BROWSER") == "1" then error("chromium, node or playwright-core missing") end
      return pending("chromium, node or playwright-core missing")
    end
    local app = start()
    local artifacts = (os.getenv("FSEC_ARTIFACTS") or (build .. "/artifacts")) .. "/browser-languages"
    helpers.sh("rm -rf " .. artifacts) -- an earlier run's screenshots prove nothing
    local p = io.popen(("node spec/browser/languages.mjs %s %s admin@example.org 2>&1; echo rc=$?")
      :format(app.base, artifacts))
    local out = p:read("*a")
    p:close()
    -- and without a browser: curl's Accept-Language, and the locale hook
    local s, _, body = http(app, "GET", "/login", { headers = { ["Accept-Language"] = "de-CH, fr;q=0.5" } })
    local s2, _, body2 = http(app, "GET", "/login?lang=fr", { headers = { ["Accept-Language"] = "de" } })
    stop(app)
    assert.matches("browser languages ok", out, 1, true)
    assert.matches("rc=0", out, 1, true)
    for _, shot in ipairs{ "01-login-fr-override", "02-login-error-fr", "03-login-de", "04-register-fr" } do
      assert.is_true(helpers.sh("test -s " .. artifacts .. "/" .. shot .. ".png"), shot)
    end
    assert.equals(200, s)
    assert.matches('<html lang="de">', body, 1, true)
    assert.matches('id="languages"', body, 1, true)
    assert.equals(200, s2)
    assert.matches('<label for="email">Adresse e-mail</label>', body2, 1, true)
  end)

  it("answers 503 while another process holds the database lock", function()
    with_app({ env = "FSEC_DB_BUSY_TIMEOUT=200" }, function(app)
      local c = example.api(app, { jar = app.dir .. ".jar" })
      local ready = app.dir .. ".locked"
      helpers.sh(("LUA_PATH=%q LUA_CPATH=%q lua5.4 spec/tools/hold_lock.lua %s/var/auth.db 3 %s &")
        :format(package.path, package.cpath:gsub("luajit", "lua54"), app.dir, ready))
      for _ = 1, 50 do
        if read(ready) then break end
        helpers.sh("sleep 0.1")
      end
      local s, r = c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })
      assert.equals(503, s)
      assert.same({ "Service temporarily unavailable" }, r.errors)
      helpers.sh("sleep 3.2")
      s = c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })
      assert.equals(200, s)
    end)
  end)

  it("refuses a weak password with zxcvbn's warning and a breached one, the list mapped by the master", function()
    local core = require "fsec.core"
    local text = helpers.tmpfile("hibp-nginx.txt")
    local lines = { core.sha1_hex("Correct Horse Battery Staple 1") .. ":12", core.sha1_hex("123456") .. ":37359195" }
    table.sort(lines)
    local f = assert(io.open(text, "wb")); f:write(table.concat(lines, "\r\n"), "\r\n"); f:close()
    local list = helpers.tmpfile("hibp-nginx.bin")
    assert.equals(2, core.breached_build(text, list))
    local settings = cjson.encode{ password_complexity_checker = "zxcvbn", password_breached_file = list }
    with_app({ workers = 2, env = "FSEC_EXAMPLE_CONFIG='" .. settings .. "'" }, function(app)
      local c = example.api(app)
      local function register(email, pw)
        local s, r = c.call("POST", "/register", { email = email, password = pw, password_confirm = pw })
        return s, r and r.field_errors and r.field_errors.password
      end
      for _ = 1, 2 do -- both workers (nginx hands connections to either)
        local s, errs = register("weak@example.org", "aaaaaaaaaaaa")
        assert.equals(400, s)
        assert.same({ 'Repeats like "aaa" are easy to guess.' }, errs)
        s, errs = register("weak@example.org", "qwertyuiop")
        assert.equals(400, s)
        assert.same({ "This is a very common password." }, errs)
        s, errs = register("breached@example.org", "Correct Horse Battery Staple 1")
        assert.equals(400, s)
        assert.same({ "Password on breached list" }, errs)
      end
      assert.equals(200, (register("strong@example.org", "correct horse battery staple river")))
      -- mapped once, by the master, before the fork: every worker has the
      -- same shared read-only mapping of the file, and none a copy of it
      local p = io.popen("for m in $(cat " .. app.dir .. "/logs/nginx.pid); do for w in $(pgrep -P $m); do "
        .. "grep -c -F " .. list .. " /proc/$w/maps; grep -A3 -F " .. list .. " /proc/$w/smaps | "
        .. "awk '/^Private_Dirty/ { print \"dirty\", $2 }'; done; done")
      local out = p:read("*a")
      p:close()
      local mapped, dirty = 0, 0
      for n in out:gmatch("(%d+)\n") do if tonumber(n) >= 1 then mapped = mapped + 1 end end
      for n in out:gmatch("dirty (%d+)") do dirty = dirty + tonumber(n) end
      assert.is_true(mapped >= 2, out)
      assert.equals(0, dirty)
    end)
  end)

  it("refuses logins from the deny list (a policy hook) and hashes off the event loop", function()
    with_app({}, function(app)
      local f = io.open(app.dir .. "/var/deny.txt", "w"); f:write("127.0.0.1\n"); f:close()
      local c = example.api(app, { jar = app.dir .. ".jar" })
      local s, r = c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })
      assert.equals(400, s)
      assert.same({ "Authentication failed - identity or password/passcode invalid" }, r.errors)
      local log = read(app.dir .. "/logs/error.log") or ""
      assert.is_nil(log:find("hashing inline", 1, true))
      -- the hash ran in a pool thread at nice 19 (thread_nice), while the
      -- worker's event loop thread kept nice 0
      local nices = {}
      local p = io.popen("for m in $(cat " .. app.dir .. "/logs/nginx.pid); do for w in $(pgrep -P $m); do "
        .. "for t in /proc/$w/task/*; do awk '{ print $19 }' $t/stat; done; done; done")
      for line in p:lines() do nices[#nices + 1] = tonumber(line) end
      p:close()
      table.sort(nices)
      assert.equals(0, nices[1])
      assert.equals(19, nices[#nices])
      -- argon2 itself ran in the pool thread's helper process, a child of
      -- the worker at nice 19: the worker never mapped argon2's 64 MiB, so
      -- its peak resident set stays below it
      p = io.popen("for m in $(cat " .. app.dir .. "/logs/nginx.pid); do for w in $(pgrep -P $m); do "
        .. "awk '/^VmHWM/ { print $2 }' /proc/$w/status; for h in $(pgrep -P $w); do "
        .. "echo helper $(cat /proc/$h/comm) $(awk '{ print $19 }' /proc/$h/stat); done; done; done")
      local out = p:read("*a")
      p:close()
      assert.matches("helper fsec%-argon2 19", out)
      local hwm = tonumber(out:match("^(%d+)"))
      assert.is_true(hwm < 60 * 1024, "worker peak RSS " .. tostring(hwm) .. " KiB")
    end)
  end)

  -- fn() run with the worker's fsync calls traced: the count in its event
  -- loop thread, the count in other threads, one of those threads' id,
  -- and the trace (nil when strace is missing)
  local function traced_fsyncs(app, fn)
    if not helpers.sh("command -v strace >/dev/null") then
      if os.getenv("FSEC_REQUIRE_BROWSER") then error("strace is missing (scripts/deps.sh test installs it)") end
      return nil
    end
    local worker = example.worker_pid(app)
    local trace = app.dir .. ".strace"
    helpers.sh(("strace -f -qq -e trace=fsync,fdatasync -o %s -p %s & echo $! > %s.pid; sleep 1")
      :format(trace, worker, trace))
    local ok, err = pcall(fn)
    helpers.sh("sleep 0.3; kill $(cat " .. trace .. ".pid); sleep 0.3")
    if not ok then error(err, 0) end
    local main, others, syncer = 0, 0, nil
    for line in io.lines(trace) do
      local tid = line:match("^(%d+)%s+f%a*sync%(")
      if tid == worker then main = main + 1 elseif tid then others, syncer = others + 1, tid end
    end
    return main, others, syncer, read(trace), worker
  end

  it("makes commits durable in a pool thread, not in the event loop: login, registration, wrong password, logout", function()
    with_app({}, function(app)
      local c = example.api(app, { jar = app.dir .. ".jar1" })
      -- a first login before tracing: the first write of the worker's
      -- connection creates the WAL file, and SQLite fsyncs its header and
      -- folder in the event loop once (again after each checkpoint)
      local s0 = c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })
      assert.equals(200, s0)
      local main, others, syncer, trace, worker = traced_fsyncs(app, function()
        for i = 1, 2 do -- two more browsers, traced
          c = example.api(app, { jar = app.dir .. ".jar" .. (i + 1) })
          local s, r = c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })
          assert.equals(200, s, require("cjson").encode(r))
        end
        -- every other write too, one commit each, one after the other
        local s, r = c.call("POST", "/logout")
        assert.equals(200, s, require("cjson").encode(r))
        s, r = example.api(app, { jar = app.dir .. ".jar5" }).call("POST", "/login",
          { email = "admin@example.org", password = "wrong password" })
        assert.equals(400, s, require("cjson").encode(r))
        assert.same({ "Invalid password" }, r.field_errors.password)
        s, r = example.api(app, { jar = app.dir .. ".jar4" }).call("POST", "/register",
          { email = "synced@example.org", password = "battery staple", password_confirm = "battery staple" })
        assert.equals(200, s, require("cjson").encode(r))
      end)
      if not main then return pending("strace is not installed") end
      assert.equals(0, main, "fsync in the worker's event loop thread (" .. worker .. "): " .. tostring(trace))
      assert.is_true(others >= 5, "fewer fsyncs in a pool thread than commits: " .. tostring(trace))
      -- that thread runs at nice 19, as the hashing one does
      local stat = read("/proc/" .. worker .. "/task/" .. syncer .. "/stat")
      assert.equals("19", stat:match("^%d+ %b() (.*)$"):match("^%S+" .. string.rep(" %S+", 15) .. " (%S+)"))
    end)
  end)

  it("keeps a session restored in the access phase or by current_user() beside the page's own cookies", function()
    with_app({}, function(app)
      local jar = app.dir .. ".rjar"
      local c = example.api(app, { jar = jar })
      assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app), remember = true })))
      local remember = read(jar):match("remember_token%s+(%S+)")
      assert.is_string(remember)
      local function set_cookies(path, cookie)
        local r = example.request(app, { path = path, headers = { Cookie = cookie } })
        local names = {}
        for _, sc in ipairs(r.set_cookie) do names[#names + 1] = sc:match("^([^=]+)=") end
        table.sort(names)
        return r.status, table.concat(names, " ")
      end
      -- current_user() on the home page: the remember cookie makes a new session
      local st, names = set_cookies("/", "remember_token=" .. remember)
      assert.equals(200, st); assert.equals("session", names)
      -- protect() in access_by_lua made one, and the page cleared a flash cookie
      st, names = set_cookies("/profile", "remember_token=" .. remember .. "; fsec_flash=x")
      assert.equals(200, st); assert.equals("fsec_flash session", names)
    end)
  end)

  it("gives a job's slot back when the client leaves mid-login under lua_check_client_abort on", function()
    with_app({}, function(app)
      local conf = read(app.dir .. "/conf/nginx.conf")
      local n
      conf, n = conf:gsub("http {", "http {\n  lua_check_client_abort on;", 1)
      assert.equals(1, n)
      local f = io.open(app.dir .. "/conf/nginx.conf", "w"); f:write(conf); f:close()
      helpers.sh("kill -HUP " .. app.pid .. "; sleep 1.5")
      local body = app.dir .. ".abort.json"
      f = io.open(body, "w")
      f:write(cjson.encode{ email = "admin@example.org", password = admin_password(app) })
      f:close()
      -- CSRF off for JSON-less clients is not the point: take a token first
      local jar = app.dir .. ".abort.jar"
      local _, _, _, j = http(app, "GET", "/login", { jar = jar, headers = { Accept = "application/json" } })
      local csrf = j.response.csrf_token
      local login = ("curl -s -o /dev/null -w '%%{http_code}' -b %s -H 'Content-Type: application/json'"
        .. " -H 'Accept: application/json' -H 'X-CSRF-Token: %s' --data-binary @%s"):format(jar, csrf, body)
      -- each from its own address (the example lets an address post one
      -- credential at a time, and a request whose client left runs on)
      for i = 1, 4 do -- gone 20 ms in, while the argon2 job runs (thread_jobs = 1)
        helpers.sh(login .. " --interface 127.0.11." .. i .. " -m 0.02 " .. app.base .. "/login >/dev/null 2>&1")
      end
      helpers.sh("sleep 0.5")
      local p = io.popen(login .. " --interface 127.0.11.9 -m 10 " .. app.base .. "/login")
      local code = p:read("*a"); p:close()
      assert.equals("200", code) -- not a 30 s wait for a slot that never comes back, then 503
    end)
  end)

  it("reloads and stops after logins with no crashed worker and no killed helper (no 'exited on signal')", function()
    local app = start({ workers = 2 })
    local ok, err = pcall(function()
      for r = 1, 6 do
        for i = 1, 2 do
          local c = example.api(app, { jar = ("%s.rl%d-%d.jar"):format(app.dir, r, i) })
          assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
        end
        helpers.sh("kill -HUP " .. app.pid .. "; sleep 1.2")
      end
    end)
    stop(app)
    helpers.sh("sleep 1")
    local log = read(app.dir .. "/logs/error.log") or ""
    if not ok then error(tostring(err) .. "\n-- error.log:\n" .. log, 0) end
    -- before: the old workers' pool threads ran fsec.core's thread-exit
    -- destructor after lua_close had unloaded it (signal 11), and every
    -- argon2 helper was SIGKILLed (signal 9)
    assert.is_nil(log:find("exited on signal", 1, true), log)
  end)

  -- ps's lines as { pid, ppid, pgid, comm }
  local function processes()
    local out = {}
    local p = io.popen("ps -eo pid=,ppid=,pgid=,comm=")
    for line in p:lines() do
      local pid, ppid, pgid, comm = line:match("^%s*(%d+)%s+(%d+)%s+(%d+)%s+(%S+)")
      if pid then out[#out + 1] = { pid = pid, ppid = ppid, pgid = pgid, comm = comm } end
    end
    p:close()
    return out
  end

  -- the pids of the fsec-argon2 helpers whose parent is a worker of app
  local function helper_pids(app)
    local procs, workers, out = processes(), {}, {}
    for _, q in ipairs(procs) do if q.ppid == app.pid then workers[q.pid] = true end end
    for _, q in ipairs(procs) do
      if workers[q.ppid] and q.comm == "fsec-argon2" then out[#out + 1] = q.pid end
    end
    return out
  end

  it("starts without the external_url warning, and refuses a second start from the same folder while the first runs", function()
    with_app({ workers = 2 }, function(app)
      local out = read(app.dir .. ".out") or ""
      assert.is_nil(out:find("external_url is not set", 1, true), out)
      assert.matches("admin sign-in (as first set): admin@example.org ", out, 1, true)
      -- a login in each worker: argon2 helpers running from lib/fsec/fsec-argon2
      for i = 1, 4 do
        local c = example.api(app, { jar = ("%s.twice%d.jar"):format(app.dir, i) })
        assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
      end
      assert.is_true(#helper_pids(app) >= 1)
      local function inodes()
        local p = io.popen(("stat -c '%%i %%Y' %s/lib/fsec/core.so %s/lib/fsec/fsec-argon2 %s/conf/nginx.conf")
          :format(app.dir, app.dir, app.dir))
        local s = p:read("*a"); p:close()
        return s
      end
      local before = inodes()
      -- the second start: same folder, another port (timeout: before the
      -- fix it served in the foreground)
      local p = io.popen(("timeout 15 sh scripts/serve-example.sh %s %d 1 2>&1; echo rc=$?")
        :format(app.dir, app.port + 1))
      local out2 = p:read("*a"); p:close()
      assert.matches("rc=1\n$", out2)
      assert.matches("^fsec example: already running from " .. app.dir:gsub("%p", "%%%0")
        .. " %(nginx pid " .. app.pid .. "%)", out2)
      assert.equals(1, select(2, out2:gsub("\n", "")) - 1, out2) -- one line, then rc=
      -- nothing was touched, and the first still serves logins
      assert.equals(before, inodes())
      for i = 1, 4 do
        local c = example.api(app, { jar = ("%s.after%d.jar"):format(app.dir, i) })
        assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
      end
      local log = read(app.dir .. "/logs/error.log") or ""
      assert.is_nil(log:find("exited on signal", 1, true), log)
    end)
  end)

  it("stops on a terminal's Ctrl-C (SIGINT to its process group) with no helper killed by it", function()
    local app = start({ workers = 2, own_group = true })
    local helpers_before
    local ok, err = pcall(function()
      for _, q in ipairs(processes()) do
        if q.pid == app.pid then assert.equals(app.pid, q.pgid, "nginx leads its process group") end
      end
      for i = 1, 4 do
        local c = example.api(app, { jar = ("%s.int%d.jar"):format(app.dir, i) })
        assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
      end
      helpers_before = helper_pids(app)
      assert.is_true(#helpers_before >= 1, "no argon2 helper running")
      for _, q in ipairs(processes()) do
        if q.comm == "fsec-argon2" then
          for _, h in ipairs(helpers_before) do
            if h == q.pid then assert.equals(app.pid, q.pgid, "the helper is in nginx's process group") end
          end
        end
      end
    end)
    helpers.sh("kill -INT -" .. app.pid)
    for _ = 1, 100 do
      if not helpers.sh("kill -0 " .. app.pid .. " 2>/dev/null") then break end
      helpers.sh("sleep 0.1")
    end
    helpers.sh("sleep 0.5")
    local running = helpers.sh("kill -0 " .. app.pid .. " 2>/dev/null")
    if running then stop(app) end
    local log = read(app.dir .. "/logs/error.log") or ""
    if not ok then error(tostring(err) .. "\n-- error.log:\n" .. log, 0) end
    assert.is_false(running, "nginx still runs after SIGINT")
    -- before: "[alert] ... unknown process N exited on signal 2" per helper
    assert.is_nil(log:find("exited on signal", 1, true), log)
    local alive = {}
    for _, q in ipairs(processes()) do
      for _, h in ipairs(helpers_before) do if q.pid == h then alive[#alive + 1] = h .. " " .. q.comm end end
    end
    assert.same({}, alive)
  end)

  it("lets a write from a phase that cannot wait for a thread (log_by_lua) fsync in place", function()
    with_app({}, function(app)
      local conf = read(app.dir .. "/conf/nginx.conf")
      local hello = 'location = /hello { content_by_lua_block { ngx.say("hello") } }'
      local n
      conf, n = conf:gsub(hello:gsub("%p", "%%%0"), hello .. [[
    location = /t/log-write { content_by_lua_block { ngx.say("ok") } log_by_lua_block {
      local ds = require("fsec.openresty").security().datastore
      local u = ds:find_user{ email = "admin@example.org" }
      local count, err = ds:record_failed_login(u, 60)
      ngx.log(ngx.WARN, "log-write: ", tostring(count), " ", tostring(err))
    } }]], 1)
      assert.equals(1, n)
      local f = io.open(app.dir .. "/conf/nginx.conf", "w"); f:write(conf); f:close()
      helpers.sh("kill -HUP " .. app.pid)
      local status
      for _ = 1, 50 do
        status = http(app, "GET", "/t/log-write")
        if status == 200 then break end
        helpers.sh("sleep 0.1")
      end
      assert.equals(200, status)
      local log = wait_log(app, "log-write: ")
      -- the count went up and the write answered, not EDB: there is no
      -- thread to wait for in this phase, so the WAL was fsynced here
      assert.matches("log%-write: 1 nil", log)
    end)
  end)

  it("serves no fsec request from a worker whose init_worker failed (setup raised): a login fails, never passes", function()
    with_app({}, function(app)
      -- before the reload: a token, a session and a CSRF token (the
      -- secrets stay the same across it)
      local jar = app.dir .. ".jar"
      local c = example.api(app, { jar = jar })
      local s, r = c.call("POST", "/login?include_auth_token", { email = "admin@example.org", password = admin_password(app) })
      assert.equals(200, s)
      local token = r.user.authentication_token
      local c2 = example.api(app, { jar = app.dir .. ".jar2" })
      -- a setup that raises before it installs its login policy (one that
      -- denies every login): the worker must not serve with it missing
      local conf = read(app.dir .. "/conf/nginx.conf")
      local n
      conf, n = conf:gsub("app%.options%(%)", [[(function() local o = app.options()
        o.setup = function(sec)
          assert(io.open("/nonexistent/fsec-deny-list"))
          sec:policy("login", function() return false, "nobody logs in" end)
        end
        return o end)()]], 1)
      assert.equals(1, n)
      local f = io.open(app.dir .. "/conf/nginx.conf", "w"); f:write(conf); f:close()
      helpers.sh("kill -HUP " .. app.pid)
      local log = wait_log(app, "fsec-deny-list", 50)
      assert.matches("init_worker_by_lua[^\n]*fsec%-deny%-list", log)
      helpers.sh("sleep 1") -- the old worker finishes and leaves
      s = c2.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })
      assert.equals(500, s)
      assert.equals(500, (http(app, "GET", "/login", { headers = { Accept = "application/json" } })))
      assert.equals(500, (http(app, "GET", "/api/me", { headers = { ["Authentication-Token"] = token } })))
      assert.equals(500, (http(app, "GET", "/profile", { jar = jar })))
      assert.equals(500, (http(app, "GET", "/", { jar = jar })))
      log = read(app.dir .. "/logs/error.log") or ""
      assert.matches("init_worker() failed: ", log, 1, true)
    end)
  end)

  it("lets commits made at once share an fsync (group commit): 8 logouts together", function()
    with_app({}, function(app)
      local clients = {}
      for i = 1, 8 do
        local c = example.api(app, { jar = ("%s.g%d.jar"):format(app.dir, i) })
        assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
        clients[i] = c
      end
      local codes = {}
      local main, others, _, trace = traced_fsyncs(app, function()
        local cmd = {}
        for _, c in ipairs(clients) do
          cmd[#cmd + 1] = ("curl -s -o /dev/null -w '%%{http_code}\\n' -X POST -b %s -c %s -H 'Accept: application/json'"
            .. " -H 'Content-Type: application/json' -H 'X-CSRF-Token: %s' --data-binary '{}' %s/logout &")
            :format(c.jar, c.jar, c.csrf, app.base)
        end
        local p = io.popen(table.concat(cmd, " ") .. " wait")
        for line in p:lines() do codes[#codes + 1] = tonumber(line) end
        p:close()
      end)
      if not main then return pending("strace is not installed") end
      assert.same({ 200, 200, 200, 200, 200, 200, 200, 200 }, codes)
      assert.equals(0, main, tostring(trace))
      -- each logout's commit was durable before its answer, and together
      -- they took fewer fsyncs than commits
      assert.is_true(others >= 1 and others < 8, "fsyncs for 8 commits: " .. tostring(trace))
      -- every session is gone
      for _, c in ipairs(clients) do
        assert.equals(401, (http(app, "GET", "/api/me", { jar = c.jar, headers = { Accept = "application/json" } })))
      end
    end)
  end)

  it("keeps a session's data in the store: both workers read it, a sign-out ends it (/notes)", function()
    with_app({ workers = 2 }, function(app)
      local c = example.api(app, { jar = app.dir .. ".notes.jar" })
      assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
      assert.equals(200, (c.call("POST", "/notes", { note = "first" })))
      local s, r = c.call("POST", "/notes", { note = "second \"quoted\" </script>" })
      assert.equals(200, s)
      assert.equals(2, r.count)
      -- a bad note is refused, and nothing is kept of it
      assert.equals(400, (c.call("POST", "/notes", { note = ("x"):rep(201) })))
      for _ = 1, 8 do -- spread over the workers: each reads what the other wrote
        s, r = c.call("GET", "/notes")
        assert.equals(200, s)
        assert.same({ "first", "second \"quoted\" </script>" }, r.notes)
      end
      -- nothing of it is in a cookie
      assert.is_nil(read(c.jar):find("first", 1, true))
      -- another session of the same user has its own (none)
      local other = example.api(app, { jar = app.dir .. ".notes2.jar" })
      assert.equals(200, (other.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
      assert.equals(0, select(2, other.call("GET", "/notes")).count)
      -- signed out: the old cookies, replayed, reach nothing
      local old = app.dir .. ".notes-old.jar"
      helpers.sh("cp " .. c.jar .. " " .. old)
      assert.equals(200, (c.call("POST", "/logout", {})))
      assert.equals(401, (http(app, "GET", "/notes", { jar = old, headers = { Accept = "application/json" } })))
      -- signed in again (a new CSRF token first: the old one was the session's): a new session, no notes
      c = example.api(app, { jar = c.jar })
      assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = admin_password(app) })))
      assert.equals(0, select(2, c.call("GET", "/notes")).count)
    end)
  end)
end)
