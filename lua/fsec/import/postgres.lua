--- A Flask-Security PostgreSQL database as `fsec.import` reads it (issue
-- 22), through LuaSQL's postgres driver (Debian's lua-sql-postgres, over
-- libpq). The same interface as fsec.import.sqlite: name, columns(tbl),
-- select(tbl, cols, order), close().
--
-- The source is hostile until proven otherwise, as the SQLite file is:
--  * the URI holds no password (fsec.dburi, checked before connecting);
--  * one READ ONLY, REPEATABLE READ transaction (one snapshot: users,
--    roles and links agree even while the application writes), after
--    `default_transaction_read_only = on`: nothing is written there;
--  * the tables are found the way the application's unqualified names
--    find them (its search_path, read once), then every statement runs
--    with `search_path = pg_catalog, pg_temp` and schema-qualified names,
--    so no function or operator of the source's schemas is picked;
--  * only plain tables (pg_class.relkind 'r', without inheritance
--    children, read with ONLY): a view, materialized view, foreign or
--    partitioned table would run the source's query or reach elsewhere;
--  * no generated column (pg_attribute.attgenerated: PostgreSQL 18 adds
--    virtual ones, computed as they are read) and only built-in column
--    types (a type of the source's schemas may compare with its own
--    functions, which ORDER BY would run);
--  * row_security = off: a row-level policy (any expression, run per row
--    as it is read) makes the read fail instead of running;
--  * lock_timeout 5 s (as the SQLite store waits for a writer), a
--    connect_timeout of 10 s unless the URI gives one.
-- Values arrive as text: booleans ("t"/"f") become Lua booleans, bytea
-- its bytes (from hex), and
-- times are read in UTC and ISO style whatever the server's settings
-- (Flask-Security stores naive UTC in `timestamp without time zone`;
-- a `timestamp with time zone` is the same instant). Integer ids stay
-- exact text (a bigint id is not rounded through a double on LuaJIT).
-- @module fsec.import.postgres

local dburi = require "fsec.dburi"
local luasql = require "fsec.import.luasql"
local exec, rows = luasql.query, luasql.rows

local _M = { _VERSION = "0.1.0" }

local Source = {}
Source.__index = Source


local function ident(s) return '"' .. s:gsub('"', '""') .. '"' end
local function literal(s) return "'" .. s:gsub("'", "''") .. "'" end


-- The server's message, without LuaSQL's prefixes.
local function clean(err)
  return (err:gsub("^LuaSQL: error executing statement%. PostgreSQL: ", ""):gsub("^LuaSQL: ", ""):gsub("%s+$", ""))
end


-- pg_class.relkind, for the refusal.
local KINDS = { v = "view", m = "materialized view", f = "foreign table", p = "partitioned table",
                S = "sequence", i = "index", I = "partitioned index", c = "composite type", t = "TOAST table" }

