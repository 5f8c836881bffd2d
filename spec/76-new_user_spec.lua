-- What a new user meets first, through the real example (nginx started by
-- scripts/serve-example.sh, driven with curl): the start-up banner, the
-- sign-out page a browser's GET /logout gets, the Admin link and 403 page,
-- 404 pages, and the Home link and wrapping every page has.
local helpers = require "spec.helpers"
local example = require "spec.tools.example_app"

local read, sh = helpers.read, helpers.sh
local BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
local JSON = "application/json"

local function get(app, path, accept, jar)
  return example.http(app, "GET", path, { jar = jar, headers = { Accept = accept } })
end

-- The page's Home link and the style that wraps long links.
local function assert_page_style(body)
  assert.matches('<a id="home" href="/">Home</a>', body, 1, true)
  assert.matches("overflow-wrap:anywhere", body, 1, true)
end

describe("a new user's first steps", function()
  if not example.enabled then
    it("needs nginx with the Lua module (LuaJIT pass)", function() pending("no nginx/Lua module here") end)
    return
  end

  describe("scripts/serve-example.sh", function()
    it("a busy port gives one clear line and status 1, before anything is made", function()
      example.with_app({}, function(app)
        local dir = example.dir() .. "-second"
        local p = io.popen(("sh scripts/serve-example.sh %s %d 1 2>&1; echo rc=$?"):format(dir, app.port))
        local out = p:read("*a")
        p:close()
        local lines = {}
        for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
        assert.same({ ("fsec example: port %d is in use (another program listens there); stop it or give "
          .. "another port (PORT=9000 sh scripts/run.sh)"):format(app.port), "rc=1" }, lines)
        assert.falsy(sh("test -e " .. dir)) -- no secrets, database or admin made for a start that cannot be
        -- the running app is untouched
        assert.equals(200, (get(app, "/hello", "*/*")))
      end)
    end)

    it("prints its banner only once nginx has bound the port", function()
      -- a slow start: argon2 at 256 MiB in nginx's init (fsec.new's dummy
      -- hash), between bootstrap.lua and the bind
      local port, dir = example.free_port(), example.dir()
      local env = [[FSEC_EXAMPLE_CONFIG='{"password_hash_options":{"argon2":{"time_cost":4,"memory_cost":262144}}}']]
      local p = io.popen(("%s sh scripts/serve-example.sh %s %d 1 > %s.out 2>&1 & echo $!"):format(env, dir, port, dir))
      local app = { pid = p:read("*l"), dir = dir, port = port, base = "http://127.0.0.1:" .. port }
      p:close()
      local ok, err = pcall(function()
        local banner = example.poll(120, function()
          return (read(dir .. ".out") or ""):find("fsec example: http://127.0.0.1:" .. port .. "/", 1, true)
        end)
        assert.truthy(banner, read(dir .. ".out"))
        -- at once, no retry: the port answers when the banner says so
        local pid = read(dir .. "/logs/nginx.pid")
        assert.equals(app.pid, pid and pid:match("%d+"))
        assert.equals(200, (example.http(app, "GET", "/hello", { curl = "-m 60" })))
        -- and the rest of the banner follows
        assert.truthy(example.poll(10, function() return (read(dir .. ".out") or ""):find("stop: Ctrl-C", 1, true) end))
        assert.matches("admin sign-in (as first set): admin@example.org ", read(dir .. ".out"), 1, true)
      end)
      example.stop(app)
      assert(ok, tostring(err) .. "\n" .. tostring(read(dir .. ".out")))
    end)
  end)

  describe("the example's pages", function()
    local app, user_jar, admin_jar
    setup(function()
      -- registration signs in at once (no confirmation mail to follow)
      app = example.start{ env = [[FSEC_EXAMPLE_CONFIG='{"confirmable":false}']] }
      user_jar, admin_jar = app.dir .. ".user.jar", app.dir .. ".admin.jar"
      local s = example.api(app, { jar = user_jar }).call("POST", "/register",
        { email = "new@example.org", password = "battery staple horse",
          password_confirm = "battery staple horse" })
      assert.equals(200, s)
      s = example.api(app, { jar = admin_jar }).call("POST", "/login",
        { email = "admin@example.org", password = example.admin_password(app) })
      assert.equals(200, s)
    end)
    teardown(function() if app then example.stop(app) end end)

    it("a browser's GET /logout gets a sign-out page that signs nobody out; its form posts with CSRF", function()
      local jar = app.dir .. ".logout.jar"
      assert.equals(200, (example.api(app, { jar = jar }).call("POST", "/login",
        { email = "admin@example.org", password = example.admin_password(app) })))
      local s, h, body = get(app, "/logout", BROWSER, jar)
      assert.equals(405, s) -- GET is still not allowed (logout_methods: POST)
      assert.matches("POST", h.allow, 1, true)
      assert.matches("^text/html", h["content-type"])
      assert_page_style(body)
      assert.matches("Signed in as <strong>admin@example.org</strong>", body, 1, true)
      assert.matches('<form method="post" action="/logout">', body, 1, true)
      local token = body:match('name="csrf_token" value="([^"]+)"')
      assert.truthy(token and #token > 20)
      assert.equals(200, (get(app, "/profile", BROWSER, jar))) -- the GET signed nobody out
      -- another site's form (the browser says so in Origin) without the
      -- token: refused, still signed in (this site's needs none, as Too's)
      local form = "-H 'Content-Type: application/x-www-form-urlencoded' --data-binary '%s'"
      s = example.http(app, "POST", "/logout", { jar = jar, headers = { Accept = BROWSER, Origin = "https://evil.example" },
                                                 curl = form:format("x=1") })
      assert.equals(400, s)
      assert.equals(200, (get(app, "/profile", BROWSER, jar)))
      -- the button: a POST with the page's token signs out
      s, h = example.http(app, "POST", "/logout", { jar = jar, headers = { Accept = BROWSER },
                                                    curl = form:format("csrf_token=" .. token) })
      assert.equals(302, s)
      assert.equals("/", h.location)
      s, h = get(app, "/profile", BROWSER, jar)
      assert.equals(302, s)
      assert.equals("/login?next=/profile", h.location)
      -- signed out, the page says so and offers no button
      s, h, body = get(app, "/logout", BROWSER, jar)
      assert.equals(405, s); assert.matches("^text/html", h["content-type"])
      assert.matches("You are not signed in.", body, 1, true)
      assert.is_nil(body:find("<form", 1, true))
    end)

    it("JSON clients keep the bare 405 at GET /logout", function()
      local s, h, _, j = get(app, "/logout", JSON, user_jar)
      assert.equals(405, s)
      assert.matches("^application/json", h["content-type"])
      assert.same({ meta = { code = 405 }, response = { errors = { "Method not allowed" } } }, j)
      assert.equals(200, (get(app, "/profile", BROWSER, user_jar)))
    end)

    it("the home page shows the Admin link to admins only", function()
      local _, _, body = get(app, "/", BROWSER, user_jar)
      assert.matches("Signed in as <strong>new@example.org</strong>", body, 1, true)
      assert.matches('href="/profile"', body, 1, true)
      assert.is_nil(body:find('href="/admin"', 1, true))
      _, _, body = get(app, "/", BROWSER, admin_jar)
      assert.matches("Signed in as <strong>admin@example.org</strong>", body, 1, true)
      assert.matches('href="/admin"', body, 1, true)
    end)

    it("a browser's 403 is a page with a way home, as is curl's; JSON stays JSON", function()
      local msg = "You do not have permission to view this resource."
      local s, h, body = get(app, "/admin", BROWSER, user_jar)
      assert.equals(403, s)
      assert.matches("^text/html", h["content-type"])
      assert.equals("DENY", h["x-frame-options"])
      assert_page_style(body)
      assert.matches("<title>Forbidden</title>", body, 1, true)
      assert.matches(msg, body, 1, true)
      local _, _, _, j = get(app, "/admin", JSON, user_jar)
      assert.same({ meta = { code = 403 }, response = { errors = { msg } } }, j)
      -- every client but a JSON one gets the page, as Flask's abort(403)
      s, h, body = get(app, "/admin", "*/*", user_jar)
      assert.equals(403, s)
      assert.matches("^text/html", h["content-type"])
      assert.matches(msg, body, 1, true)
      assert.equals(200, (get(app, "/admin", BROWSER, admin_jar)))
    end)

    it("unknown paths answer 404 as a page for browsers, JSON or text for the rest", function()
      for _, path in ipairs{ "/no/such/page", "/favicon.ico", "/login/extra/part" } do
        local s, h, body = get(app, path, BROWSER)
        assert.equals(404, s, path)
        assert.matches("^text/html", h["content-type"])
        assert_page_style(body)
        assert.matches("<title>Not found</title>", body, 1, true)
        local _, _, _, j = get(app, path, JSON)
        assert.same({ meta = { code = 404 }, response = { errors = { "Not found" } } }, j)
        s, h, body = get(app, path, "*/*")
        assert.equals(404, s)
        assert.matches("^text/plain", h["content-type"])
        assert.equals("Not found\n", body)
      end
      -- the path is shown escaped, never as markup
      local _, _, body = get(app, "/%3Cb%3Ex%3C/b%3E", BROWSER)
      assert.matches("<code>/&lt;b&gt;x&lt;/b&gt;</code>", body, 1, true)
    end)

    it("a phone-sized Chromium: the sign-out page, a long mailed link, a 404 and its Home link", function()
      local have = sh("command -v node >/dev/null && test -x /usr/bin/chromium && test -d spec/browser/node_modules/playwright-core")
      if not have then
        if os.getenv("FSEC_REQUIRE_BROWSER") == "1" then error("chromium, node or playwright-core missing") end
        return pending("chromium, node or playwright-core missing")
      end
      local build = os.getenv("FSEC_BUILD_DIR") or "build"
      local artifacts = (os.getenv("FSEC_ARTIFACTS") or (build .. "/artifacts")) .. "/new-user"
      sh("rm -rf " .. artifacts) -- an earlier run's screenshots prove nothing
      example.with_app({ env = "FSEC_DEV_MAILBOX=1" }, function(mail_app) -- the reset link is read at /mail
        local p = io.popen(("node spec/browser/new_user.mjs %s %s admin@example.org '%s' 2>&1; echo rc=$?")
          :format(mail_app.base, artifacts, example.admin_password(mail_app)))
        local out = p:read("*a")
        p:close()
        assert.matches("new user browser ok", out, 1, true)
        assert.matches("rc=0", out, 1, true)
        assert.is_true(sh("test -s " .. artifacts .. "/03-long-link.png"))
      end)
    end)

    it("fsec's pages and the example's have the Home link and wrap long links", function()
      for _, path in ipairs{ "/login", "/register", "/reset" } do
        local s, _, body = get(app, path, BROWSER)
        assert.equals(200, s, path)
        assert_page_style(body)
      end
      local s, _, body = get(app, "/profile", BROWSER, user_jar)
      assert.equals(200, s)
      assert_page_style(body)
      local _, _, home = get(app, "/", BROWSER)
      assert_page_style(home)
    end)
  end)
end)
