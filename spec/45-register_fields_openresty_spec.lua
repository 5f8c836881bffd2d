-- Custom registration fields through the real nginx (issue 25): the
-- example app declares display_name; it round-trips from /register to
-- the store and back in the user JSON of /login, on the SQLite store and
-- on a real PostgreSQL (through the thread pool); what was not declared
-- is never stored; the HTML page shows the field. LuaJIT pass with nginx
-- only, as spec/40.
local helpers = require "spec.helpers"
local example = require "spec.tools.example_app"
local postgres = require "spec.tools.postgres"


local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

local PW = "battery staple"

-- register through nginx, sign in again from another client: the field
-- in both answers; the posted built-in fields changed nothing
local function round_trip(app, email)
  local c = example.api(app)
  local s, r = c.call("POST", "/register", { email = email, password = PW, password_confirm = PW,
    display_name = "Zoë \u{1F600}", active = false, roles = { "admin" }, fs_uniquifier = "mine",
    confirmed_at = 1, nickname = "undeclared" })
  assert.equals(200, s)
  assert.same({ email = email, display_name = "Zoë \u{1F600}" }, r.user)
  -- a field refused: field_errors, nothing stored
  s, r = example.api(app).call("POST", "/register", { email = "x" .. email, password = PW,
    password_confirm = PW, display_name = { "not", "a", "string" } })
  assert.equals(400, s)
  assert.same({ "Invalid input." }, r.field_errors.display_name)
  s, r = example.api(app).call("POST", "/register", { email = "y" .. email, password = PW,
    password_confirm = PW, display_name = string.rep("x", 61) })
  assert.equals(400, s)
  assert.same({ "Field cannot be longer than 60 characters." }, r.field_errors.display_name)
  return r
end

-- sign in (the example is confirmable: confirm runs the SQL that marks
-- the address confirmed first): the field in the user JSON, on every
-- worker, cached or not
local function signs_in_with_field(app, email, confirm)
  confirm("update users set confirmed_at = 1 where email = '" .. email .. "'")
  for _ = 1, 4 do
    local s, r = example.api(app).call("POST", "/login", { email = email, password = PW })
    assert.equals(200, s)
    assert.same({ email = email, display_name = "Zoë \u{1F600}" }, r.user)
  end
end

local function page_has_field(app)
  local r = example.request(app, { path = "/register" })
  assert.equals(200, r.status)
  assert.matches('<label for="display_name">Display name</label>', r.body, 1, true)
  assert.matches('name="display_name" type="text" maxlength="60"', r.body, 1, true)
end

describe_or_pending("register_fields through nginx", function()
  describe("on the SQLite store", function()
    local app
    setup(function() app = example.start{} end)
    teardown(function() if app then example.stop(app) end end)

    it("round-trips display_name and ignores undeclared and built-in fields", function()
      round_trip(app, "zoe@example.org")
      local out = example.run(("sqlite3 %q \"select active, confirmed_at is null, fs_uniquifier <> 'mine',"
        .. " fields from users where email = 'zoe@example.org'\""):format(app.dir .. "/var/auth.db"))
      assert.equals('1|1|1|{"display_name":"Zoë \u{1F600}"}', (out:gsub("%s+$", "")))
      out = example.run(("sqlite3 %q \"select count(*) from users where email like '%%zoe@example.org'\"")
        :format(app.dir .. "/var/auth.db"))
      assert.equals("1", out:match("%d+"))
      signs_in_with_field(app, "zoe@example.org", function(sql)
        assert(example.run(("sqlite3 %q %q 2>&1; echo rc=$?"):format(app.dir .. "/var/auth.db", sql))
          :find("rc=0", 1, true))
      end)
      page_has_field(app)
    end)

    it("a real Chromium: the field labelled and hinted, its error bound to it, then registered", function()
      local have = helpers.sh("command -v node >/dev/null && test -x /usr/bin/chromium"
        .. " && test -d spec/browser/node_modules/playwright-core")
      if not have then
        if os.getenv("FSEC_REQUIRE_BROWSER") == "1" then error("chromium, node or playwright-core missing") end
        return pending("chromium, node or playwright-core missing")
      end
      local build = os.getenv("FSEC_BUILD_DIR") or "build"
      local artifacts = (os.getenv("FSEC_ARTIFACTS") or (build .. "/artifacts")) .. "/register-fields"
      helpers.sh("rm -rf " .. artifacts) -- an earlier run's screenshots prove nothing
      local out = example.run(("node spec/browser/register_fields.mjs %s %s browser@example.org 2>&1; echo rc=$?")
        :format(app.base, artifacts))
      assert.matches("register fields browser ok", out, 1, true)
      assert.matches("rc=0", out, 1, true)
      assert.is_true(helpers.sh("test -s " .. artifacts .. "/02-register-field-error.png"))
      out = example.run(("sqlite3 %q \"select fields from users where email = 'browser@example.org'\"")
        :format(app.dir .. "/var/auth.db"))
      assert.equals('{"display_name":"Zoë"}', (out:gsub("%s+$", "")))
    end)
  end)

  describe("on PostgreSQL", function()
    if not postgres.present(it, pending) then return end
    local pg, app
    setup(function()
      pg = postgres.new()
      app = postgres.start_example(pg)
    end)
    teardown(function()
      if app then example.stop(app) end
      if pg then postgres.remove(pg) end
    end)

    it("round-trips display_name through the thread pool", function()
      round_trip(app, "zoe-pg@example.org")
      local ok, out = postgres.psql(pg, "select active, confirmed_at is null, fields from users"
        .. " where email = 'zoe-pg@example.org'")
      assert.is_true(ok, out)
      assert.equals('1|t|{"display_name":"Zoë \u{1F600}"}', (out:gsub("%s+$", "")))
      signs_in_with_field(app, "zoe-pg@example.org", function(sql) assert(postgres.psql(pg, sql)) end)
      page_has_field(app)
    end)
  end)
end)
