--- fsec.openresty's reading of the database's revocation epoch
-- (fsec_store_revocation_epoch: moved by the database, in the same
-- transaction, by every write that ends a session or token or changes
-- what a user may do, on any node or through the fsec command). A worker
-- reads it again before it answers a request when its last reading is
-- older than `revocation_interval` seconds; when it moved, the caches of
-- every worker of this nginx are emptied (the shared generation). So a
-- cached user is never used more than the interval (plus one reading)
-- after a revocation anywhere. The reading runs where the datastore's
-- calls run: in the thread pool for PostgreSQL (no wait in the event
-- loop), inline for the SQLite file (a local SELECT).
-- An epoch that cannot be read empties the caches too: while the
-- database cannot be asked, nothing cached stands in for it, and the
-- requests that need it are answered 503. So does a reading still
-- under way after a whole interval (a database that hangs rather than
-- fails): the caches no longer stand for the requests that come then,
-- and a revocation is never missed for longer than two intervals (else
-- it would be cache_ttl, however long that is). A first good reading
-- after a failed one empties them again: users looked up in between
-- may predate a revocation that reading is the first to show.
-- A part of fsec.openresty.
-- @module fsec.openresty.revocation

local ngx = ngx
local pcall = pcall
local type = type

local _M = { _VERSION = "0.1.0" }

local ds, invalidate, interval
-- last_epoch: nil before the first reading, false after a failed one;
-- reading: the one under way ({ since = time }), or nil
local last_check, last_epoch, reading = -math.huge, nil, nil

-- a reading this much older than the interval is given up for lost (its
-- request ended without its answer): the next request reads again
local ABANDONED = 10


--- Watch datastore d's epoch every `every` seconds; drop() empties the
-- caches. Called by init_worker (again after a reload: starts over).
function _M.install(d, drop, every)
  ds, invalidate, interval = d, drop, every
  last_check, last_epoch, reading = -math.huge, nil, nil
end


--- Before a request uses the caches: read the epoch again when the last
-- reading is older than the interval (one request at a time reads; the
-- others go on meanwhile, on the caches while that reading is younger
-- than the interval, without them after).
function _M.freshen()
  if not ds then return end
  local now = ngx.now()
  if reading then
    local age = now - reading.since
    if age < interval then return end
    invalidate()
    if age < ABANDONED * interval then return end
  end
  if now - last_check < interval then return end
  local mine = { since = now }
  reading = mine
  local ok, epoch = pcall(ds.revocation_epoch, ds)
  if reading ~= mine then return end -- given up for lost meanwhile: a later one counts
  reading = nil
  last_check = now
  if not ok or type(epoch) ~= "number" then
    invalidate()
    last_epoch = false
    return
  end
  if last_epoch ~= nil and epoch ~= last_epoch then invalidate() end
  last_epoch = epoch
end


return _M
