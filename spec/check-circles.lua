-- check-circles.lua: no include circle and no call circle between the C
-- files of core/ and bindings/ (issue 21: a file that needs another must
-- not be needed by it, so each can be read, tested and replaced alone).
--
--   lua5.4 spec/check-circles.lua OBJECT...    the tree and these objects
--   lua5.4 spec/check-circles.lua --self-test  it finds planted circles
-- (spec/CMakeLists.txt passes the objects of libfsec, fsec.core and the
-- argon2 helper, so a stale object of a deleted file is never read)
--
-- Include edges: a file's `#include "..."` lines, resolved against its own
-- folder and the include folders the build uses. Call edges: object A
-- needs object B when A has an undefined symbol (nm: U) that B defines
-- (a global T/D/B/R/C/W symbol). Each circle is a strongly connected
-- component of more than one file, printed with its files.

-- run from the source tree's root (ctest's WORKING_DIRECTORY)
local SRC_DIRS = { "core/src", "core/include", "core/include/fsec", "core/helper", "bindings" }

local function lines(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  if not p:close() then error("failed: " .. cmd) end
  return out
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

-- Tarjan's strongly connected components; returns those of 2+ nodes.
local function circles(nodes, edges)
  local index, low, on, stack, out, n = {}, {}, {}, {}, {}, 0
  local function visit(v)
    n = n + 1
    index[v], low[v] = n, n
    stack[#stack + 1] = v
    on[v] = true
    for w in pairs(edges[v] or {}) do
      if not index[w] then
        visit(w)
        low[v] = math.min(low[v], low[w])
      elseif on[w] then
        low[v] = math.min(low[v], index[w])
      end
    end
    if low[v] == index[v] then
      local scc = {}
      repeat
        local w = table.remove(stack)
        on[w] = nil
        scc[#scc + 1] = w
      until w == v
      if #scc > 1 then table.sort(scc); out[#out + 1] = scc end
    end
  end
  table.sort(nodes)
  for _, v in ipairs(nodes) do if not index[v] then visit(v) end end
  return out
end

-- file -> set of files it includes (quoted includes that resolve)
local function include_graph(files, incdirs)
  local edges = {}
  for _, f in ipairs(files) do
    edges[f] = {}
    for l in io.lines(f) do
      local name = l:match('^%s*#%s*include%s+"([^"]+)"')
      if name then
        for _, d in ipairs({ dirname(f), table.unpack(incdirs) }) do
          local p = d .. "/" .. name
          if exists(p) then edges[f][p] = true; break end
        end
      end
    end
  end
  return edges
end

-- object -> set of objects defining a symbol it leaves undefined
local function call_graph(objects)
  local defines, needs, edges = {}, {}, {}
  for _, o in ipairs(objects) do
    needs[o] = {}
    for _, l in ipairs(lines("nm -P " .. o)) do
      local sym, kind = l:match("^(%S+)%s+(%a)")
      if kind == "U" then needs[o][#needs[o] + 1] = sym
      elseif kind and kind:match("[TDBRCWV]") then defines[sym] = o end
    end
  end
  for _, o in ipairs(objects) do
    edges[o] = {}
    for _, sym in ipairs(needs[o]) do
      local d = defines[sym]
      if d and d ~= o then edges[o][d] = true end
    end
  end
  return edges
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  return out
end

-- say: where each circle's line goes (print; the self-test collects them)
local function report(kind, found, strip, say)
  for _, scc in ipairs(found) do
    local names = {}
    for i, f in ipairs(scc) do names[i] = strip(f) end
    say(("check-circles: %s circle: %s"):format(kind, table.concat(names, " <-> ")))
  end
  return #found
end

local function check(files, incdirs, objects, strip, say)
  say = say or print
  local bad = report("include", circles(files, include_graph(files, incdirs)), strip, say)
  local calls = call_graph(objects)
  return bad + report("call", circles(keys(calls), calls), strip, say)
end

local function tree(objects)
  local files, incdirs = {}, {}
  for _, d in ipairs(SRC_DIRS) do
    incdirs[#incdirs + 1] = d
    for _, f in ipairs(lines("ls " .. d)) do
      if f:match("%.[ch]$") then files[#files + 1] = d .. "/" .. f end
    end
  end
  assert(#objects > 10, "usage: check-circles.lua OBJECT... (the build's objects)")
  local function strip(f)
    return (f:gsub("^.*/CMakeFiles/[^/]+%.dir/", ""):gsub("%.o$", ""))
  end
  local n = check(files, incdirs, objects, strip)
  if n > 0 then os.exit(1) end
  print(("check-circles: %d files, %d objects, no include or call circle"):format(#files, #objects))
end

-- Plant an include circle (a.h <-> b.h) and a call circle (a.c <-> b.c)
-- beside a clean pair, and insist on finding exactly those two.
local function self_test()
  local dir = lines("mktemp -d")[1]
  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
  end
  write("a.h", '#include "b.h"\nint a(int);\n')
  write("b.h", '#include "a.h"\nint b(int);\n')
  write("c.h", '#include "a.h"\nint c(int);\n')
  write("a.c", 'int b(int);\nint a(int);\nint a(int x) { return x ? b(x - 1) : 0; }\n')
  write("b.c", 'int a(int);\nint b(int);\nint b(int x) { return x ? a(x - 1) : 1; }\n')
  write("c.c", 'int a(int);\nint c(int);\nint c(int x) { return a(x); }\n')
  local cc = os.getenv("CC") or "cc"
  for _, f in ipairs{ "a", "b", "c" } do
    lines(("%s -c -o %s/%s.o %s/%s.c"):format(cc, dir, f, dir, f))
  end
  local found = {}
  local n = check({ dir .. "/a.h", dir .. "/b.h", dir .. "/c.h" }, {},
                  { dir .. "/a.o", dir .. "/b.o", dir .. "/c.o" },
                  function(f) return (f:gsub("^.*/", "")) end,
                  function(s) found[#found + 1] = s end)
  lines("rm -r " .. dir)
  local got = table.concat(found, "\n")
  assert(n == 2, "self-test: expected 2 circles, found " .. n .. ":\n" .. got)
  assert(got:find("include circle: a.h <-> b.h", 1, true), got)
  assert(got:find("call circle: a.o <-> b.o", 1, true), got)
  print("check-circles: self-test found the planted include and call circles")
end

-- ctest passes each target's objects as one ';'-separated argument
local function objects_of(args)
  local out = {}
  for _, a in ipairs(args) do
    for o in a:gmatch("[^;]+") do out[#out + 1] = o end
  end
  return out
end

if arg[1] == "--self-test" then self_test() else tree(objects_of({ ... })) end
