local fsec = require "fsec"
local helpers = require "spec.helpers"

local function new_error(cfg)
  local ok, err = pcall(fsec.new, cfg)
  assert.is_false(ok)
  return err
end

describe("the module #quick", function()
  it("is the fsec.core of this build and this runtime", function()
    local path = package.searchpath("fsec.core", package.cpath)
    local build = os.getenv("FSEC_BUILD_DIR") or "build"
    assert.equals(build .. "/" .. (jit and "luajit" or "lua54") .. "/fsec/core.so", path)
    assert.equals(require("fsec.core").version, fsec.core_version)
  end)
end)

describe("fsec.new configuration #quick", function()
  it("accepts the documented example", function()
    local sec = fsec.new{ secret_key = helpers.KEY, password_salt = "salt" }
    assert.equals("argon2", sec.config.password_hash)
    assert.equals("NFKD", sec.config.password_normalize_form)
  end)

  it("refuses a missing secret_key", function()
    assert.matches("secret_key is required", new_error{ password_salt = "s" })
  end)

  it("refuses a secret_key shorter than 32 bytes", function()
    assert.matches("secret_key: must be at least 32 bytes",
      new_error{ secret_key = string.rep("k", 31), password_salt = "s" })
    assert.matches("key 2", new_error{ secret_key = { helpers.KEY, "short" },
      password_salt = "s" })
  end)

  it("refuses unknown keys, naming them", function()
    assert.matches("unknown configuration key%(s%): passwrod_salt, zzz",
      new_error(helpers.config{ passwrod_salt = "x", zzz = 1 }))
  end)

  it("refuses wrong types, naming the key", function()
    assert.matches("password_max_bytes: number expected, got string",
      new_error(helpers.config{ password_max_bytes = "10" }))
    assert.matches("token_clock_skew: an integer from 0 to 86400 expected",
      new_error(helpers.config{ token_clock_skew = 1.5 }))
    assert.matches("secret_key: string or table expected, got number",
      new_error{ secret_key = 42, password_salt = "s" })
  end)

  it("refuses unknown or unsupported hash schemes", function()
    assert.matches("password_schemes: unknown value 'des_crypt'",
      new_error(helpers.config{ password_schemes = { "argon2", "des_crypt" } }))
    assert.matches("password_hash: only 'argon2'",
      new_error(helpers.config{ password_hash = "bcrypt" }))
  end)

  it("refuses CSRF mechanisms it does not know, and an empty list (csrf_enabled turns CSRF off)", function()
    assert.matches("csrf_protect_mechanisms: unknown value 'cookie'",
      new_error(helpers.config{ csrf_protect_mechanisms = { "session", "cookie" } }))
    assert.matches("csrf_protect_mechanisms: a non%-empty list expected",
      new_error(helpers.config{ csrf_protect_mechanisms = {} }))
    assert.truthy(helpers.new{ csrf_protect_mechanisms = { "session", "basic", "token" } })
  end)

  it("follows Flask-Security on salt and single hashing", function()
    assert.matches("password_salt is required",
      new_error{ secret_key = helpers.KEY })
    assert.matches("salt would be ignored",
      new_error(helpers.config{ password_single_hash = true }))
    local sec = fsec.new{ secret_key = helpers.KEY, password_single_hash = true,
      password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
      allow_weak_password_hash = true }
    assert.truthy(sec:hash_password("pw"))
  end)

  it("refuses argon2 parameters below OWASP's minimum unless allowed", function()
    assert.matches("below OWASP",
      new_error{ secret_key = helpers.KEY, password_salt = "s",
                 password_hash_options = { argon2 = { memory_cost = 1024 } } })
    assert.matches("parallelism must be 1",
      new_error(helpers.config{ password_hash_options = { argon2 = { parallelism = 4 } } }))
  end)

  it("is read-only after validation", function()
    local sec = helpers.new()
    assert.has_error(function() sec.config.token_max_length = 1 end,
      "configuration is read-only (key 'token_max_length')")
    -- nested tables read as copies: changing one changes nothing
    sec.config.password_hash_options.argon2.time_cost = 9
    assert.equals(1, sec.config.password_hash_options.argon2.time_cost)
    local list = sec.config.password_schemes
    assert.equals(6, #list) -- # and ipairs work on LuaJIT too
    list[1] = "plaintext"
    assert.equals("argon2", sec.config.password_schemes[1])
  end)

  it("does not keep the secrets where Lua can read them", function()
    local sec = helpers.new()
    assert.is_nil(sec.config.secret_key)
    assert.is_nil(sec.config.password_salt)
    for k, v in pairs(sec) do
      assert.not_equals(helpers.KEY, v, k)
    end
    assert.equals("fsec.Engine", getmetatable(sec._engine))
  end)

  it("does not change the caller's table", function()
    local cfg = helpers.config()
    fsec.new(cfg)
    assert.equals(helpers.KEY, cfg.secret_key)
  end)
end)

describe("fsec.new refuses configuration that would misbehave at run time #quick", function()
  local function refused(pattern, extra)
    assert.matches(pattern, new_error(helpers.config(extra)), 1, true)
  end

  it("refuses header injection through the realm, cookie domain, mail headers and token header", function()
    refused("default_http_auth_realm: must not contain control characters",
      { default_http_auth_realm = 'x"\r\nSet-Cookie: evil=1' })
    for _, bad in ipairs{ 'a"b', "a\\b", "a\0b", "a\tb" } do
      refused("default_http_auth_realm: must not contain", { default_http_auth_realm = bad })
    end
    assert.truthy(helpers.new{ default_http_auth_realm = "My Realm (été)" })

    for _, bad in ipairs{ "example.com; Secure", "example.com\r\nSet-Cookie: evil=1", "a.example,b.example",
                          "a example", "", "a\0b" } do
      refused("session_cookie_domain: a plain domain name expected", { session_cookie_domain = bad })
    end
    assert.equals(".app.example", helpers.new{ session_cookie_domain = ".app.example" }.config.session_cookie_domain)

    refused("email_sender: must not contain control characters",
      { email_sender = "no-reply@site.example\r\nBcc: all@victim.example" })
    for _, k in ipairs{ "email_subject_register", "email_subject_confirm", "email_subject_password_reset",
                        "email_subject_password_notice", "email_subject_password_change_notice",
                        "email_subject_passwordless" } do
      refused(k .. ": must not contain control characters", { [k] = "Hello\nBcc: all@victim.example" })
      refused(k .. ": must not contain control characters", { [k] = "Hello\0" })
    end
    assert.truthy(helpers.new{ email_sender = "Site <no-reply@site.example>", email_subject_register = "Bienvenue à bord" })

    for _, bad in ipairs{ "", "X-Token\0", "X Token", "X-Token\r\nEvil: 1", "X-Token:", "Tök" } do
      refused("token_authentication_header: not a valid header name", { token_authentication_header = bad })
    end
    assert.truthy(helpers.new{ token_authentication_header = "X-Auth-Token" })
  end)

  it("refuses redirect views that leave the site unless they are http(s) URLs", function()
    local views = { "post_login_view", "post_logout_view", "unauthorized_view", "post_register_view",
                    "post_confirm_view", "post_reset_view", "post_change_view" }
    for _, k in ipairs(views) do
      for _, bad in ipairs{ "//evil.example/", "/\\evil.example", "\\\\evil.example", "\\/evil.example",
                            "/\t/evil.example", "/ok\r\nSet-Cookie: a=b", "javascript:alert(1)",
                            "evil.example", "https:evil.example", "ftp://files.example/", "" } do
        refused(k .. ": a path on this site ('/...', not '//...') or an http(s) URL expected", { [k] = bad })
      end
      refused(k .. ": the URL's host must be a host[:port]", { [k] = "https://app.example@evil.example/" })
      refused(k .. ": the URL's host must be a host[:port]", { [k] = "https:///evil.example" })
      for _, good in ipairs{ "/", "/dashboard?tab=1#top", "https://app.example/after",
                             "http://[::1]:8080/x", "HTTPS://App.Example:8443" } do
        assert.equals(good, helpers.new{ [k] = good }.config[k])
      end
    end
  end)

  it("refuses endpoint URLs that leave the site or carry a query or fragment", function()
    local keys = { "login_url", "logout_url", "register_url", "reset_url", "change_url", "confirm_url", "verify_url" }
    for _, k in ipairs(keys) do
      for _, bad in ipairs{ "//evil.example", "/\\evil.example", "/x?y=1", "/x#y", "x" } do
        refused(k .. ": a path starting with exactly one / expected", { [k] = bad })
      end
    end
    for _, bad in ipairs{ "//evil.example", "/a?b", "/a#b", "/a\\b" } do
      refused("url_prefix: a path starting with exactly one / expected", { url_prefix = bad })
    end
  end)

  it("refuses two endpoints at one URL, or one where token links go", function()
    refused("confirm_url and reset_url are both '/reset': each endpoint needs its own URL",
      { confirm_url = "/reset" })
    refused("logout_url and login_url are both '/login'", { logout_url = "/login" })
    refused("verify_url and change_url are both '/account'", { change_url = "/account", verify_url = "/account" })
    refused("change_url '/reset/change' is where reset_url's token links go (reset_url/<token>, recoverable)",
      { recoverable = true, change_url = "/reset/change" })
    refused("register_url '/login/new' is where login_url's token links go (login_url/<token>, passwordless)",
      { passwordless = true, register_url = "/login/new" })
    refused("reset_url '/confirm/reset' is where confirm_url's token links go",
      { confirmable = true, reset_url = "/confirm/reset" })
    -- without the feature there are no such links; deeper paths are never tokens
    assert.truthy(helpers.new{ change_url = "/reset/change" })
    assert.truthy(helpers.new{ recoverable = true, change_url = "/reset/a/change", log = function() end })
  end)

  it("refuses two cookies of one name", function()
    refused("remember_cookie_name 'session' names the same cookie as session_cookie_name ('session')",
      { remember_cookie_name = "session" })
    refused("csrf_cookie_name 'sid' names the same cookie as session_cookie_name ('sid')",
      { session_cookie_name = "sid", csrf_cookie_name = "sid" })
    refused("csrf_cookie_name 'remember_token' names the same cookie as remember_cookie_name",
      { csrf_cookie_name = "remember_token" })
    -- fsec adds the __Host- prefix itself: "__Host-x" and "x" can be one cookie
    refused("remember_cookie_name 'session' names the same cookie as session_cookie_name ('__Host-session')",
      { session_cookie_name = "__Host-session", remember_cookie_name = "session" })
    for _, k in ipairs{ "session_cookie_name", "remember_cookie_name", "csrf_cookie_name" } do
      refused(k .. " 'fsec_flash' names the same cookie as the flash cookie (fsec_flash)", { [k] = "fsec_flash" })
    end
    refused("csrf_cookie_name '__Host-fsec_flash' names the same cookie as the flash cookie",
      { csrf_cookie_name = "__Host-fsec_flash" })
    assert.truthy(helpers.new{ session_cookie_name = "sid", remember_cookie_name = "rid", csrf_cookie_name = "cid" })
  end)

  it("refuses hash settings whose new hashes would never verify", function()
    refused("password_hash_options.argon2.memory_cost (300000) is above password_hash_caps.argon2_memory_kib "
      .. "(262144, the default): new hashes would never verify",
      { password_hash_options = { argon2 = { memory_cost = 300000 } } })
    refused("password_hash_options.argon2.time_cost (20) is above password_hash_caps.argon2_time (16, the default)",
      { password_hash_options = { argon2 = { time_cost = 20, memory_cost = 1024 } } })
    -- caps below the parameters, given or default
    refused("password_hash_options.argon2.time_cost (2) is above password_hash_caps.argon2_time (1)",
      { password_hash_options = { argon2 = { time_cost = 2, memory_cost = 1024 } },
        password_hash_caps = { argon2_time = 1 } })
    refused("password_hash_options.argon2.memory_cost (65536, the default) is above "
      .. "password_hash_caps.argon2_memory_kib (32768)",
      { password_hash_options = "nil", allow_weak_password_hash = "nil",
        password_hash_caps = { argon2_memory_kib = 32768 } })
    refused("password_hash 'argon2' is not in password_schemes: new hashes would never verify",
      { password_schemes = { "bcrypt" } })
    -- at the caps, and with raised caps, they are accepted
    assert.truthy(helpers.new{ password_hash_caps = { argon2_time = 1, argon2_memory_kib = 1024 } })
    assert.truthy(helpers.new{ password_hash_options = { argon2 = { time_cost = 1, memory_cost = 300000 } },
                               password_hash_caps = { argon2_memory_kib = 300000 } })
    assert.truthy(helpers.new{ password_schemes = { "bcrypt", "argon2" } })
  end)

  it("refuses a password_breached_file it cannot read, and min > max lengths", function()
    local missing = helpers.tmpfile("no-such-breached.txt")
    refused("password_breached_file: cannot be opened for reading", { password_breached_file = missing })
    refused("password_breached_file: cannot be read", { password_breached_file = helpers.tmpdir() })
    refused("password_breached_file: must name a file", { password_breached_file = "" })
    local list = helpers.tmpfile("breached.txt")
    local f = assert(io.open(list, "w"))
    f:write("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:3\n")
    f:close()
    assert.equals(list, helpers.new{ password_breached_file = list }.config.password_breached_file)

    refused("password_length_min (20) is above password_length_max (10): no password could be set",
      { password_length_min = 20, password_length_max = 10 })
    assert.truthy(helpers.new{ password_length_min = 12, password_length_max = 12 })
  end)

  it("refuses an empty mail_dir (mail would go to the root) and one with a NUL byte", function()
    refused("mail_dir: must not be empty", { mail_dir = "" })
    refused("mail_dir: must not contain a NUL byte", { mail_dir = "var/mail\0x" })
  end)

  it("refuses lists with holes or other keys, naming the key", function()
    refused("secret_key: a list of keys expected (at 1..n, no holes, no other keys)",
      { secret_key = { helpers.KEY, nil, helpers.KEY2 } })
    refused("secret_key: a list of keys expected", { secret_key = { nil, helpers.KEY } })
    refused("secret_key: a list of keys expected", { secret_key = { [2] = helpers.KEY } })
    refused("secret_key: a list of keys expected", { secret_key = { helpers.KEY, old = helpers.KEY2 } })
    refused("secret_key: at least one key expected", { secret_key = {} })
    for k, list in pairs{ password_schemes = { "argon2", nil, "bcrypt" }, auth_mechanisms = { "session", nil, "basic" },
                          identity_attributes = { nil, "email" }, logout_methods = { "POST", GET = true } } do
      refused(k .. ": a list expected (items at 1..n, no holes, no other keys)", { [k] = list })
    end
    assert.truthy(helpers.new{ secret_key = { helpers.KEY, helpers.KEY2 } })
  end)

  it("accepts the combinations Flask-Security accepts, though they do nothing", function()
    -- Flask-Security's init_app raises for none of these: they are no-ops there too
    assert.truthy(helpers.new{ login_without_confirmation = true })
    assert.truthy(helpers.new{ auto_login_after_confirm = true })
    assert.truthy(helpers.new{ username_required = true })
  end)
end)