-- The schemas an unqualified name is looked up in, in order: the
-- session's search_path as the application has it (the implicit
-- pg_catalog included), asked before it is pinned.
local function search_schemas(src)
  local list = {}
  for _, r in ipairs(rows(src, "SELECT s FROM pg_catalog.unnest(pg_catalog.current_schemas(true)) s")) do
    list[#list + 1] = r.s
  end
  return list
end

-- Where `name` resolves: { oid, schema } of the first relation of that
-- name along the schemas, or nil. Anything but a plain table without
-- children is refused, naming what it is.
local function find_table(src, schemas, name)
  for _, schema in ipairs(schemas) do
    local found = rows(src, ("SELECT c.oid, c.relkind, EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i"
      .. " WHERE i.inhparent = c.oid) AS parent FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
      .. " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s"):format(literal(schema),
      literal(name)))[1]
    if found then
      if found.relkind ~= "r" then
        error(("%s: %s is a %s, not a table: the import reads real tables only"):format(
          src.name, name, KINDS[found.relkind] or ("relation of kind " .. tostring(found.relkind))), 0)
      end
      if found.parent == "t" then
        error(("%s: %s has child tables (inheritance): the import reads plain tables only"):format(src.name, name), 0)
      end
      return { oid = found.oid, schema = schema }
    end
  end
  return nil
end


--- The columns of a table, as a set (empty for no such table). A
-- generated column, or one of a type not built in, is refused.
function Source:columns(tbl)
  if self.cols[tbl] then return self.cols[tbl].set end
  local set, types = {}, {}
  local t = self.tables[tbl]
  if t then
    assert(tostring(t.oid):match("^%d+$"), "oid")
    for _, a in ipairs(rows(self, ("SELECT a.attname, a.attgenerated, ty.typname, tn.nspname FROM"
        .. " pg_catalog.pg_attribute a JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid"
        .. " JOIN pg_catalog.pg_namespace tn ON tn.oid = ty.typnamespace"
        .. " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"):format(t.oid))) do
      if a.attgenerated ~= "" then
        error(("%s: column %s of %s is generated (computed from other values): the import reads stored"
          .. " values only"):format(self.name, a.attname, tbl), 0)
      end
      if a.nspname ~= "pg_catalog" then
        error(("%s: column %s of %s has the type %s.%s, not a built-in one: the import reads built-in types"
          .. " only"):format(self.name, a.attname, tbl, a.nspname, a.typname), 0)
      end
      set[a.attname], types[a.attname] = true, a.typname
    end
  end
  self.cols[tbl] = { set = set, types = types }
  return set
end


-- bytea as text (bytea_output = hex, set for the session): "\x" and two
-- hex digits a byte.
local function unhex(v)
  return (v:gsub("^\\x", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- A row's text as the import wants it: booleans as booleans, bytea (the
-- WebAuthn credential ids and keys) as its bytes.
local function convert(row, types)
  for k, v in pairs(row) do
    if types[k] == "bool" then row[k] = (v == "t")
    elseif types[k] == "bytea" then row[k] = unhex(v) end
  end
  return row
end

--- The rows of `tbl` (its columns checked first): cols (a list of
-- names; nil: all its columns), ordered by `order` when given.
function Source:select(tbl, cols, order)
  local set = self:columns(tbl)
  local t = self.tables[tbl]
  if not t then error(("%s: no table %s"):format(self.name, tbl), 0) end
  if not cols then
    cols = {}
    for c in pairs(set) do cols[#cols + 1] = c end
    table.sort(cols)
  end
  local list = {}
  for i, c in ipairs(cols) do list[i] = ident(c) end
  local out = rows(self, ("SELECT %s FROM ONLY %s.%s%s"):format(table.concat(list, ", "), ident(t.schema),
    ident(tbl), order and (" ORDER BY " .. ident(order)) or ""))
  for _, row in ipairs(out) do convert(row, self.cols[tbl].types) end
  return out
end


--- As fsec.import.sqlite's sizes: the longest value of each of cols
-- ({ [col] = n }) and their bytes together, counted by the server (no
-- row reaches Lua).
function Source:sizes(tbl, cols)
  self:columns(tbl)
  local t = self.tables[tbl]
  if not t then error(("%s: no table %s"):format(self.name, tbl), 0) end
  local lens, maxes = {}, {}
  for i, c in ipairs(cols) do
    lens[i] = "coalesce(octet_length(" .. ident(c) .. "::text), 0)"
    maxes[i] = "max(" .. lens[i] .. ") AS m" .. i
  end
  local r = rows(self, ("SELECT %s, sum(%s)::float8 AS bytes FROM ONLY %s.%s"):format(table.concat(maxes, ", "),
    table.concat(lens, " + "), ident(t.schema), ident(tbl)))[1]
  local longest = {}
  for i, c in ipairs(cols) do longest[c] = tonumber(r["m" .. i]) or 0 end
  return longest, tonumber(r.bytes) or 0
end


function Source:close()
  if self.con then
    self.con:execute("ROLLBACK") -- nothing was written; ends the snapshot
    self.con:close()
    self.con = nil
  end
  self.driver:close()
end


-- The session, before anything is read from the source's tables.
local SESSION = {
  "SET default_transaction_read_only = on",
  "SET row_security = off",
  "SET lock_timeout = '5s'",
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET client_encoding = 'UTF8'",
  "SET standard_conforming_strings = on",
  "SET bytea_output = 'hex'",
  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
}

local function prepare(src, tables)
  for _, sql in ipairs(SESSION) do exec(src, sql) end
  local schemas = search_schemas(src)
  exec(src, "SET LOCAL search_path = pg_catalog, pg_temp")
  for _, name in ipairs(tables) do src.tables[name] = find_table(src, schemas, name) end
end


--- Connect to `uri` (refused when it holds a password), checking that
-- `tables` are plain tables where the application finds them.
function _M.open(uri, tables)
  dburi.check(uri, "the source")
  local src = setmetatable({ name = uri, cols = {}, tables = {}, clean = clean }, Source)
  return luasql.open(require("luasql.postgres").postgres(), dburi.with_default(uri, "connect_timeout", "10"), src,
    function(s) prepare(s, tables) end)
end

return _M
