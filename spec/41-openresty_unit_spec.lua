-- The OpenResty adapter's parts that run without nginx: named guards
-- checked at init, and the priority of hashing threads.
local helpers = require "spec.helpers"

describe("fsec.openresty.init guards", function()
  local fo = require "fsec.openresty"
  local cfg = helpers.config{ database = helpers.tmpfile("or.db") }

  it("accepts named specs and refuses a bad one at start, naming it", function()
    fo.init(cfg, { guards = { api = { auth = { "token", "session" } }, admin = { roles_required = { "admin" } } } })
    local ok, err = pcall(fo.init, cfg, { guards = { api = { auth = { "token" } }, broken = { auth = { "cookie" } } } })
    assert.is_false(ok)
    assert.matches("guard 'broken'", err, 1, true)
    assert.matches("unknown authentication mechanism 'cookie'", err, 1, true)
    ok, err = pcall(fo.init, cfg, { guards = { typo = { role_required = { "x" } } } })
    assert.is_false(ok)
    assert.matches("unknown key 'role_required'", err, 1, true)
  end)
end)

describe("fsec.openresty.init jit_opt", function()
  local fo = require "fsec.openresty"
  local cfg = helpers.config{ database = helpers.tmpfile("or-jit.db") }

  it("refuses what jit.opt.start would not take, naming it", function()
    local ok, err = pcall(fo.init, cfg, { jit_opt = { "maxrecord=16000", "maxrecord" } })
    assert.is_false(ok)
    assert.matches("jit_opt: 'maxrecord' is not name=number", err, 1, true)
    ok, err = pcall(fo.init, cfg, { jit_opt = "maxrecord=1" })
    assert.is_false(ok)
    assert.matches("jit_opt must be a list or false", err, 1, true)
    if jit then
      ok, err = pcall(fo.init, cfg, { jit_opt = { "maxfoo=3" } })
      assert.is_false(ok)
      assert.matches("maxfoo=3", err, 1, true)
    end
    assert.has_no_error(function() fo.init(cfg, { jit_opt = false }) end)
  end)

  it("refuses a sync_thread_pool that is not a name or false", function()
    local ok, err = pcall(fo.init, cfg, { sync_thread_pool = 3 })
    assert.is_false(ok)
    assert.matches("sync_thread_pool must be a thread pool's name or false", err, 1, true)
    assert.has_no_error(function() fo.init(cfg, { sync_thread_pool = false }) end)
    assert.has_no_error(function() fo.init(cfg, { sync_thread_pool = "io" }) end)
  end)

  it("raises LuaJIT's trace limits by default, so that a check compiles as one trace", function()
    if not jit then return end -- Lua 5.4 has no JIT to tune
    -- A loop whose trace needs more than LuaJIT's default 4000 IR
    -- instructions: with the defaults it aborts ("trace too long") and
    -- never compiles; after init's jit_opt it does.
    local function compiled_after(opts)
      jit.flush()
      jit.opt.start("maxrecord=4000", "maxirconst=500", "maxsnap=500")
      if opts then fo.init(cfg, opts) end
      local src = { "local t = ... local function f(t) local x = 0" }
      for i = 1, 200 do src[#src + 1] = ("x = x + t[%d] * %d"):format(i % 7 + 1, i) end
      src[#src + 1] = "return x end local y = 0 for _ = 1, 2000 do y = y + f(t) end return y"
      local run = assert((loadstring or load)(table.concat(src, "\n")))
      local traces, aborts = 0, {} -- traces that start in run: compiled, aborted (error codes)
      local recording
      local function on_trace(what, tr, func, _, err)
        if what == "start" then recording = (func == run) and tr or nil
        elseif what == "stop" and tr == recording then traces = traces + 1
        elseif what == "abort" and tr == recording then aborts[#aborts + 1] = tostring(err) end
      end
      jit.attach(on_trace, "trace")
      -- a few runs: a recording can also abort for reasons of the moment
      -- (the rest of the suite's state); "trace too long" happens every time
      for _ = 1, 5 do
        run({ 1, 2, 3, 4, 5, 6, 7 })
        if traces > 0 then break end
      end
      jit.attach(on_trace)
      return traces, table.concat(aborts, ",")
    end
    local without = compiled_after(nil)
    local with, why = compiled_after({})
    jit.opt.start("maxrecord=4000", "maxirconst=500", "maxsnap=500")
    assert.equals(0, without)
    assert.is_true(with > 0, "aborted with LuaJIT trace errors " .. why)
  end)
end)


describe("core.thread_nice", function()
  local core = require "fsec.core"

  it("refuses values outside 0..19", function()
    assert.has_error(function() core.thread_nice(20) end)
    assert.has_error(function() core.thread_nice(-1) end)
    assert.has_error(function() core.thread_nice("5") end)
  end)

  it("lowers the priority of the calling thread only (here: a child process)", function()
    -- in a child, so this test run keeps its own priority
    local lua = jit and "luajit" or "lua5.4"
    local script = ("package.cpath = %q; local c = require 'fsec.core'; assert(c.thread_nice(7)); "
      .. "local s = io.open('/proc/self/stat'):read('*a'); "
      .. "local after = s:match('%%) (.*)'); local f = {}; for x in after:gmatch('%%S+') do f[#f + 1] = x end; "
      .. "io.write(f[17])"):format(package.cpath)
    local p = io.popen(lua .. " -e " .. ("%q"):format(script):gsub("\\\n", "\\n"))
    local out = p:read("*a")
    p:close()
    assert.equals("7", out)
  end)
end)

describe("core.new{ argon2_helper }", function()
  local core = require "fsec.core"
  local KEY = { helpers.KEY }

  it("finds fsec-argon2 beside fsec.core and hashes there, as in-process", function()
    local path = core.argon2_helper_path()
    local so = package.searchpath("fsec.core", package.cpath)
    local beside = so:gsub("core%.so$", "fsec-argon2")
    assert.equals("/", path:sub(1, 1)) -- absolute: a later chdir keeps it
    assert.equals(beside, path:sub(-#beside))
    local h = assert(core.new{ secret_keys = KEY, argon2_helper = true, argon2_memory_kib = 1024, argon2_time = 1 })
    local l = assert(core.new{ secret_keys = KEY, argon2_memory_kib = 1024, argon2_time = 1 })
    local hash = assert(h:hash_password("pässword"))
    assert.is_true(l:verify_password("pässword", hash))
    assert.is_true(h:verify_password("pässword", assert(l:hash_password("pässword"))))
    assert.is_false(h:verify_password("password", hash))
    local pid = core.argon2_helper_pid()
    assert.is_number(pid)
    local stat = assert(io.open("/proc/" .. pid .. "/stat")):read("*a")
    assert.matches("^%d+ %(fsec%-argon2%)", stat)
  end)

  it("refuses a path that is not a program, and a value of another type", function()
    local plain = helpers.tmpfile("not-a-program")
    assert(io.open(plain, "w")):close()
    assert.is_true(helpers.sh("chmod 644 " .. plain))
    for _, path in ipairs{ "/nonexistent/fsec-argon2", helpers.tmpdir(), plain } do -- a folder passes access(X_OK)
      local e, err, code = core.new{ secret_keys = KEY, argon2_helper = path }
      assert.is_nil(e, path)
      assert.equals("EINVAL", code)
      assert.matches("argon2_helper is not an executable file", err, 1, true)
    end
    assert.has_error(function() core.new{ secret_keys = KEY, argon2_helper = 1 } end,
      "bad config field 'argon2_helper' (path or boolean expected, got number)")
    assert.has_error(function() core.new{ secret_keys = KEY, argon2_helper = "/bin/true\0/x" } end,
      "bad config field 'argon2_helper' (NUL byte in path)")
  end)

  it("reports a helper that does not speak its protocol, never a match", function()
    local l = assert(core.new{ secret_keys = KEY, argon2_memory_kib = 1024, argon2_time = 1 })
    local hash = assert(l:hash_password("pw"))
    local e = assert(core.new{ secret_keys = KEY, argon2_helper = "/bin/cat" })
    local ok, err, code = e:verify_password("pw", hash)
    assert.is_false(ok)
    assert.equals("EHELPER", code)
    assert.matches("argon2 helper /bin/cat", err, 1, true)
  end)
end)

describe("fsec.openresty.init options", function()
  local fo = require "fsec.openresty"
  local cfg = helpers.config{ database = helpers.tmpfile("or2.db") }

  it("checks the helper at start", function()
    fo.init(cfg, {}) -- the default: the helper beside fsec.core
    local ok, err = pcall(fo.init, cfg, { argon2_process = "/nonexistent/fsec-argon2" })
    assert.is_false(ok)
    assert.matches("argon2_process: .*argon2_helper is not an executable file", err)
    ok, err = pcall(fo.init, cfg, { argon2_process = 5 })
    assert.is_false(ok)
    assert.matches("argon2_process must be a boolean or a path", err, 1, true)
    fo.init(cfg, { argon2_process = false })
  end)

  it("thread_jobs and thread_wait take sane numbers and refuse anything else at start", function()
    assert.has_no_error(function() fo.init(cfg, { thread_jobs = 1, thread_wait = 0.01 }) end)
    assert.has_no_error(function() fo.init(cfg, { thread_jobs = 64, thread_wait = 3600 }) end)
    for _, bad in ipairs{ 0, 1.5, -1, 1025, "2", true } do
      local ok, err = pcall(fo.init, cfg, { thread_jobs = bad })
      assert.is_false(ok)
      assert.matches("thread_jobs must be a whole number 1..1024", err, 1, true)
    end
    for _, bad in ipairs{ 0, -1, 3601, "30", 0 / 0 } do
      local ok, err = pcall(fo.init, cfg, { thread_wait = bad })
      assert.is_false(ok)
      assert.matches("thread_wait must be a number of seconds", err, 1, true)
    end
  end)

  it("gc_pause takes 100..1000, gc_stepmul 100..10000, and both refuse anything else at start", function()
    for _, o in ipairs{ { "gc_pause", 110, { 99, 1001, "110", true }, "gc_pause must be a number 100..1000" },
                        { "gc_stepmul", 400, { 99, 10001, "400", false }, "gc_stepmul must be a number 100..10000" } } do
      local name, good, bads, message = o[1], o[2], o[3], o[4]
      fo.init(cfg, { [name] = good })
      for _, bad in ipairs(bads) do
        local ok, err = pcall(fo.init, cfg, { [name] = bad })
        assert.is_false(ok, name .. " = " .. tostring(bad))
        assert.matches(message, err, 1, true)
      end
    end
  end)
end)


describe("a hashing fault", function()
  it("answers 503 at /login, /register and /change and counts no failed login (the argon2 helper fails)", function()
    local db = helpers.tmpfile("fault-helper.db")
    local good = helpers.new{ database = db, login_lockout_threshold = 3 }
    good.datastore:create_user{ email = "h@example.org", password = good:hash_password("a long password") }
    good:close()
    -- /bin/false starts and exits at once: every hash fails with EHELPER
    local sec = helpers.new{ database = db, login_lockout_threshold = 3, argon2_helper = "/bin/false", registerable = true,
                             changeable = true }
    for _, email in ipairs{ "h@example.org", "nobody@example.org" } do
      local c = helpers.api(sec)
      local res = c:call("POST", "/login", { email = email, password = "a long password" })
      assert.equals(503, res.status)
    end
    local u = sec.datastore:find_user{ email = "h@example.org" }
    assert.equals(0, u.failed_login_count or 0)
    -- a registration cannot store a hash it could not make
    local c = helpers.api(sec)
    local res = c:call("POST", "/register", { email = "new@example.org", password = "another long one",
                                              password_confirm = "another long one" })
    assert.equals(503, res.status)
    assert.is_nil(sec.datastore:find_user{ email = "new@example.org" })
    -- /change cannot check the current password: 503, the hash unchanged
    local u2 = sec.datastore:find_user{ email = "h@example.org" }
    local before = u2.password
    c = helpers.api(sec)
    local lres = sec:new_response()
    assert(sec:login_user(c:req(), lres, u2))
    c:take(lres)
    c:call("GET", "/change")
    res = c:call("POST", "/change", { password = "a long password", new_password = "a new long one",
                                      new_password_confirm = "a new long one" })
    assert.equals(503, res.status)
    assert.equals(before, sec.datastore:find_user{ email = "h@example.org" }.password)
    sec:close()
  end)
end)

describe("core.shared_counter (the cache generation the workers share)", function()
  local core = require "fsec.core"

  it("counts, and get and bump refuse anything that is not a counter", function()
    local c = assert(core.shared_counter())
    assert.equals(0, core.shared_counter_get(c))
    assert.equals(1, core.shared_counter_bump(c))
    assert.equals(1, core.shared_counter_get(c))
    -- a pointer from elsewhere (here: a C function's address) must not be
    -- written through
    for _, bad in ipairs{ core.header_find_ptr, {}, "x", 1, io.stdout } do
      local ok, err = pcall(core.shared_counter_bump, bad)
      assert.is_false(ok)
      assert.matches("fsec.SharedCounter expected", err, 1, true)
      assert.is_false((pcall(core.shared_counter_get, bad)))
    end
    if jit then -- the FFI read the OpenResty adapter compiles in
      local ffi = require "ffi"
      local p = ffi.cast("uint32_t * const *", c)[0]
      core.shared_counter_bump(c)
      assert.equals(2, tonumber(p[0]))
    end
  end)
end)

describe("fsec.openresty's cache generation and transactions", function()
  local core = require "fsec.core"
  local fo = require "fsec.openresty"
  local get = core.shared_counter_get

  it("bumps once more after a transaction's COMMIT when a write inside it bumped, not after a rollback", function()
    local sec = helpers.new{ database = helpers.tmpfile("gen.db") }
    local ds = sec.datastore
    local u = assert(ds:create_user{ email = "a@x.org", password = sec:hash_password("password") })
    local c = assert(core.shared_counter())
    fo._bump_on_writes(ds, c)
    for _, name in ipairs{ "transaction", "transaction_deferred" } do
      -- the write's own bumps come before the COMMIT, which runs after fn:
      -- a worker reading between them would cache the old row
      local inside
      ds[name](ds, function()
        ds:set_confirmed_at(u, 1000)
        inside = get(c)
      end)
      assert.is_true(get(c) > inside, name)
      -- writes that keep the caches (a new session): no bump at all
      local g = get(c)
      ds[name](ds, function() ds:create_session(u, "sid-" .. name, 2e9) end)
      assert.equals(g, get(c), name)
      -- rolled back: the write's own two bumps, nothing after
      g = get(c)
      assert.is_false((pcall(ds[name], ds, function() ds:set_confirmed_at(u, 2000); error("boom") end)))
      assert.equals(g + 2, get(c), name)
      assert.equals(1000, ds:find_user{ id = u.id }.confirmed_at)
    end
  end)
end)
