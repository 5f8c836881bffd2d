--- What the two LuaSQL sources of `fsec.import` share (fsec.import.sqlite,
-- fsec.import.postgres): a query whose error names the source, and every
-- row of a query. A source holds con (a LuaSQL connection), name, and
-- clean (the driver's error text -> the part worth showing).
-- @module fsec.import.luasql

local _M = { _VERSION = "0.1.0" }


--- A cursor of `sql`, or an error naming the source.
function _M.query(src, sql)
  local cur, err = src.con:execute(sql)
  if not cur then error(("%s: %s"):format(src.name, src.clean(tostring(err))), 0) end
  return cur
end


--- Every row of `sql`, each a table by column name.
function _M.rows(src, sql)
  local out = {}
  local cur = _M.query(src, sql)
  local row = cur:fetch({}, "a")
  while row do
    out[#out + 1] = row
    row = cur:fetch({}, "a")
  end
  cur:close()
  return out
end


--- Connect `driver` (a LuaSQL environment) to `target`, then
-- prepare(src): the source, or an error naming it, everything closed.
-- src: the source's fields (name, clean, ...) with its methods (close).
function _M.open(driver, target, src, prepare)
  local con, err = driver:connect(target)
  if not con then
    driver:close()
    error(("%s: %s"):format(src.name, src.clean(tostring(err))), 0)
  end
  src.con, src.driver = con, driver
  local ok, perr = pcall(prepare, src)
  if not ok then
    src:close()
    error(perr, 0)
  end
  return src
end


return _M
