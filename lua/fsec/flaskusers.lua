--- The users of a running Flask-Security application, read from its own
-- database (issue 24 §1a: fsec at the nginx edge of that application).
-- The configuration key `flask_users` names the database: a SQLite file
-- (a path, or SQLAlchemy's `sqlite:///relative.db` / `sqlite:////abs.db`)
-- or a `postgresql://` URI (no password in it: fsec.dburi). Flask
-- credentials' users (fsec.flask) are found here instead of fsec's store.
--
--   local users = require("fsec.flaskusers").new(sec, uri)
--   users:find{ fs_uniquifier = "..." }  -- or fs_token_uniquifier, or id
--
-- find answers a User (fsec.user: id, email, username, password, active,
-- fs_uniquifier, fs_token_uniquifier, roles as names, permissions as a
-- set), or nil when there is none, or nil and "EUNAVAILABLE: ..." when the
-- database cannot be read (the caller denies: fail closed).
--
-- Read only, always: the tables are opened by the importer's readers
-- (fsec.import.sqlite: a read-only URI, query_only, real tables only;
-- fsec.import.postgres: a read-only session, schema-qualified names,
-- plain tables only) and every lookup is one read-only transaction. The
-- value looked up is checked (printable ASCII, at most 255 bytes; an id is
-- digits) and then quoted as an SQL literal: LuaSQL has no bound
-- parameters, and a value that could not be a stored uniquifier is
-- answered "no such user" without a query.
--
-- Answers are kept UP TO `ttl` seconds (default 2): a user the Flask app
-- deactivates, or whose uniquifier it changes, is refused by fsec at most
-- that long after. At most `size` answers (default 1000) are kept; past
-- that the cache starts again empty (bounded, and a flood of unknown
-- uniquifiers cannot grow it).
--
-- Under nginx: a SQLite lookup runs in the event loop (two indexed
-- SELECTs on a local file: about 50 µs uncached, docs/openresty.md); a PostgreSQL
-- one runs in nginx's thread pool `fsec_db` (fsec.openresty's
-- db_thread_pool option), as the PostgreSQL datastore's calls do, so no
-- network wait happens in the event loop: each thread's Lua state keeps
-- its own connection.
-- @module fsec.flaskusers

local dburi = require "fsec.dburi"
local userlib = require "fsec.user"

local type = type
local tostring = tostring
local pairs = pairs
local ipairs = ipairs
local pcall = pcall
local concat = table.concat

local _M = { _VERSION = "0.1.0" }

_M.TTL = 2
_M.SIZE = 1000

-- The tables read, as Flask-Security's models name them (fsqla and 3.0).
local TABLES = { "user", "role", "roles_users" }
-- Columns without which no answer can be right: named in the error.
local REQUIRED = {
  user = { "id", "email", "password", "active" },
  role = { "id", "name" },
  roles_users = { "user_id", "role_id" },
}
-- The user columns read when the table has them (3.0 has no uniquifiers).
local OPTIONAL = { "username", "fs_uniquifier", "fs_token_uniquifier" }
local FIELDS = { fs_uniquifier = true, fs_token_uniquifier = true, id = true }


local function literal(s) return "'" .. s:gsub("'", "''") .. "'" end
local function ident(s) return '"' .. s:gsub('"', '""') .. '"' end

-- A value that could be stored in `field`: else no query is made.
local function plausible(field, v)
  if type(v) == "number" then v = ("%d"):format(v) end
  if type(v) ~= "string" or #v == 0 or #v > 255 then return nil end
  if field == "id" then return v:match("^%d+$") and #v <= 20 and v or nil end
  return not v:find("[^\33-\126]") and v or nil
end


-- Flask-Security's is_active: true only for a stored true (NULL, the 3.0
-- layout allows it, is a disabled account as it is there).
local function truthy(v)
  if type(v) == "number" then return v ~= 0 end
  if type(v) == "string" then return v == "1" or v == "t" or v == "true" end
  return v == true
end

local function text(v)
  if v == nil then return nil end
  if type(v) == "number" then return ("%d"):format(v) end
  return tostring(v)
end


---------------------------------------------------------------------------
-- The reader: one connection, opened at the first lookup and again after
-- a failure. Runs in the worker (SQLite) or in a thread's Lua state
-- (PostgreSQL under nginx).

local Reader = {}
Reader.__index = Reader

local function qualified(self, tbl)
  local t = self.src.tables and self.src.tables[tbl]
  return t and (ident(t.schema) .. "." .. ident(tbl)) or ident(tbl)
end

