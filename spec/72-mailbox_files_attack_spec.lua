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


describe_nginx("the example's files on disk (W19-07)", function()
  local app_mod = require "spec.tools.example_app"

  it("started from a shell with umask 022, leaves nothing another local user can read after sign-up, reset and login", function()
    app_mod.with_app({ workers = 2 }, function(app)
      -- every kind of file: mail (register, reset), WAL and SHM (writes),
      -- logs (requests), nginx's temporary files (a body above its buffer)
      local c = app_mod.api(app, app.dir .. ".jar")
      assert.equals(200, (c.call("POST", "/register", { email = "perm@example.org", password = "battery staple",
                                                        password_confirm = "battery staple" })))
      assert.equals(200, (c.call("POST", "/reset", { email = "admin@example.org" })))
      assert.equals(200, (c.call("POST", "/login", { email = "admin@example.org", password = app_mod.admin_password(app) })))
      local big = app.dir .. ".big"
      local f = assert(io.open(big, "w")); f:write(string.rep("x", 40000)); f:close()
      run(("curl -s -o /dev/null --data-binary @%s %s/login"):format(big, app.base))
      for _, path in ipairs{ "/var/secret_key", "/var/password_salt", "/var/admin-password.txt", "/var/auth.db",
                             "/var/auth.db-wal", "/var/auth.db-shm", "/logs/error.log", "/logs/access.log" } do
        assert.is_true(helpers.sh("test -e " .. app.dir .. path), path .. " missing")
      end
      assert.is_truthy(run("ls " .. app.dir .. "/var/mail"):find("%.eml"))
      -- data: no group or other bit at all, files and folders
      local open = run(("find %s/var %s/logs %s/tmp %s/conf -perm /077 -printf '%%m %%u:%%g %%p\\n'")
        :format(app.dir, app.dir, app.dir, app.dir))
      assert.equals("", open)
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
    assert.is_true(helpers.sh(("chmod -R go+rX %s && chmod 644 %s/var/secret_key %s/var/auth.db")
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
      assert.equals("", run(("find %s/var %s/logs -perm /077 -printf '%%m %%p\\n'"):format(app.dir, app.dir)))
    end)
    app_mod.stop(app)
    if not ok then error(err, 0) end
  end)
end)
