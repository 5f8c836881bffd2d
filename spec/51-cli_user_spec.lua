-- Issue 20, "the fsec command as users found it": the real bin/fsec (and
-- the installed one) run as a subprocess from another folder, with no
-- LUA_PATH; the password salt a database remembers; a new password typed
-- twice into a real pseudo-terminal; roles list/delete, users
-- confirm/show; the man page. Lua 5.4 (bin/fsec is a Lua 5.4 program).
local helpers = require "spec.helpers"
local cjson = require "cjson"
local tty = require "fsec.tty"

local enabled = not jit
local KEY = string.rep("k", 32)
local SALT = "salt-of-the-app"

-- A value as one shell word, whatever bytes it holds (but NUL).
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function abs(path)
  local p = io.popen("cd " .. q(path) .. " && pwd")
  local out = p:read("*l")
  p:close()
  return out
end

local ROOT = abs(".")
local BUILD = abs(os.getenv("FSEC_BUILD_DIR") or "build")

-- Run `fsec` (bin/fsec by absolute path unless opts.bin) from a folder
-- that is neither the checkout nor the build, with no LUA_PATH or
-- LUA_CPATH: rc, everything printed.
local function run(db, args, opts)
  opts = opts or {}
  local cmd = ("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 FSEC_BUILD_DIR=%s"
    .. " FSEC_SECRET_KEY=%s FSEC_PASSWORD_SALT=%s %s --db %s %s 2>&1")
    :format(q(opts.cwd or helpers.tmpdir()), q(BUILD), KEY, q(opts.salt or SALT),
            opts.bin or (ROOT .. "/bin/fsec"), q(db), args)
  if opts.stdin then cmd = ("printf '%%s\\n' %s | (%s)"):format(q(opts.stdin), cmd) end
  local p = io.popen("(" .. cmd .. "); echo \"rc=$?\"")
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("rc=(%d+)%s*$")), (out:gsub("rc=%d+%s*$", ""))
end

local function sql(db, text)
  assert(helpers.sh(("sqlite3 %s %s"):format(q(db), q(text))), "sqlite3 failed on " .. text)
end

-- Poll until fn() is true or the deadline passes (a loaded machine: long).
local function wait_for(fn, what, secs)
  local deadline = os.time() + (secs or 60)
  while os.time() <= deadline do
    if fn() then return end
    helpers.sh("sleep 0.05")
  end
  error("timed out waiting for " .. what)
end

local function count(s, text)
  local n, i = 0, 1
  while true do
    local j = s:find(text, i, true)
    if not j then return n end
    n, i = n + 1, j + #text
  end
end

-- Run `fsec ... args` on a new pseudo-terminal (script(1)) and type into
-- it: each step waits until the terminal shows step[1] for the step[2]-th
-- time, then types step[3] and Enter. Returns rc and what the terminal
-- showed (the prompts, and whatever was echoed).
local function on_tty(db, args, steps)
  local fifo, log, rcfile = helpers.tmpfile("tty-in"), helpers.tmpfile("tty.log"), helpers.tmpfile("tty.rc")
  assert(helpers.sh("mkfifo " .. q(fifo)))
  local cmd = ("env -u LUA_PATH -u LUA_CPATH FSEC_BUILD_DIR=%s FSEC_SECRET_KEY=%s FSEC_PASSWORD_SALT=%s %s/bin/fsec --db %s %s")
    :format(q(BUILD), KEY, q(SALT), ROOT, q(db), args)
  assert(helpers.sh(("(cd %s && script -qfec %s %s < %s > /dev/null 2>&1; echo $? > %s) &")
    :format(q(helpers.tmpdir()), q(cmd), q(log), q(fifo), q(rcfile))))
  local keys = assert(io.open(fifo, "w")) -- opens once script reads the fifo
  for _, step in ipairs(steps) do
    wait_for(function() return count(helpers.read(log) or "", step[1]) >= step[2] end,
             ("%q (#%d) on the terminal; it shows: %s"):format(step[1], step[2], helpers.read(log) or ""))
    keys:write(step[3], "\n")
    keys:flush()
  end
  wait_for(function() return (helpers.read(rcfile) or ""):match("%d") end, "the command to end")
  keys:close()
  return tonumber(helpers.read(rcfile):match("%d+")), helpers.read(log)
end

local function user(db, email, salt)
  local sec = helpers.new{ database = db, password_salt = salt or SALT }
  local u = sec.datastore:find_user{ email = email }
  return sec, u
end

local d = enabled and describe or function(name) pending(name .. " (Lua 5.4 pass)") end

d("issue 20: the fsec command from any folder", function()
  it("bin/fsec runs by absolute path from another folder, with no LUA_PATH", function()
    local db = helpers.tmpfile("anywhere.db")
    local rc, out = run(db, "roles create editor")
    assert.equals(0, rc, out)
    rc, out = run(db, "db check --json")
    assert.equals(0, rc, out)
    assert.equals(1, cjson.decode(out).roles)
  end)

  it("the installed command runs from another folder, with its own prefix's modules", function()
    local prefix = helpers.tmpfile("prefix")
    assert.is_true(helpers.sh(("cmake --install %s --prefix %s >/dev/null"):format(q(BUILD), q(prefix))))
    local db = helpers.tmpfile("installed.db")
    local rc, out = run(db, "users create inst@example.com --password-stdin",
                        { bin = prefix .. "/bin/fsec", stdin = "installed-pass" })
    assert.equals(0, rc, out)
    assert.matches("created user inst@example.com", out, 1, true)
    local sec, u = user(db, "inst@example.com")
    assert.is_true(sec:verify_password("installed-pass", u.password))
  end)
end)

