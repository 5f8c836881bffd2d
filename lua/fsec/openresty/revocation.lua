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
-- requests that need it are answered 503.
-- A part of fsec.openresty.
-- @module fsec.openresty.revocation

local ngx = ngx
local pcall = pcall
local type = type

local _M = { _VERSION = "0.1.0" }

local ds, invalidate, interval
local last_check, last_epoch, busy = -math.huge, nil, false


--- Watch datastore d's epoch every `every` seconds; drop() empties the
-- caches. Called by init_worker (again after a reload: starts over).
function _M.install(d, drop, every)
  ds, invalidate, interval = d, drop, every
  last_check, last_epoch, busy = -math.huge, nil, false
end


--- Before a request uses the caches: read the epoch again when the last
-- reading is older than the interval (one request at a time reads; the
-- others go on meanwhile).
function _M.freshen()
  if not ds or busy then return end
  local now = ngx.now()
  if now - last_check < interval then return end
  busy = true
  local ok, epoch = pcall(ds.revocation_epoch, ds)
  busy = false
  last_check = now
  if not ok or type(epoch) ~= "number" then
    if last_epoch ~= nil then invalidate() end
    last_epoch = nil
    return
  end
  if last_epoch ~= nil and epoch ~= last_epoch then invalidate() end
  last_epoch = epoch
end


return _M
