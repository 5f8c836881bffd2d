-- The OpenResty adapter's parts that run without nginx: named guards
-- checked at init, and the priority of hashing threads.
local helpers = require "spec.helpers"

describe("fsec.openresty.init guards #quick", function()
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

describe("fsec.openresty.init jit_opt #quick", function()
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


describe("core.thread_nice #quick", function()
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

describe("core.new{ argon2_helper } #quick", function()
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

describe("fsec.openresty.init options #quick", function()
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

  it("thread_queue takes a whole number 0..100000 and limit_dict a dict's name or false", function()
    assert.has_no_error(function() fo.init(cfg, { thread_queue = 0, limit_dict = false }) end)
    assert.has_no_error(function() fo.init(cfg, { thread_queue = 100000, limit_dict = "fsec_limits" }) end)
    for _, bad in ipairs{ -1, 1.5, 100001, "8", true } do
      local ok, err = pcall(fo.init, cfg, { thread_queue = bad })
      assert.is_false(ok)
      assert.matches("thread_queue must be a whole number 0..100000", err, 1, true)
    end
    for _, bad in ipairs{ "", 5, true } do
      local ok, err = pcall(fo.init, cfg, { limit_dict = bad })
      assert.is_false(ok)
      assert.matches("limit_dict must be a lua_shared_dict's name or false", err, 1, true)
    end
    fo.init(cfg, {})
  end)

  it("metrics_dict takes a dict's name or false, metrics_flush 0.05..60 seconds", function()
    assert.has_no_error(function() fo.init(cfg, { metrics_dict = false, metrics_flush = 0.05 }) end)
    assert.has_no_error(function() fo.init(cfg, { metrics_dict = "fsec_metrics", metrics_flush = 60 }) end)
    for _, bad in ipairs{ "", 5, true } do
      local ok, err = pcall(fo.init, cfg, { metrics_dict = bad })
      assert.is_false(ok)
      assert.matches("metrics_dict must be a lua_shared_dict's name or false", err, 1, true)
    end
    for _, bad in ipairs{ 0, 0.01, 61, "1", false } do
      local ok, err = pcall(fo.init, cfg, { metrics_flush = bad })
      assert.is_false(ok)
      assert.matches("metrics_flush must be a number of seconds, 0.05..60", err, 1, true)
    end
    fo.init(cfg, {})
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


describe("a hashing fault #quick", function()
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

describe("core.shared_counter (the cache generation the workers share) #quick", function()
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

describe("fsec.openresty's cache generation and transactions #quick", function()
  local core = require "fsec.core"
  local orcache = require "fsec.openresty.cache"
  local get = core.shared_counter_get

  it("bumps once more after a transaction's COMMIT when a write inside it bumped, not after a rollback", function()
    local sec = helpers.new{ database = helpers.tmpfile("gen.db") }
    local u = assert(sec.datastore:create_user{ email = "a@x.org", password = sec:hash_password("password") })
    local c = assert(core.shared_counter())
    sec:set_cache(orcache.seam(c)) -- through Security's seam: its datastore tells the counter
    local ds = sec.datastore
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

  it("lets a store fault through as it was raised (\"EBUSY: ...\", no position), so it still answers 503", function()
    local path = helpers.tmpfile("gen-busy.db")
    local sec = helpers.new{ database = path, database_busy_timeout = 50 }
    sec:set_cache(orcache.seam(assert(core.shared_counter())))
    local ds = sec.datastore
    local holder = assert(core.open_store{ path = path })
    assert(holder:begin())
    assert(holder:create_role("lock-holder", nil, nil, os.time()))
    for _, name in ipairs{ "transaction", "transaction_deferred" } do
      local ok, err = pcall(ds[name], ds, function() return true end)
      assert.is_false(ok)
      assert.matches("^EBUSY: ", tostring(err), nil, false, name)
    end
    holder:rollback()
  end)
end)

describe("fsec.openresty.init refuses what it does not know #quick", function()
  local fo = require "fsec.openresty"
  local cfg = helpers.config{ database = helpers.tmpfile("or-opts.db") }
  local NAN = 0 / 0

  local function refused(opts, message)
    local ok, err = pcall(fo.init, cfg, opts)
    assert.is_false(ok, "accepted: " .. tostring(message))
    assert.matches("fsec.openresty.init: " .. message, err, 1, true)
  end

  it("refuses options that are not a table, and unknown option names", function()
    for _, bad in ipairs{ "thread_pool=fsec", 5, true } do refused(bad, "opts must be a table") end
    refused({ thread_job = 2 }, "unknown option 'thread_job' (thread_jobs?)")
    refused({ cache_sise = 10 }, "unknown option 'cache_sise' (cache_size?)")
    refused({ setup = function() end, colour = "blue" }, "unknown option 'colour'")
    refused({ [1] = "x" }, "unknown option '1'")
    assert.has_no_error(function() fo.init(cfg, nil) end)
    assert.has_no_error(function() fo.init(cfg, {}) end)
  end)

  it("refuses every wrong type or range, naming the option", function()
    local cases = {
      thread_pool = { { 5, true, "" }, "thread_pool must be a thread pool's name or false", { "fesc", false } },
      sync_thread_pool = { { 3, true, "" }, "sync_thread_pool must be a thread pool's name or false", { "io", false } },
      mail_thread_pool = { { 3, true, false, "" }, "mail_thread_pool must be a thread pool's name", { "fsec_mail" } },
      cache_size = { { 0, -1, "x", 1.5, NAN, math.huge, 1e8 + 1, true }, "cache_size must be a whole number 1..100000000",
                     { 1, 10000, 1e8 } },
      cache_ttl = { { "x", -1, 0, NAN, math.huge, -math.huge, false }, "cache_ttl must be a number of seconds over 0",
                    { 0.5, 2, 86400 } },
      thread_nice = { { 99, "x", 1.5, -1, 20, true, NAN }, "thread_nice must be a whole number 0..19 or false",
                      { 0, 19, false } },
      setup = { { "x", 5, {}, true }, "setup must be a function",
                { function() end, setmetatable({}, { __call = function() end }) } },
      user_header = { { "X\r\nY", "X-User-Id\n", "", "X User", "X:Y", 5, false }, "user_header must be an HTTP header name",
                      { "X-User-Id", "x_user" } },
      gc_pause = { { NAN, math.huge }, "gc_pause must be a number 100..1000", { 100, 1000 } },
      gc_stepmul = { { NAN }, "gc_stepmul must be a number 100..10000", { 100 } },
      shared_dict = { { "x", "fsec", 1 }, "shared_dict must be true or false", { true, false } },
      cache_l1_size = { { 0, -1, "x", 1.5, NAN, 1e8 + 1, true }, "cache_l1_size must be a whole number 1..100000000",
                        { 1, 512, 1e8 } },
      cache_dict = { { 5, true, "" }, "cache_dict must be a lua_shared_dict's name or false", { "fsec_cache", false } },
      guards = { { "api", 5, true }, "guards must be a table of name -> spec", {} },
    }
    for name, c in pairs(cases) do
      for _, bad in ipairs(c[1]) do refused({ [name] = bad }, c[2]) end
      for _, good in ipairs(c[3]) do
        local ok, err = pcall(fo.init, cfg, { [name] = good })
        assert.is_true(ok, name .. " = " .. tostring(good) .. ": " .. tostring(err))
      end
    end
    refused({ guards = { { auth = { "token" } } } }, "guards must be a table of name -> spec")
  end)

  it("keeps the configuration it had when it refuses a new one", function()
    fo.init(cfg, { user_header = "X-Kept" })
    refused({ user_header = "X-New", cache_size = 0 }, "cache_size must be")
    -- the options in force are still the accepted ones: a later change to
    -- the caller's table does not reach them either
    local opts = { user_header = "X-Copied" }
    fo.init(cfg, opts)
    opts.cache_size = 0
    opts.user_header = "X\r\nY"
    assert.same({ user_header = "X-Copied" }, fo._options())
  end)

  it("takes the example app's own options", function()
    local saved = package.path
    package.path = "examples/openresty/?.lua;" .. package.path
    local ok, app = pcall(require, "fsec_example")
    package.path = saved
    assert(ok, app)
    assert.has_no_error(function() fo.init(cfg, app.options()) end)
  end)
end)


describe("fsec.openresty.init_worker that fails #quick", function()
  -- A fresh copy of the module, loaded with a stand-in for nginx's ngx
  -- (the module keeps the ngx it finds when loaded); no nginx runs.
  local function load_with_ngx()
    local saved_mod, saved_ngx = package.loaded["fsec.openresty"], rawget(_G, "ngx")
    local logs = {}
    local function log(_, ...)
      local parts = {}
      for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
      logs[#logs + 1] = table.concat(parts)
    end
    local ctx = {}
    rawset(_G, "ngx", {
      time = os.time, now = os.time, log = log, WARN = 5, ERR = 4, CRIT = 3,
      ctx = ctx, get_phase = function() return "access" end,
      var = { uri = "/login", request_uri = "/login", remote_addr = "127.0.0.1", scheme = "http", host = "x" },
      req = { get_method = function() return "GET" end, get_uri_args = function() return {} end,
              clear_header = function() end, set_header = function() end },
      header = {}, exit = function(s) error("ngx.exit " .. tostring(s), 0) end, print = function() end,
    })
    package.loaded["fsec.openresty"] = nil
    local ok, fo = pcall(require, "fsec.openresty")
    package.loaded["fsec.openresty"] = saved_mod
    rawset(_G, "ngx", saved_ngx)
    assert(ok, fo)
    return fo, logs
  end

  it("names the entry point and the caller's line for a guard that init was not given", function()
    local fo = load_with_ngx()
    fo.init(helpers.config{ database = helpers.tmpfile("or-guard-name.db") },
            { shared_dict = false, guards = { api = { auth = { "token" } } } })
    assert.is_table(fo.init_worker())
    for _, name in ipairs{ "protect", "admit" } do
      local ok, err = pcall(function()
        local user = fo[name]("apj") -- a typo of "api"
        return user
      end)
      assert.is_false(ok, name .. " answered")
      assert.matches("fsec.openresty." .. name .. ": no guard named 'apj'", err, 1, true)
      assert.matches("41%-openresty_unit_spec%.lua:%d+:", err) -- where the call is, not fsec's line
    end
  end)

  it("leaves every entry point raising (a 500 in nginx) when setup raises", function()
    local fo = load_with_ngx()
    local cfg = helpers.config{ database = helpers.tmpfile("or-worker-fail.db") }
    -- a worker that came up once, then one whose setup fails (in nginx,
    -- another worker or a reload)
    fo.init(cfg, { shared_dict = false })
    assert.is_table(fo.init_worker())
    assert.is_table(fo.security())
    local given
    fo.init(cfg, { shared_dict = false, setup = function(sec)
      given = sec
      assert.equals(sec, fo.security()) -- setup may ask for it while it runs
      error("setup failed on purpose")
      -- never reached: the policy that would deny every login
      -- sec:policy("login", function() return false end)
    end })
    local ok, err = pcall(fo.init_worker)
    assert.is_false(ok)
    assert.matches("setup failed on purpose", err, 1, true)
    assert.is_table(given)
    local calls = {
      security = function() return fo.security() end,
      serve = function() return fo.serve() end,
      protect = function() return fo.protect{ auth = { "session" } } end,
      current_user = function() return fo.current_user() end,
      request = function() return fo.request() end,
    }
    for name, call in pairs(calls) do
      local ok2, e2 = pcall(call)
      assert.is_false(ok2, name .. " answered")
      assert.matches("init_worker() failed: ", e2, 1, true)
      assert.matches("setup failed on purpose", e2, 1, true)
    end
    -- the half-made Security was closed: its store answers no more
    assert.is_false((pcall(given.datastore.find_user, given.datastore, { email = "a@x.org" })))
  end)
end)

-- fsec.openresty.remote, its jobs run in this process (the thread's own
-- code, on a SQLite file): the decisions of otp_advance and swap_text
-- come back as they are, and inside a transaction (where a write's answer
-- is true at once and its own comes with the commit) they raise rather
-- than accept every code.
describe("fsec.openresty.remote's one-time writes #quick", function()
  local jobs, saved_run, saved_sema

  setup(function()
    saved_sema = package.loaded["ngx.semaphore"]
    package.loaded["ngx.semaphore"] = { new = function() return {} end }
    jobs = require "fsec.openresty.jobs"
    saved_run = jobs.run
    local thread = require "fsec.openresty.thread"
    jobs.run = function(_, _, _, _, _, db, txn, calls) return true, thread.store(db, txn, calls) end
  end)
  teardown(function()
    jobs.run = saved_run
    package.loaded["ngx.semaphore"] = saved_sema
  end)

  it("answers them on their own and refuses them inside transaction()", function()
    local ds = require("fsec.openresty.remote").new("fsec", 4, 4, { path = helpers.tmpfile("remote-otp.db") })
    local u = assert(ds:create_user{ email = "remote-otp@x.org" })
    assert.is_true(ds:otp_advance(u, "totp", 100))
    assert.is_false(ds:otp_advance(u, "totp", 100))
    assert.is_true(ds:swap_text(u, "mf_recovery_codes", nil, "a,b"))
    assert.equals("a,b", u.mf_recovery_codes) -- written back to the caller's object
    assert.is_false(ds:swap_text(u, "mf_recovery_codes", nil, "c"))
    assert.equals("a,b", u.mf_recovery_codes)
    for _, call in ipairs{ function() return ds:otp_advance(u, "totp", 100) end,
                           function() return ds:swap_text(u, "mf_recovery_codes", "a,b", "b") end } do
      local ok, err = pcall(ds.transaction, ds, call)
      assert.is_false(ok)
      assert.matches("not available inside transaction%(%)", err)
    end
    assert.is_false(ds:otp_advance(u, "totp", 100)) -- still refused: nothing ran
    assert.is_true(ds:swap_text(u, "mf_recovery_codes", "a,b", "b"))
  end)
end)

describe("fsec.openresty.cache's two levels: a per-worker L1 before a shared dict (L2) #quick", function()
  local core = require "fsec.core"
  local orcache = require "fsec.openresty.cache"
  local codec = orcache._codec
  local PW = "correct horse battery"
  local TOKEN_AUTH = { auth = { "token" } }
  local ADMIN_TOKEN = { auth = { "token" }, roles_required = { "admin" } }

  -- lua_shared_dict's get and set (strings, exptime in seconds on the
  -- test's clock), and what was set, with its exptime
  local function fake_dict(clock)
    local d = { data = {}, exptime = {}, sets = 0 }
    function d.get(self, k)
      local e = self.exptime[k]
      if e and e > 0 and clock() >= e then self.data[k] = nil end
      return self.data[k]
    end
    function d.set(self, k, v, ttl)
      self.sets = self.sets + 1
      self.data[k], self.exptime[k] = v, ttl and ttl > 0 and clock() + ttl or 0
      return true
    end
    return d
  end

  -- an L1 as resty.lrucache's get/set (ttl on the test's clock)
  local function l1_store(clock)
    local s = { data = {}, untils = {} }
    function s.get(self, k)
      local u = self.untils[k]
      if u and clock() >= u then self.data[k] = nil end
      return self.data[k]
    end
    function s.set(self, k, v, ttl) self.data[k], self.untils[k] = v, ttl and clock() + ttl end
    function s.count(self) local n = 0 for _ in pairs(self.data) do n = n + 1 end return n end
    return s
  end

  -- Two "workers": Security objects on one database, sharing one counter
  -- and one dict, each with its own L1 and a count of its store's user
  -- lookups (the store's own methods, counted below the cache's view).
  local function workers(ttl)
    local path = helpers.tmpfile("l2.db")
    local T = { now = 1e9 }
    local function clock() return T.now end
    local counter = assert(core.shared_counter())
    orcache.prepare(counter)
    local dict = fake_dict(clock)
    local out = {}
    for i = 1, 2 do
      local sec = helpers.new{ database = path, clock = clock }
      local store = sec.datastore
      local lookups = { n = 0 }
      for _, m in ipairs{ "find_user", "find_user_by_session" } do
        local fn = store[m]
        store[m] = function(...) lookups.n = lookups.n + 1; return fn(...) end
      end
      local c = orcache.seam(counter)
      local function ctx()
        return { key = orcache._record_key(counter), now = clock, generation = c.generation,
                 thin = function(u) return require("fsec.user").thin(u, require("fsec.auth").user_loader(sec)) end }
      end
      local l1t, l1u = l1_store(clock), l1_store(clock)
      c.tokens = orcache.tiered(l1t, dict, "t", ctx())
      c.users = orcache.tiered(l1u, dict, "u", ctx())
      c.ttl = ttl or 2
      sec:set_cache(c)
      out[i] = { sec = sec, lookups = lookups, c = c, l1t = l1t, l1u = l1u }
    end
    local user = assert(out[1].sec.datastore:create_user{ email = "l2@example.org",
                                                          password = out[1].sec:hash_password(PW) })
    assert(out[1].sec.datastore:create_role{ name = "admin" })
    assert(out[1].sec.datastore:add_role_to_user(user, "admin"))
    return out[1], out[2], dict, user, T
  end

  local function token_ok(w, tok, spec)
    return (w.sec:check(helpers.request{ headers = { ["authentication-token"] = tok } }, spec or TOKEN_AUTH)) == true
  end

  -- LuaJIT specialises a trace on the function it calls: a lookup
  -- closure of each store's own made every trace through one store exit
  -- (and grow a side trace) for every other store (the soak's late traces)
  it("gives every store the same get and set (no closures of its own)", function()
    local a, b = workers()
    for _, x in ipairs{ a.c.users, b.c.tokens, b.c.users } do
      assert.equals(a.c.tokens.get, x.get)
      assert.equals(a.c.tokens.set, x.set)
      assert.is_nil(rawget(x, "get"))
    end
    local l1 = l1_store(function() return 0 end)
    local c1, c2 = orcache.counted(l1, "tokens"), orcache.counted(l1, "users")
    assert.equals(c1.get, c2.get)
    assert.is_nil(rawget(c1, "get"))
  end)

  it("answers a token checked in one worker from the dict in the other, with no lookup", function()
    local a, b, dict, user = workers()
    local tok = a.sec:get_auth_token(a.sec.datastore:find_user{ id = user.id })
    assert.is_true(token_ok(a, tok, ADMIN_TOKEN))
    assert.is_true(a.lookups.n >= 1)
    local before = b.lookups.n
    assert.is_true(token_ok(b, tok, ADMIN_TOKEN))
    assert.equals(before, b.lookups.n) -- L2 hit: the user's roles came from the record
    assert.equals(1, b.c.tokens:count()) -- and is in B's L1 now
    assert.is_true(token_ok(b, tok, ADMIN_TOKEN))
    -- the record holds no token and no password hash, and is named by a digest
    for k, v in pairs(dict.data) do
      assert.is_nil(k:find(tok, 1, true)); assert.is_nil(v:find(tok, 1, true))
      assert.is_nil(v:find(user.password, 1, true)); assert.is_nil(v:find("$argon2", 1, true))
      assert.matches("^[tu]%x+$", k)
      -- with its name and the dict's node (68 bytes on 64-bit Linux),
      -- one 256-byte slab of the dict's allocator
      assert.is_true(68 + #k + #v <= 256, "record of " .. #v .. " bytes")
    end
    -- a forged token is still refused in B (no record is named by it)
    assert.is_false(token_ok(b, tok .. "x"))
  end)

  it("answers a session checked in one worker from the dict in the other", function()
    local a, b, dict = workers()
    local client = helpers.api(a.sec)
    assert.equals(200, client:call("POST", "/login", { email = "l2@example.org", password = PW }).status)
    local req = function() return client:req{ path = "/app" } end
    assert.is_true((a.sec:check(req(), { auth = { "session" } })) == true)
    local before = b.lookups.n
    assert.is_true((b.sec:check(req(), { auth = { "session" }, roles_required = { "admin" } })) == true)
    assert.equals(before, b.lookups.n)
    -- two records (the cookie's check, the user), each one 256-byte slab
    local n = 0
    for k, v in pairs(dict.data) do
      n = n + 1
      assert.is_true(68 + #k + #v <= 256, k:sub(1, 1) .. " record of " .. #v .. " bytes")
    end
    assert.equals(2, n)
  end)

  it("drops every record at a generation bump: a role removed or a logout in A is seen in B at once", function()
    local a, b, _, user = workers(3600)
    local tok = a.sec:get_auth_token(a.sec.datastore:find_user{ id = user.id })
    local client = helpers.api(a.sec)
    assert.equals(200, client:call("POST", "/login", { email = "l2@example.org", password = PW }).status)
    local function session_ok(w) return (w.sec:check(client:req{ path = "/app" }, { auth = { "session" } })) == true end
    assert.is_true(token_ok(a, tok, ADMIN_TOKEN)); assert.is_true(session_ok(a))
    -- B never saw them: its L1 is empty, the dict answers
    assert(a.sec.datastore:remove_role_from_user(user, "admin"))
    local before = b.lookups.n
    assert.is_false(token_ok(b, tok, ADMIN_TOKEN))
    assert.is_true(b.lookups.n > before) -- the stale record was a miss: read again
    assert.is_true(token_ok(b, tok))
    assert.is_true(session_ok(b))
    -- a logout of every session, written in A
    assert(require("fsec.datastore").revoke_all(a.sec.datastore, user))
    assert.is_false(session_ok(b)); assert.is_false(session_ok(a))
  end)

  it("keeps a record its remaining time: a token until it expires, a user cache_ttl seconds", function()
    local a, b, dict, user, T = workers(5)
    local tok = a.sec:get_auth_token(a.sec.datastore:find_user{ id = user.id }, { expires_in = 100 })
    assert.is_true(token_ok(a, tok))
    local exps = {}
    for k, e in pairs(dict.exptime) do exps[k:sub(1, 1)] = e - T.now end
    assert.is_true(exps.t > 5 and exps.t <= 101, tostring(exps.t))
    -- past the user's cache_ttl the record's user is stale: B reads it again
    T.now = T.now + 6
    local before = b.lookups.n
    assert.is_true(token_ok(b, tok))
    assert.equals(before + 1, b.lookups.n)
    -- past the token's expiry, nothing stands
    T.now = T.now + 200
    assert.is_false(token_ok(b, tok)); assert.is_false(token_ok(a, tok))
  end)

  it("reads a corrupted, cut, foreign or unparsable record as a miss, never as a user", function()
    local a, b, dict, user = workers(3600)
    local tok = a.sec:get_auth_token(a.sec.datastore:find_user{ id = user.id })
    assert.is_true(token_ok(a, tok, ADMIN_TOKEN))
    local function token_record()
      for k, v in pairs(dict.data) do if k:sub(1, 1) == "t" then return k, v end end
    end
    local name, good = token_record()
    -- another user's token, checked: its record (no admin role) under this name
    local other = assert(a.sec.datastore:create_user{ email = "other@example.org" })
    local otok = a.sec:get_auth_token(other)
    dict.data = {}
    assert.is_true(token_ok(a, otok))
    local _, foreign = token_record()
    dict.data = {}
    local body = good:sub(17)
    local bads = {
      good:sub(1, -2), good .. "x", good:sub(1, 20), "", "x", string.rep("\255", 300), foreign,
      good:sub(1, 16) .. body:gsub("i" .. user.id .. ";t", "i" .. other.id .. ";t", 1), -- another id, old check
      good:sub(1, 16) .. body:gsub("s5:admin", "s5:admix"), good:gsub("%x", "0", 1),
      good:sub(1, 16) .. body:gsub("s5:admin", "s55:admin"), 42, true,
    }
    for i, bad in ipairs(bads) do
      b.l1t.data, b.l1u.data = {}, {} -- B's L1 empty: the dict answers
      dict.data[name] = bad
      local before = b.lookups.n
      assert.is_true(token_ok(b, tok, ADMIN_TOKEN), i) -- the token's own user, with admin
      assert.is_true(b.lookups.n > before, "record " .. i .. " was used")
    end
    -- the record B wrote after its last miss (the user read again): a hit
    b.l1t.data, b.l1u.data = {}, {}
    assert.is_true(dict.data[name] ~= good)
    local before = b.lookups.n
    assert.is_true(token_ok(b, tok, ADMIN_TOKEN))
    assert.equals(before, b.lookups.n)
  end)

  it("encodes and decodes entries exactly, hostile strings included, and refuses what it cannot encode", function()
    local thin = function(u) return u end
    local data = { u = "a:b;c s3:x", a = 1700000000, e = 0, x = true, y = -1.5, z = "" }
    local user = { id = 7, active = true, roles = { "admin", "s1:t", "i9;" }, permissions = { ["a;b"] = true } }
    local body = assert(codec.encode_token{ data, 1000, 5000, 990, "auth", user, 3, 2000 })
    local e = assert(codec.decode_token(body, 1, 1500, 3, thin))
    assert.same(data, e[1]); assert.same({ 1000, 5000, 990, "auth" }, { e[2], e[3], e[4], e[5] })
    assert.same(user, e[6]); assert.equals(3, e[7]); assert.equals(2000, e[8])
    -- another generation, or past the user's until: the entry without its user
    e = assert(codec.decode_token(body, 1, 1500, 4, thin))
    assert.same({ false, false, 0 }, { e[6], e[7], e[8] })
    e = assert(codec.decode_token(body, 1, 2000, 3, thin))
    assert.is_false(e[6])
    assert.is_nil(codec.decode_token(body, 1, 5000, 3, thin)) -- past the token's until
    for cut = 1, #body - 1 do assert.is_nil(codec.decode_token(body:sub(1, cut), 1, 1500, 3, thin), cut) end
    local ub = assert(codec.encode_user({ user, 3, "uq", 1002 }, 1002))
    local ue, until_ = codec.decode_user(ub, 1, 1000, 3, thin)
    -- the until comes back in the entry too (a session's cookie entry copies it)
    assert.same({ user, 3, "uq", 1002 }, ue); assert.equals(1002, until_)
    assert.is_nil(codec.decode_user(ub, 1, 1000, 4, thin))   -- generation moved
    assert.is_nil(codec.decode_user(ub, 1, 1002, 3, thin))   -- expired
    assert.same({ false, 3, false, 1002 }, (codec.decode_user(assert(codec.encode_user({ false, 3, false }, 1002)), 1, 1000, 3, thin)))
    for cut = 1, #ub - 1 do assert.is_nil(codec.decode_user(ub:sub(1, cut), 1, 1000, 3, thin), cut) end
    -- no encoding: a nested table, NaN, a function
    assert.is_nil(codec.encode_token{ { t = {} }, 1, 2, 0, "auth", false, false, 0 })
    assert.is_nil(codec.encode_token{ { n = 0 / 0 }, 1, 2, 0, "auth", false, false, 0 })
    assert.is_nil(codec.encode_user({ { id = print, active = true, roles = {}, permissions = {} }, 1, false }, 5))
    -- more names than a record may hold when read back: not written at all
    local many = {}
    for i = 1, 300 do many[i] = "r" .. i end
    assert.is_nil(codec.encode_user({ { id = 1, active = true, roles = many, permissions = {} }, 1, false }, 5))
    local body300 = assert(codec.encode_user({ { id = 1, active = true, roles = { "a" }, permissions = {} }, 1, false }, 5))
    assert.is_nil(codec.decode_user(body300:gsub("i1;s1:a", "i300;s1:a"), 1, 0, 1, thin))
  end)
end)

-- nginx keeps every worker-thread Lua state for good, and each loads
-- fsec.openresty.thread: a state that only hashes or fsyncs (all of them
-- with SQLite) does not carry fsec.user and cjson too.
describe("fsec.openresty.thread's Lua state #quick", function()
  it("loads fsec.user at the first datastore job only, and memory() names what it loaded", function()
    local saved_thread, saved_user = package.loaded["fsec.openresty.thread"], package.loaded["fsec.user"]
    package.loaded["fsec.openresty.thread"], package.loaded["fsec.user"] = nil, nil
    local ok, err = pcall(function()
      local thread = require "fsec.openresty.thread"
      assert.is_nil(package.loaded["fsec.user"])
      local bytes, names = thread.memory()
      assert.is_true(math.type == nil or math.type(bytes) == "integer")
      assert.is_true(bytes > 0)
      assert.matches("fsec.openresty.thread", names, 1, true)
      local function has(list, name) return (" " .. list .. " "):find(" " .. name .. " ", 1, true) ~= nil end
      assert.is_false(has(names, "fsec.user"))
      -- a hash leaves it unloaded too
      local cfg = require("fsec").engine_config(assert(require("fsec.config").validate(
        helpers.config{ database = ":memory:" })))
      assert.is_string(thread.hash(cfg, "a-password-1"))
      assert.is_nil(package.loaded["fsec.user"])
      local status = thread.store({ path = helpers.tmpfile("thread-lazy.db") }, false,
                                  { { "find_user", { n = 1, { email = "nobody@example.org" } } } })
      assert.equals("ok", status)
      assert.is_table(package.loaded["fsec.user"])
      assert.is_true(has(select(2, thread.memory()), "fsec.user"))
    end)
    package.loaded["fsec.openresty.thread"], package.loaded["fsec.user"] = saved_thread, saved_user
    assert(ok, err)
  end)
end)
