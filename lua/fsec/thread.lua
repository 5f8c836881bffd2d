--- Password work and fsyncs inside nginx's worker threads (ngx.run_worker_thread).
-- Each thread has its own Lua state: it keeps one engine per password
-- configuration, made on first use. With argon2_helper (the default under
-- fsec.openresty) argon2 itself runs in a helper process of the thread
-- (core/src/argon2.c says why: the worker's memory map stays still). Tokens are never signed here, so
-- these engines hold a throwaway key, never the application's.
-- @module fsec.thread

local core = require "fsec.core"

local concat = table.concat
local tostring = tostring
local type = type


local _M = { _VERSION = "0.1.0" }

local engines = {}
local THROWAWAY_KEY = core.random_id(32) -- >= 32 bytes; signs nothing


local function fingerprint(c)
  local caps = {}
  for _, k in ipairs{ "argon2_memory_kib", "argon2_time", "argon2_lanes",
                      "bcrypt_cost", "crypt_rounds", "pbkdf2_rounds" } do
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
local function nice(n)
  if type(n) == "number" then core.thread_nice(n) end
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


--- fsync a database's WAL file (a deferred commit made durable), in a
-- thread at `nice` (the hashing threads' value): the fsync's own CPU work
-- (the journal commit it waits for aside) yields to the event loop too.
function _M.sync_wal(n, wal_path)
  nice(n)
  return core.sync_wal(wal_path)
end


return _M
