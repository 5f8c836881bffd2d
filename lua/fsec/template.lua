--- A small logic-less template engine that escapes by default.
-- Syntax (a subset of Mustache):
--   {{ name }}       the value, HTML-escaped (in a ".txt" template: as is)
--   {{{ name }}}     the value raw: only for HTML fsec built and escaped
--   {{# name }}...{{/ name }}  a section: skipped when the value is nil,
--                    false, "" or an empty list; once per item of a list
--                    (the item is the innermost scope, `.` names it);
--                    once for any other value (a table becomes the scope)
--   {{^ name }}...{{/ name }}  the inverse: only when the section is skipped
--   {{> name }}      another template of the same set, in this scope
--   {{! text }}      a comment
-- Names are looked up from the innermost scope outwards; `a.b` descends.
-- Functions in the context are never called (they render as nothing).
--
-- Why not lua-cosmo (Debian 12's lua-cosmo 13.01.30): it installs for
-- Lua 5.1 and 5.2 only (fsec runs on 5.4 too), needs lpeg, and inserts
-- every value unescaped; this engine is a parser and a tree walker, no
-- `load` of generated code, so a template can never run Lua.
-- @module fsec.template

local concat = table.concat
local type = type
local tostring = tostring
local pairs = pairs
local ipairs = ipairs
local next = next
local escape = require("fsec.http").html_escape

local _M = { _VERSION = "0.1.0" }


-- "a.b.c" -> { "a", "b", "c" }; "." -> {} (the innermost scope itself)
local function path_of(name)
  if name == "." then return {} end
  local p = {}
  for part in name:gmatch("[^.]+") do p[#p + 1] = part end
  return p
end

local function fail(tname, src, pos, what)
  local line = 1
  for _ in src:sub(1, pos):gmatch("\n") do line = line + 1 end
  error(("fsec: template %s line %d: %s"):format(tname, line, what), 0)
end

--- Parse a template's source into a tree; raises on a syntax error
-- (an unclosed tag or section, a section closed by another name).
function _M.compile(src, tname)
  tname = tname or "?"
  if type(src) ~= "string" then error("fsec: template " .. tname .. " is not a string", 0) end
  local root = { kind = "root" }
  local stack = { root }
  local pos = 1
  while true do
    local s = src:find("{{", pos, true)
    local top = stack[#stack]
    if not s then
      if pos <= #src then top[#top + 1] = { kind = "text", text = src:sub(pos) } end
      break
    end
    if s > pos then top[#top + 1] = { kind = "text", text = src:sub(pos, s - 1) } end
    local triple = src:sub(s, s + 2) == "{{{"
    local close = triple and "}}}" or "}}"
    local e = src:find(close, s + (triple and 3 or 2), true)
    if not e then fail(tname, src, s, "unclosed tag") end
    local body = src:sub(s + (triple and 3 or 2), e - 1)
    pos = e + #close
    local sigil, rest = body:match("^%s*([#^/>!&]?)%s*(.-)%s*$")
    if triple then
      if sigil ~= "" then fail(tname, src, s, "{{{ }}} takes a name only") end
      sigil = "&"
    end
    local ok_name = sigil == "!" or rest:match(sigil == ">" and "^[%w_./-]+$" or "^[%w_.]+$")
    if not ok_name or (sigil == ">" and rest:find("..", 1, true)) then
      fail(tname, src, s, "bad name '" .. rest .. "'")
    end
    if sigil == "" or sigil == "&" then
      top[#top + 1] = { kind = "var", path = path_of(rest), raw = sigil == "&" }
    elseif sigil == "#" or sigil == "^" then
      local node = { kind = "section", name = rest, path = path_of(rest), inverted = sigil == "^", at = s }
      top[#top + 1] = node
      stack[#stack + 1] = node
    elseif sigil == "/" then
      if top.kind ~= "section" or top.name ~= rest then fail(tname, src, s, "unexpected {{/" .. rest .. "}}") end
      stack[#stack] = nil
    elseif sigil == ">" then
      top[#top + 1] = { kind = "partial", name = rest }
    end
  end
  if #stack > 1 then fail(tname, src, stack[#stack].at, "section '" .. stack[#stack].name .. "' not closed") end
  return root
end


local function lookup(scopes, n, path)
  if #path == 0 then return scopes[n] end
  local v
  for i = n, 1, -1 do
    local sc = scopes[i]
    if type(sc) == "table" then
      v = sc[path[1]]
      if v ~= nil then break end
    end
  end
  for i = 2, #path do
    if type(v) ~= "table" then return nil end
    v = v[path[i]]
  end
  return v
end

local function text_of(v, raw)
  local t = type(v)
  if t == "string" then return raw and v or escape(v) end
  if t == "number" then return tostring(v) end
  return "" -- nil, booleans, tables, functions: nothing
end

local render_nodes

local function section(set, node, scopes, n, out, plain, depth)
  local v = lookup(scopes, n, node.path)
  local empty = v == nil or v == false or v == "" or (type(v) == "table" and next(v) == nil)
  if node.inverted then
    if empty then render_nodes(set, node, scopes, n, out, plain, depth) end
    return
  end
  if empty then return end
  if type(v) == "table" and v[1] ~= nil then
    for _, item in ipairs(v) do
      scopes[n + 1] = item
      render_nodes(set, node, scopes, n + 1, out, plain, depth)
    end
    scopes[n + 1] = nil
  elseif type(v) == "table" then
    scopes[n + 1] = v
    render_nodes(set, node, scopes, n + 1, out, plain, depth)
    scopes[n + 1] = nil
  else
    render_nodes(set, node, scopes, n, out, plain, depth)
  end
end

function render_nodes(set, tree, scopes, n, out, plain, depth)
  for _, node in ipairs(tree) do
    local k = node.kind
    if k == "text" then
      out[#out + 1] = node.text
    elseif k == "var" then
      out[#out + 1] = text_of(lookup(scopes, n, node.path), node.raw or plain)
    elseif k == "section" then
      section(set, node, scopes, n, out, plain, depth)
    else -- partial: the same scopes, the same escaping as the caller
      if depth >= 32 then error("fsec: template partials nest too deep (" .. node.name .. ")", 0) end
      render_nodes(set, set:tree(node.name), scopes, n, out, plain, depth + 1)
    end
  end
end


local Set = {}
Set.__index = Set

--- A set of named templates: `builtin` (name -> source, fsec's own),
-- `overrides` (name -> source, the application's `templates`), `dir`
-- (the application's `template_dir`: a file dir/name overrides name).
-- Each template is read and compiled once, at its first use.
function _M.set(builtin, overrides, dir)
  return setmetatable({ builtin = builtin, overrides = overrides or {}, dir = dir, trees = {} }, Set)
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- The source of a template: the override, the file of template_dir,
-- then the built-in one (nil if the name is unknown).
function Set:source(name)
  local src = self.overrides[name]
  if src == nil and self.dir and not name:find("..", 1, true) then
    src = read_file(self.dir .. "/" .. name)
  end
  return src or self.builtin[name]
end

function Set:tree(name)
  local t = self.trees[name]
  if t then return t end
  local src = self:source(name)
  if not src then error("fsec: no template named " .. name, 0) end
  t = _M.compile(src, name)
  self.trees[name] = t
  return t
end

--- Render a template with ctx (raises on an unknown name or a syntax
-- error). Names ending ".txt" are plain text: nothing is escaped.
function Set:render(name, ctx)
  local out = {}
  render_nodes(self, self:tree(name), { ctx }, 1, out, name:sub(-4) == ".txt", 0)
  return concat(out)
end

--- Compile every template the set can render (config time: a broken
-- override fails fsec.new, not a request).
function Set:check_all()
  local names = {}
  for k in pairs(self.builtin) do names[k] = true end
  for k in pairs(self.overrides) do names[k] = true end
  -- and every partial a template names exists (a typo fails here too)
  local function walk(tree)
    for _, node in ipairs(tree) do
      if node.kind == "partial" then self:tree(node.name) end
      if node.kind == "section" then walk(node) end
    end
  end
  for k in pairs(names) do walk(self:tree(k)) end
  return true
end

return _M
