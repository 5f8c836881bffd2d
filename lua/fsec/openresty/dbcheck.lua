--- fsec.openresty's check of a PostgreSQL database at start, in init
-- (in nginx's master, before the fork).
-- A part of fsec.openresty.
-- @module fsec.openresty.dbcheck

local fsec = require "fsec"

local _M = { _VERSION = "0.1.0" }

-- A PostgreSQL database, checked once at start (in the master: a wait
-- is harmless there): the password salt it was made with
-- (fsec.saltcheck). Unreachable now is logged, not fatal: the workers
-- connect when it comes (until then they answer 503).
function _M.check(c)
  local ds, err = require("fsec.datastore.sqlite").new{
    path = c.database, connect_timeout = c.database_connect_timeout,
    statement_timeout = c.database_statement_timeout }
  if not ds then
    if tostring(err):match("^EUNAVAILABLE") then
      ngx.log(ngx.WARN, "fsec: the database cannot be reached at start (", err, "): the workers will connect later")
      return
    end
    error("fsec.openresty.init: database: " .. tostring(err), 3)
  end
  local ok, msg = require("fsec.saltcheck").check(fsec.engine_config(c), ds, c.log or function(level, m)
    ngx.log(level == "error" and ngx.ERR or ngx.WARN, m)
  end)
  ds:close()
  if not ok then error("fsec.openresty.init: " .. tostring(msg), 3) end
end


return _M
