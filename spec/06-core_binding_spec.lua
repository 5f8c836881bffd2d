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
  -- counts how often fsec.openresty.thread asks.
  local function setpriority_calls(errname)
    local out = child("strace -f -qq -e trace=setpriority -e inject=setpriority:error=" .. errname, [[
      local t = require 'fsec.openresty.thread'
      for _ = 1, 3 do t.sync_wal(10, '/nonexistent/fsec-wal') end]])
    local n = 0
    for _ in out:gmatch("setpriority%(") do n = n + 1 end
    return n, out
  end

  it("fsec.openresty.thread asks a system without per-thread nice (ENOSYS) once", function()
    local n, out = setpriority_calls("ENOSYS")
    assert.equals(1, n, out)
  end)

  it("fsec.openresty.thread asks again after any other failure (the next job's thread may allow it)", function()
    local n, out = setpriority_calls("EACCES")
    assert.equals(3, n, out)
  end)
end)


describe("core.LIMITS", function()
  local core = require "fsec.core"

  -- the values of fsec/store.h and fsec/identity.h, read from the headers
  local function header_limits()
    local out = {}
    for _, h in ipairs{ "core/include/fsec/store.h", "core/include/fsec/identity.h" } do
      for line in io.lines(h) do
        local name, v = line:match("^#define FSEC_([%u_]+)_MAX (%d+)")
        if name then out[name:lower()] = tonumber(v) end
      end
    end
    return out
  end

  it("are the C headers' FSEC_*_MAX, every one of them", function()
    local want = header_limits()
    assert.is_true(next(want) ~= nil)
    assert.are.same(want, core.LIMITS)
  end)

  it("are what the LuaLS stub declares (types/fsec/core.lua)", function()
    local declared, in_class = {}, false
    for line in io.lines("types/fsec/core.lua") do
      if line:find("^%-%-%-@class ") then in_class = line:find("^%-%-%-@class fsec%.core%.Limits") ~= nil end
      local name = in_class and line:match("^%-%-%-@field ([%w_]+) integer")
      if name then declared[name] = true end
    end
    local exported = {}
    for k in pairs(core.LIMITS) do exported[k] = true end
    assert.are.same(exported, declared)
  end)

  it("bound the memory store as they bound the SQLite store", function()
    local stores = {
      memory = require("fsec.datastore.memory").new(),
      sqlite = require("fsec.datastore.sqlite").new{ path = ":memory:" },
    }
    for kind, ds in pairs(stores) do
      local u = assert(ds:create_user{ email = kind .. "@example.org", password = "x",
                                       fs_uniquifier = ("u"):rep(core.LIMITS.uniquifier) })
      local ok, _, code = ds:create_session(u, ("s"):rep(core.LIMITS.uniquifier + 1), os.time() + 60)
      assert.is_nil(ok, kind)
      assert.equals("ETOOLONG", code, kind)
      assert.truthy(ds:create_session(u, ("s"):rep(core.LIMITS.uniquifier), os.time() + 60), kind)
      ok, _, code = ds:create_role{ name = ("r"):rep(core.LIMITS.role_name + 1) }
      assert.equals("ETOOLONG", code, kind)
      assert.truthy(ds:create_role{ name = ("r"):rep(core.LIMITS.role_name) }, kind)
      ok, _, code = ds:create_user{ email = kind .. "2@example.org", password = "x",
                                    fs_uniquifier = ("u"):rep(core.LIMITS.uniquifier + 1) }
      assert.equals("ETOOLONG", code, kind)
    end
  end)
end)
