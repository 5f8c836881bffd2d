--- The Flask-Security SQLite file `fsec.import` reads (LuaSQL's sqlite3
-- driver, Debian's lua-sql-sqlite3): opened read-only, its real tables
-- only, no generated column. A source: name, columns(tbl), select(tbl,
-- cols, order), close() (fsec.import.postgres is the other).
-- @module fsec.import.sqlite

local _M = { _VERSION = "0.1.0" }

local Source = {}
Source.__index = Source


local luasql = require "fsec.import.luasql"
local query, rows = luasql.query, luasql.rows

-- LuaSQL's prefix is noise; SQLite's own text says what is wrong.
local function clean(err) return (err:gsub("^LuaSQL: ", "")) end


--- The columns of a table, as a set (empty for no such table). A
-- generated column is computed by any expression as it is read (per row,
-- unbounded): refused.
function Source:columns(tbl)
  if self.cols[tbl] then return self.cols[tbl] end
  local cols = {}
  for _, row in ipairs(rows(self, "PRAGMA table_xinfo(\"" .. tbl .. "\")")) do
    if tonumber(row.hidden) ~= 0 then
      error(("%s: column %s of %s is generated (computed as it is read): the import reads stored values only")
        :format(self.name, tostring(row.name), tbl), 0)
    end
    cols[row.name] = true
  end
  self.cols[tbl] = cols
  return cols
end


--- The rows of `tbl` (its columns checked first): cols (a list of
-- names; nil: all), ordered by `order` when given. The names are the
-- import's own constants.
local function ident(s) return '"' .. s:gsub('"', '""') .. '"' end

function Source:select(tbl, cols, order)
  self:columns(tbl)
  local list = {}
  for i, c in ipairs(cols or {}) do list[i] = ident(c) end
  return rows(self, ("SELECT %s FROM %s%s"):format(cols and table.concat(list, ", ") or "*", tbl,
    order and (" ORDER BY " .. order) or ""))
end

--- The longest value of each of cols (a list of tbl's columns) in bytes,
-- { [col] = n }, and all their bytes together, counted by SQLite as it
-- reads (no row reaches Lua): how much the select would hold.
function Source:sizes(tbl, cols)
  self:columns(tbl)
  local lens, maxes = {}, {}
  for i, c in ipairs(cols) do
    lens[i] = "coalesce(length(CAST(" .. ident(c) .. " AS BLOB)), 0)"
    maxes[i] = "max(" .. lens[i] .. ") AS m" .. i
  end
  local r = rows(self, ("SELECT %s, total(%s) AS bytes FROM %s"):format(table.concat(maxes, ", "),
    table.concat(lens, " + "), tbl))[1]
  local longest = {}
  for i, c in ipairs(cols) do longest[c] = tonumber(r["m" .. i]) or 0 end
  return longest, tonumber(r.bytes) or 0
end


function Source:close()
  self.con:close()
  self.driver:close()
end


-- SQLite's own answer, from the schema it parsed (sqlite_master's text
-- can lie: a row typed "table" whose SQL makes a view), is asked, not
-- that table: PRAGMA table_list, SQLite 3.37 and later (an older one
-- ignores the pragma, which would let everything through: refused).
local function sqlite_has_table_list(src)
  local v = rows(src, "SELECT sqlite_version() AS v")[1].v
  local major, minor = tostring(v):match("^(%d+)%.(%d+)")
  major, minor = tonumber(major) or 0, tonumber(minor) or 0
  return major > 3 or (major == 3 and minor >= 37)
end

-- A view (or a virtual table, whose module runs code) named like one of
-- those tables would be run by the SELECT: refused, naming it.
local function check_real_tables(src, tables)
  if not sqlite_has_table_list(src) then
    error(src.name .. ": reading a foreign file safely needs SQLite 3.37 or later", 0)
  end
  for _, name in ipairs(tables) do
    for _, row in ipairs(rows(src, ("PRAGMA table_list(\"%s\")"):format(name))) do
      if row.type ~= "table" then
        error(("%s: %s is a %s, not a table: the import reads real tables only"):format(
          src.name, name, row.type == "virtual" and "virtual table" or tostring(row.type)), 0)
      end
    end
  end
end


-- The SQLite URI of a path, opened read-only: the source is never written
-- (not even a hot journal rolled back into it).
local function readonly_uri(path)
  return "file:" .. path:gsub("[^%w/._~-]", function(c) return ("%%%02X"):format(c:byte()) end)
    .. "?mode=ro"
end


--- Open the file `path`, checking that `tables` are real tables.
function _M.open(path, tables)
  local f = io.open(path)
  if not f then error("cannot read " .. path, 0) end
  f:close()
  local src = setmetatable({ name = path, cols = {}, clean = clean }, Source)
  return luasql.open(require("luasql.sqlite3").sqlite3(), readonly_uri(path), src, function(s)
    -- a Flask app writing meanwhile: wait for it, as fsec's own store does;
    -- and no function of the file's schema runs with this connection's rights
    for _, pragma in ipairs{ "busy_timeout = 5000", "trusted_schema = OFF", "query_only = ON",
                             "cell_size_check = ON" } do
      local cur = query(s, "PRAGMA " .. pragma)
      if type(cur) == "userdata" then cur:close() end -- some answer a row
    end
    check_real_tables(s, tables)
  end)
end

return _M
