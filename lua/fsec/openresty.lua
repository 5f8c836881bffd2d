--- The OpenResty adapter: fsec inside nginx with lua-nginx-module.
--
--   init_by_lua_block        { require("fsec.openresty").init(config, opts) }
--   init_worker_by_lua_block { require("fsec.openresty").init_worker() }
--   location ~ ^/(login|logout|register|reset|change|confirm|verify)(/|$) {
--     content_by_lua_block { require("fsec.openresty").serve() } }
--   location /admin { access_by_lua_block {
--     require("fsec.openresty").protect{ auth = { "session" }, roles_required = { "admin" } } } }
--
-- Configuration and secrets are fixed in init_by_lua (before the fork, so
-- every worker signs with the same key); each worker opens its own store
-- in init_worker_by_lua; the master opens nothing. Password hashing runs
-- in nginx's thread pool (`thread_pool fsec threads=N;` in the main
-- context) so a login does not stall the worker's other requests; without
-- that pool, hashing runs inline and a warning is logged once.
-- @module fsec.openresty

local fsec = require "fsec"
local core = require "fsec.core"
local config = require "fsec.config"
local http = require "fsec.http"
local authz = require "fsec.authz"
local ratelimit = require "fsec.ratelimit"

local ngx = ngx
local type = type
local pairs = pairs
local next = next
local setmetatable = setmetatable
local rawset = rawset
local tonumber = tonumber
local tostring = tostring

-- Tables with room for the fields a request fills in (LuaJIT's
-- table.new): growing an empty table rehashes it at each power of two,
-- and those rehashes were a measurable part of a check.
local ok_new, new_tab = pcall(require, "table.new")
if not ok_new then new_tab = function() return {} end end


local _M = { _VERSION = "0.1.0" }

local saved_config, saved_opts, engine_cfg
-- This worker's Security object: set only once init_worker has completed
-- (setup included). Until then every entry point raises (nginx answers
-- 500), so that a worker whose init_worker failed denies, never serves
-- with half its setup (a policy missing). building: the one init_worker
-- is making (setup may ask security() for it); worker_error: why the
-- last init_worker failed.
local sec, building, worker_error
local generation -- the cache generation shared by the workers (init maps it)
local cache_slot_bytes = 0 -- what the caches allocated at start (memory())
local guards = {}


-- LuaJIT's default limits (4000 IR instructions and 500 constants per
-- trace) are too small for a check compiled as one trace: it aborts
-- ("trace too long"), is blacklisted after a few tries and then runs in
-- the interpreter, on every request. Set in init_by_lua, before the fork:
-- every worker inherits them. They apply to the whole Lua VM (longer
-- traces for the application too), hence the jit_opt option.
local JIT_OPT = { "maxrecord=16000", "maxirconst=2000", "maxsnap=1000" }

local function check_jit_opt(list)
  if list == nil or list == false then return nil end
  if type(list) ~= "table" then return "jit_opt must be a list or false" end
  for i = 1, #list do
    if type(list[i]) ~= "string" or not list[i]:match("^%l+=%d+$") then
      return "jit_opt: '" .. tostring(list[i]) .. "' is not name=number"
    end
  end
end

local function set_jit_opt(list)
  if list == nil then list = JIT_OPT end
  if list == false then return end
  if not jit then return end -- plain Lua (tests): nothing to tune
  local ok, err = pcall(jit.opt.start, (table.unpack or unpack)(list))
  if not ok then error("fsec.openresty.init: jit_opt: " .. tostring(err), 3) end
end


