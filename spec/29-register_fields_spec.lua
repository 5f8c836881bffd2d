-- The application's own registration fields (register_fields, issue 25):
-- declared in the configuration, drawn on the register page, checked
-- (types, lengths, hostile input, the application's hook, failing
-- closed), stored with the user and returned in the user's JSON; never a
-- field that was not declared (no mass assignment).
local helpers = require "spec.helpers"
local ep = require "spec.tools.endpoint_app"

local setup = ep.setup_for("fields.db", "keep")
local api = helpers.api

local PW = "battery staple"

local FIELDS = {
  { name = "display_name", label = "Display name", required = true, max_length = 20,
    description = "Shown to other users" },
  { name = "age", type = "integer", min = 13, max = 130 },
  { name = "newsletter", type = "boolean" },
  { name = "team", type = "choice", choices = { "red", "blue" } },
  { name = "backup_email", type = "email" },
  { name = "secret_note", payload = false },
  { name = "level", type = "integer", min = 1 },
  { name = "floor", type = "integer", max = 10 },
}

local function register(c, extra)
  local body = { email = extra.email or "ann@example.org", password = PW, password_confirm = PW }
  for k, v in pairs(extra) do body[k] = v end
  return c:call("POST", "/register", body)
end

describe("register_fields #quick", function()
  it("round-trips: stored with the user, in the register and login answers", function()
    local sec = setup{ register_fields = FIELDS }
    local c = api(sec)
    local res, r = register(c, { display_name = "Ann Ö", age = 42, newsletter = true, team = "blue",
                                 backup_email = "Ann@Example.ORG", secret_note = "hush" })
    assert.equals(200, res.status, res.body)
    assert.same({ display_name = "Ann Ö", age = 42, newsletter = true, team = "blue",
                  backup_email = "Ann@example.org" }, r.user)
    local u = sec.datastore:find_user{ email = "ann@example.org" }
    assert.same({ display_name = "Ann Ö", age = 42, newsletter = true, team = "blue",
                  backup_email = "Ann@example.org", secret_note = "hush" }, u.fields)
    assert.equals("Ann Ö", u.display_name) -- read as a column, as on a Flask-Security model
    assert.is_true(u:has_role("x") == false) -- methods still win
    local c2 = api(sec)
    local _, r2 = c2:call("POST", "/login", { email = "ann@example.org", password = PW })
    assert.equals("Ann Ö", r2.user.display_name)
    assert.is_nil(r2.user.secret_note)
  end)

  it("the security_payload hook adds to the declared fields", function()
    local sec = setup{ register_fields = FIELDS,
                       security_payload = function(u) return { email = u.email, age = 0 } end }
    local res, r = register(api(sec), { display_name = "Bo", age = 20 })
    assert.equals(200, res.status)
    assert.same({ display_name = "Bo", age = 0, email = "ann@example.org" }, r.user)
  end)

  it("GET /register describes the fields to a JSON client", function()
    local sec = setup{ register_fields = FIELDS }
    local _, r = api(sec):call("GET", "/register")
    assert.same({ name = "display_name", type = "string", label = "Display name", required = true,
                  max_length = 20, description = "Shown to other users" }, r.register_fields[1])
    assert.same({ "red", "blue" }, r.register_fields[4].choices)
    assert.is_nil(r.register_fields[1].validate)
  end)

  it("sets nothing that was not declared (no mass assignment)", function()
    local sec = setup{ register_fields = FIELDS }
    sec.datastore:find_or_create_role("admin")
    local res = register(api(sec), { display_name = "Eve", active = false, roles = { "admin" },
      fs_uniquifier = "chosen", fs_token_uniquifier = "chosen2", id = 1, confirmed_at = 1,
      fields = { display_name = "x", admin = true }, nickname = "nope", username = "eve",
      tf_primary_method = "email", us_phone_number = "+15555550100", password_hash = "x" })
    assert.equals(200, res.status, res.body)
    local u = sec.datastore:find_user{ email = "ann@example.org" }
    assert.is_true(u.active)
    assert.same({}, u.roles)
    assert.not_equals("chosen", u.fs_uniquifier)
    assert.not_equals("chosen2", u.fs_token_uniquifier)
    assert.not_equals(1, u.id)
    assert.is_nil(u.confirmed_at)
    assert.is_nil(u.username)
    assert.is_nil(u.tf_primary_method)
    assert.is_nil(u.us_phone_number)
    assert.same({ display_name = "Eve" }, u.fields)
  end)

  it("refuses bad values with field_errors and stores nothing", function()
    local sec = setup{ register_fields = FIELDS }
    local c = api(sec)
    local cases = {
      { {}, "display_name", "This field is required." },
      { { display_name = "   " }, "display_name", "This field is required." },
      { { display_name = 42 }, "display_name", "Invalid input." },
      { { display_name = { "a" } }, "display_name", "Invalid input." },
      { { display_name = { a = 1 } }, "display_name", "Invalid input." },
      { { display_name = true }, "display_name", "Invalid input." },
      { { display_name = string.rep("é", 21) }, "display_name", "Field cannot be longer than 20 characters." },
      { { display_name = string.rep("x", 60000) }, "display_name", "Invalid input." },
      { { display_name = "bad\255utf8" }, "display_name", "Invalid input." },
      { { display_name = "two\nlines" }, "display_name", "Invalid input." },
      { { display_name = "nul\0byte" }, "display_name", "Invalid input." },
      { { display_name = "esc\27[31m" }, "display_name", "Invalid input." },
      { { display_name = "A", age = 12 }, "age", "Number must be between 13 and 130." },
      { { display_name = "A", age = "42" }, "age", "Not a valid integer value." }, -- JSON: a string
      { { display_name = "A", level = 0 }, "level", "Number must be at least 1." },
      { { display_name = "A", floor = 11 }, "floor", "Number must be at most 10." },
      { { display_name = "A", age = 1.5 }, "age", "Not a valid integer value." },
      { { display_name = "A", age = "1e3" }, "age", "Not a valid integer value." },
      { { display_name = "A", age = 2^60 }, "age", "Not a valid integer value." },
      { { display_name = "A", newsletter = "yes" }, "newsletter", "Invalid input." },
      { { display_name = "A", team = "green" }, "team", "Not a valid choice." },
      { { display_name = "A", team = { "red" } }, "team", "Not a valid choice." },
      { { display_name = "A", backup_email = "nope" }, "backup_email", "Invalid email address" },
    }
    for _, case in ipairs(cases) do
      local res, r = register(c, case[1])
      assert.equals(400, res.status, case[3])
      assert.same({ case[3] }, r.field_errors[case[2]], case[2] .. ": " .. tostring(case[1][case[2]]))
    end
    assert.equals(1, (sec.datastore:counts())) -- the setup's user only
  end)

  it("stores the longest values the declarations allow (4-byte characters)", function()
    local sec = setup{ register_fields = { { name = "a", max_length = 4096 }, { name = "b", max_length = 4096 } } }
    local long = string.rep("\u{1F600}", 4096)
    local res = register(api(sec), { a = long, b = long })
    assert.equals(200, res.status, res.body)
    assert.equals(long, sec.datastore:find_user{ email = "ann@example.org" }.fields.b)
  end)

  it("the application's hook: its message refuses, its error refuses (fail closed)", function()
    local seen
    local sec, _, _, _, logs = setup{ register_fields = {
      { name = "display_name", validate = function(v, inputs)
          seen = inputs
          if v == "boom" then error("hook bug") end
          if v:lower() == "admin" then return nil, "That name is reserved." end
          return true
        end } } }
    local c = api(sec)
    local res, r = register(c, { display_name = "Admin" })
    assert.equals(400, res.status)
    assert.same({ "That name is reserved." }, r.field_errors.display_name)
    assert.is_nil(seen.password); assert.is_nil(seen.password_confirm)
    assert.equals("ann@example.org", seen.email)
    res, r = register(c, { display_name = "boom" })
    assert.equals(400, res.status)
    assert.same({ "Invalid input." }, r.field_errors.display_name)
    assert.matches("validate hook of 'display_name' failed", table.concat(logs, "\n"))
    assert.equals(1, (sec.datastore:counts()))
    res = register(c, { display_name = "Ann" })
    assert.equals(200, res.status)
  end)

  it("runs the hook only on a value that passed the field's own checks", function()
    local calls = 0
    local sec = setup{ register_fields = {
      { name = "display_name", max_length = 5, validate = function() calls = calls + 1; return true end },
      { name = "age", type = "integer", validate = function() calls = calls + 1; return true end } } }
    local res, r = register(api(sec), { display_name = "far too long", age = "x" })
    assert.equals(400, res.status)
    assert.same({ "Field cannot be longer than 5 characters." }, r.field_errors.display_name)
    assert.same({ "Not a valid integer value." }, r.field_errors.age)
    assert.equals(0, calls)
  end)

  it("refuses declarations that collide or make no sense (config error)", function()
    local fsec = require "fsec"
    local base = { secret_key = string.rep("k", 32), password_salt = "salt-salt-salt-salt",
                   database = ":memory:" }
    local function try(fields)
      local cfg = {}
      for k, v in pairs(base) do cfg[k] = v end
      cfg.register_fields = fields
      local ok, err = pcall(fsec.new, cfg)
      return ok and "" or tostring(err)
    end
    for _, name in ipairs{ "email", "active", "roles", "fs_uniquifier", "password", "id", "has_role",
                           "password_confirm", "csrf_token", "fields", "is_active" } do
      assert.matches("built%-in", try{ { name = name } }, name)
    end
    assert.matches("declared twice", try{ { name = "a" }, { name = "a" } })
    assert.matches("type must be", try{ { name = "a", type = "date" } })
    assert.matches("choices must be a list", try{ { name = "a", type = "choice" } })
    assert.matches("name must be", try{ { name = "Bad-Name" } })
    assert.matches("unknown key", try{ { name = "a", requred = true } })
    assert.matches("list of field tables", try({ x = { name = "a" } }))
    assert.matches("max_length", try{ { name = "a", max_length = 0 } })
    assert.matches("add up to more than 8192", try{ { name = "a", max_length = 4096 }, { name = "b", max_length = 4096 },
                                                    { name = "c", max_length = 1 } })
    assert.matches("label must be one line", try{ { name = "a", label = "x\ny" } })
    assert.matches("description must be one line", try{ { name = "a", description = "\255" } })
    assert.equals("", try{ { name = "a" } })
  end)

  it("draws the fields on the HTML page, accessibly, and escapes what comes back", function()
    local sec = setup{ register_fields = FIELDS }
    local c = helpers.client()
    local res = c:take(sec:handle(c:req{ path = "/register" }))
    local body = res.body
    assert.matches('<label for="display_name">Display name</label>', body, 1, true)
    assert.matches('<input id="display_name" name="display_name" type="text" maxlength="20" required '
      .. 'aria%-required="true" aria%-describedby="display_name%-hint"', body)
    assert.matches('<p class="hint" id="display_name-hint">Shown to other users</p>', body, 1, true)
    assert.matches('type="number" min="13" max="130"', body, 1, true)
    assert.matches('<input id="newsletter" name="newsletter" type="checkbox" value="y"', body, 1, true)
    assert.matches('<select id="team" name="team"><option value=""></option><option value="red">', body, 1, true)
    assert.matches('type="email"', body, 1, true)
    local tok = body:match('name="csrf_token" value="([^"]+)"')
    res = c:take(sec:handle(c:req{ method = "POST", path = "/register",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = "csrf_token=" .. tok .. "&email=x%40example.org&password=battery+staple&password_confirm=battery+staple"
        .. "&display_name=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E%3Cb%3Etoolong&team=blue" }))
    assert.equals(400, res.status) -- the form again, with its errors
    assert.not_matches("<script>", res.body, 1, true)
    assert.matches('value="&quot;&gt;&lt;script&gt;', res.body, 1, true)
    assert.matches('aria%-describedby="display_name%-hint display_name%-error" aria%-invalid="true"', res.body)
    assert.matches('<option value="blue" selected>', res.body, 1, true)
    tok = res.body:match('name="csrf_token" value="([^"]+)"')
    res = c:take(sec:handle(c:req{ method = "POST", path = "/register",
      headers = { ["content-type"] = "application/x-www-form-urlencoded" },
      body = "csrf_token=" .. tok .. "&email=x%40example.org&password=battery+staple&password_confirm=battery+staple"
        .. "&display_name=Xi&age=30&newsletter=y&team=red" }))
    assert.equals(302, res.status, res.body)
    assert.same({ display_name = "Xi", age = 30, newsletter = true, team = "red" },
      sec.datastore:find_user{ email = "x@example.org" }.fields)
  end)

  it("draws them through the register template in the request's language, errors translated", function()
    local sec = setup{ register_fields = FIELDS, languages = { "en", "fr", "de" } }
    local c = helpers.client()
    local fr = { ["accept-language"] = "fr" }
    local res = c:take(sec:handle(c:req{ path = "/register", headers = fr }))
    assert.equals("fr", res.headers["Content-Language"])
    assert.matches('<html lang="fr"', res.body, 1, true)
    assert.matches('<label for="display_name">Display name</label>', res.body, 1, true)
    local tok = res.body:match('name="csrf_token" value="([^"]+)"')
    res = c:take(sec:handle(c:req{ method = "POST", path = "/register",
      headers = { ["content-type"] = "application/x-www-form-urlencoded", ["accept-language"] = "fr" },
      body = "csrf_token=" .. tok .. "&email=y%40example.org&password=battery+staple&password_confirm=battery+staple"
        .. "&display_name=" .. ("x"):rep(21) .. "&age=7&level=0&floor=11" }))
    assert.equals(400, res.status)
    assert.matches('id="display_name-error" role="alert">Ce champ ne peut pas dépasser 20 caractères.</p>',
                   res.body, 1, true)
    assert.matches(">Le nombre doit être compris entre 13 et 130.</p>", res.body, 1, true)
    assert.matches(">Le nombre doit être au moins 1.</p>", res.body, 1, true)
    assert.matches(">Le nombre doit être au plus 10.</p>", res.body, 1, true)
    -- a label is the application's text as declared (never a catalogue
    -- lookup), escaped like every value
    local odd = setup{ register_fields = { { name = "nick", label = "TITLE_LOGIN <b>", description = "a&b" } },
                       languages = { "en", "fr" } }
    local page = c:take(odd:handle(c:req{ path = "/register", headers = fr })).body
    assert.matches('<label for="nick">TITLE_LOGIN &lt;b&gt;</label>', page, 1, true)
    assert.matches('<p class="hint" id="nick-hint">a&amp;b</p>', page, 1, true)
    -- a JSON client in German gets the German texts
    local _, r = helpers.api(sec):call("POST", "/register", { email = "z@example.org", password = PW,
      password_confirm = PW, display_name = "Zed", age = "x" }, nil, { ["Accept-Language"] = "de" })
    assert.same({ "Keine gültige ganze Zahl." }, r.field_errors.age)
  end)
end)
