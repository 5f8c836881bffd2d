-- The spec suite's own shape (issue 21): `busted --tags=quick` picks the
-- fast suites and nothing that needs nginx, a browser, the Flask-Security
-- peer or the `fsec` command; the default run still runs every test; the
-- endpoint and catalogue specs stay split; helpers.app gives an app on
-- either datastore.
local helpers = require "spec.helpers"

local LUA = jit and "luajit" or "lua5.4"

--- `busted --list` for this runtime, with extra options: { file, name } each.
local function list(opts)
  local p = assert(io.popen(("busted --lua=%s --list %s 2>/dev/null"):format(LUA, opts)))
  local out = {}
  for line in p:lines() do
    local file, name = line:match("^(%S+%.lua):%d+: (.*)$")
    if file then out[#out + 1] = { file = file, name = name } end
  end
  p:close()
  return out
end

local function count(tests, pred)
  local n = 0
  for _, t in ipairs(tests) do if pred(t) then n = n + 1 end end
  return n
end

-- Specs that start nginx, a browser, the peer, PostgreSQL or the `fsec` command
-- (spec/38: nginx and Chromium; spec/26, spec/39: the peer; spec/45:
-- nginx, gunicorn and the peer).
local SLOW = { "^spec/04%-", "^spec/2[2-6]%-", "^spec/33%-", "^spec/3[89]%-", "^spec/40%-", "^spec/45%-",
               "^spec/5%d%-", "^spec/7%d%-", "^spec/80%-node18", "^spec/82%-", "^spec/90%-" }
local function slow(t)
  for _, p in ipairs(SLOW) do if t.file:find(p) then return true end end
  return false
end

describe("busted --tags=quick", function()
  -- listed inside the tests: `busted --list` runs describe bodies (this one too)
  local all, quick
  before_each(function()
    if not all then all, quick = list(""), list("--tags=quick") end
  end)

  it("runs the fast suites only, and the default run still runs every test", function()
    assert.is_true(#quick > 300, "quick tests: " .. #quick)
    assert.equals(0, count(quick, slow))
    assert.is_true(count(all, slow) > 50, "slow tests in the default run: " .. count(all, slow))
    assert.is_true(#all > #quick)
  end)

  it("leaves out the catalogue's nginx test, and keeps every other endpoint and catalogue test", function()
    local function ep(t) return t.file:find("^spec/30%-") or t.file:find("^spec/60%-catalogue_") end
    local function nginx(t) return t.name:find("A-07", 1, true) ~= nil end
    assert.equals(1, count(all, function(t) return ep(t) and nginx(t) end))
    assert.equals(0, count(quick, nginx))
    assert.equals(count(all, ep) - 1, count(quick, ep))
  end)
end)

describe("the endpoint and catalogue specs", function()
  it("are split by concept: no file over 600 lines", function()
    local p = assert(io.popen("ls spec/30-*_spec.lua spec/60-catalogue_*_spec.lua"))
    local n = 0
    for path in p:lines() do
      n = n + 1
      local _, lines = helpers.read(path):gsub("\n", "")
      assert.is_true(lines <= 600, path .. ": " .. lines .. " lines")
    end
    p:close()
    assert.is_true(n >= 8, "files: " .. n)
  end)
end)

describe("helpers.app #quick", function()
  for _, store in ipairs{ "sqlite", "memory" } do
    it("gives an app on the " .. store .. " datastore with its users, mail and kept log", function()
      local app = helpers.app{ datastore = store, clock = true, mail = true, endpoints = true, log = "keep",
        extra = { confirmable = true },
        users = { { email = "a@example.com", password = "password-1", confirmed = true } } }
      assert.equals(app.clock.now, app.user.confirmed_at)
      local c = helpers.api(app.sec)
      assert.equals(200, (c:call("POST", "/login", { email = "a@example.com", password = "password-1" })).status)
      assert.equals(200, (helpers.api(app.sec):call("POST", "/reset", { email = "a@example.com" })).status)
      assert.equals(1, #app.mails())
      assert.equals("a@example.com", app.mails()[1].to)
    end)
  end
end)
