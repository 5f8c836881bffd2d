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
  -- read-write: the open never blocks (a script that failed to start
  -- times out in wait_for below, with what the terminal showed)
  local keys = assert(io.open(fifo, "r+"))
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
    -- and its man page is installed beside it
    assert.truthy(helpers.read(prefix .. "/share/man/man1/fsec.1"))
    local sec, u = user(db, "inst@example.com")
    assert.is_true(sec:verify_password("installed-pass", u.password))
  end)
end)

d("issue 20: a database remembers its password salt", function()
  it("refuses another salt in the command, in one line that names the problem, not the salt; nothing is written", function()
    local db = helpers.tmpfile("salted.db")
    assert.equals(0, (run(db, "users create first@example.com --password-stdin", { stdin = "first-pass" })))
    local rc, out = run(db, "users create second@example.com --password-stdin",
                        { stdin = "second-pass", salt = "a-typo-salt" })
    assert.equals(1, rc)
    assert.matches("^fsec: password_salt does not match this database: [^\n]*\n$", out)
    assert.is_nil(out:find("a-typo-salt", 1, true)); assert.is_nil(out:find(SALT, 1, true))
    rc, out = run(db, "users change-password first@example.com --password-stdin",
                  { stdin = "changed-pass", salt = "a-typo-salt" })
    assert.equals(1, rc); assert.matches("password_salt does not match", out, 1, true)
    local sec, u = user(db, "first@example.com")
    assert.is_nil(sec.datastore:find_user{ email = "second@example.com" })
    assert.is_true(sec:verify_password("first-pass", u.password)) -- unchanged
    -- the right salt still works
    assert.equals(0, (run(db, "users create second@example.com --password-stdin", { stdin = "second-pass" })))
    -- the check costs OWASP's floor, not the application's 64 MiB: every
    -- process that opens the database (each nginx worker) verifies it
    local p = io.popen(("sqlite3 %s 'SELECT value FROM meta'"):format(q(db)))
    local check = p:read("*a")
    p:close()
    assert.matches("^%$argon2id%$v=19%$m=19456,t=2,p=1%$", check)
  end)

  it("refuses another salt, or none, in fsec.new; the database keeps a check, never the salt", function()
    local db = helpers.tmpfile("lib.db")
    helpers.new{ database = db, password_salt = SALT }:close()
    for _, extra in ipairs{ { password_salt = "zq-wrong-zq" }, { password_salt = "nil", password_single_hash = true } } do
      extra.database = db
      local ok, err = pcall(helpers.new, extra)
      assert.is_false(ok)
      assert.matches("fsec.new: password_salt does not match this database", err, 1, true)
      assert.is_nil(err:find("zq-wrong-zq", 1, true)); assert.is_nil(err:find(SALT, 1, true))
    end
    helpers.new{ database = db, password_salt = SALT }:close() -- the same salt opens it
    local p = io.popen(("sqlite3 %s 'SELECT value FROM meta'"):format(q(db)))
    local stored = p:read("*a")
    p:close()
    assert.matches("^%$argon2id%$", stored)
    assert.is_nil(stored:find(SALT, 1, true))
    -- a database made without a salt (password_single_hash) refuses one
    local single = helpers.tmpfile("single.db")
    helpers.new{ database = single, password_salt = "nil", password_single_hash = true }:close()
    assert.is_false((pcall(helpers.new, { database = single })))
  end)

  it("a database without a check (before schema 7, or made by roles create) gets one at its first open with a salt", function()
    local db = helpers.tmpfile("old.db")
    assert.equals(0, (run(db, "users create old@example.com --password-stdin", { stdin = "old-password" })))
    sql(db, "DELETE FROM meta") -- as a database made before the check
    local said = {}
    helpers.new{ database = db, log = function(_, m) said[#said + 1] = m end }:close()
    assert.matches("had no password salt check", table.concat(said, "\n"), 1, true)
    -- from now on the salt recorded is the one: the command's other salt is refused
    local rc, out = run(db, "users create new@example.com --password-stdin", { stdin = "new-password" })
    assert.equals(1, rc); assert.matches("password_salt does not match", out, 1, true)
    -- a database made by a command that hashes nothing: recorded silently
    local roles = helpers.tmpfile("roles-only.db")
    assert.equals(0, (run(roles, "roles create admin")))
    said = {}
    helpers.new{ database = roles, password_salt = SALT, log = function(_, m) said[#said + 1] = m end }:close()
    assert.same({}, said)
    assert.equals(0, (run(roles, "users create a@example.com --password-stdin --role admin", { stdin = "a-password" })))
  end)
end)

d("issue 20: a new password is typed twice at the terminal", function()
  it("creates the user when both agree, and shows neither", function()
    local db = helpers.tmpfile("tty.db")
    local rc, shown = on_tty(db, "users create typed@example.com",
      { { "Password: ", 1, "typed-pass-1" }, { "Repeat the password: ", 1, "typed-pass-1" } })
    assert.equals(0, rc, shown)
    assert.matches("created user typed@example.com", shown, 1, true)
    assert.is_nil(shown:find("typed-pass-1", 1, true)) -- no echo
    local sec, u = user(db, "typed@example.com")
    assert.is_true(sec:verify_password("typed-pass-1", u.password))
  end)

  it("says so on a mismatch and asks again; three mismatches give up with nothing made", function()
    local db = helpers.tmpfile("tty2.db")
    local rc, shown = on_tty(db, "users create again@example.com", {
      { "Password: ", 1, "first-try-1" }, { "Repeat the password: ", 1, "first-try-2" },
      { "Password: ", 2, "second-try" }, { "Repeat the password: ", 2, "second-try" } })
    assert.equals(0, rc, shown)
    assert.matches("the two passwords do not match; try again", shown, 1, true)
    local sec, u = user(db, "again@example.com")
    assert.is_true(sec:verify_password("second-try", u.password))
    sec:close()

    local steps = {}
    for i = 1, 3 do
      steps[#steps + 1] = { "Password: ", i, "mine-" .. i }
      steps[#steps + 1] = { "Repeat the password: ", i, "yours-" .. i }
    end
    rc, shown = on_tty(db, "users create never@example.com", steps)
    assert.equals(1, rc, shown)
    assert.matches("fsec: the two passwords did not match; nothing changed", shown, 1, true)
    u = select(2, user(db, "never@example.com"))
    assert.is_nil(u)
  end)

  it("asks twice for change-password too; standard input is read once, as before", function()
    local db = helpers.tmpfile("tty3.db")
    assert.equals(0, (run(db, "users create cp@example.com --password-stdin", { stdin = "stdin-pass" })))
    -- a prompt on a pipe (no terminal, nobody typing): one line, as before
    local rc0, out0 = run(db, "users create piped@example.com", { stdin = "piped-pass" })
    assert.equals(0, rc0, out0)
    assert.is_true(helpers.new{ database = db, password_salt = SALT }:verify_password("piped-pass",
      select(2, user(db, "piped@example.com")).password))
    local rc, shown = on_tty(db, "users change-password cp@example.com",
      { { "Password: ", 1, "tty-pass-99" }, { "Repeat the password: ", 1, "tty-pass-99" } })
    assert.equals(0, rc, shown)
    local sec, u = user(db, "cp@example.com")
    assert.is_true(sec:verify_password("tty-pass-99", u.password))
  end)
end)

d("issue 20: roles list and delete, users confirm and show", function()
  it("lists, shows and confirms; users list shows the confirmation state", function()
    local db = helpers.tmpfile("new-cmds.db")
    assert.equals(0, (run(db, 'roles create editor --description "Edits posts" --permissions post-read,post-write')))
    assert.equals(0, (run(db, "roles create viewer")))
    assert.equals(0, (run(db, "users create ed@example.com --password-stdin --role editor", { stdin = "ed-password" })))
    local rc, out = run(db, "users list")
    assert.equals(0, rc, out)
    assert.equals("1\ted@example.com\tactive\tunconfirmed\teditor\n", out)
    rc, out = run(db, "users confirm ed@example.com")
    assert.equals(0, rc, out); assert.equals("confirm: ed@example.com\n", out)
    rc, out = run(db, "users confirm ED@example.com")
    assert.equals(0, rc, out); assert.equals("confirm: ed@example.com (no change)\n", out)
    rc, out = run(db, "users list")
    assert.equals(0, rc, out); assert.equals("1\ted@example.com\tactive\tconfirmed\teditor\n", out)
    local list = cjson.decode((select(2, run(db, "users list --json"))))
    assert.is_true(list[1].confirmed); assert.is_number(list[1].confirmed_at)

    rc, out = run(db, "users show ed@example.com")
    assert.equals(0, rc, out)
    assert.matches("email:%s+ed@example.com\n", out)
    assert.matches("confirmed:%s+yes, %d%d%d%d%-%d%d%-%d%d", out)
    assert.matches("permissions:%s+post%-read,post%-write\n", out)
    local shown = cjson.decode((select(2, run(db, "users show ed@example.com --json"))))
    assert.same({ "editor" }, shown.roles); assert.same({ "post-read", "post-write" }, shown.permissions)
    assert.is_nil(shown.password); assert.is_nil(shown.fs_uniquifier)

    rc, out = run(db, "roles list")
    assert.equals(0, rc, out); assert.equals("1\teditor\tpost-read,post-write\tEdits posts\n2\tviewer\t\t\n", out)
    local roles = cjson.decode((select(2, run(db, "roles list --json"))))
    assert.equals(2, #roles); assert.same({}, roles[2].permissions)
    assert.equals(0, (run(db, "roles delete viewer")))
    rc, out = run(db, "roles list --json")
    assert.equals(0, rc, out)
    assert.same({ { description = "Edits posts", id = 1, name = "editor", permissions = { "post-read", "post-write" } } },
                cjson.decode(out))
  end)

  it("users show tells the application's own fields (register_fields), escaped", function()
    local db = helpers.tmpfile("own-fields.db")
    assert.equals(0, (run(db, "users create zo@example.com --password-stdin", { stdin = "zo-password" })))
    local rc, out = run(db, "users show zo@example.com")
    assert.equals(0, rc, out)
    assert.is_nil(out:find("display_name", 1, true)) -- none: nothing shown
    assert.is_nil(cjson.decode((select(2, run(db, "users show zo@example.com --json")))).fields)
    local ds = assert(require("fsec.datastore.sqlite").new{ path = db })
    assert.is_true(ds:set_user_fields(ds:find_user{ email = "zo@example.com" },
      { display_name = "Zo\27]0;pwned\7", age = 42, newsletter = true }))
    ds:close()
    rc, out = run(db, "users show zo@example.com")
    assert.equals(0, rc, out)
    assert.matches("\nage:%s+42\n", out)
    assert.matches("\ndisplay_name:%s+Zo\\x1b%]0;pwned\\x07\n", out)
    assert.matches("\nnewsletter:%s+true\n", out)
    helpers.assert_terminal_safe(out, "users show")
    local shown = cjson.decode((select(2, run(db, "users show zo@example.com --json"))))
    assert.same({ display_name = "Zo\27]0;pwned\7", age = 42, newsletter = true }, shown.fields)
  end)

  it("users show lists WebAuthn keys; users wan-delete deletes one by name, an unknown name fails", function()
    local db = helpers.tmpfile("wan-keys.db")
    assert.equals(0, (run(db, "users create wan@example.com --password-stdin", { stdin = "wan-password" })))
    local rc, out = run(db, "users show wan@example.com")
    assert.equals(0, rc, out)
    assert.matches("\nwebauthn_keys:%s+0\n", out)
    assert.same({}, cjson.decode((select(2, run(db, "users show wan@example.com --json")))).webauthn)
    local ds = assert(require("fsec.datastore.sqlite").new{ path = db, clock = function() return 1800000000 end })
    local u = ds:find_user{ email = "wan@example.com" }
    assert(ds:create_webauthn(u, { credential_id = "\251\255\0\1credential-one", public_key = "k1",
                                   name = "YubiKey 5", usage = "secondary", transports = { "usb", "nfc" } }))
    local phone = assert(ds:create_webauthn(u, { credential_id = "cred-two", public_key = "k2",
                                                 name = "Phone", usage = "first" }))
    assert.is_true(ds:webauthn_used(phone, 3, 1800000600))
    ds:close()
    rc, out = run(db, "users show wan@example.com")
    assert.equals(0, rc, out)
    assert.matches("\nwebauthn_keys:%s+2\n", out)
    -- name, usage, transports, created, last used, id prefix (names hold
    -- no control character: the store refuses them)
    assert.matches("\n  YubiKey 5:%s+secondary, usb,nfc, created 2027%-01%-15 08:00:00 UTC,"
                   .. " last used 2027%-01%-15 08:00:00 UTC, id %-%_8AAWNyZWRl%.%.%.\n", out)
    assert.matches("\n  Phone:%s+first, no transports, created 2027%-01%-15 08:00:00 UTC,"
                   .. " last used 2027%-01%-15 08:10:00 UTC, id Y3JlZC10d28%.%.%.\n", out)
    assert.is_nil(out:find("k1", 1, true)) -- no public key
    helpers.assert_terminal_safe(out, "users show")
    local keys = cjson.decode((select(2, run(db, "users show wan@example.com --json")))).webauthn
    assert.equals(2, #keys)
    assert.same({ name = "Phone", usage = "first", transports = {}, created = 1800000000, last_used = 1800000600,
                  credential_id = "Y3JlZC10d28" }, keys[2])
    assert.same({ "usb", "nfc" }, keys[1].transports)
    -- an unknown name: a clear error, exit 1, nothing lost
    rc, out = run(db, "users wan-delete wan@example.com Laptop")
    assert.equals(1, rc, out)
    assert.equals("fsec: wan@example.com has no WebAuthn key named Laptop\n", out)
    rc, out = run(db, "users wan-delete wan@example.com phone") -- names are exact
    assert.equals(1, rc, out)
    assert.equals(2, #cjson.decode((select(2, run(db, "users show wan@example.com --json")))).webauthn)
    rc, out = run(db, "users wan-delete nobody@example.com Phone")
    assert.equals(1, rc, out); assert.equals("fsec: no user nobody@example.com\n", out)
    rc, out = run(db, "users wan-delete wan@example.com Phone")
    assert.equals(0, rc, out)
    assert.equals("wan-delete: Phone of wan@example.com\n", out)
    keys = cjson.decode((select(2, run(db, "users show wan@example.com --json")))).webauthn
    assert.equals(1, #keys); assert.equals("YubiKey 5", keys[1].name)
    -- reset-access deletes the rest
    rc, out = run(db, "users reset-access wan@example.com")
    assert.equals(0, rc, out)
    assert.same({}, cjson.decode((select(2, run(db, "users show wan@example.com --json")))).webauthn)
  end)

  it("deletes a role, taking it from its users; unknown names are one line, exit 1", function()
    local db = helpers.tmpfile("del.db")
    assert.equals(0, (run(db, "roles create editor --permissions post-write")))
    assert.equals(0, (run(db, "users create ed@example.com --password-stdin --role editor", { stdin = "ed-password" })))
    local rc, out = run(db, "roles delete editor")
    assert.equals(0, rc); assert.equals("deleted role editor\n", out)
    local shown = cjson.decode((select(2, run(db, "users show ed@example.com --json"))))
    assert.same({}, shown.roles)
    local ghost = "gh\27[31most"
    for _, cmd in ipairs{ { "roles delete " .. q(ghost), "fsec: no role " .. tty.text(ghost) .. "\n" },
                          { "users show " .. q("no@example.com"), "fsec: no user no@example.com\n" },
                          { "users confirm " .. q("no@example.com"), "fsec: no user no@example.com\n" } } do
      rc, out = run(db, cmd[1])
      assert.equals(1, rc, cmd[1])
      assert.equals(cmd[2], out)
    end
  end)

  it("escapes hostile names, descriptions and emails in what it prints", function()
    local db = helpers.tmpfile("hostile.db")
    local desc = "\27]0;pwned\7\194\155 over \226\128\174"
    assert.equals(0, (run(db, "roles create editor --description " .. q(desc))))
    assert.equals(0, (run(db, "users create vic@example.com --password-stdin --role editor", { stdin = "vic-password" })))
    -- rows no fsec command would write (a file from elsewhere)
    local evil = "ed\27[2J\226\128\174"
    sql(db, "UPDATE roles SET name = 'ed' || char(27) || '[2J' || char(8238) WHERE name = 'editor';"
      .. " UPDATE users SET email = 'vic' || char(27) || ']0;x' || char(7) || '@example.com';")
    for _, cmd in ipairs{ "roles list", "roles list --json", "users show vic@example.com",
                          "users show vic@example.com --json", "users list" } do
      local rc, out = run(db, cmd)
      assert.equals(0, rc, cmd .. ": " .. out)
      helpers.assert_terminal_safe(out, cmd)
    end
    local _, out = run(db, "roles list")
    assert.matches(tty.text(evil) .. "\t\t" .. tty.text(desc), out, 1, true)
    _, out = run(db, "users show vic@example.com")
    assert.matches(tty.text("vic\27]0;x\7@example.com"), out, 1, true)
    assert.matches(tty.text(evil), out, 1, true)
    -- JSON stays JSON with the same meaning
    local roles = cjson.decode((select(2, run(db, "roles list --json"))))
    assert.equals(evil, roles[1].name); assert.equals(desc, roles[1].description)
  end)
end)

d("issue 20: the man page", function()
  -- The commands `fsec --help` lists: { "users", "create" }, ...
  local function commands()
    local function listed(args)
      local _, out = run("x.db", args .. " --help")
      local names, section = {}, out:match("\nCommands:\n(.-)\n\n") or out:match("\nCommands:\n(.*)$")
      for name in (section or ""):gmatch("\n?%s+(%S+)%s%s+[^\n]*") do names[#names + 1] = name end
      return names
    end
    local all = {}
    for _, top in ipairs(listed("")) do
      local subs = listed(top)
      if #subs == 0 then all[#all + 1] = { top } end
      for _, sub in ipairs(subs) do all[#all + 1] = { top, sub } end
    end
    return all
  end

  it("describes every subcommand the command has, and renders without a warning", function()
    local page = assert(helpers.read("docs/fsec.1"))
    local all = commands()
    assert.is_true(#all >= 18, "found only " .. #all .. " commands in --help")
    local seen = {}
    for _, c in ipairs(all) do
      seen[table.concat(c, " ")] = true
      -- a .B/.BI line naming it (dashes as \-, as groff wants them)
      local name = table.concat(c, " "):gsub("%-", "\\-")
      assert.truthy(page:find("\n%.BI? \"?" .. name:gsub("%p", "%%%0") .. "[ \"\n]"), table.concat(c, " ") .. " is not in docs/fsec.1")
    end
    for _, new in ipairs{ "roles list", "roles delete", "users confirm", "users show" } do
      assert.is_true(seen[new], new .. " is not a command")
    end
    -- without the sanitizer pass's preloaded ASan runtime: it reports
    -- groff's own allocations, not anything of fsec's
    local p = io.popen("env -u LD_PRELOAD -u ASAN_OPTIONS LC_ALL=C.UTF-8 MANWIDTH=80"
                       .. " man --warnings -l docs/fsec.1 2>&1 >/dev/null")
    local warnings = p:read("*a")
    p:close()
    assert.equals("", warnings)
  end)
end)
