--- Password work and fsyncs inside nginx's worker threads (ngx.run_worker_thread).
-- Each thread has its own Lua state: it keeps one engine per password
-- configuration, made on first use. With argon2_helper (the default under
-- fsec.openresty) argon2 itself runs in a helper process of the thread
-- (core/src/argon2.c says why: the worker's memory map stays still). Tokens are never signed here, so
-- these engines hold a throwaway key, never the application's.
-- @module fsec.openresty.thread

local core = require "fsec.core"

local concat = table.concat
local tostring = tostring
local type = type
local select = select
local ipairs = ipairs
local pairs = pairs
local pcall = pcall
local setmetatable = setmetatable
local unpack = table.unpack or unpack


local _M = { _VERSION = "0.1.0" }

local engines = {}
local THROWAWAY_KEY = core.random_id(32) -- >= 32 bytes; signs nothing


local function fingerprint(c)
  local caps = {}
  for _, k in ipairs{ "argon2_memory_kib", "argon2_time", "argon2_lanes",
                      "bcrypt_cost", "crypt_rounds", "pbkdf2_rounds", "verify_budget" } do
    caps[#caps + 1] = tostring(c.caps and c.caps[k])
  end
  return concat({ tostring(c.argon2_helper), c.password_salt or "", c.normalize, c.password_max_bytes,
                  c.argon2_time, c.argon2_memory_kib, concat(c.schemes, ","),
                  concat(caps, ",") }, "\0")
end


-- Every job sets its thread's nice value (one setpriority call): nginx
-- hands its Lua states to whichever pool thread runs the job, so a flag
-- kept in this module would be per state, not per thread, and with two
-- pools (hashing, fsync) a thread could keep nice 0.
-- A system where threads have no nice value of their own (code ENOSYS)
-- is asked once per Lua state, not on every job; any other failure
-- (EACCES: this thread's value is higher and may not be lowered) is
-- asked again, since the next job may run in another thread.
local nice_unsupported = false

local function nice(n)
  if type(n) ~= "number" or nice_unsupported then return end
  local ok, _, code = core.thread_nice(n)
  if not ok and code == "ENOSYS" then nice_unsupported = true end
end


local function engine(c)
  nice(c.thread_nice) -- hashing yields the CPU to the event loop
  local fp = fingerprint(c)
  local e = engines[fp]
  if not e then
    e = assert(core.new{
      secret_keys = { THROWAWAY_KEY }, password_salt = c.password_salt,
      normalize = c.normalize, password_max_bytes = c.password_max_bytes,
      argon2_time = c.argon2_time, argon2_memory_kib = c.argon2_memory_kib,
      schemes = c.schemes, caps = c.caps, argon2_helper = c.argon2_helper,
    })
    engines[fp] = e
  end
  return e
end


function _M.hash(c, password)
  return engine(c):hash_password(password)
end


function _M.verify(c, password, hash)
  return engine(c):verify_password(password, hash)
end


-- The WAL size past which the fsync job also checkpoints (SQLite's own
-- threshold: 1000 pages of 4 KiB). The workers' connections leave theirs
-- at four times that (fsec.datastore.sqlite's set_wal_syncer), so the
-- copy into the database and its fsyncs happen here, not in an event loop.
-- The store cuts a WAL back to core.WAL_LIMIT when a commit starts it
-- over, so a larger file holds that many bytes of frames since then.
_M.CHECKPOINT_BYTES = core.WAL_LIMIT

-- A PASSIVE checkpoint (it never waits; a busy one is left for the next
-- time). A failure is not the login's to report: the next fsync tries
-- again, and the workers' own autocheckpoint is the backstop.
-- Its connection is opened for it and closed after: checkpoints come once
-- per CHECKPOINT_BYTES of commits, and a connection kept would hold about
-- 120 KiB of SQLite's memory, for good, in every one of nginx's
-- worker-thread Lua states that ever ran one.
local function checkpoint(db_path)
  local st = core.open_store{ path = db_path, cache_kib = 64 }
  if not st then return end
  st:checkpoint()
  st:close()
end


--- fsync a database's WAL file (a deferred commit made durable), in a
-- thread at `nice` (the hashing threads' value): the fsync's own CPU work
-- (the journal commit it waits for aside) yields to the event loop too.
function _M.sync_wal(n, wal_path)
  nice(n)
  local ok, size, code = core.sync_wal(wal_path)
  if not ok then return nil, size, code end
  if size > _M.CHECKPOINT_BYTES then checkpoint(wal_path:sub(1, -5)) end
  return true
end


-- PostgreSQL datastores of this Lua state (fsec.openresty.remote): one
-- connection per worker-thread Lua state, opened at its first job and
-- kept, with its prepared statements. A lost connection is dropped by the
-- store and opened again by the next call.
local datastores = {}

local function open_datastore(db)
  local key = concat({ db.path, tostring(db.connect_timeout), tostring(db.statement_timeout) }, "\0")
  local ds = datastores[key]
  if ds then return ds end
  local err, code
  ds, err, code = require("fsec.datastore.sqlite").new(db)
  if not ds then
    err = tostring(err)
    return nil, err:match("^E%u+:") and err or (tostring(code or "EUNAVAILABLE") .. ": " .. err)
  end
  datastores[key] = ds
  return ds
end

local function pack(...) return { n = select("#", ...), ... } end
-- fsec.user (and cjson with it) loads at the first datastore job only:
-- nginx keeps every worker-thread Lua state for good, and most only
-- hash or fsync (with SQLite, all of them)
local revive

-- One call: its results and its table arguments after it, both plain
-- (tables cross back to the worker without metatables).
local function one(ds, c)
  local fn = ds[c[1]]
  if type(fn) ~= "function" then error("no datastore method '" .. tostring(c[1]) .. "'", 0) end
  local args = c[2]
  revive = revive or require("fsec.user").revive
  for i = 1, args.n do args[i] = revive(args[i]) end -- users and roles: methods again
  local r = pack(fn(ds, unpack(args, 1, args.n)))
  for i = 1, r.n do
    if type(r[i]) == "table" then setmetatable(r[i], nil) end
  end
  local after = {}
  for i = 1, args.n do
    if type(args[i]) == "table" then after[i] = setmetatable(args[i], nil) end
  end
  return r, after
end

--- Datastore calls for fsec.openresty.remote: one call, or (txn) a
-- transaction's writes in one database transaction, stopped by the first
-- that fails. Returns "ok", results, arguments after; "fail", message
-- (no connection); or "raise", the error raised (the transaction undone).
function _M.store(db, txn, calls)
  local ds, err = open_datastore(db)
  if not ds then return "fail", err end
  local results, afters = {}, {}
  local ok, e
  if not txn then
    ok, e = pcall(function() results[1], afters[1] = one(ds, calls[1]) end)
  else
    -- pcall straight on transaction: a fault it raises at level 2 names
    -- no Lua frame, so its "ECODE: " prefix stays first
    ok, e = pcall(ds.transaction, ds, function()
      for i, c in ipairs(calls) do
        local r, a = one(ds, c)
        if r[1] == nil and r[2] ~= nil then error(r[2], 0) end
        results[i], afters[i] = r, a
      end
    end)
  end
  if not ok then return "raise", tostring(e) end
  return "ok", results, afters
end


--- This Lua state's live heap in bytes (after a full collection) and the
-- fsec modules it has loaded, space-separated (bench/nginx.sh's memory
-- table: what one of nginx's worker-thread states holds for fsec).
function _M.memory()
  collectgarbage("collect")
  local names = {}
  for name in pairs(package.loaded) do
    if name == "fsec" or name:find("^fsec[.]") then names[#names + 1] = name end
  end
  table.sort(names)
  return math.floor(collectgarbage("count") * 1024), concat(names, " ")
end


return _M