-- The columns, checked once: a missing table or column is an error that
-- names it (a database that is not Flask-Security's, or the wrong one).
local function check_layout(self)
  for _, tbl in ipairs(TABLES) do
    local cols = self.src:columns(tbl)
    if next(cols) == nil then
      error(("%s: no table %s (is it the Flask-Security database?)"):format(self.name, tbl), 0)
    end
    for _, c in ipairs(REQUIRED[tbl]) do
      if not cols[c] then
        error(("%s: table %s has no column %s"):format(self.name, tbl, c), 0)
      end
    end
  end
  local ucols = self.src:columns("user")
  local list = { "id", "email", "password", "active" }
  self.has = {}
  for _, c in ipairs(OPTIONAL) do
    if ucols[c] then
      list[#list + 1] = c
      self.has[c] = true
    end
  end
  self.has.id = true
  self.user_cols = concat(list, ", ")
  self.perms = self.src:columns("role").permissions and ", r.permissions" or ""
  self.q_user, self.q_role, self.q_link = qualified(self, "user"), qualified(self, "role"),
                                          qualified(self, "roles_users")
end

local function close(self)
  if self.src then pcall(self.src.close, self.src) end
  self.src = nil
end

local function open(self)
  local pg = self.kind == "postgres"
  self.src = require(pg and "fsec.import.postgres" or "fsec.import.sqlite").open(self.target, TABLES)
  local ok, err = pcall(function()
    if pg then
      -- the importer's snapshot ends: each lookup has one of its own, so
      -- a change the application commits is seen by the next lookup. The
      -- session stays read-only (default_transaction_read_only) and pinned
      -- to pg_catalog (the tables are named with their schema).
      for _, sql in ipairs{ "ROLLBACK", "SET search_path = pg_catalog, pg_temp" } do
        require("fsec.import.luasql").query(self.src, sql)
      end
    end
    check_layout(self)
  end)
  if not ok then
    close(self) -- not a Flask-Security database, or gone: nothing stays open
    error(err, 0)
  end
end

local function rows(self, sql)
  return require("fsec.import.luasql").rows(self.src, sql)
end

-- The row of the user whose field is value, with its roles: a plain
-- table, or false. Raises on a database error.
local function read_user(self, field, value)
  if not self.has[field] then return false end
  local row = rows(self, ("SELECT %s FROM %s WHERE %s = %s"):format(self.user_cols, self.q_user, field,
    literal(value)))
  -- two rows for one uniquifier: the database is not Flask-Security's
  -- (its columns are unique); nobody is answered rather than a guess
  if #row ~= 1 then return false end
  row = row[1]
  local u = { id = text(row.id), email = text(row.email), username = text(row.username),
              password = text(row.password), active = truthy(row.active),
              fs_uniquifier = text(row.fs_uniquifier), fs_token_uniquifier = text(row.fs_token_uniquifier),
              roles = {}, permissions = {} }
  local links = rows(self, ("SELECT r.name%s FROM %s r JOIN %s l ON l.role_id = r.id WHERE l.user_id = %s"
    .. " ORDER BY r.name"):format(self.perms, self.q_role, self.q_link, literal(u.id)))
  for _, r in ipairs(links) do
    u.roles[#u.roles + 1] = text(r.name)
    for p in tostring(r.permissions or ""):gmatch("[^,%s]+") do u.permissions[p] = true end
  end
  return u
end

-- One lookup in one read-only transaction: "ok", row or false; or
-- "fail", why (the connection is dropped, the next lookup opens again).
function Reader:lookup(field, value)
  local ok, res = pcall(function()
    if not self.src then open(self) end
    local luasql = require("fsec.import.luasql")
    luasql.query(self.src, self.kind == "sqlite" and "BEGIN" or "BEGIN READ ONLY")
    local ok2, r = pcall(read_user, self, field, value)
    local cur = self.src.con:execute("ROLLBACK") -- read only: nothing to keep
    if type(cur) == "userdata" then cur:close() end
    if not ok2 then error(r, 0) end
    return r
  end)
  if ok then return "ok", res end
  close(self)
  return "fail", tostring(res)
end

local function new_reader(kind, target)
  return setmetatable({ kind = kind, target = target, name = target }, Reader)
end

-- Readers of the worker threads' Lua states (PostgreSQL under nginx).
local thread_readers = {}

--- In a worker thread (ngx.run_worker_thread): the lookup, as
-- Reader:lookup answers it.
function _M.thread_lookup(uri, field, value)
  local r = thread_readers[uri]
  if not r then
    r = new_reader("postgres", uri)
    thread_readers[uri] = r
  end
  return r:lookup(field, value)
end


---------------------------------------------------------------------------
-- The lookup object: validation, the cache, and where the reader runs.

local Users = {}
Users.__index = Users

local function copy_user(u)
  local t = {}
  for k, v in pairs(u) do t[k] = v end
  local roles, perms = {}, {}
  for i, r in ipairs(u.roles) do roles[i] = r end
  for p in pairs(u.permissions) do perms[p] = true end
  t.roles, t.permissions = roles, perms
  return userlib.user(t)
end

-- nginx: the request runs in a phase where a thread job may be posted.
local function in_request()
  local ngx = rawget(_G, "ngx")
  if not (ngx and ngx.run_worker_thread and ngx.get_phase) then return false end
  local phase = ngx.get_phase()
  return phase == "access" or phase == "content" or phase == "rewrite"
end

-- One lookup in the thread pool: "ok", row or false; or "fail", why.
local function in_thread(self, field, value)
  local jobs = require "fsec.openresty.jobs"
  self.posted = self.posted + 1
  local pok, ok, status, res = pcall(jobs.run, self.pool, self.jobs, nil, "fsec.flaskusers", "thread_lookup",
                                     self.target, field, value)
  if not pok then return "fail", tostring(ok) end
  if not ok then return "fail", "thread pool: " .. tostring(status) end
  return status, res
end

-- The row of the lookup: from the worker's own reader, or through the
-- thread pool (PostgreSQL under nginx). Requests that miss the cache for
-- the same key at the same time (a popular user as its answer expires)
-- share one job: the others wait for its answer instead of each posting
-- one, which would fill the pool's queue and deny them.
function Users:_read(field, value, key)
  if not (self.kind == "postgres" and in_request()) then return self.reader:lookup(field, value) end
  local flight = self.flights[key]
  if flight then
    flight.waiters = flight.waiters + 1
    local got = flight.sema:wait(require("fsec.openresty.jobs").wait_seconds())
    if not got then return "fail", "the shared lookup did not answer in time" end
    return flight.status, flight.row
  end
  flight = { waiters = 0, sema = require("ngx.semaphore").new(0) }
  self.flights[key] = flight
  local status, row = in_thread(self, field, value)
  self.flights[key] = nil
  flight.status, flight.row = status, row
  if flight.waiters > 0 then flight.sema:post(flight.waiters) end
  return status, row
end

--- The user whose `field` (fs_uniquifier, fs_token_uniquifier or id) is
-- the query's value; nil when none; nil, "EUNAVAILABLE: ..." when the
-- database could not be read (not cached: the next request tries again).
function Users:find(query)
  if type(query) ~= "table" then return nil end
  local field, value = next(query)
  if not FIELDS[field] or next(query, field) ~= nil then
    error("flaskusers:find: one of fs_uniquifier, fs_token_uniquifier, id expected", 2)
  end
  value = plausible(field, value)
  if not value then return nil end
  local key = field .. "\0" .. value
  local now = self.clock()
  local hit = self.cache[key]
  if hit and now - hit.at < self.ttl then
    return hit.user and copy_user(hit.user) or nil
  end
  local status, row = self:_read(field, value, key)
  if status ~= "ok" then
    self.log("flask_users: " .. tostring(row))
    return nil, "EUNAVAILABLE: the Flask-Security database cannot be read"
  end
  if not self.cache[key] then -- (requests that shared one job: counted once)
    if self.count >= self.size then self.cache, self.count = {}, 0 end
    self.count = self.count + 1
  end
  self.cache[key] = { user = row, at = now }
  return row and copy_user(row) or nil
end

--- Drop every kept answer (tests; after a change made through the Flask
-- app that must be seen at once).
function Users:flush()
  self.cache, self.count = {}, 0
end

function Users:close()
  if self.reader then close(self.reader) end
end


local function default_clock()
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.now then return ngx.now() end
  return os.time()
end

--- The lookup object of database `uri` for Security object `sec` (its
-- log is used for read failures). opts: ttl (seconds, default _M.TTL),
-- size (answers kept, default _M.SIZE), clock (function: seconds),
-- pool and jobs (the thread pool of PostgreSQL lookups under nginx:
-- default fsec.openresty's db_thread_pool, "fsec_db", and db_jobs, 4).
-- The database is opened at the first lookup; `check` (true) opens it
-- now and raises on a missing table or column.
function _M.new(sec, uri, opts)
  opts = opts or {}
  local kind, target = dburi.flask_source(uri) -- config.lua checked it too
  if not kind then error("flask_users: " .. target, 2) end
  local ropts = {}
  local openresty = package.loaded["fsec.openresty"] -- under nginx: init's options
  if type(openresty) == "table" and openresty._options then
    local got, o = pcall(openresty._options)
    if got then ropts = o end
  end
  local log = function(msg)
    local ngx = rawget(_G, "ngx")
    if ngx and ngx.log then require("fsec.log").ngx(ngx.ERR, "fsec: " .. tostring(msg))
    elseif sec and sec._log then pcall(sec._log, "error", msg) end
  end
  local self = setmetatable({
    kind = kind, target = target, reader = new_reader(kind, target),
    ttl = opts.ttl or _M.TTL, size = opts.size or _M.SIZE, clock = opts.clock or default_clock,
    pool = opts.pool or ropts.db_thread_pool or "fsec_db", jobs = opts.jobs or ropts.db_jobs or 4,
    cache = {}, count = 0, log = opts.log or log,
    flights = {}, -- key -> the thread job in flight for it (PostgreSQL under nginx)
    posted = 0,   -- thread jobs posted, for the tests
  }, Users)
  if opts.check then
    local ok, err = pcall(open, self.reader)
    if not ok then error("flask_users: " .. tostring(err), 2) end
  end
  return self
end

return _M
