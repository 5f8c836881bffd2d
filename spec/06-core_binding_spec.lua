-- fsec.core as the binding presents core (issue 21): error codes that say
-- what failed, and the store's limits exported once from C.
local helpers = require "spec.helpers"

local LUA = jit and "luajit" or "lua5.4"

-- Run a Lua chunk in a child interpreter of this runtime, with this
-- build's fsec.core and lua/, behind an optional command prefix; returns
-- its stdout and stderr (2>&1).
local function child(prefix, chunk)
  local script = ("package.cpath = %q; package.path = 'lua/?.lua;' .. package.path; %s")
    :format(package.cpath, (chunk:gsub("\n", " ")))
  local cmd = ("%s %s -e %q 2>&1"):format(prefix, LUA, script)
  local f = assert(io.popen(cmd))
  local out = f:read("*a")
  f:close()
  return out
end

-- Without CAP_SYS_NICE a thread may raise its nice value but not lower
-- it again: as root, drop the capability for the child (setpriv).
local function unprivileged()
  local f = assert(io.popen("id -u"))
  local uid = f:read("*l")
  f:close()
  if uid ~= "0" then return "" end
  return "setpriv --bounding-set=-sys_nice --inh-caps=-sys_nice"
end

describe("core.thread_nice failures", function()
  it("return the errno's name as the code (EACCES: may not lower it)", function()
    local out = child(unprivileged(), [[
      local c = require 'fsec.core'
      assert(c.thread_nice(12))
      local ok, msg, code = c.thread_nice(4)
      io.write(tostring(ok), '|', msg, '|', tostring(code))]])
    assert.equals("nil|EACCES: thread_nice: Permission denied|EACCES", out)
  end)

  -- strace makes setpriority fail as a system without it would, and
  -- counts how often fsec.thread asks.
  local function setpriority_calls(errname)
    local out = child("strace -f -qq -e trace=setpriority -e inject=setpriority:error=" .. errname, [[
      local t = require 'fsec.thread'
      for _ = 1, 3 do t.sync_wal(10, '/nonexistent/fsec-wal') end]])
    local n = 0
    for _ in out:gmatch("setpriority%(") do n = n + 1 end
    return n, out
  end

  it("fsec.thread asks a system without per-thread nice (ENOSYS) once", function()
    local n, out = setpriority_calls("ENOSYS")
    assert.equals(1, n, out)
  end)

  it("fsec.thread asks again after any other failure (the next job's thread may allow it)", function()
    local n, out = setpriority_calls("EACCES")
    assert.equals(3, n, out)
  end)
end)
