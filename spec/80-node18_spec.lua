-- A fresh Debian 12 runs the test command with its own Node.js (18.x):
-- the npm packages the browser test pins must allow it. The full check,
-- in a debootstrap'd Debian 12 root, is scripts/fresh-check.sh.
local helpers = require "spec.helpers"
local cjson = require "cjson"

-- Debian 12 (bookworm) ships Node.js 18; a stable release keeps its major.
local DEBIAN12_NODE = 18

local function lockfile()
  local text = (assert(helpers.read("spec/browser/package-lock.json")))
  return cjson.decode(text)
end

-- ">=18", ">=18.0.0", "^18 || >=20": the lowest major it allows.
local function floor_major(range)
  local lowest
  for part in range:gmatch("[^|]+") do
    local m = tonumber(part:match("^%s*[>=^~]*%s*v?(%d+)"))
    assert(m, "engines range not understood: " .. range)
    if not lowest or m < lowest then lowest = m end
  end
  return lowest
end

describe("the browser test on Debian 12's Node", function()
  it("pins only npm packages whose engines allow Node 18", function()
    local lock = lockfile()
    local checked = 0
    for name, pkg in pairs(lock.packages) do
      if name ~= "" and type(pkg.engines) == "table" and pkg.engines.node then
        local floor = floor_major(pkg.engines.node)
        assert(floor <= DEBIAN12_NODE, ("%s %s needs node %s; Debian 12 has %d")
          :format(name, pkg.version, pkg.engines.node, DEBIAN12_NODE))
        checked = checked + 1
      end
    end
    assert.is_true(checked >= 1, "no engines field in the lockfile: is playwright-core in it?")
  end)

  it("locks the playwright-core version package.json pins", function()
    local pkg = cjson.decode((assert(helpers.read("spec/browser/package.json"))))
    local lock = lockfile()
    local want = pkg.dependencies["playwright-core"]
    assert.matches("^%d+%.%d+%.%d+$", want) -- an exact pin, no range
    assert.equals(want, lock.packages["node_modules/playwright-core"].version)
    assert.equals(want, lock.packages[""].dependencies["playwright-core"])
  end)

  it("agrees with Debian's archive where apt knows it", function()
    local p = io.popen("apt-cache madison nodejs 2>/dev/null")
    local out = p:read("*a"); p:close()
    local seen = 0
    for version, source in out:gmatch("nodejs%s*|%s*(%S+)%s*|%s*(%S+)") do
      if source:find("debian.org", 1, true) then
        assert.equals(DEBIAN12_NODE, tonumber(version:match("^%d+")))
        seen = seen + 1
      end
    end
    if seen == 0 then pending("no Debian archive nodejs in apt's lists") end
  end)
end)

describe("scripts/fresh-check.sh", function()
  local function run(args)
    local p = io.popen("sh scripts/fresh-check.sh " .. args .. " 2>&1; echo rc=$?")
    local out = p:read("*a"); p:close()
    return tonumber(out:match("rc=(%d+)%s*$")), out
  end

  it("refuses an unknown option or a --keep without folder, before any work", function()
    local rc, out = run("--bogus")
    assert.equals(2, rc)
    assert.matches("usage: fresh-check.sh", out, 1, true)
    rc, out = run("--quick --keep")
    assert.equals(2, rc)
    assert.matches("--keep needs a folder", out, 1, true)
    assert.not_matches("debootstrap bookworm", out, 1, true)
  end)
end)
