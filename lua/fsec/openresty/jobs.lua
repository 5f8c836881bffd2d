--- fsec.openresty's jobs: what runs in nginx's thread pools. At most
-- thread_jobs jobs posted at once per pool and worker (slots, a bounded
-- queue of waiters, stale slots taken back), the password hasher that
-- Security:set_hasher takes, and the WAL syncer that makes commits
-- durable off the event loop. The jobs themselves run in the thread's own
-- Lua state: fsec.openresty.thread. A part of fsec.openresty.
-- @module fsec.openresty.jobs

local core = require "fsec.core"
local metrics = require "fsec.metrics"
local log = require("fsec.log").ngx -- never beside a request's line (its token)

local ngx = ngx
local pairs = pairs
local tostring = tostring

-- the module each job runs in the worker thread's Lua state
local THREAD_MODULE = "fsec.openresty.thread"


local _M = { _VERSION = "0.1.0" }

-- init's options (thread_jobs, thread_wait, thread_queue) and the engine
-- settings the threads hash with: set by configure, read at each job
local opts, engine_cfg = {}, nil

--- Take init's options and the engine settings the jobs hash with.
function _M.configure(o, cfg)
  opts, engine_cfg = o, cfg
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
-- a pool's own queue bound (set_queue), else thread_queue: the
-- datastore's jobs take microseconds, a hash takes a tenth of a second
local queues = {}
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
      log(ngx.ERR, ("fsec: a job slot of thread pool '%s' was held %d s by an ended request: taken back")
        :format(pool, math.floor(now - since)))
    end
  end
end

-- each pool's series of fsec_thread_wait_seconds, made once
local wait_series = metrics.series_by("fsec_thread_wait_seconds", "pool")

local function acquire(pool, limit)
  local n = posted[pool] or 0
  if n >= limit then
    reclaim_stale(pool)
    n = posted[pool]
  end
  if n < limit then
    posted[pool] = n + 1
    metrics.record(wait_series(pool), 0)
    return take(pool)
  end
  -- a bounded queue: past it, refused at once (503 with Retry-After)
  local w = waiting[pool] or 0
  if w >= (queues[pool] or opts.thread_queue or THREAD_QUEUE) then
    return nil, "queue full (" .. w .. " waiting)"
  end
  local g = gates[pool]
  if not g then
    g = assert(require("ngx.semaphore").new(0))
    gates[pool] = g
  end
  waiting[pool] = w + 1
  ngx.update_time() -- the wait's own clock (the cached one is the loop's)
  local since = ngx.now()
  local ok, err = g:wait(opts.thread_wait or THREAD_WAIT) -- true: a job's slot, handed over
  waiting[pool] = waiting[pool] - 1
  ngx.update_time()
  metrics.record(wait_series(pool), ngx.now() - since)
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

--- A pool's requests waiting for a slot and its jobs posted, in this
-- worker (the metrics' gauges).
function _M.stats(pool) return waiting[pool] or 0, posted[pool] or 0 end

--- How long a request waits for a job slot (thread_wait), in seconds.
function _M.wait_seconds() return opts.thread_wait or THREAD_WAIT end

--- Bound the requests waiting for a slot of pool at n (instead of
-- thread_queue).
function _M.set_queue(pool, n) queues[pool] = n end

--- run_job for the other parts of fsec.openresty (the PostgreSQL
-- datastore's calls: fsec.openresty.remote).
_M.run = run_job

local function thread_hasher(pool, s)
  local warned = false
  local inline
  local function run(fn, ...)
    local ok, a, b, c = run_job(pool, opts.thread_jobs or 2, nil, THREAD_MODULE, fn, engine_cfg, ...)
    if ok then return a, b, c end
    if b == true then -- the pool's gate timed out: not a reason to hash here
      return nil, "EBUSY: " .. a, "EBUSY"
    end
    if not tostring(a):find("not found", 1, true) then
      -- the pool exists and this job failed (an error in it, a full
      -- queue): this hash fails (503), the next ones use the pool again;
      -- argon2 in the event loop for good would stall every request
      log(ngx.ERR, ("fsec: hashing job in thread pool '%s' failed: %s"):format(pool, tostring(a)))
      return nil, "EHELPER: " .. tostring(a), "EHELPER"
    end
    if not warned then
      warned = true
      log(ngx.WARN, ("fsec: hashing inline, no thread pool '%s' (%s)"):format(pool, tostring(a)))
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
    end, THREAD_MODULE, "sync_wal", nice or false, path)
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
        log(ngx.WARN, "fsec: " .. tostring(done) .. "; this commit fsyncs in the event loop")
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
      log(ngx.WARN, "fsec: no thread pool for fsync; commits wait for the disk in the event loop")
    end
    return core.sync_wal(path)
  end
end


_M.hasher = thread_hasher
_M.wal_syncer = wal_syncer


return _M
