---@meta fsec.datastore.sqlite
-- LuaLS type stubs for `require "fsec.datastore.sqlite"`, fsec's embedded
-- store (the fsec.datastore.SQLite class is in types/fsec/datastore.lua).

---The module `require "fsec.datastore.sqlite"`.
---@class fsec.datastore.sqlite
local sqlite = {}

---Open (create, migrate) a database file, or connect to PostgreSQL (path: a libpq URI).
---@param opts {path: string, busy_timeout?: integer, synchronous?: "FULL"|"NORMAL", cache_kib?: integer, mmap_bytes?: integer, max_pages?: integer, connect_timeout?: integer, statement_timeout?: integer, clock?: fun(): number}
---@return fsec.datastore.SQLite? ds
---@return string? err
---@return string? code
function sqlite.new(opts) end

return sqlite
