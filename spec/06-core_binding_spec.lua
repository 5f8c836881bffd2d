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

  -- the values of fsec/store.h, fsec/identity.h and fsec/webauthn.h, read
  -- from the headers
  local function header_limits()
    local out = {}
    for _, h in ipairs{ "core/include/fsec/store.h", "core/include/fsec/identity.h",
                        "core/include/fsec/webauthn.h" } do
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
      assert.is_nil(ok, kind)
      assert.equals("ETOOLONG", code, kind)
      assert.truthy(ds:create_role{ name = ("r"):rep(core.LIMITS.role_name) }, kind)
      ok, _, code = ds:create_user{ email = kind .. "2@example.org", password = "x",
                                    fs_uniquifier = ("u"):rep(core.LIMITS.uniquifier + 1) }
      assert.is_nil(ok, kind)
      assert.equals("ETOOLONG", code, kind)
    end
  end)
end)

describe("core.CONFIG, the engine's defaults and ranges (one source, engine.h)", function()
  local core = require "fsec.core"
  local fsec = require "fsec"
  local R = core.CONFIG.ranges
  local validate = require("fsec.config").validate
  -- the configuration key for each engine field, and how fsec.new gets it
  local keys = {
    password_max_bytes = function(v) return { password_max_bytes = v } end,
    token_max_length = function(v) return { token_max_length = v } end,
    token_skew = function(v) return { token_clock_skew = v } end,
    verify_budget = function(v) return { password_verify_budget = v } end,
    argon2_time = function(v)
      return { password_hash_options = { argon2 = { time_cost = v } }, password_hash_caps = { argon2_time = 64 } }
    end,
    argon2_memory_kib = function(v)
      return { password_hash_options = { argon2 = { memory_cost = v } }, allow_weak_password_hash = true,
               password_hash_caps = { argon2_memory_kib = 4194304 } }
    end,
  }
  local function engine_accepts(field, v)
    local cfg = { secret_keys = { string.rep("k", 32) } }
    if field == "verify_budget" then cfg.caps = { verify_budget = v } else cfg[field] = v end
    local e = core.new(cfg)
    if e then e:close() end
    return e ~= nil
  end

  it("hold every range the engine checks, each accepted at its ends and refused past them, by C and by fsec.new", function()
    local n = 0
    for field, make in pairs(keys) do
      local lo, hi = R[field][1], R[field][2]
      assert.is_true(lo <= hi, field)
      n = n + 1
      -- the engine itself (fsec_config_check)
      assert.is_true(engine_accepts(field, lo), field .. " " .. lo)
      assert.is_true(engine_accepts(field, hi), field .. " " .. hi)
      assert.is_false(engine_accepts(field, hi + 1), field .. " " .. hi + 1)
      -- (a verify budget of 0 is the engine's "none", false in Lua)
      if lo > 0 and field ~= "verify_budget" then
        assert.is_false(engine_accepts(field, lo - 1), field .. " " .. lo - 1)
      end
      -- the Lua configuration (checked before the engine runs): the very
      -- same range, neither wider nor narrower
      for _, v in ipairs({ lo, hi }) do
        local c, err = validate(helpers.config(make(v)))
        assert(c, field .. " " .. v .. " refused by fsec.config: " .. tostring(err))
      end
      for _, v in ipairs({ hi + 1, lo - 1 }) do
        local c, err = validate(helpers.config(make(v)))
        assert.is_nil(c, field .. " " .. v .. " accepted by fsec.config")
        assert.matches(tostring(hi), err, 1, true)
      end
    end
    assert.equals(6, n)
    for field in pairs(R) do assert.truthy(keys[field], "core.CONFIG.ranges." .. field .. " is checked by no test") end
  end)

  it("give fsec.new its defaults: what fsec_config_init sets", function()
    local D = core.CONFIG.defaults
    local sec = fsec.new(helpers.config{ password_hash_options = "nil", allow_weak_password_hash = "nil" })
    local cfg = sec.config
    assert.equals(D.password_max_bytes, cfg.password_max_bytes)
    assert.equals(D.token_max_length, cfg.token_max_length)
    assert.equals(D.token_skew, cfg.token_clock_skew)
    assert.equals(D.caps.verify_budget, cfg.password_verify_budget)
    local h = assert(sec:hash_password("correct horse battery staple"))
    assert.truthy(h:find(("m=%d,t=%d,"):format(D.argon2_memory_kib, D.argon2_time), 1, true), h)
    sec:close()
  end)

  it("leave no range literal in core/src/engine.c (engine.h names them)", function()
    local c = assert(helpers.read("core/src/engine.c"))
    for _, lit in ipairs({ "65536", "86400", "1e6", "262144", "2000000" }) do
      assert.is_nil(c:find(lit, 1, true), "core/src/engine.c repeats " .. lit)
    end
  end)
end)
