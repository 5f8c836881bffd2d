-- The HTML side: pages, form posts, flash messages, redirects; and the
-- lockout counter under concurrent processes (catalogue L-02).
local fsec = require "fsec"
local helpers = require "spec.helpers"

local LUA = jit and "luajit" or "lua5.4"

local function setup(extra)
  return helpers.app{ db = "pages.db", mail = true, endpoints = true, log = "quiet",
    config = { confirmable = true }, extra = extra,
    users = { { email = "matt@example.com", password = "password-1", confirmed_at = 1 } } }.sec
end

local function form_body(t)
  local parts = {}
  for k, v in pairs(t) do
    parts[#parts + 1] = k .. "=" .. require("fsec.http").quote_value(v):gsub("%%20", "+")
  end
  return table.concat(parts, "&")
end

local function csrf_of(html) return html:match('name="csrf_token" value="([^"]+)"') end

describe("HTML pages #quick", function()
  it("render a login form with a CSRF field, labels and links", function()
    local sec = setup()
    local c = helpers.client()
    local res = sec:handle(c:req{ path = "/login" })
    c:take(res)
    assert.equals(200, res.status)
    assert.matches("text/html", res.headers["Content-Type"], 1, true)
    assert.matches('<label for="email">Email address</label>', res.body, 1, true)
    assert.matches('type="password"', res.body, 1, true)
    assert.truthy(csrf_of(res.body))
    assert.matches('href="/register"', res.body, 1, true)
  end)

  it("re-render a failed post with the message and sign in on success, to a safe next", function()
    local sec = setup()
    local c = helpers.client()
    local page = sec:handle(c:req{ path = "/login", query = { next = "/profile" } })
    c:take(page)
    local token = csrf_of(page.body)
    local res = sec:handle(c:req{ method = "POST", path = "/login",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = form_body{ email = "matt@example.com", password = "nope", csrf_token = token, next = "/profile" } })
    c:take(res)
    assert.equals(400, res.status)
    assert.matches('role="alert">Invalid password</p>', res.body, 1, true)
    assert.matches('value="matt@example.com"', res.body, 1, true) -- the email is kept
    assert.is_nil(res.body:find("nope", 1, true))                -- the password is not
    res = sec:handle(c:req{ method = "POST", path = "/login",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = form_body{ email = "matt@example.com", password = "password-1", csrf_token = csrf_of(res.body), next = "/profile" } })
    c:take(res)
    assert.equals(302, res.status)
    assert.equals("/profile", res.headers.Location)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
  end)

  it("show a flash message once after a redirect", function()
    local sec = setup()
    local c = helpers.client()
    local page = sec:handle(c:req{ path = "/register" })
    c:take(page)
    local res = sec:handle(c:req{ method = "POST", path = "/register",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = form_body{ email = "new@example.com", password = "battery staple", password_confirm = "battery staple",
                        csrf_token = csrf_of(page.body) } })
    c:take(res)
    assert.equals(302, res.status)
    assert.equals("/", res.headers.Location) -- the application's page...
    local flashes = sec:take_flashes(c:req{ path = "/" }, sec:new_response())
    assert.equals("success", flashes[1][1])              -- ...can show them,
    local next_page = sec:handle(c:req{ path = "/login" }) -- and so do fsec's pages
    c:take(next_page)
    assert.matches("please click on the link in the email we have just sent to you", next_page.body, 1, true)
    local again = sec:handle(c:req{ path = "/login" })
    assert.is_nil(again.body:find("please click on the link", 1, true))
  end)

  it("use the application's renderer when given, the built-in page otherwise", function()
    local sec = setup{ render = function(page, ctx)
      if page == "login" then return "<p>custom " .. ctx.csrf_token:sub(1, 2) .. "</p>" end
    end }
    assert.matches("^<p>custom ", sec:handle(helpers.request{ path = "/login" }).body)
    assert.matches("<h1>Register</h1>", sec:handle(helpers.request{ path = "/register" }).body, 1, true)
  end)

  it("escape what they echo", function()
    local sec = setup{ csrf_enabled = false }
    local res = sec:handle(helpers.request{ method = "POST", path = "/login",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = form_body{ email = '"><script>alert(1)</script>@x.org', password = "x" } })
    assert.is_nil(res.body:find("<script>alert", 1, true))
    assert.matches("&lt;script&gt;", res.body, 1, true)
  end)
end)

describe("lockout counter #quick", function()
  it("counts 50 concurrent wrong guesses from 5 processes as 50 (L-02)", function()
    local db = helpers.tmpfile("lock.db")
    local sec = fsec.new(helpers.config{ database = db })
    local victim = assert(sec.datastore:create_user{ email = "victim@example.com", password = sec:hash_password("right-one") })
    local env = ("LUA_PATH=%q LUA_CPATH=%q "):format(package.path, package.cpath)
    local cmd = {}
    for i = 1, 5 do cmd[i] = env .. LUA .. " spec/tools/guess.lua " .. db .. " 10 &" end
    assert.is_true(helpers.sh("(" .. table.concat(cmd, " ") .. " wait) 2>&1"))
    assert.equals(50, sec.datastore:find_user{ id = victim.id }.failed_login_count)
  end)
end)

describe("HTML forms as Flask-Security answers them #quick", function()
  local function post(sec, c, path, fields, query)
    local page = sec:handle(c:req{ path = path, query = query })
    c:take(page)
    fields.csrf_token = csrf_of(page.body)
    local res = sec:handle(c:req{ method = "POST", path = path, query = query or {},
      headers = { ["content-type"] = "application/x-www-form-urlencoded" }, body = form_body(fields) })
    c:take(res)
    return res
  end

  it("take the query's next before the form's (get_post_action_redirect)", function()
    local sec = setup()
    local res = post(sec, helpers.client(), "/login",
                     { email = "matt@example.com", password = "password-1", next = "/f" }, { next = "/q" })
    assert.equals(302, res.status); assert.equals("/q", res.headers.Location)
  end)

  it("show a refused next on the page (no field shows it), and /verify ignores one", function()
    local sec = setup()
    local res = post(sec, helpers.client(), "/login",
                     { email = "matt@example.com", password = "password-1", next = "http://evil.example/" })
    assert.equals(400, res.status)
    assert.matches('role="alert">Redirections outside the domain are forbidden</p>', res.body, 1, true)
    local c = helpers.client()
    post(sec, c, "/login", { email = "matt@example.com", password = "password-1" })
    res = post(sec, c, "/verify", { password = "password-1" }, { next = "http://evil.example/" })
    assert.equals(302, res.status); assert.equals("/", res.headers.Location)
  end)

  it("flash 'Please log in' on the way to the login page and 're-authenticate' on the way to /verify", function()
    local sec = setup()
    local c = helpers.client()
    local res = sec:handle(c:req{ path = "/change" })
    c:take(res)
    assert.equals(302, res.status); assert.equals("/login?next=/change", res.headers.Location)
    assert.same({ { "info", "Please log in to access this page." } }, sec:take_flashes(c:req(), sec:new_response()))
    -- a stale session: /verify with the message
    local clock = helpers.clock()
    sec = setup{ clock = clock.fn, freshness = 60 }
    c = helpers.client()
    post(sec, c, "/login", { email = "matt@example.com", password = "password-1" })
    clock.now = clock.now + 120
    res = sec:handle(c:req{ path = "/change" })
    c:take(res)
    assert.equals(302, res.status); assert.equals("/verify?next=/change", res.headers.Location)
    assert.same({ { "error", "You must reauthenticate to access this endpoint" } },
                sec:take_flashes(c:req(), sec:new_response()))
  end)
end)
