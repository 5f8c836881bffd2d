-- Templates (issue 25): fsec.template escapes every substitution unless
-- it is written raw, never runs code, and fails early on a broken
-- template; an application overrides one template at a time (templates,
-- template_dir) and the forms keep their fields and CSRF token.
local helpers = require "spec.helpers"
local template = require "fsec.template"

local function render(src, ctx, name)
  return template.set({ [name or "t.html"] = src }):render(name or "t.html", ctx)
end

local function setup(extra)
  return helpers.app{ db = "templates.db", mail = true, endpoints = true, log = "keep",
    extra = extra, users = { { email = "matt@example.com", password = "password-1", confirmed = true } } }
end

local function csrf_of(html) return html:match('name="csrf_token" value="([^"]+)"') end

describe("fsec.template #quick", function()
  it("escapes every substitution, in text and in attributes", function()
    local hostile = [["><script>alert('x')</script>&]]
    local out = render('<a title="{{ v }}">{{ v }}</a>', { v = hostile })
    assert.equals('<a title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">'
      .. "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</a>", out)
    assert.is_nil(out:find("<script", 1, true))
  end)

  it("inserts a value raw only where the template says {{{ }}}", function()
    assert.equals("<b>x</b>|&lt;b&gt;x&lt;/b&gt;", render("{{{ h }}}|{{ h }}", { h = "<b>x</b>" }))
  end)

  it("leaves a .txt template's values as they are (mail text is not HTML)", function()
    assert.equals("a <b> & 'c'", render("{{ v }}", { v = "a <b> & 'c'" }, "m.txt"))
  end)

  it("loops over lists, shows a table's section once, skips empty ones, and inverts", function()
    local src = "{{# xs }}[{{ . }}]{{/ xs }}{{# o }}<{{ n }}>{{/ o }}{{# none }}no{{/ none }}"
      .. "{{^ none }}empty{{/ none }}{{# yes }}y{{/ yes }}"
    assert.equals("[1][&lt;2&gt;]<3>emptyy", render(src, { xs = { 1, "<2>" }, o = { n = 3 }, none = {}, yes = true }))
  end)

  it("looks names up from the innermost scope outwards, and a.b descends", function()
    assert.equals("in/out/deep", render("{{# o }}{{ a }}/{{ b }}{{/ o }}/{{ c.d }}",
      { a = "out", b = "out", o = { a = "in" }, c = { d = "deep" } }):gsub("^in/out", "in/out"))
  end)

  it("never calls a function of the context, nor runs code written in a template", function()
    local called = false
    local out = render("{{ f }}{{# f }}x{{/ f }}{{ os.exit }}", { f = function() called = true return "no" end })
    assert.is_false(called)
    assert.equals("x", out) -- a function is truthy for a section, and renders as nothing
    local ok = pcall(template.compile, "{{ os.execute('touch /tmp/x') }}", "t")
    assert.is_false(ok)
  end)

  it("refuses broken templates with their name and line", function()
    for _, src in ipairs{ "{{ a ", "{{# a }}x", "{{# a }}{{/ b }}", "{{ a b }}", "{{{ a }}", "{{> ../x }}" } do
      local ok, err = pcall(template.compile, "line\n" .. src, "security/x.html")
      assert.is_false(ok, src)
      assert.matches("template security/x.html line 2", err, 1, true)
    end
  end)

  it("includes partials in the caller's scope, and stops a partial that includes itself", function()
    local set = template.set({ ["a.html"] = "<{{> b.html }}>", ["b.html"] = "{{ v }}", ["loop.html"] = "{{> loop.html }}" })
    assert.equals("<&lt;>", set:render("a.html", { v = "<" }))
    local ok, err = pcall(set.render, set, "loop.html", {})
    assert.is_false(ok)
    assert.matches("nest", err)
  end)

  it("compiles each template once", function()
    local set = template.set({ ["a.html"] = "{{ v }}" })
    set:render("a.html", { v = 1 })
    local tree = set.trees["a.html"]
    set:render("a.html", { v = 2 })
    assert.equals(tree, set.trees["a.html"])
  end)
end)

describe("template overrides #quick", function()
  it("replace one page's template, which keeps the form's fields, CSRF token and labels", function()
    local app = setup{ templates = { ["security/login_user.html"] =
      '<p id="custom">{{ t.TITLE_LOGIN }}</p>{{> security/_form_start.html }}{{# email }}{{> security/_field.html }}'
      .. '{{/ email }}{{# password }}{{> security/_field.html }}{{/ password }}<button>{{ button }}</button></form>' } }
    local c = helpers.client()
    local res = c:take(app.sec:handle(c:req{ path = "/login" }))
    assert.equals(200, res.status)
    assert.matches('<p id="custom">Sign in</p>', res.body, 1, true)
    assert.matches('<label for="email">Email address</label>', res.body, 1, true)
    assert.matches('name="password" type="password"', res.body, 1, true)
    assert.matches("<h1>Sign in</h1>", res.body, 1, true) -- still inside security/base.html
    -- the other pages keep fsec's templates
    assert.is_nil(app.sec:handle(c:req{ path = "/register" }).body:find("custom", 1, true))
    -- and the overridden form signs in
    local post = app.sec:handle(c:req{ method = "POST", path = "/login",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = "email=matt%40example.com&password=password-1&csrf_token=" .. csrf_of(res.body) })
    assert.equals(302, post.status)
  end)

  it("draw an application's own register fields after fsec's, escaped (ctx.extra_fields)", function()
    local pages = require "fsec.pages"
    local app = setup()
    local html = pages.render(app.sec, "register", { action = "/register", csrf_token = "c",
      fields = { nickname = "<b>" }, field_errors = { nickname = { "Too short" } },
      extra_fields = { { name = "nickname", label = "Nickname", autocomplete = "nickname" } } }, "en")
    assert.matches('<label for="nickname">Nickname</label><input id="nickname" name="nickname" type="text"'
      .. ' value="&lt;b&gt;" autocomplete="nickname" aria-describedby="nickname-error" aria-invalid="true">'
      .. '<p class="error" id="nickname-error" role="alert">Too short</p><button type="submit">', html, 1, true)
  end)

  it("escape what they echo, as fsec's own", function()
    local app = setup{ templates = { ["security/forgot_password.html"] =
      "{{> security/_form_start.html }}{{# email }}<i>{{ value }}</i>{{/ email }}</form>" } }
    local c = helpers.client()
    local page = c:take(app.sec:handle(c:req{ path = "/reset" }))
    local res = app.sec:handle(c:req{ method = "POST", path = "/reset",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = "email=%3Cscript%3Ealert(1)%3C%2Fscript%3E&csrf_token=" .. csrf_of(page.body) })
    assert.is_nil(res.body:find("<script>alert", 1, true))
    assert.matches("<i>&lt;script&gt;alert(1)&lt;/script&gt;</i>", res.body, 1, true)
  end)

  it("are read from template_dir, and a mail's template too", function()
    local dir = helpers.tmpdir() .. "/tpl-" .. math.random(1e9)
    assert(os.execute("mkdir -p " .. dir .. "/security/email"))
    local f = assert(io.open(dir .. "/security/email/reset_instructions.txt", "w"))
    f:write("Reset here (custom): {{ link }}\n")
    f:close()
    local app = setup{ template_dir = dir, return_generic_responses = false }
    local c = helpers.client()
    local page = c:take(app.sec:handle(c:req{ path = "/reset" }))
    app.sec:handle(c:req{ method = "POST", path = "/reset",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = "email=matt%40example.com&csrf_token=" .. csrf_of(page.body) })
    local mails = app.mails()
    assert.equals(1, #mails)
    assert.matches("Reset here (custom): http", mails[1].text, 1, true)
    os.execute("rm -r " .. dir)
  end)

  it("are refused at fsec.new when their name is unknown or their syntax broken", function()
    local ok, err = pcall(helpers.new, { templates = { ["security/login.html"] = "x" } })
    assert.is_false(ok)
    assert.matches("unknown template 'security/login.html'", err, 1, true)
    ok, err = pcall(helpers.new, { templates = { ["security/login_user.html"] = "{{# x }}" } })
    assert.is_false(ok)
    assert.matches("security/login_user.html line 1", err, 1, true)
    ok, err = pcall(helpers.new, { templates = { ["security/verify.html"] = "{{> security/_nope.html }}" } })
    assert.is_false(ok)
    assert.matches("no template named security/_nope.html", err, 1, true)
    ok, err = pcall(helpers.new, { templates = { ["security/login_user.html"] = { file = "/nonexistent/x.html" } } })
    assert.is_false(ok)
    assert.matches("/nonexistent/x.html", err, 1, true)
  end)

  it("leave the render hook first: a whole page it draws wins, its error falls back to the template", function()
    local app = setup{ render = function(page) if page == "login" then error("boom") end end }
    local res = app.sec:handle(helpers.request{ path = "/login" })
    assert.equals(200, res.status)
    assert.matches("<h1>Sign in</h1>", res.body, 1, true)
    assert.matches("render hook failed for login", table.concat(app.logs, "\n"), 1, true)
  end)
end)
