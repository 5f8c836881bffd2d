--- Will a Lua value come back from JSON as itself? cjson writes numbers
-- with 14 significant digits, a sparse array with nulls and a mixed
-- table's number keys as strings: such data would come back changed.
-- Tokens, session data and settings refuse it rather than change it.
-- @module fsec.jsonexact

local type = type
local pairs = pairs
local tonumber = tonumber

local _M = { _VERSION = "0.1.0" }


--- Is every number in v (keys too) written exactly by 14 significant
-- digits (2^53 + 1, 0.1 + 0.2, NaN and infinities are not)? Tables
-- deeper than max_depth (default: no limit) are not looked into: the
-- encoder refuses them.
function _M.exact_numbers(v, max_depth, depth)
  local t = type(v)
  if t == "number" then return tonumber(("%.14g"):format(v)) == v end
  depth = depth or 1
  if t ~= "table" or (max_depth and depth > max_depth) then return true end
  for k, x in pairs(v) do
    if not _M.exact_numbers(k, max_depth, depth + 1) or not _M.exact_numbers(x, max_depth, depth + 1) then
      return false
    end
  end
  return true
end


--- Do a and b hold the same keys and values, deeply (a number key is not
-- its string)?
function _M.same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, x in pairs(a) do
    if not _M.same(x, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

return _M
