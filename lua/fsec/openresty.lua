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
--
-- This file is the façade: init, init_worker and the entry points. Its
-- parts: fsec.openresty.options (init's options and their checks),
-- fsec.openresty.request (the request adapter: headers, cookies, the lazy
-- request, sending the response), fsec.openresty.jobs (the thread pools:
-- hashing and fsyncs; fsec.openresty.thread runs in the threads) and
-- fsec.openresty.cache (the caches and their shared generation, given
-- through Security:set_cache).
-- @module fsec.openresty

local fsec = require "fsec"
local core = require "fsec.core"
local config = require "fsec.config"
local http = require "fsec.http"
local ratelimit = require "fsec.ratelimit"
local options = require "fsec.openresty.options"
local request = require "fsec.openresty.request"
local jobs = require "fsec.openresty.jobs"
local cache = require "fsec.openresty.cache"
local remote = require "fsec.openresty.remote"
local revocation = require "fsec.openresty.revocation"
local metrics = require "fsec.metrics"
local hit = require "fsec.hit"

local ngx = ngx
local type = type
local pairs = pairs
local tostring = tostring
local ipairs = ipairs
local select = select


local _M = { _VERSION = "0.1.0" }

local mailer = require "fsec.openresty.mailer"
local saved_config, saved_opts, engine_cfg
local default_user_header -- init's opts.user_header (read on every guarded request)
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


-- The configuration a worker builds its Security object from: with a
-- PostgreSQL database, a datastore whose calls run in the thread pool
-- (fsec.openresty.remote) instead of a connection in the event loop.
local function worker_config()
  local c = saved_config
  if not core.is_database_uri(c.database) then return c end
  local w = {}
  for k, v in pairs(c) do w[k] = v end
  w.database = nil
  w.datastore = remote.new(saved_opts.db_thread_pool or "fsec_db", saved_opts.db_jobs or 4,
                           saved_opts.db_queue or 256, {
    path = c.database,
    connect_timeout = c.database_connect_timeout or config.schema.database_connect_timeout.default,
    statement_timeout = c.database_statement_timeout or config.schema.database_statement_timeout.default,
  })
  return w
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
-- cache_dict (the lua_shared_dict every worker's cache shares, L2:
-- compact records of token checks and users; default "fsec_cache" when
-- nginx.conf declares it; false, or no such dict: each worker caches
-- alone, cache_size entries per cache; docs/cache.md sizes it),
-- cache_l1_size (with cache_dict: the entries of each worker's own
-- caches in front of it, a whole number 1..100000000, default 512),
-- cache_size (without cache_dict: the entries of each worker's caches,
-- a whole number 1..100000000, default 10000),
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
-- { "maxrecord=16000" }; default: JIT_OPT of fsec.openresty.options; false: leave LuaJIT's),
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
-- db_thread_pool (with a PostgreSQL database: the thread pool every
-- datastore call runs in, so that no network wait happens in the event
-- loop; default "fsec_db": `thread_pool fsec_db threads=4;`),
-- db_jobs (at most this many datastore jobs posted at once per worker,
-- default 4: the pool's threads=; each such Lua state keeps one
-- PostgreSQL connection),
-- db_queue (at most this many requests wait for a datastore job slot per
-- worker, default 256; one more is answered 503: lookups take
-- microseconds, so the queue is long where the hashing one is short),
-- limit_dict (the lua_shared_dict that holds the throttling counters of
-- fsec.throttle, shared by the workers; default "fsec_limits" when
-- nginx.conf declares it; false, or no such dict: each worker counts
-- alone, with a warning).
function _M.init(cfg, opts)
  local c, err = config.validate(cfg)
  if not c then error("fsec.openresty.init: " .. err, 2) end
  if opts == nil then opts = {} end
  err = options.check(opts)
  if err then error("fsec.openresty.init: " .. err, 2) end
  local o = options.copy(opts)
  local g = {}
  for name, spec in pairs(o.guards or {}) do g[name] = spec end
  options.set_jit_opt(o.jit_opt)
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
    cache.prepare(counter) -- the key of its shared records, before the fork too
  end
  if core.is_database_uri(c.database) then require("fsec.openresty.dbcheck").check(c) end
  -- all checked: the new configuration replaces the old one
  saved_config, saved_opts, guards, generation = cfg, o, g, counter
  default_user_header = o.user_header
  engine_cfg = fsec.engine_config(c)
  engine_cfg.secret_keys = nil -- worker threads hash; they never sign
  -- Hashing threads run at the lowest priority (nice 19 by default): on a
  -- busy machine a burst of logins then queues behind the requests the
  -- event loop serves instead of stretching their latency.
  local nice = o.thread_nice
  if nice == nil then nice = 19 end
  engine_cfg.thread_nice = nice or nil
  engine_cfg.argon2_helper = helper or nil
  jobs.configure(o, engine_cfg)
end

--- The options init keeps (a copy), for the tests.
function _M._options()
  local o = {}
  for k, v in pairs(saved_opts or {}) do o[k] = v end
  return o
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
-- Metrics (fsec.metrics): counted in the worker's own table, added to
-- the lua_shared_dict metrics_dict (default fsec_metrics) every
-- metrics_flush seconds (default 1) and before each exposition, so that
-- the request path never takes the dict's lock. The thread pools' queues
-- are gauges of this worker, read at each flush.
local metrics_on = false
local function install_metrics()
  local name = saved_opts.metrics_dict
  if name == nil then name = "fsec_metrics" end
  local dict = name and ngx.shared and ngx.shared[name]
  metrics_on = dict ~= nil
  if not dict then
    if name then
      ngx.log(ngx.WARN, "fsec: no lua_shared_dict '", name, "': no metrics are kept")
    end
    return
  end
  metrics.use(dict, function(_, msg) ngx.log(ngx.ERR, msg) end)
  local worker = tostring(ngx.worker.id())
  for _, pool in ipairs{ saved_opts.thread_pool == nil and "fsec" or saved_opts.thread_pool,
                         saved_opts.sync_thread_pool == nil and "fsec_sync" or saved_opts.sync_thread_pool,
                         saved_opts.db_thread_pool or "fsec_db" } do
    if pool then
      metrics.gauge("fsec_thread_queue_depth", { pool = pool, worker = worker },
                    function() return (jobs.stats(pool)) end)
      metrics.gauge("fsec_thread_jobs_running", { pool = pool, worker = worker },
                    function() return select(2, jobs.stats(pool)) end)
    end
  end
  local every = saved_opts.metrics_flush or 1
  local ok, err = ngx.timer.every(every, function() metrics.flush() end)
  if not ok then ngx.log(ngx.ERR, "fsec: no timer to flush the metrics: ", err) end
end

local DEFER_DELAY = 0.002
local function defer(job)
  local ok, err = ngx.timer.at(DEFER_DELAY, function() job() end)
  if not ok then
    require("fsec.log").ngx(ngx.WARN, "fsec: no timer for a mail (" .. tostring(err) .. "): sent in the request")
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
    s:set_hasher(jobs.hasher(pool, s))
  else
    ngx.log(ngx.WARN, "fsec: password hashing runs inline in the event loop")
  end
  local sync_pool = saved_opts.sync_thread_pool
  if sync_pool == nil then sync_pool = "fsec_sync" end
  local ds = s.datastore
  if sync_pool and ngx.run_worker_thread and ds and ds.set_wal_syncer then
    ds:set_wal_syncer(jobs.wal_syncer({ sync_pool, pool or nil }, engine_cfg.thread_nice))
  end
  if generation and ds then cache_slot_bytes = cache.install(s, generation, saved_opts) or 0 end
  -- revocations made elsewhere (another node, the fsec command) empty the caches
  if generation and ds and ds.revocation_epoch then
    revocation.install(s.datastore, cache.seam(generation).invalidate, s._cfg.revocation_interval)
  else
    revocation.install(nil)
  end
  install_limits(s)
  install_metrics()
  -- mail leaves after the response, from a timer (fsec.mail)
  s:set_deferrer(defer)
  -- with mail_server: the outbox is drained from a thread (fsec.openresty.mailer)
  mailer.install(s._cfg, saved_config.database, saved_opts)
  if saved_opts.setup then saved_opts.setup(s) end
  for name, o in pairs(options.GC_OPTS) do
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
    building = fsec.new(worker_config())
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
  local tokens, users = cache.counts(sec)
  local heap = math.floor(collectgarbage("count") * 1024) -- before counting the records (garbage)
  local shared_used, shared_cap, shared_records = cache.shared_stats()
  return {
    lua_heap_bytes = heap,
    token_cache_entries = tokens,
    user_cache_entries = users,
    cache_slot_bytes = cache_slot_bytes, -- the two caches' slots, made at start
    -- the lua_shared_dict every worker's cache shares (cache_dict): bytes
    -- in use (whole pages), its size and its records; nil without it
    shared_cache_bytes = shared_used, shared_cache_capacity = shared_cap,
    shared_cache_records = shared_records,
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


local freshen = revocation.freshen

-- For init_worker's warning: the fast path is there.
_M._ffi_headers = request._ffi_headers

local read_header = request.read_header
local strip_header = request.strip_header


--- fsec's request table for the current nginx request, or nil and 413
-- when the body is over the limit. Fields other than method and body are
-- read from nginx on first use; `headers` answers by name only (it
-- cannot be listed: use ngx.req.get_headers() for that).
function _M.request(ctx)
  if not sec then not_ready() end
  return request.get(ctx or ngx.ctx, sec._cfg.max_body_bytes)
end


--- Add Set-Cookie lines to the response's own: those an earlier phase
-- set (protect() in access_by_lua re-signing the session) or the
-- application did are kept.
function _M.add_cookies(list) return request.add_cookies(list) end


--- Send an fsec response: status, headers, Set-Cookie, body.
function _M.send(res) return request.send(res) end


local function too_large()
  local res = http.new_response()
  return _M.send(res:text(413, "Request body too large"))
end


-- fsec_request_duration_seconds' series of each endpoint, made once
local duration_series = metrics.series_by("fsec_request_duration_seconds", "endpoint")

--- content_by_lua: answer fsec's endpoints (404 for anything else).
function _M.serve()
  if not sec then not_ready() end
  local req = _M.request()
  if not req then return too_large() end
  freshen()
  local t0
  if metrics_on then
    ngx.update_time() -- the loop's cached clock may be a whole event old
    t0 = ngx.now()
  end
  local res = sec:handle(req)
  if not res then return ngx.exit(404) end
  if t0 then
    ngx.update_time()
    metrics.record(duration_series(req._fsec_endpoint or "unknown"), ngx.now() - t0)
  end
  return _M.send(res)
end


local LOOPBACK = { ["127.0.0.1"] = true, ["::1"] = true }

--- The metrics in Prometheus's text format (content_by_lua). o.allow: a
-- list of client addresses that may read them (default: loopback only,
-- 127.0.0.1 and ::1; false: any, when nginx's allow/deny or a guard
-- before this handler protects the location). Others get 403.
function _M.metrics(o)
  local allow = LOOPBACK
  if o and o.allow ~= nil then
    allow = o.allow
    if allow then
      local set = {}
      for _, a in ipairs(allow) do set[a] = true end
      allow = set
    end
  end
  if allow and not allow[ngx.var.remote_addr] then return ngx.exit(403) end
  local m = ngx.req.get_method()
  if m ~= "GET" and m ~= "HEAD" then return ngx.exit(405) end
  if not metrics_on then
    ngx.status = 404
    ngx.header["Content-Type"] = "text/plain"
    return ngx.say("fsec: no lua_shared_dict for metrics (metrics_dict)")
  end
  ngx.header["Content-Type"] = metrics.CONTENT_TYPE
  ngx.header["Cache-Control"] = "no-store"
  if m == "HEAD" then return end
  ngx.print(metrics.render())
end


local lend_response, take_back = request.lend_response, request.take_back
local read_cookie, query_len, scheme = request.read_cookie, request.query_len, request.scheme
local get_phase = ngx and ngx.get_phase -- (resty.core's, through FFI, under nginx)

-- The user and how, from fsec's caches alone (fsec.hit), where the whole
-- check would give exactly that and do nothing else (hit.kind): GET or
-- HEAD (no CSRF, no body that could carry a token), no query string (a
-- token there wins over the header). nil: run the whole check.
local function cached_check(spec)
  local k, roles = hit.kind(sec, spec)
  local m = k and ngx.req.get_method()
  if m ~= "GET" and m ~= "HEAD" then return nil end
  local user
  if k == "token" then
    if query_len() > 0 then return nil end
    user = hit.token(sec, read_header(sec._token_header))
  else
    user = hit.session(sec, read_cookie(hit.session_cookie_name(sec, scheme)))
  end
  if user and (not roles or hit.allowed(user, spec)) then return user, k end
  return nil
end


-- protect() and admit(): the check, the denial answered, user_header set;
-- publish: the user and how also go in ngx.ctx for later phases; who:
-- the caller's name, for the error.
local function guard(spec, user_header, publish, who)
  if not sec then not_ready() end
  if type(spec) == "string" then
    local g = guards[spec]
    if not g then error("fsec.openresty." .. who .. ": no guard named '" .. spec .. "'", 3) end
    spec = g
  end
  local name = user_header or default_user_header
  -- reading the header first is cheaper than a clear that finds nothing;
  -- a client's copy goes in every spelling (request.strip_header)
  if name and read_header(name) then strip_header(name) end
  freshen()
  local user, via = cached_check(spec)
  if user then
    if publish then
      local ctx = ngx.ctx
      ctx.fsec_user, ctx.fsec_via = user, via
    end
    if name and user.id then ngx.req.set_header(name, tostring(user.id)) end
    return user, via
  end
  local ctx = ngx.ctx -- fsec's request table is kept there
  local req = _M.request(ctx)
  if not req then return too_large() end
  local res = lend_response()
  local ok
  ok, user, via = sec:check(req, spec, res)
  if not ok then return _M.send(res) end
  if publish then ctx.fsec_user, ctx.fsec_via = user, via end
  if name and user.id then ngx.req.set_header(name, tostring(user.id)) end
  if res.cookies[1] ~= nil then
    _M.add_cookies(res.cookies) -- a refreshed session
  else
    take_back(res)
  end
  return user, via
end

--- access_by_lua: check the request against a spec (see fsec.authz), or
-- the name of a guard given to init; on success the user is in
-- ngx.ctx.fsec_user (and how, "token", "session", ..., in
-- ngx.ctx.fsec_via) for the phases after this one. user_header
-- (default: init's opts.user_header) names a request header that
-- carries the user id to an upstream; the client's own is always
-- removed first. Also usable at the top of a content_by_lua handler: it
-- returns the user and how, or has answered the denial (ngx.exit) and
-- does not return. There ngx.ctx is left alone: lua-nginx-module's
-- table (made, referenced, released at the end) costs more than the
-- whole cached check, and the handler has the user in hand.
function _M.protect(spec, user_header)
  local user, via = guard(spec, user_header, get_phase() ~= "content", "protect")
  return user, via
end

--- access_by_lua before content that is not Lua (proxy_pass, files):
-- protect()'s check and answers, the id upstream in user_header, and
-- nothing in ngx.ctx, whose table would cost more than the cached check.
-- A Lua handler after it finds no ngx.ctx.fsec_user (current_user()
-- checks the request again).
function _M.admit(spec, user_header)
  local user, via = guard(spec, user_header, false, "admit")
  return user, via
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
  freshen()
  local res = http.new_response()
  local user = sec:current_user(req, res)
  if not ngx.headers_sent then _M.add_cookies(res.cookies) end
  return user
end


--- The current request's session data (see Security:session_data): a
-- new table, empty without a signed-in session.
function _M.session_data()
  if not sec then not_ready() end
  local req = _M.request(ngx.ctx)
  if not req then return {} end
  freshen()
  return sec:session_data(req)
end


--- Set one key of the current request's session data (see
-- Security:set_session_data): true, or nil, "ECODE: message", code.
function _M.set_session_data(key, value)
  if not sec then not_ready() end
  local req = _M.request(ngx.ctx)
  if not req then return nil, "ENOSESSION: request body too large to read the request", "ENOSESSION" end
  freshen()
  return sec:set_session_data(req, key, value)
end


return _M
