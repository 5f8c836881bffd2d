-- The OpenResty adapter's parts that run without nginx: named guards
-- checked at init, and the priority of hashing threads.
local helpers = require "spec.helpers"

describe("fsec.openresty.init guards", function()
  local fo = require "fsec.openresty"
  local cfg = helpers.config{ database = helpers.tmpfile("or.db") }

  it("accepts named specs and refuses a bad one at start, naming it", function()
    fo.init(cfg, { guards = { api = { auth = { "token", "session" } }, admin = { roles_required = { "admin" } } } })
    local ok, err = pcall(fo.init, cfg, { guards = { api = { auth = { "token" } }, broken = { auth = { "cookie" } } } })
    assert.is_false(ok)
    assert.matches("guard 'broken'", err, 1, true)
    assert.matches("unknown authentication mechanism 'cookie'", err, 1, true)
    ok, err = pcall(fo.init, cfg, { guards = { typo = { role_required = { "x" } } } })
    assert.is_false(ok)
    assert.matches("unknown key 'role_required'", err, 1, true)
  end)
end)

describe("core.thread_nice", function()
  local core = require "fsec.core"

  it("refuses values outside 0..19", function()
    assert.has_error(function() core.thread_nice(20) end)
    assert.has_error(function() core.thread_nice(-1) end)
    assert.has_error(function() core.thread_nice("5") end)
  end)

  it("lowers the priority of the calling thread only (here: a child process)", function()
    -- in a child, so this test run keeps its own priority
    local lua = jit and "luajit" or "lua5.4"
    local script = ("package.cpath = %q; local c = require 'fsec.core'; assert(c.thread_nice(7)); "
      .. "local s = io.open('/proc/self/stat'):read('*a'); "
      .. "local after = s:match('%%) (.*)'); local f = {}; for x in after:gmatch('%%S+') do f[#f + 1] = x end; "
      .. "io.write(f[17])"):format(package.cpath)
    local p = io.popen(lua .. " -e " .. ("%q"):format(script):gsub("\\\n", "\\n"))
    local out = p:read("*a")
    p:close()
    assert.equals("7", out)
  end)
end)