--- Validate and keep the configuration (init_by_lua). Raises on a bad
-- one: an unknown option name, or a value of the wrong type or range (the
-- error names the option); the configuration in force then stays.
-- opts (a table, or nil): thread_pool (name, default "fsec"; false: hash
-- inline; a pool nginx does not have is known only at the first hash,
-- which warns and hashes inline), shared_dict (false: no cache of
-- authentication lookups; true, the default: the cache; the generation
-- the workers share lives in memory mapped here, before the fork, not in
-- a lua_shared_dict any more, so a dict's name is refused),
-- cache_size (a whole number 1..100000000, default 10000),
-- cache_ttl (seconds, over 0, default 2),
-- setup (function(sec) run in every worker: connect signals, add
-- policies; if it raises, the worker serves no fsec request),
-- thread_nice (nice value of the hashing threads, 0..19, default 19;
-- false: leave them at the worker's),
-- argon2_process (default true: each hashing thread runs argon2 in a
-- helper process, fsec-argon2, so that libsodium's mapping and unmapping
-- of 64 MiB per hash never stalls the worker's event loop on the memory-map
-- lock; false: argon2 in the thread itself; or the helper's path),
-- user_header (name of a request header that carries the user id to
-- upstreams, e.g. "X-User-Id", an HTTP token; always cleared from the
-- client's request),
-- guards (a table of name -> spec, checked here once: `protect("name")`
-- is then the fastest form of protect),
-- gc_pause (the worker's LuaJIT GC pause, 100..1000; default: leave it
-- at 200. 110 keeps a worker's heap near what it holds live),
-- gc_stepmul (the worker's LuaJIT GC step multiplier, 100..10000;
-- default: leave it at 200. Higher ends each collection after less new
-- allocation, so the heap's peak, which LuaJIT keeps, is lower),
-- jit_opt (LuaJIT parameters for jit.opt.start, a list such as
-- { "maxrecord=16000" }; default: JIT_OPT below; false: leave LuaJIT's),
-- sync_thread_pool (where commits are made durable: the fsync of
-- the SQLite WAL runs in this thread pool, default "fsec_sync", or in the
-- hashing pool when there is no such pool; false: the commit fsyncs in
-- the event loop, as outside nginx),
-- thread_jobs (at most this many hashing jobs fsec posts at once to its
-- pool, per worker; default 2; fsyncs go one at a time, grouped. nginx
-- keeps a Lua state, about 400 KiB, for every job posted at once and
-- never frees it, so a burst of 1000 logins would leave 1000 states in
-- the worker; the rest wait here, in order, up to thread_wait seconds
-- (default 10), then fail as unavailable (503). Set it to the pool's
-- threads=: a job beyond them only waits in nginx's queue, holding a
-- state),
-- thread_queue (at most this many requests wait for a hashing slot per
-- worker, default 32; one more is answered 503 with Retry-After at once:
-- a flood is refused in microseconds instead of queueing everyone's
-- logins behind it for tens of seconds),
-- limit_dict (the lua_shared_dict that holds the throttling counters of
-- fsec.throttle, shared by the workers; default "fsec_limits" when
-- nginx.conf declares it; false, or no such dict: each worker counts
-- alone, with a warning).
-- The worker's LuaJIT GC settings init takes (100..max each). LuaJIT
-- starts a collection when the heap has grown to pause% of what the last
-- one left (200 by default), and keeps the memory it reached: a lower
-- pause trades a little CPU for a smaller worker. An incremental
-- collection runs while the request code allocates: with a higher step
-- multiplier it ends sooner, and the heap overshoots its pause less.
local GC_OPTS = {
  gc_pause = { set = "setpause", max = 1000 },
  gc_stepmul = { set = "setstepmul", max = 10000 },
}

-- The options' checks: each answers whether a value (never nil: an
-- option left out takes its default) is one the option takes, and what
-- it must be otherwise. A number is never NaN (v ~= v) nor infinite.
local function number(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end
local function whole(v, lo, hi) return number(v) and v >= lo and v <= hi and v == math.floor(v) end
local function pool_name(v) return v == false or (type(v) == "string" and v ~= "") end
local function callable(v)
  if type(v) == "function" then return true end
  local mt = (type(v) == "table" or type(v) == "userdata") and getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end
-- a header name is a token (RFC 9110 5.1, 5.6.2): no space, colon, CR or LF
local function header_name(v) return type(v) == "string" and v:find("^[%w!#$%%&'*+%-.^_`|~]+$") ~= nil end

local OPTIONS = {
  { "thread_pool", pool_name, "a thread pool's name or false" },
  { "sync_thread_pool", pool_name, "a thread pool's name or false" },
  { "shared_dict", function(v) return type(v) == "boolean" end,
    "true or false (false: no cache; the generation lives in no lua_shared_dict now)" },
  -- resty.lrucache refuses 0, and allocates its slots at once (above
  -- about 2^25 its FFI array fails): in the worker, too late to refuse
  { "cache_size", function(v) return whole(v, 1, 1e8) end, "a whole number 1..100000000" },
  { "cache_ttl", function(v) return number(v) and v > 0 end, "a number of seconds over 0" },
  { "setup", callable, "a function" },
  { "thread_nice", function(v) return v == false or whole(v, 0, 19) end, "a whole number 0..19 or false" },
  { "argon2_process", function(v) return type(v) == "boolean" or type(v) == "string" end, "a boolean or a path" },
  { "user_header", header_name, "an HTTP header name (a token: letters, digits, -_.!#$%&'*+^`|~)" },
  { "guards", function(v) return type(v) == "table" end, "a table of name -> spec" },
  { "gc_pause", function(v) return number(v) and v >= 100 and v <= GC_OPTS.gc_pause.max end, "a number 100..1000" },
  { "gc_stepmul", function(v) return number(v) and v >= 100 and v <= GC_OPTS.gc_stepmul.max end, "a number 100..10000" },
  { "jit_opt", function() return true end }, -- check_jit_opt
  { "thread_jobs", function(v) return whole(v, 1, 1024) end, "a whole number 1..1024" },
  { "thread_wait", function(v) return number(v) and v > 0 and v <= 3600 end,
    "a number of seconds, over 0 and at most 3600" },
  { "thread_queue", function(v) return whole(v, 0, 100000) end, "a whole number 0..100000" },
  { "limit_dict", pool_name, "a lua_shared_dict's name or false" },
}
local KNOWN = {}
for _, o in ipairs(OPTIONS) do KNOWN[o[1]] = true end

-- The known option a misspelt name most likely meant (one letter added,
-- dropped, changed or two swapped), for the error's hint.
local function near(name)
  if type(name) ~= "string" then return nil end
  local function close(a, b)
    if math.abs(#a - #b) > 1 then return false end
    local i = 1
    while i <= #a and a:sub(i, i) == b:sub(i, i) do i = i + 1 end
    local ra, rb = a:sub(i), b:sub(i)
    return ra:sub(2) == rb:sub(2) or ra:sub(2) == rb or ra == rb:sub(2)
      or (ra:sub(1, 2) == rb:sub(2, 2) .. rb:sub(1, 1) and ra:sub(3) == rb:sub(3))
  end
  for _, o in ipairs(OPTIONS) do
    if close(name, o[1]) then return o[1] end
  end
end

-- nil, or what is wrong with opts (the first problem found)
local function check_opts(opts)
  if type(opts) ~= "table" then return "opts must be a table" end
  for name in pairs(opts) do
    if not KNOWN[name] then
      local hint = near(name)
      return "unknown option '" .. tostring(name) .. "'" .. (hint and " (" .. hint .. "?)" or "")
    end
  end
  for _, o in ipairs(OPTIONS) do
    local v = opts[o[1]]
    if v ~= nil and not o[2](v) then return o[1] .. " must be " .. o[3] end
  end
  local e = check_jit_opt(opts.jit_opt)
  if e then return e end
  for name, spec in pairs(opts.guards or {}) do
    if type(name) ~= "string" then return "guards must be a table of name -> spec" end
    local ok, err = pcall(authz.prepare, spec)
    if not ok then return "guard '" .. name .. "': " .. tostring(err) end
  end
end

function _M.init(cfg, opts)
  local c, err = config.validate(cfg)
  if not c then error("fsec.openresty.init: " .. err, 2) end
  if opts == nil then opts = {} end
  err = check_opts(opts)
  if err then error("fsec.openresty.init: " .. err, 2) end
  -- a copy (read as the checks read it: through an __index too): the
  -- caller's table may change after init, the checks stay true
  local o = {}
  for _, known in ipairs(OPTIONS) do o[known[1]] = opts[known[1]] end
  local g = {}
  for name, spec in pairs(o.guards or {}) do g[name] = spec end
  set_jit_opt(o.jit_opt)
  local helper = o.argon2_process
  if helper == nil then helper = true end
  if helper then
    -- fail at start, not at the first login: the helper must exist
    local probe = { secret_keys = { string.rep("x", 32) }, argon2_helper = helper }
    local ok, e, msg = pcall(core.new, probe)
    if not ok or not e then error("fsec.openresty.init: argon2_process: " .. tostring(msg or e), 2) end
  end
  local counter
  if o.shared_dict ~= false then
    local cerr
    counter, cerr = core.shared_counter() -- here: before nginx forks the workers
    if not counter then error("fsec.openresty.init: " .. tostring(cerr), 2) end
  end
  -- all checked: the new configuration replaces the old one
  saved_config, saved_opts, guards, generation = cfg, o, g, counter
  engine_cfg = fsec.engine_config(c)
  engine_cfg.secret_keys = nil -- worker threads hash; they never sign
  -- Hashing threads run at the lowest priority (nice 19 by default): on a
  -- busy machine a burst of logins then queues behind the requests the
  -- event loop serves instead of stretching their latency.
  local nice = o.thread_nice
  if nice == nil then nice = 19 end
  engine_cfg.thread_nice = nice or nil
  engine_cfg.argon2_helper = helper or nil
end

--- The options init keeps (a copy), for the tests.
function _M._options()
  local o = {}
  for k, v in pairs(saved_opts or {}) do o[k] = v end
  return o
end


-- At most thread_jobs jobs posted at once to each pool, per worker
-- (nginx's Lua states for worker threads are as many as the jobs ever
-- posted at once, and they stay). posted counts the jobs holding a slot;
-- a request that finds none free waits on the pool's semaphore, and a
-- job that ends hands its slot straight to the first waiter (FIFO). The
-- semaphore is made at the first wait: lua-nginx-module allocates
-- semaphores in blocks of about 0.5 MiB, which a worker that never queues
-- a job should not carry.
local posted, gates, held, waiting = {}, {}, {}, {}
local THREAD_WAIT, THREAD_QUEUE = 10, 32

-- A slot whose request nginx ended while its job ran (an abort the
-- on_abort handler below could not catch: the application's own handler,
-- ngx.exit from another light thread) is never released. Held this long
-- (no job takes it: the argon2 helper gives up after 60 s), it is taken
-- back by the next request that finds the pool full.
local STALE_SECONDS = 90

local function take(pool)
  local tok = {}
  held[pool] = held[pool] or {}
  held[pool][tok] = ngx.now()
  return tok
end

local function reclaim_stale(pool)
  local now, mine = ngx.now(), held[pool] or {}
  for tok, since in pairs(mine) do
    if now - since > STALE_SECONDS then
      mine[tok] = nil
      posted[pool] = posted[pool] - 1
      ngx.log(ngx.ERR, "fsec: a job slot of thread pool '", pool, "' was held ", math.floor(now - since),
              " s by an ended request: taken back")
    end
  end
end

local function acquire(pool, limit)
  local n = posted[pool] or 0
  if n >= limit then
    reclaim_stale(pool)
    n = posted[pool]
  end
  if n < limit then
    posted[pool] = n + 1
    return take(pool)
  end
  -- a bounded queue: past it, refused at once (503 with Retry-After)
  local w = waiting[pool] or 0
  if w >= (saved_opts.thread_queue or THREAD_QUEUE) then return nil, "queue full (" .. w .. " waiting)" end
  local g = gates[pool]
  if not g then
    g = assert(require("ngx.semaphore").new(0))
    gates[pool] = g
  end
  waiting[pool] = w + 1
  local ok, err = g:wait(saved_opts.thread_wait or THREAD_WAIT) -- true: a job's slot, handed over
  waiting[pool] = waiting[pool] - 1
  if not ok then return nil, err end
  return take(pool)
end

local function release(pool, tok)
  local mine = held[pool]
  if not (mine and mine[tok]) then return end -- taken back as stale already
  mine[tok] = nil
  local g = gates[pool]
  if g and g:count() < 0 then
    g:post(1) -- the slot goes to the first waiter; posted stays
  else
    posted[pool] = posted[pool] - 1
  end
end

-- With lua_check_client_abort on, a client that disconnects while its
-- job runs has nginx end the request where it waits, unless a handler
-- is registered: the job's slot would never come back, and a write that
-- committed would be answered as failed. With one, the request runs to
-- its end. (It fails harmlessly when the check is off, or when the
-- application registered its own handler: then STALE_SECONDS applies.)
local function noop() end
local function finish_even_if_aborted()
  local phase = ngx.get_phase()
  if phase == "access" or phase == "content" or phase == "rewrite" then pcall(ngx.on_abort, noop) end
end

--- ngx.run_worker_thread within the pool's slots (at most limit jobs
-- posted at once): its results, or false and a message; busy: true when
-- no slot came within thread_wait (the pool was not tried). covered
-- (optional): called once the slot is held; true skips the job, whose
-- results are then true, true.
local function run_job(pool, limit, covered, ...)
  -- before the wait too: a request that nginx ended while it waited
  -- would leave its place in the bounded queue taken for good
  finish_even_if_aborted()
  local tok, err = acquire(pool, limit)
  if not tok then return false, "thread pool '" .. pool .. "' busy: " .. tostring(err), true end
  if covered and covered() then
    release(pool, tok)
    return true, true
  end
  local a, b, c, d, e = pcall(ngx.run_worker_thread, pool, ...)
  release(pool, tok)
  if not a then return false, tostring(b) end
  return b, c, d, e
end

local function thread_hasher(pool, s)
  local warned = false
  local inline
  local function run(fn, ...)
    local ok, a, b, c = run_job(pool, saved_opts.thread_jobs or 2, nil, "fsec.thread", fn, engine_cfg, ...)
    if ok then return a, b, c end
    if b == true then -- the pool's gate timed out: not a reason to hash here
      return nil, "EBUSY: " .. a, "EBUSY"
    end
    if not tostring(a):find("not found", 1, true) then
      -- the pool exists and this job failed (an error in it, a full
      -- queue): this hash fails (503), the next ones use the pool again;
      -- argon2 in the event loop for good would stall every request
      ngx.log(ngx.ERR, "fsec: hashing job in thread pool '", pool, "' failed: ", a)
      return nil, "EHELPER: " .. tostring(a), "EHELPER"
    end
    if not warned then
      warned = true
      ngx.log(ngx.WARN, "fsec: hashing inline, no thread pool '", pool, "' (", a, ")")
    end
    inline = true
    return nil
  end
  return {
    hash = function(pw)
      if not inline then
        local h, err, code = run("hash", pw)
        if not inline then return h, err, code end
      end
      return s._engine:hash_password(pw)
    end,
    verify = function(pw, hash)
      if not inline then
        local ok, err, code = run("verify", pw, hash)
        if not inline then return ok, err, code end
      end
      return s._engine:verify_password(pw, hash)
    end,
  }
end


-- Phases whose requests may wait for a worker thread (the others cannot
-- yield: a write there, say from a log_by_lua hook, fsyncs in place).
local YIELDABLE = { rewrite = true, access = true, content = true, timer = true }

-- A commit (a login's, a registration's, any datastore write's) is
-- written without fsync (synchronous NORMAL in WAL mode) and then made
-- durable by an fsync of the WAL in a worker thread: the request's
-- response still waits for the disk, the worker's other requests do not
-- (an fsync took 0.3 to 9 ms here, under strace). The first pool that
-- exists serves; with none, the fsync runs here.
-- One fsync at a time per worker, and commits share them (group commit):
-- an fsync covers every commit made before it starts, so a commit that
-- waited for the slot while a later-starting fsync ran needs none of its
-- own. One job also means one Lua state of nginx's, not two.
local function wal_syncer(pools, nice)
  local chosen -- the pool that ran the first fsync; false: none exists
  local commits, durable = 0, 0 -- commits handed over; how many an fsync covered
  local function in_pool(name, path)
    local mine, upto = commits, nil
    local ok, done, err = run_job(name, 1, function()
      if durable >= mine then return true end
      upto = commits -- all in the WAL already: this fsync covers them
    end, "fsec.thread", "sync_wal", nice or false, path)
    if ok and done and upto and upto > durable then durable = upto end
    return ok, done, err
  end
  return function(path)
    if not YIELDABLE[ngx.get_phase()] then return core.sync_wal(path) end
    commits = commits + 1
    if chosen then
      local ok, done, err = in_pool(chosen, path)
      if ok then return done, err end
      if err == true then
        -- no slot within thread_wait: the commit is made and visible, so
        -- failing now would answer a change that took effect as failed;
        -- it waits for the disk here instead, once
        ngx.log(ngx.WARN, "fsec: ", done, "; this commit fsyncs in the event loop")
        return core.sync_wal(path)
      end
      return nil, done
    end
    if chosen == nil then
      for i = 1, #pools do
        local ok, done, err = in_pool(pools[i], path)
        if ok then
          chosen = pools[i]
          return done, err
        end
        if not tostring(done):find("not found", 1, true) then -- the pool exists
          chosen = pools[i]
          return nil, done
        end
      end
      chosen = false
      ngx.log(ngx.WARN, "fsec: no thread pool for fsync; commits wait for the disk in the event loop")
    end
    return core.sync_wal(path)
  end
end


-- Datastore calls after which cached users may be stale: they bump the
-- shared generation, so every worker drops what it cached. Every write of
-- the interface but these (a new role, a session's creation, the
-- failed-login count and its reservations: the lockout is read from the
-- store, never from a cached user), so that a write added later drops the
-- caches too.
local KEEPS_CACHE = { create_role = true, create_session = true,
                      record_failed_login = true, reset_failed_logins = true,
                      reserve_login = true, release_login = true, reserve_attempt = true }
local WRITES = {}
for _, name in ipairs(require("fsec.datastore").WRITES) do
  if not KEEPS_CACHE[name] then WRITES[#WRITES + 1] = name end
end

-- A function that reads the shared generation: through FFI where there
-- is one (one atomic load, compiled into the check's trace), else
-- through the binding.
local function generation_reader(counter)
  local ok_ffi, ffi = pcall(require, "ffi")
  if ok_ffi and core.shared_counter_get_ptr then
    local get = ffi.cast("uint32_t (*)(const uint32_t *)", core.shared_counter_get_ptr)
    local p = ffi.cast("uint32_t * const *", counter)[0] -- the userdata holds the address
    return function() return get(p) end
  end
  local get = core.shared_counter_get
  return function() return get(counter) end
end

-- A per-worker cache of authentication lookups (resty.lrucache), revoked
-- through a generation counter that every worker shares (memory mapped in
-- init, before the fork): a logout, password change or deactivation in
-- any worker takes effect in all of them at once. Reading it costs one
-- atomic load; a lua_shared_dict did the same with a lock shared by all
-- workers, on every request. Changes made outside nginx (the command
-- line) are seen within opts.cache_ttl seconds (default 2). After a
-- reload the new workers share a new counter (and start with empty
-- caches); workers of the old configuration only finish their requests.
local function install_cache(s, counter)
  local ok, lrucache = pcall(require, "resty.lrucache")
  if not ok then
    ngx.log(ngx.WARN, "fsec: no resty.lrucache: authentication is not cached")
    return
  end
  local before = collectgarbage("count")
  s._cache = assert(lrucache.new(saved_opts.cache_size or 10000))  -- token checks
  s._users = assert(lrucache.new(saved_opts.cache_size or 10000))  -- user lookups
  -- lrucache allocates its slots up front: part of the bounded user cache
  cache_slot_bytes = math.floor((collectgarbage("count") - before) * 1024)
  s._cache_ttl = saved_opts.cache_ttl or 2
  s._generation = generation_reader(counter)
  _M._bump_on_writes(s.datastore, counter)
end

--- Make ds's writes bump the shared generation (every worker then drops
-- what it cached). Exported for the tests.
function _M._bump_on_writes(ds, counter)
  local bump, get = core.shared_counter_bump, core.shared_counter_get
  for _, name in ipairs(WRITES) do
    local orig = ds[name]
    -- bumped before too: a write's commit is durable only after its fsync
    -- in the pool (milliseconds, up to thread_wait when the pool is busy),
    -- and meanwhile the other workers must not keep serving the old user;
    -- after, for what they cached between the first bump and the commit
    ds[name] = function(self, ...)
      bump(counter)
      local a, b, c = orig(self, ...)
      bump(counter)
      return a, b, c
    end
  end
  -- Inside a transaction a write's "after" comes before the COMMIT: a
  -- worker that read the row between that bump and the COMMIT would keep
  -- the old user under the new generation. So a transaction during which
  -- the generation moved bumps it once more, after its COMMIT (and its
  -- fsync); one that rolled back has nothing new to drop.
  -- (orig runs under pcall: it raises store faults at level 2, which must
  -- name no Lua frame, so that "EBUSY: ..." reaches the caller as it was)
  local function after(g, ok, ...)
    if not ok then error((...), 0) end
    if get(counter) ~= g then bump(counter) end
    return ...
  end
  for _, name in ipairs{ "transaction", "transaction_deferred" } do
    local orig = ds[name]
    if orig then
      ds[name] = function(self, ...) return after(get(counter), pcall(orig, self, ...)) end
    end
  end
end


-- The throttling counters (fsec.throttle) in the lua_shared_dict every
-- worker shares: a client's limit holds however its requests are spread
-- over the workers. Without the dict each worker counts alone (a client
-- gets the limit once per worker), said once in the log.
local function install_limits(s)
  local name = saved_opts.limit_dict
  if name == nil then name = "fsec_limits" end
  local dict = name and ngx.shared and ngx.shared[name]
  if dict then
    s:set_limit_backend(ratelimit.shared(dict), ngx.now)
    return
  end
  if name then
    ngx.log(ngx.WARN, "fsec: no lua_shared_dict '", name, "': each worker keeps its own throttling counts")
  end
  s:set_limit_backend(ratelimit.memory(ngx.now), ngx.now)
end

-- Run job after the response, from a timer (a mail: fsec.mail). The
-- delay is not 0: nginx runs expired timers before the events posted in
-- the same cycle, where the end of this very response may be, and the
-- job would then come before the answer. A timer that cannot be made
-- (lua_max_pending_timers reached) runs it here: a mail is never dropped.
local DEFER_DELAY = 0.002
local function defer(job)
  local ok, err = ngx.timer.at(DEFER_DELAY, function() job() end)
  if not ok then
    ngx.log(ngx.WARN, "fsec: no timer for a mail (", err, "): sent in the request")
    job()
  end
end


-- What init_worker does, on s, a new Security object.
local function build_worker(s)
  -- nginx's cached time: no system call, and compiled by LuaJIT (os.time
  -- is not, and it sits on every token check)
  if not s._clock then s._clock = ngx.time end
  local pool = saved_opts.thread_pool
  if pool == nil then pool = "fsec" end
  if pool and ngx.run_worker_thread then
    s:set_hasher(thread_hasher(pool, s))
  else
    ngx.log(ngx.WARN, "fsec: password hashing runs inline in the event loop")
  end
  local sync_pool = saved_opts.sync_thread_pool
  if sync_pool == nil then sync_pool = "fsec_sync" end
  local ds = s.datastore
  if sync_pool and ngx.run_worker_thread and ds and ds.set_wal_syncer then
    ds:set_wal_syncer(wal_syncer({ sync_pool, pool or nil }, engine_cfg.thread_nice))
  end
  if generation and ds then install_cache(s, generation) end
  install_limits(s)
  -- mail leaves after the response, from a timer (fsec.mail)
  s:set_deferrer(defer)
  if saved_opts.setup then saved_opts.setup(s) end
  for name, o in pairs(GC_OPTS) do
    if saved_opts[name] then collectgarbage(o.set, saved_opts[name]) end
  end
end

--- Open this worker's store and engine (init_worker_by_lua). Raises on
-- a failure (setup's included): the worker then serves no fsec request,
-- every entry point raises (500) and logs why.
function _M.init_worker()
  if not saved_config then error("fsec.openresty: init() was not called in init_by_lua", 2) end
  sec, worker_error = nil, nil
  local ok, err = pcall(function()
    building = fsec.new(saved_config)
    build_worker(building)
  end)
  local s = building
  building = nil
  if not ok then
    worker_error = tostring(err)
    -- what was made is not used: its store closes (and whatever setup
    -- left behind, a timer say, finds it closed)
    if s then pcall(s.close, s) end
    error(err, 0)
  end
  sec = s
  if not _M._ffi_headers then
    ngx.log(ngx.WARN, "fsec: no FFI access to the request's headers; reading them through nginx variables (slower)")
  end
  collectgarbage() -- what loading and setup left behind
  return sec
end


-- Raised by every entry point of a worker with no Security object: its
-- init_worker has not run, or failed (nginx answers 500: denied).
local function not_ready()
  if worker_error then
    error("fsec.openresty: this worker serves no fsec request: init_worker() failed: " .. worker_error, 3)
  end
  error("fsec.openresty: init_worker() has not run", 3)
end


--- What this worker holds in memory, for accounting: the Lua heap (fsec,
-- its caches and whatever else the worker's Lua keeps), the entries of
-- fsec's two caches, and SQLite's page cache, statements and heap;
-- full_gc: collect garbage first, so that the Lua heap is live data.
function _M.memory(full_gc)
  if full_gc then collectgarbage("collect") end -- live data only
  local ds = sec and sec.datastore
  return {
    lua_heap_bytes = math.floor(collectgarbage("count") * 1024),
    token_cache_entries = sec and sec._cache and sec._cache:count() or 0,
    user_cache_entries = sec and sec._users and sec._users:count() or 0,
    cache_slot_bytes = cache_slot_bytes, -- the two caches' slots, made at start
    sqlite = ds and ds.memory and ds:memory() or nil,
    -- Lua states of this worker that loaded fsec: its own, and nginx's
    -- worker-thread states (one per job ever posted at once; thread_jobs)
    lua_states = core.open_count(),
  }
end


--- This worker's Security object.
function _M.security()
  local s = sec or building -- building: setup asking while init_worker runs
  if not s then not_ready() end
  return s
end


-- Request headers by name, each read when first asked for: fsec reads
-- one to three headers of a request, and ngx.req.get_headers() copies
-- them all (its loop and garbage were the largest cost of a token check).
-- For a header sent twice the first value counts, as in nginx's
-- $http_<name> (Cookie: all of them, joined with "; ").
local VAR_NAME = setmetatable({}, { __index = function(t, name)
  local v = "http_" .. name:lower():gsub("-", "_")
  t[name] = v
  return v
end })

-- The key nginx keeps for a header name (lower case; "_" reads as "-", as
-- nginx's variables do: nginx drops headers with "_" by default).
local HEADER_KEY = setmetatable({}, { __index = function(t, name)
  local v = name:lower():gsub("_", "-")
  t[name] = v
  return v
end })

-- Headers and cookies found in nginx's own header list, through
-- lua-nginx-module's FFI (the calls ngx.req.get_headers makes) and fsec's
-- fsec_header_find and fsec_cookie_find: no copy of the list, and no Lua
-- string but the value. $http_<name> cost about 1,400 instructions a
-- request here (the variable name hashed and matched against every prefix
-- variable, then every header compared), and a session check interned the
-- whole Cookie header to read one cookie. ffi_header and ffi_cookie answer
-- value, true; or nil, false when nginx's variables must answer instead
-- (no FFI: plain Lua; more than BUF_MAX headers; Cookie sent twice, which
-- nginx's $http_cookie joins).
local ffi_header, ffi_cookie
do
  local ok_ffi, ffi = pcall(require, "ffi")
  local ok_base, base = pcall(require, "resty.core.base")
  if ok_ffi and ok_base and pcall(require, "resty.core.request") and core.header_find_ptr
     and pcall(ffi.typeof, "ngx_http_lua_ffi_table_elt_t") then
    local C, get_request, ffi_str = ffi.C, base.get_request, ffi.string
    local find = ffi.cast("int (*)(const ngx_http_lua_ffi_table_elt_t *, int, const char *, size_t)",
                          core.header_find_ptr)
    local cookie_find = ffi.cast("int (*)(const unsigned char *, size_t, const char *, size_t, size_t *, size_t *)",
                                 core.cookie_find_ptr)
    local BUF_MAX = 256 -- more headers (rare): nginx's variable answers
    local cap = 64
    local buf = ffi.new("ngx_http_lua_ffi_table_elt_t[?]", cap)
    local truncated = ffi.new("int[1]")
    local voff, vlen = ffi.new("size_t[1]"), ffi.new("size_t[1]")

    -- The index in buf of the header whose key is key (-1: none), or nil
    -- (ask nginx's variable). single: nil when the key is there twice.
    local function locate(key, single)
      local r = get_request()
      if not r then return nil end
      local n = C.ngx_http_lua_ffi_req_get_headers_count(r, 0, truncated)
      if n == 0 then return -1 end
      if n < 0 or n > BUF_MAX then return nil end
      if n > cap then
        cap = n
        buf = ffi.new("ngx_http_lua_ffi_table_elt_t[?]", cap)
      end
      if C.ngx_http_lua_ffi_req_get_headers(r, buf, n, 0) ~= 0 then return nil end
      local i = find(buf, n, key, #key)
      if single and i >= 0 and find(buf + (i + 1), n - i - 1, key, #key) >= 0 then return nil end
      return i
    end

    ffi_header = function(name)
      local i = locate(HEADER_KEY[name])
      if not i then return nil, false end
      if i < 0 then return nil, true end
      local v = buf[i].value
      return ffi_str(v.data, v.len), true
    end

    -- nil when absent, false when the name is repeated (http.cookie's answers)
    ffi_cookie = function(name)
      local i = locate("cookie", true)
      if not i then return nil, false end
      if i < 0 then return nil, true end
      local v = buf[i].value
      local rc = cookie_find(v.data, v.len, name, #name, voff, vlen)
      if rc == 1 then return ffi_str(v.data + voff[0], vlen[0]), true end
      if rc == 2 then return false, true end
      return nil, true
    end
  end
end

-- For init_worker's warning: the fast path is there.
_M._ffi_headers = ffi_header ~= nil

-- A reader of one header or cookie by name: fast(name) answers value,
-- true, or nil, false to leave the answer to slow(name); fast may be nil.
local function reader(fast, slow)
  return function(name)
    if type(name) ~= "string" then return nil end
    if fast then
      local v, answered = fast(name)
      if answered then return v end
    end
    return slow(name)
  end
end

-- One header of the current request (fsec.http's read_header): what
-- fsec itself reads, without a headers table per request.
local read_header = reader(ffi_header, function(name) return ngx.var[VAR_NAME[name]] end)

local Headers = {
  __index = function(h, name)
    local v = read_header(name)
    if v ~= nil then rawset(h, name, v) end
    return v
  end,
}

-- One cookie of the current request (fsec.http's read_cookie); false
-- when the name is repeated.
local read_cookie = reader(ffi_cookie, function(name) return http.cookie(ngx.var.http_cookie, name) end)

local Cookies = {
  __index = function(c, name)
    local v = read_cookie(name)
    if v ~= nil then rawset(c, name, v) end -- false (repeated) stays absent
    return v
  end,
}

-- Is there a query string? The length from lua-nginx-module's own FFI
-- call (resty.core declares it): ngx.var.args would hash and look up a
-- variable name on every request.
local query_len
do
  local ok_base, base = pcall(require, "resty.core.base")
  local ok_ffi, ffi = pcall(require, "ffi")
  if ok_base and ok_ffi and pcall(function() return ffi.C.ngx_http_lua_ffi_req_get_querystring_len end) then
    local C, get_request = ffi.C, base.get_request
    query_len = function() return tonumber(C.ngx_http_lua_ffi_req_get_querystring_len(get_request())) end
  else
    query_len = function() local a = ngx.var.args; return a and #a or 0 end
  end
end

-- "https" when the request came over TLS, else "http" (nginx's $scheme
-- says the same: it asks whether the connection has TLS). Through
-- lua-nginx-module's FFI (ngx.ssl's get_tls1_version fails exactly when
-- there is no TLS): ngx.var.scheme hashed and looked up a variable name,
-- and a session check asks for the scheme (the cookie's name depends on
-- it when session_cookie_secure is "auto").
local scheme_of
do
  local ok_ffi, ffi = pcall(require, "ffi")
  local ok_base, base = pcall(require, "resty.core.base")
  if ok_ffi and ok_base then
    pcall(ffi.cdef, "int ngx_http_lua_ffi_ssl_get_tls1_version(ngx_http_request_t *r, char **err);")
    pcall(ffi.cdef, "int strcmp(const char *a, const char *b);")
    local C = ffi.C
    if pcall(function() return C.ngx_http_lua_ffi_ssl_get_tls1_version, C.strcmp end) then
      local get_request = base.get_request
      local err = ffi.new("char *[1]")
      scheme_of = function()
        local r = get_request()
        if r then
          if C.ngx_http_lua_ffi_ssl_get_tls1_version(r, err) >= 0 then return "https" end
          if C.strcmp(err[0], "bad request") == 0 then return "http" end -- no TLS
        end
        return ngx.var.scheme -- TLS without its SSL object yet: nginx decides
      end
    end
  end
  scheme_of = scheme_of or function() return ngx.var.scheme end
end

-- The query of every request that has none: shared, so read-only.
local NO_ARGS = setmetatable({}, {
  __newindex = function() error("fsec.openresty: a request's query table is read-only", 2) end,
})

-- Request fields read from nginx only when fsec asks for them: a token
-- check needs one header, a session check one cookie, and building every
-- field up front (all headers, the query, every cookie) cost more than
-- the check itself.
local LAZY = {
  -- lower-case names, as fsec asks for them
  headers = function() return setmetatable(new_tab(0, 2), Headers) end,
  -- no query string (most requests): no parsing, and no new table
  query = function() return query_len() > 0 and ngx.req.get_uri_args(100) or NO_ARGS end,
  -- nginx joins repeated Cookie headers with "; "; each name is read
  -- when asked for (a repeated name reads as absent, as in parse_cookies)
  cookies = function() return setmetatable(new_tab(0, 2), Cookies) end,
  path = function() return ngx.var.uri end, -- normalized by nginx (decoded, dots resolved)
  uri = function() return ngx.var.request_uri end,
  remote_addr = function() return ngx.var.remote_addr end,
  scheme = scheme_of,
  host = function() return ngx.var.http_host or ngx.var.host end,
}

-- fsec.http's readers: the same for every request, found through the
-- metatable (no slot in each request).
local READERS = { read_header = read_header, read_cookie = read_cookie }

local Request = {
  __index = function(req, k)
    local reader = READERS[k]
    if reader then return reader end
    local load = LAZY[k]
    if not load then return nil end
    local v = load()
    rawset(req, k, v)
    return v
  end,
}


--- fsec's request table for the current nginx request, or nil and 413
-- when the body is over the limit. Fields other than method and body are
-- read from nginx on first use; `headers` answers by name only (it
-- cannot be listed: use ngx.req.get_headers() for that).
function _M.request(ctx)
  if not sec then not_ready() end
  ctx = ctx or ngx.ctx
  local req = ctx.fsec_req
  if req then return req end
  local method = ngx.req.get_method()
  -- method, the fields read from nginx, auth.lua's results: 8 slots (a
  -- token or session check fills 5 to 7)
  req = new_tab(0, 8)
  req.method = method
  setmetatable(req, Request)
  if method ~= "GET" and method ~= "HEAD" then
    local max = sec._cfg.max_body_bytes
    local len = tonumber(ngx.var.content_length)
    if len and len > max then return nil, 413 end
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body and ngx.req.get_body_file() then return nil, 413 end -- over the buffer
    if body and #body > max then return nil, 413 end
    req.body = body
  end
  ctx.fsec_req = req
  return req
end


--- Add Set-Cookie lines to the response's own: those an earlier phase
-- set (protect() in access_by_lua re-signing the session) or the
-- application did are kept.
function _M.add_cookies(list)
  if not list or list[1] == nil then return end
  local have = ngx.header["Set-Cookie"]
  if have == nil then
    ngx.header["Set-Cookie"] = list
    return
  end
  local all = type(have) == "table" and have or { have }
  for i = 1, #list do all[#all + 1] = list[i] end
  ngx.header["Set-Cookie"] = all
end


--- Send an fsec response: status, headers, Set-Cookie, body.
function _M.send(res)
  ngx.status = res.status
  for k, v in pairs(res.headers) do ngx.header[k] = v end
  _M.add_cookies(res.cookies)
  if res.body and res.body ~= "" then ngx.print(res.body) end
  return ngx.exit(res.status)
end


local function too_large()
  local res = http.new_response()
  return _M.send(res:text(413, "Request body too large"))
end


--- content_by_lua: answer fsec's endpoints (404 for anything else).
function _M.serve()
  if not sec then not_ready() end
  local req, status = _M.request()
  if not req then return too_large() end
  local res = sec:handle(req)
  if not res then return ngx.exit(404) end
  return _M.send(res)
end


-- One response table that no request holds: protect() lends it to the
-- check and takes it back when the check wrote nothing into it (a token
-- or session that verifies), so the common case allocates no response
-- (three tables less garbage per request). A check that yields (HTTP
-- Basic hashes in the thread pool) holds it meanwhile; a concurrent
-- request then makes its own.
local spare

local function lend_response()
  local r = spare
  if r then
    spare = nil
    return r
  end
  return http.new_response()
end

local function take_back(r)
  if r.status == 200 and r.body == nil and next(r.headers) == nil and r.cookies[1] == nil then
    spare = r
  end
end


--- access_by_lua: check the request against a spec (see fsec.authz), or
-- the name of a guard given to init; on success the user is in
-- ngx.ctx.fsec_user. user_header (default: init's opts.user_header)
-- names a request header that carries the user id to an upstream; the
-- client's own is always removed first. Also usable at the top of a
-- content_by_lua handler: it returns the user, or has answered the
-- denial (ngx.exit) and does not return.
function _M.protect(spec, user_header)
  if not sec then not_ready() end
  if type(spec) == "string" then
    local g = guards[spec]
    if not g then error("fsec.openresty.protect: no guard named '" .. spec .. "'", 2) end
    spec = g
  end
  local name = user_header or saved_opts.user_header
  -- reading the header first is cheaper than a clear that finds nothing
  if name and read_header(name) then ngx.req.clear_header(name) end
  local ctx = ngx.ctx
  local req = _M.request(ctx)
  if not req then return too_large() end
  local res = lend_response()
  local ok, user, via = sec:check(req, spec, res)
  if not ok then return _M.send(res) end
  ctx.fsec_user, ctx.fsec_via = user, via
  if name and user.id then ngx.req.set_header(name, tostring(user.id)) end
  if res.cookies[1] ~= nil then
    _M.add_cookies(res.cookies) -- a refreshed session
  else
    take_back(res)
  end
  return user
end


--- The current user (anonymous when nobody), for content handlers; a
-- session re-signed on the way (or restored from a remember cookie) is
-- added to the response's cookies, so browsing keeps it alive.
function _M.current_user()
  if not sec then not_ready() end
  local ctx = ngx.ctx
  if ctx.fsec_user then return ctx.fsec_user end
  local req = _M.request(ctx)
  if not req then return fsec.anonymous end
  local res = http.new_response()
  local user = sec:current_user(req, res)
  if not ngx.headers_sent then _M.add_cookies(res.cookies) end
  return user
end


return _M
