-- Issue 19, items 6, 7 and item 5's mailbox page, attacked as an
-- attacker would:
--   W19-06  the development mailbox (every reset link) is no admin
--           takeover: off by default; on, it answers loopback clients
--           asking for this site's Host only (no DNS rebinding), and the
--           start says so loudly;
--   W19-05  its page reads the folder without forking a shell from the
--           event loop, 50 messages a page, newest first;
--   W19-07  nothing the example or fsec creates (secrets, database, WAL,
--           mail, logs) is readable by another local user.
-- The nginx parts run in the LuaJIT pass only (nginx's Lua is LuaJIT).
local helpers = require "spec.helpers"

local read = helpers.read
local build = os.getenv("FSEC_BUILD_DIR") or "build"
local nginx_ok = jit and not build:find("asan", 1, true)
  and helpers.sh("command -v nginx >/dev/null && test -f /usr/lib/nginx/modules/ngx_http_lua_module.so")
local describe_nginx = nginx_ok and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

local ON = "FSEC_DEV_MAILBOX=1"

-- Shell output of cmd.
local function run(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

-- "MODE PATH" lines -> { [path] = mode }
local function modes(out)
  local m = {}
  for mode, path in out:gmatch("(%d+) ([^\n]+)") do m[path] = mode end
  return m
end


describe("files fsec itself creates (W19-07), under a shell's umask 022", function()
  local lua = jit and "luajit" or "lua5.4"

  it("a new SQLite store's database, -wal and -shm and the mailer's folders and messages are the owner's alone", function()
    local dir = helpers.tmpdir() .. "/private-" .. math.random(1e9)
    assert.is_true(helpers.sh("mkdir " .. dir))
    local out = run(("umask 022; LUA_PATH=%q LUA_CPATH=%q %s spec/tools/private_files.lua %s 2>&1")
      :format(package.path, package.cpath, lua, dir))
    local m = modes(out)
    for _, path in ipairs{ "auth.db", "auth.db-wal", "auth.db-shm" } do
      assert.equals("600", m[path], path .. " in:\n" .. out)
    end
    assert.equals("700", m.mail, out)
    assert.equals("700", m["mail/new"], out)
    local messages = 0
    for path, mode in pairs(m) do
      if path:find("%.eml$") then messages = messages + 1; assert.equals("600", mode, path) end
    end
    assert.equals(1, messages, out)
  end)

  it("the fsec command makes its new database 0600", function()
    if jit then return pending("bin/fsec is a Lua 5.4 program") end
    local db = helpers.tmpfile("cli-new.db")
    local out = run(("umask 022; LUA_PATH=%q LUA_CPATH=%q lua5.4 bin/fsec --db %s roles create editor 2>&1; echo rc=$?")
      :format(package.path, package.cpath, db))
    assert.matches("rc=0", out, 1, true)
    assert.equals("600", run("stat -c %a " .. db):match("%d+"))
  end)
end)


describe("the development mailbox's fences (dev_mailbox.lua)", function()
  local saved = package.path
  local mailbox
  setup(function()
    package.path = "examples/openresty/?.lua;" .. package.path
    mailbox = require "dev_mailbox"
  end)
  teardown(function() package.path = saved end)

  it("is refused at start unless asked for with 1 on a loopback external_url", function()
    assert.is_false(mailbox.configure(nil, "http://127.0.0.1:8080").enabled)
    assert.is_false(mailbox.configure("0", "http://127.0.0.1:8080").enabled)
    for _, bad in ipairs{ { "1", "https://auth.example.com" }, { "1", nil }, { "1", "http://127.0.0.1.evil.example:8080" },
                          { "1", "http://10.0.0.1:8080" }, { "yes", "http://127.0.0.1:8080" } } do
      local ok, err = pcall(mailbox.configure, bad[1], bad[2])
      assert.is_false(ok, tostring(bad[2]))
      assert.matches("FSEC_DEV_MAILBOX", err, 1, true)
    end
    mailbox.configure(nil, nil)
    assert.equals(404, (mailbox.refusal{ server_addr = "127.0.0.1", remote_addr = "127.0.0.1", http_host = "127.0.0.1:8080" }))
  end)

  it("answers loopback clients on a loopback address asking for the site's own host and port only", function()
    assert.is_true(mailbox.configure("1", "http://127.0.0.1:8080").enabled)
    local function status(server, remote, host)
      return mailbox.refusal{ server_addr = server, remote_addr = remote, http_host = host } or 200
    end
    assert.equals(200, status("127.0.0.1", "127.0.0.1", "127.0.0.1:8080"))
    assert.equals(200, status("::1", "::ffff:127.0.0.1", "127.0.0.1:8080"))
    -- behind nothing but loopback: a public listener or client is refused
    assert.equals(403, status("192.0.2.2", "127.0.0.1", "127.0.0.1:8080"))
    assert.equals(403, status("127.0.0.1", "192.0.2.7", "127.0.0.1:8080"))
    assert.equals(403, status("127.0.0.1", "::ffff:192.0.2.7", "127.0.0.1:8080"))
    -- DNS rebinding and its spellings: another name, port or none
    for _, host in ipairs{ "evil.example:8080", "localhost:8080", "127.0.0.1", "127.0.0.1:80", "127.0.0.1:8080.",
                           "127.0.0.1:8080@evil.example", "", false } do
      assert.equals(421, status("127.0.0.1", "127.0.0.1", host or nil), tostring(host))
    end
    mailbox.configure(nil, nil)
  end)
end)


describe_nginx("the development mailbox in the real example (W19-06, W19-05)", function()
  local app_mod = require "spec.tools.example_app"
  local http, api = app_mod.http, app_mod.api

  -- A reset mail for the admin (its link takes the account over).
  local function reset_admin(app)
    local c = api(app, { jar = app.dir .. ".jar" })
    assert.equals(200, (c.call("POST", "/reset", { email = "admin@example.org" })))
    local name = app_mod.poll(5, function()
      return run("ls " .. app.dir .. "/var/mail"):match("[%w_-]+%-reset%.eml")
    end)
    assert.is_truthy(name, "no reset mail written")
    return name
  end

  it("is off unless FSEC_DEV_MAILBOX=1: /mail and a message's page answer 404 to anyone", function()
    app_mod.with_app({ workers = 2 }, function(app)
      local name = reset_admin(app)
      for _ = 1, 4 do -- both workers
        for _, path in ipairs{ "/mail", "/mail/", "/mail/" .. name, "/mail?page=1" } do
          local s, _, body = http(app, "GET", path)
          assert.equals(404, s, path)
          assert.is_nil(body:find("/reset/", 1, true), path)
          assert.is_nil(body:find(name, 1, true), path)
        end
      end
      local _, _, home = http(app, "GET", "/")
      assert.is_nil(home:find('href="/mail"', 1, true))
      assert.is_nil((read(app.out) or ""):find("MAILBOX ON", 1, true))
    end)
  end)

  it("turned on, says so loudly at start: a banner in the terminal and in error.log", function()
    app_mod.with_app({ env = ON }, function(app)
      assert.matches("DEVELOPMENT MAILBOX ON: " .. app.base .. "/mail", read(app.out), 1, true)
      assert.matches("DEVELOPMENT MAILBOX ON at " .. app.base .. "/mail", read(app.dir .. "/logs/error.log"), 1, true)
      local _, _, home = http(app, "GET", "/")
      assert.matches('href="/mail"', home, 1, true)
    end)
  end)

  it("turned on, refuses to start for a site that is not on loopback (FSEC_EXTERNAL_URL)", function()
    local dir = helpers.tmpdir() .. "/app-public-" .. math.random(1e9)
    local out = run(("%s FSEC_EXTERNAL_URL=https://auth.example.com timeout 30 sh scripts/serve-example.sh %s 28000 1 2>&1;"
      .. " echo rc=$?"):format(ON, dir))
    assert.matches("FSEC_DEV_MAILBOX=1 needs FSEC_EXTERNAL_URL on a loopback host", out, 1, true)
    assert.is_nil(out:find("rc=0", 1, true), out)
    assert.is_nil(out:find("rc=124", 1, true), out) -- refused, not served until the timeout
  end)

  it("turned on, a DNS-rebinding page (Host: evil.example) gets 421 and no link, in parallel, on both workers", function()
    app_mod.with_app({ env = ON, workers = 2 }, function(app)
      local name = reset_admin(app)
      -- a browser on evil.example, which resolves to 127.0.0.1 now: its
      -- requests carry Host: evil.example:PORT; 40 at once
      local out = app.dir .. ".rebind"
      run(("for i in $(seq 40); do curl -s -o %s.$i -w '%%{http_code}\\n' --resolve evil.example:%d:127.0.0.1"
        .. " 'http://evil.example:%d/mail%s' & done > %s; wait"):format(out, app.port, app.port, "", out))
      run(("for i in $(seq 41 80); do curl -s -o %s.$i -w '%%{http_code}\\n' --resolve evil.example:%d:127.0.0.1"
        .. " 'http://evil.example:%d/mail/%s' & done >> %s; wait"):format(out, app.port, app.port, name, out))
      local codes = read(out)
      local _, n421 = codes:gsub("421", "")
      assert.equals(80, n421, codes)
      for i = 1, 80 do
        local body = read(out .. "." .. i) or ""
        assert.is_nil(body:find("/reset/", 1, true))
        assert.is_nil(body:find("-reset.eml", 1, true))
      end
      -- other names for this machine are not this site either
      for _, host in ipairs{ "localhost:" .. app.port, "127.0.0.1", "127.0.0.2:" .. app.port, "LOCALHOST" } do
        local s, _, body = http(app, "GET", "/mail", { headers = { Host = host } })
        assert.equals(421, s, host)
        assert.is_nil(body:find(name, 1, true), host)
      end
      -- the site's own Host reads it (the demo works)
      local s, _, body = http(app, "GET", "/mail")
      assert.equals(200, s)
      assert.matches(name, body, 1, true)
      s, _, body = http(app, "GET", "/mail/" .. name)
      assert.equals(200, s)
      assert.matches('id="mail-link" href="' .. app.base .. "/reset/", body, 1, true)
    end)
  end)

  it("turned on, answers no client that is not on loopback (a connection from the machine's public address)", function()
    local public = run("hostname -I 2>/dev/null"):match("(%d+%.%d+%.%d+%.%d+)")
    if not public or public:match("^127%.") then return pending("no non-loopback IPv4 address here") end
    app_mod.with_app({ env = ON }, function(app)
      local name = reset_admin(app)
      for _, path in ipairs{ "/mail", "/mail/" .. name } do
        local s, _, body = http(app, "GET", path, { from = public })
        assert.equals(403, s, path)
        assert.is_nil(body:find(name, 1, true))
      end
      assert.equals(200, (http(app, "GET", "/mail")))
    end)
  end)

  -- The mail folder filled as the mailer names files: TIME-COUNT-ID-KIND.eml
  local function fill(app, n, t0)
    local dir = app.dir .. "/var/mail/"
    for i = 1, n do
      local f = assert(io.open(("%s%d-%05d-id%010d-reset.eml"):format(dir, t0 + i, i, i), "w"))
      f:write("From: x\nTo: u", i, "@example.org\nSubject: s\nX-Fsec-Kind: reset\n\nmessage ", i, "\n")
      f:close()
    end
  end

  local function listed(body)
    local names = {}
    for name in body:gmatch('<li><a href="/mail/([^"]+)"') do names[#names + 1] = name end
    return names
  end

  it("turned on, lists 50 messages a page, newest first, and refuses a bad page number", function()
    app_mod.with_app({ env = ON }, function(app)
      local t0 = os.time() - 1000
      fill(app, 120, t0)
      local pages = {}
      for n = 1, 3 do
        local s, _, body = http(app, "GET", "/mail?page=" .. n)
        assert.equals(200, s)
        pages[n] = listed(body)
      end
      assert.equals(50, #pages[1]); assert.equals(50, #pages[2]); assert.equals(20, #pages[3])
      assert.equals(("%d-00120-id0000000120-reset.eml"):format(t0 + 120), pages[1][1])
      assert.equals(("%d-00071-id0000000071-reset.eml"):format(t0 + 71), pages[1][50])
      assert.equals(("%d-00001-id0000000001-reset.eml"):format(t0 + 1), pages[3][20])
      local _, _, first = http(app, "GET", "/mail")
      assert.same(pages[1], listed(first))
      assert.matches('id="older" href="/mail?page=2"', first, 1, true)
      assert.equals(404, (http(app, "GET", "/mail?page=4")))
      for _, bad in ipairs{ "0", "-1", "abc", "1e3", "99999999999", "2%20" } do
        assert.equals(400, (http(app, "GET", "/mail?page=" .. bad)), bad)
      end
    end)
  end)

  it("turned on, reads the mail folder without forking a shell from the worker's event loop", function()
    if not helpers.sh("command -v strace >/dev/null") then
      if os.getenv("FSEC_REQUIRE_BROWSER") then error("strace is missing (scripts/deps.sh test installs it)") end
      return pending("strace is not installed")
    end
    app_mod.with_app({ env = ON }, function(app)
      fill(app, 60, os.time() - 100)
      local worker = app_mod.worker_pid(app)
      local trace = app.dir .. ".strace"
      helpers.sh(("strace -f -qq -e trace=fork,vfork,clone,clone3,execve -o %s -p %s 2>/dev/null & echo $! > %s.pid")
        :format(trace, worker, trace))
      -- traced once the kernel says so (TracerPid), not after a guessed sleep
      assert.is_truthy(app_mod.poll(10, function()
        return (read("/proc/" .. worker .. "/status") or ""):match("TracerPid:%s*[1-9]")
      end), "strace did not attach")
      for _ = 1, 5 do assert.equals(200, (http(app, "GET", "/mail"))) end
      helpers.sh("kill $(cat " .. trace .. ".pid)")
      app_mod.poll(5, function()
        return not (read("/proc/" .. worker .. "/status") or ""):match("TracerPid:%s*[1-9]")
      end)
      local log = read(trace) or ""
      assert.is_nil(log:match("execve%(") or log:match("fork%(") or log:match("clone3?%("), log)
    end)
  end)
end)


describe_nginx("the example's files on disk (W19-07)", function()
  local app_mod = require "spec.tools.example_app"

  it("started from a shell with umask 022, leaves nothing another local user can read after sign-up, reset and login", function()
    app_mod.with_app({ env = ON, workers = 2 }, function(app)
      -- every kind of file: mail (register, reset), WAL and SHM (writes),
      -- logs (requests), nginx's temporary files (a body above its buffer)
      local c = app_mod.api(app, { jar = app.dir .. ".jar" })
      assert.equals(200, (c.call("POST", "/register", { email = "perm@example.org", password = "battery staple",
                                                        password_confirm = "battery staple" })))
      assert.equals(200, (c.call("POST", "/reset", { email = "admin@example.org" })))
      assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = app_mod.admin_password(app) })))
      local big = app.dir .. ".big"
      local f = assert(io.open(big, "w")); f:write(string.rep("x", 40000)); f:close()
      run(("curl -s -o /dev/null --data-binary @%s %s/login"):format(big, app.base))
      for _, path in ipairs{ "/secrets/secret_key", "/secrets/password_salt", "/secrets/admin-password.txt", "/var/auth.db",
                             "/var/auth.db-wal", "/var/auth.db-shm", "/logs/error.log", "/logs/access.log" } do
        assert.is_true(helpers.sh("test -e " .. app.dir .. path), path .. " missing")
      end
      assert.is_truthy(run("ls " .. app.dir .. "/var/mail"):find("%.eml"))
      -- data: no group or other bit at all, files and folders
      local open = run(("find %s/var %s/tmp %s/conf %s/secrets -perm /077 -printf '%%m %%u:%%g %%p\\n'")
        :format(app.dir, app.dir, app.dir, app.dir))
      assert.equals("", open)
      -- logs/ itself is the master's; when the workers run as nobody they
      -- pass through it by group (710), as through the app's folder
      assert.equals("", run(("find %s/logs -mindepth 1 -perm /077 -printf '%%m %%p\\n'"):format(app.dir)))
      -- the app's folder and its code (a copy of the checkout): nothing
      -- for other users; nginx's workers (user nobody) read through group
      -- nogroup, never write
      open = run(("find %s -perm /007 -printf '%%m %%u:%%g %%p\\n'"):format(app.dir))
      assert.equals("", open)
      open = run(("find %s -perm /020 -printf '%%m %%u:%%g %%p\\n'"):format(app.dir))
      assert.equals("", open)
    end)
  end)

  it("closes what an earlier start left readable (0644 secrets in 0755 folders)", function()
    local app = app_mod.start{}
    app_mod.stop(app)
    assert.is_true(helpers.sh(("chmod -R go+rX %s && chmod 644 %s/secrets/secret_key %s/var/auth.db")
      :format(app.dir, app.dir, app.dir)))
    -- the same folder started again (as after an upgrade)
    local port = app.port
    local p = io.popen(("umask 022; sh scripts/serve-example.sh %s %d 1 > %s.out2 2>&1 & echo $!"):format(app.dir, port, app.dir))
    app.pid = p:read("*l"); p:close()
    local ok, err = pcall(function()
      assert.is_truthy(app_mod.poll(10, function()
        return helpers.sh(("curl -sf %s/hello >/dev/null 2>&1"):format(app.base))
      end), read(app.dir .. ".out2"))
      assert.equals("", run(("find %s -perm /007 -printf '%%m %%p\\n'"):format(app.dir)))
      assert.equals("", run(("find %s/var %s/secrets -perm /077 -printf '%%m %%p\\n'"):format(app.dir, app.dir)))
      assert.equals("", run(("find %s/logs -mindepth 1 -perm /077 -printf '%%m %%p\\n'"):format(app.dir)))
    end)
    app_mod.stop(app)
    if not ok then error(err, 0) end
  end)

  -- Started as root, the workers run as nobody and own DIR/var (the
  -- database, the mail). Neither the secrets nor logs/ may be theirs: with
  -- the secret key a process of user nobody forges every token, and a
  -- link it leaves in a logs/ it could write makes root's master open (and
  -- on USR1 chown to nobody) any file of the system (CVE-2016-1247).
  local as_root = run("id -u"):match("^0") ~= nil
  local pending_unless_root = as_root and it or function(name) pending(name .. " (as root only)") end
  pending_unless_root("keeps the secrets and logs/ out of the workers' user's reach, and mends an older layout", function()
    local app = app_mod.start{}
    local function as_nobody(cmd)
      return helpers.sh("setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c " .. ("%q"):format(cmd)
                        .. " >/dev/null 2>&1")
    end
    local ok, err = pcall(function()
      assert.is_true(helpers.sh("test -s " .. app.dir .. "/secrets/secret_key"), "no secrets/secret_key")
      assert.is_true(as_nobody("test -w " .. app.dir .. "/var/auth.db"), "the workers cannot write the database")
      assert.is_false(as_nobody("cat " .. app.dir .. "/secrets/secret_key"), "nobody reads the secret key")
      assert.is_false(as_nobody("cat " .. app.dir .. "/secrets/admin-password.txt"), "nobody reads the admin's password")
      assert.is_false(as_nobody("touch " .. app.dir .. "/logs/planted"), "nobody writes in logs/")
      assert.is_false(as_nobody("ln -s /tmp " .. app.dir .. "/logs/planted"), "nobody links in logs/")
      assert.equals("710 root:nogroup", run("stat -c '%a %U:%G' " .. app.dir .. "/logs"):match("^[^\n]*"))
    end)
    app_mod.stop(app)
    if not ok then error(err, 0) end
    -- an older start's layout: the secrets in var/, var/ and logs/ the
    -- workers', and a link planted there by a process of theirs
    local target = app.dir .. ".target"
    assert.is_true(helpers.sh(("printf 'root only\\n' > %s && chmod 600 %s"):format(target, target)))
    assert.is_true(helpers.sh(("mv %s/secrets/* %s/var/ && chown -R nobody:nogroup %s/var %s/logs"
                               .. " && rm -f %s/logs/access.log && ln -s %s %s/logs/access.log")
      :format(app.dir, app.dir, app.dir, app.dir, app.dir, target, app.dir)))
    local key = read(app.dir .. "/var/secret_key")
    local p = io.popen(("sh scripts/serve-example.sh %s %d 1 > %s.out3 2>&1 & echo $!"):format(app.dir, app.port, app.dir))
    app.pid = p:read("*l"); p:close()
    ok, err = pcall(function()
      assert.is_truthy(app_mod.poll(10, function()
        return helpers.sh(("curl -sf %s/hello >/dev/null 2>&1"):format(app.base))
      end), read(app.dir .. ".out3"))
      -- the same key, moved: tokens made before still verify
      assert.equals(key, read(app.dir .. "/secrets/secret_key"))
      assert.is_nil(read(app.dir .. "/var/secret_key"))
      assert.equals("root", run("stat -c %U " .. app.dir .. "/secrets/secret_key"):match("%S+"))
      assert.is_false(as_nobody("cat " .. app.dir .. "/secrets/secret_key"))
      -- the link is gone, its target untouched: still root's, still only that line
      assert.is_false(helpers.sh("test -L " .. app.dir .. "/logs/access.log"))
      assert.equals("root only\n", read(target))
      assert.equals("root 600", run("stat -c '%U %a' " .. target):match("^[^\n]*"))
      assert.equals(200, (app_mod.http(app, "GET", "/login")))
    end)
    app_mod.stop(app)
    if not ok then error(err, 0) end
  end)
end)
