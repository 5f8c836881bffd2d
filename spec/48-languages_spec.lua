-- Languages (issue 25): every catalogue has every key with the same
-- placeholders; a request's language comes from the locale hook or
-- Accept-Language (q-values, fr-CA -> fr, then the default); pages, JSON
-- messages, flashes and mail follow it; a broken hook means the default
-- language, logged, never a 500.
local helpers = require "spec.helpers"
local i18n = require "fsec.i18n"

local function setup(extra, log)
  return helpers.app{ db = "languages.db", mail = true, endpoints = true, log = log or "keep",
    config = { languages = { "en", "fr", "de" }, confirmable = true }, extra = extra,
    users = { { email = "matt@example.com", password = "password-1", confirmed = true } } }
end

local function placeholders(text)
  local out = {}
  for name in text:gmatch("%%%((%w+)%)[sd]") do out[#out + 1] = name end
  table.sort(out)
  return table.concat(out, ",")
end

local function csrf_of(html) return html:match('name="csrf_token" value="([^"]+)"') end

local FORM = { ["content-type"] = "application/x-www-form-urlencoded" }

describe("the catalogues #quick", function()
  it("each have every key of English, no other, with the same placeholders", function()
    local en = i18n.catalogue("en")
    local bad = {}
    for tag in pairs(i18n.SHIPPED) do
      local c = i18n.catalogue(tag)
      for k, text in pairs(en) do
        if type(c[k]) ~= "string" or c[k] == "" then
          bad[#bad + 1] = tag .. " lacks " .. k
        elseif placeholders(c[k]) ~= placeholders(text) then
          bad[#bad + 1] = tag .. "." .. k .. " has placeholders " .. placeholders(c[k]) .. ", not " .. placeholders(text)
        end
      end
      for k in pairs(c) do
        if en[k] == nil then bad[#bad + 1] = tag .. " has " .. k .. ", which English lacks" end
      end
    end
    assert(#bad == 0, table.concat(bad, "\n"))
  end)

  it("keep Flask-Security's message keys, with its English texts", function()
    local en = i18n.catalogue("en")
    for k, text in pairs(require("fsec.messages").DEFAULT) do assert.equals(text, en[k], k) end
  end)

  it("are written for each language, not copied from English", function()
    local en = i18n.catalogue("en")
    for _, tag in ipairs{ "fr", "de" } do
      local same = 0
      for k, text in pairs(i18n.catalogue(tag)) do if en[k] == text then same = same + 1 end end
      -- a few words are the same in both (Code, SMS, "1 minute")
      assert.is_true(same < 10, tag .. ": " .. same .. " texts as in English")
    end
  end)
end)

describe("Accept-Language #quick", function()
  local enabled = { en = true, fr = true, de = true }

  it("picks the best q-value, keeps the order of equal ones, and skips q=0", function()
    assert.equals("de", i18n.pick("fr;q=0.5, de;q=0.9, en;q=0.1", enabled, "en"))
    assert.equals("fr", i18n.pick("fr, de", enabled, "en"))
    assert.equals("de", i18n.pick("fr;q=0, de;q=0.2", enabled, "en"))
  end)

  it("falls back from a region to its language, then to the default", function()
    assert.equals("fr", i18n.pick("fr-CA", enabled, "en"))
    assert.equals("fr", i18n.pick("pt-BR, fr_CH;q=0.8", enabled, "de"))
    assert.equals("de", i18n.pick("pt-BR, es", enabled, "de"))
    assert.equals("de", i18n.pick("*", enabled, "de"))
  end)

  it("reads hostile headers as no preference", function()
    for _, h in ipairs{ "", ";;;,,,", "fr;q=abc", "fr;q=2", "<script>", ("x"):rep(5000), ("fr-CA;q=0.1,"):rep(500),
                        "fr;q=0.5;foo=bar", "\0fr" } do
      local tag = i18n.pick(h, enabled, "en")
      assert.is_true(tag == "en" or tag == "fr", tostring(tag))
    end
    assert.equals("en", i18n.pick(nil, enabled, "en"))
  end)
end)

describe("a request's language #quick", function()
  it("draws the page in it, with lang and Content-Language, and the links too", function()
    local app = setup()
    local res = app.sec:handle(helpers.request{ path = "/login", headers = { ["accept-language"] = "fr-CA,fr;q=0.9" } })
    assert.equals(200, res.status)
    assert.matches('<html lang="fr">', res.body, 1, true)
    assert.equals("fr", res.headers["Content-Language"])
    assert.matches('<label for="email">Adresse e-mail</label>', res.body, 1, true)
    assert.matches("<h1>Connexion</h1>", res.body, 1, true)
    assert.matches(">Créer un compte</a>", res.body, 1, true)
    assert.matches('name="csrf_token"', res.body, 1, true)
    res = app.sec:handle(helpers.request{ path = "/login", headers = { ["accept-language"] = "de" } })
    assert.matches('<label for="email">E-Mail-Adresse</label>', res.body, 1, true)
    res = app.sec:handle(helpers.request{ path = "/login" })
    assert.matches('<html lang="en">', res.body, 1, true)
  end)

  it("is the only one when languages lists one (the default: English)", function()
    local app = helpers.app{ db = "languages.db", endpoints = true, log = "quiet" }
    local res = app.sec:handle(helpers.request{ path = "/login", headers = { ["accept-language"] = "fr" } })
    assert.matches("<h1>Sign in</h1>", res.body, 1, true)
  end)

  it("gives form errors and JSON messages in it", function()
    local app = setup()
    local c = helpers.client()
    local h = { ["accept-language"] = "de" }
    local page = c:take(app.sec:handle(c:req{ path = "/login", headers = h }))
    local res = app.sec:handle(c:req{ method = "POST", path = "/login", headers = { ["accept-language"] = "de",
      ["content-type"] = FORM["content-type"] },
      body = "email=matt%40example.com&password=nope&csrf_token=" .. csrf_of(page.body) })
    assert.equals(400, res.status)
    assert.matches('role="alert">Falsches Passwort</p>', res.body, 1, true)
    local api = helpers.api(app.sec)
    local r, _, j = api:call("POST", "/login", { email = "matt@example.com", password = "nope" }, nil,
                             { ["accept-language"] = "fr" })
    assert.equals(400, r.status)
    assert.same({ "Mot de passe incorrect" }, j.response.errors)
    -- the next request, in English, is not touched by the last one's
    _, _, j = api:call("POST", "/login", { email = "matt@example.com", password = "nope" })
    assert.same({ "Invalid password" }, j.response.errors)
  end)

  it("is the answer's of the application's own guarded routes (sec:check), outside sec:handle", function()
    local app = setup()
    local res = require("fsec.http").new_response()
    local ok = app.sec:check(helpers.request{ path = "/private", headers = { accept = "application/json",
      ["accept-language"] = "fr" } }, { auth = { "session" } }, res)
    assert.is_false(ok)
    assert.equals(401, res.status)
    assert.matches("Vous devez vous connecter", res.body, 1, true)
  end)

  it("flashes in it", function()
    local app = setup()
    local c = helpers.client()
    local h = { ["accept-language"] = "fr" }
    local page = c:take(app.sec:handle(c:req{ path = "/reset", headers = h }))
    local res = c:take(app.sec:handle(c:req{ method = "POST", path = "/reset",
      headers = { ["accept-language"] = "fr", ["content-type"] = FORM["content-type"] },
      body = "email=matt%40example.com&csrf_token=" .. csrf_of(page.body) }))
    local shown = c:take(app.sec:handle(c:req{ path = res.headers.Location or "/reset", headers = h }))
    assert.matches("Les instructions pour réinitialiser votre mot de passe ont été envoyées", shown.body, 1, true)
  end)

  it("is the mail's: subject and bodies in the language of the request that sent it", function()
    local app = setup()
    local api = helpers.api(app.sec)
    api:call("POST", "/reset", { email = "matt@example.com" }, nil, { ["accept-language"] = "de-AT" })
    local mails = app.mails()
    assert.equals(1, #mails)
    assert.equals("Passwort zurücksetzen", mails[1].subject)
    assert.matches("Über diesen Link setzen Sie Ihr Passwort zurück:\nhttp", mails[1].text, 1, true)
    local subject, text, html = require("fsec.mail").compose(app.sec, "reset", { link = "http://x/r?a=1&b=<2>" }, "fr")
    assert.equals("Réinitialisation de votre mot de passe", subject)
    assert.matches("Suivez ce lien pour réinitialiser votre mot de passe :\nhttp://x/r?a=1&b=<2>\n", text, 1, true)
    assert.matches('<html lang="fr">', html, 1, true)
    assert.matches('<a href="http://x/r?a=1&amp;b=&lt;2&gt;">', html, 1, true)
  end)

  it("goes with work deferred past the response (a mail sent from a timer)", function()
    local app = setup()
    local jobs = {}
    app.sec:set_deferrer(function(job) jobs[#jobs + 1] = job end)
    local api = helpers.api(app.sec)
    api:call("POST", "/reset", { email = "matt@example.com" }, nil, { ["accept-language"] = "fr" })
    assert.is_true(#jobs >= 1)
    for _, job in ipairs(jobs) do coroutine.wrap(job)() end -- another coroutine, as a timer's
    local mails = app.mails()
    assert.equals(1, #mails)
    assert.equals("Réinitialisation de votre mot de passe", mails[1].subject)
  end)

  it("keeps a subject the application set, and translates the default one", function()
    local app = setup{ email_subject_password_reset = "Your Example reset" }
    local s = require("fsec.mail").compose(app.sec, "reset", { link = "x" }, "de")
    assert.equals("Your Example reset", s)
  end)
end)

describe("the locale hook #quick", function()
  it("chooses the language; nil leaves it to Accept-Language", function()
    local app = setup{ locale = function(req) return req.cookies.lang end }
    local res = app.sec:handle(helpers.request{ path = "/login", cookies = { lang = "de" },
                                                headers = { ["accept-language"] = "fr" } })
    assert.matches('<html lang="de">', res.body, 1, true)
    res = app.sec:handle(helpers.request{ path = "/login", headers = { ["accept-language"] = "fr" } })
    assert.matches('<html lang="fr">', res.body, 1, true)
    res = app.sec:handle(helpers.request{ path = "/login", cookies = { lang = "xx" } })
    assert.matches('<html lang="en">', res.body, 1, true)
  end)

  it("that fails or answers another type means the default language, logged, never a 500", function()
    for _, hook in ipairs{ function() error("locale db down") end, function() return 42 end,
                           function() return { "fr" } end } do
      local app = setup{ locale = hook, default_language = "de" }
      local res = app.sec:handle(helpers.request{ path = "/login", headers = { ["accept-language"] = "fr" } })
      assert.equals(200, res.status)
      assert.matches('<html lang="de">', res.body, 1, true)
      assert.matches("locale hook failed", table.concat(app.logs, "\n"), 1, true)
    end
  end)
end)

describe("translations and messages #quick", function()
  it("translations add a language and override a text; messages override the default language only", function()
    local app = setup{ languages = { "en", "fr", "nl" }, messages = { INVALID_PASSWORD = "Wrong password!" },
      translations = { nl = { INVALID_PASSWORD = "Onjuist wachtwoord", TITLE_LOGIN = "Inloggen" },
                       fr = { TITLE_LOGIN = "Se connecter" } } }
    local function title(lang)
      return app.sec:handle(helpers.request{ path = "/login", headers = { ["accept-language"] = lang } })
        .body:match("<h1>(.-)</h1>")
    end
    assert.equals("Inloggen", title("nl-BE"))
    assert.equals("Se connecter", title("fr"))
    assert.equals("Sign in", title("en"))
    local api = helpers.api(app.sec)
    local function err(lang)
      local _, _, j = api:call("POST", "/login", { email = "matt@example.com", password = "x" }, nil,
                               { ["accept-language"] = lang })
      return j.response.errors[1]
    end
    assert.equals("Onjuist wachtwoord", err("nl"))
    assert.equals("Mot de passe incorrect", err("fr"))
    assert.equals("Wrong password!", err("en"))
    -- a key Dutch lacks comes from the default language
    assert.matches('<label for="email">Email address</label>', app.sec:handle(helpers.request{ path = "/login",
      headers = { ["accept-language"] = "nl" } }).body, 1, true)
  end)

  it("refuse a language without texts, a default not enabled, and unknown keys", function()
    local cases = {
      { { languages = { "en", "nl" } }, "no catalogue for 'nl'" },
      { { languages = { "en", "fr" }, default_language = "de" }, "'de' is not one of languages" },
      { { translations = { fr = { NOT_A_KEY = "x" } } }, "unknown catalogue key 'NOT_A_KEY'" },
      { { languages = { "en", "../x" } }, "language tags" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(helpers.new, case[1])
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
    end
  end)

  it("never put a text's markup into the page unescaped", function()
    local app = setup{ translations = { fr = { TITLE_LOGIN = "<script>x</script>", TEXT_SIGNED_IN_AS = "<b>%(email)s" } } }
    local res = app.sec:handle(helpers.request{ path = "/login", headers = { ["accept-language"] = "fr" } })
    assert.is_nil(res.body:find("<script>x", 1, true))
    assert.matches("&lt;script&gt;x&lt;/script&gt;", res.body, 1, true)
    assert.equals("&lt;b&gt;<strong>a&lt;b</strong>", i18n.html("<b>%(email)s", { email = "a<b" }))
  end)
end)
