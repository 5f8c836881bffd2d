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
