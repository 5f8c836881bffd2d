-- Flask-Security's settings by their Flask names (issue 24 §3): every
-- key of Flask-Security 3.0 and of Flask-Security-Too 5.8 is accepted
-- with its meaning (as the fsec key of the same meaning) or refused with
-- a message naming fsec's way. docs/configuration.md's table and
-- lua/fsec/flaskconf.lua are checked against each other both ways, every
-- row's behaviour as the table states it, and every configuration key of
-- fsec.config is documented.
--
-- Other work adds keys: a row that changes from "not supported" to a key
-- changes in lua/fsec/flaskconf.lua, and the failure below prints the
-- exact markdown row the page then needs.
local helpers = require "spec.helpers"
local config = require "fsec.config"
local flask = require "fsec.flaskconf"

-- Flask-Security 3.0.0's _default_config (70 keys), in its order.
local V3 = [[
BLUEPRINT_NAME CLI_ROLES_NAME CLI_USERS_NAME URL_PREFIX SUBDOMAIN FLASH_MESSAGES I18N_DOMAIN PASSWORD_HASH
PASSWORD_SALT PASSWORD_SINGLE_HASH LOGIN_URL LOGOUT_URL REGISTER_URL RESET_URL CHANGE_URL CONFIRM_URL
POST_LOGIN_VIEW POST_LOGOUT_VIEW CONFIRM_ERROR_VIEW POST_REGISTER_VIEW POST_CONFIRM_VIEW POST_RESET_VIEW
POST_CHANGE_VIEW UNAUTHORIZED_VIEW FORGOT_PASSWORD_TEMPLATE LOGIN_USER_TEMPLATE REGISTER_USER_TEMPLATE
RESET_PASSWORD_TEMPLATE CHANGE_PASSWORD_TEMPLATE SEND_CONFIRMATION_TEMPLATE SEND_LOGIN_TEMPLATE CONFIRMABLE
REGISTERABLE RECOVERABLE TRACKABLE PASSWORDLESS CHANGEABLE SEND_REGISTER_EMAIL SEND_PASSWORD_CHANGE_EMAIL
SEND_PASSWORD_RESET_EMAIL SEND_PASSWORD_RESET_NOTICE_EMAIL LOGIN_WITHIN CONFIRM_EMAIL_WITHIN
RESET_PASSWORD_WITHIN LOGIN_WITHOUT_CONFIRMATION EMAIL_SENDER TOKEN_AUTHENTICATION_KEY
TOKEN_AUTHENTICATION_HEADER TOKEN_MAX_AGE CONFIRM_SALT RESET_SALT LOGIN_SALT CHANGE_SALT REMEMBER_SALT
DEFAULT_REMEMBER_ME DEFAULT_HTTP_AUTH_REALM EMAIL_SUBJECT_REGISTER EMAIL_SUBJECT_CONFIRM
EMAIL_SUBJECT_PASSWORDLESS EMAIL_SUBJECT_PASSWORD_NOTICE EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE
EMAIL_SUBJECT_PASSWORD_RESET EMAIL_PLAINTEXT EMAIL_HTML USER_IDENTITY_ATTRIBUTES PASSWORD_SCHEMES
DEPRECATED_PASSWORD_SCHEMES HASHING_SCHEMES DEPRECATED_HASHING_SCHEMES DATETIME_FACTORY
]]
-- and what 3.0 reads besides: PASSWORD_HASH_OPTIONS (no default), the MSG_* texts
local V3_MORE = { "PASSWORD_HASH_OPTIONS", "MSG_*" }

-- Flask-Security-Too 5.8.1's _default_config (226 keys).
local TOO = [[
ANONYMOUS_USER_DISABLED BLUEPRINT_NAME CLI_ROLES_NAME CLI_USERS_NAME URL_PREFIX STATIC_FOLDER
STATIC_FOLDER_URL SUBDOMAIN FLASH_MESSAGES RETURN_GENERIC_RESPONSES USE_REGISTER_V2 I18N_DOMAIN I18N_DIRNAME
EMAIL_VALIDATOR_ARGS LOGOUT_METHODS USER_IDENTITY_ATTRIBUTES PHONE_REGION_DEFAULT API_ENABLED_METHODS
DATETIME_FACTORY CACHE_CONTROL BACKWARDS_COMPAT_AUTH_TOKEN JOIN_USER_ROLES PASSWORD_HASH PASSWORD_SALT
PASSWORD_SINGLE_HASH PASSWORD_SCHEMES DEPRECATED_PASSWORD_SCHEMES PASSWORD_HASH_OPTIONS
PASSWORD_HASH_PASSLIB_OPTIONS PASSWORD_LENGTH_MIN PASSWORD_COMPLEXITY_CHECKER PASSWORD_CHECK_BREACHED
PASSWORD_BREACHED_COUNT PASSWORD_NORMALIZE_FORM PASSWORD_REQUIRED PASSWORD_CONFIRM_REQUIRED HASHING_SCHEMES
DEPRECATED_HASHING_SCHEMES ZXCVBN_MINIMUM_SCORE CONFIRMABLE REGISTERABLE RECOVERABLE TRACKABLE PASSWORDLESS
CHANGEABLE TWO_FACTOR CHANGE_EMAIL CHANGE_USERNAME MULTI_FACTOR_RECOVERY_CODES OAUTH_ENABLE UNIFIED_SIGNIN
USERNAME_RECOVERY USERNAME_ENABLE WEBAUTHN LOGIN_URL LOGOUT_URL REGISTER_URL RESET_URL CHANGE_URL CONFIRM_URL
VERIFY_URL TWO_FACTOR_SETUP_URL TWO_FACTOR_TOKEN_VALIDATION_URL TWO_FACTOR_RESCUE_URL TWO_FACTOR_SELECT_URL
CHANGE_EMAIL_URL CHANGE_EMAIL_CONFIRM_URL CHANGE_USERNAME_URL MULTI_FACTOR_RECOVERY_CODES_URL
MULTI_FACTOR_RECOVERY_URL OAUTH_START_URL OAUTH_RESPONSE_URL OAUTH_VERIFY_START_URL OAUTH_VERIFY_RESPONSE_URL
USERNAME_RECOVERY_URL US_SIGNIN_URL US_SIGNIN_SEND_CODE_URL US_SETUP_URL US_VERIFY_URL US_VERIFY_SEND_CODE_URL
US_VERIFY_LINK_URL WAN_REGISTER_URL WAN_SIGNIN_URL WAN_DELETE_URL WAN_VERIFY_URL TWO_FACTOR_POST_SETUP_VIEW
TWO_FACTOR_ERROR_VIEW POST_LOGIN_VIEW POST_LOGOUT_VIEW LOGIN_ERROR_VIEW POST_OAUTH_LOGIN_VIEW
POST_OAUTH_VERIFY_VIEW CONFIRM_ERROR_VIEW POST_CONFIRM_VIEW RESET_VIEW RESET_ERROR_VIEW VERIFY_ERROR_VIEW
POST_RESET_VIEW POST_CHANGE_VIEW POST_VERIFY_VIEW POST_REGISTER_VIEW UNAUTHORIZED_VIEW
REQUIRES_CONFIRMATION_ERROR_VIEW REDIRECT_HOST REDIRECT_BEHAVIOR REDIRECT_ALLOW_SUBDOMAINS
REDIRECT_BASE_DOMAIN REDIRECT_ALLOWED_SUBDOMAINS CHANGE_EMAIL_ERROR_VIEW POST_CHANGE_EMAIL_VIEW
POST_CHANGE_USERNAME_VIEW US_POST_SETUP_VIEW WAN_POST_REGISTER_VIEW FORGOT_PASSWORD_TEMPLATE
LOGIN_USER_TEMPLATE REGISTER_USER_TEMPLATE RESET_PASSWORD_TEMPLATE CHANGE_PASSWORD_TEMPLATE
SEND_CONFIRMATION_TEMPLATE SEND_LOGIN_TEMPLATE VERIFY_TEMPLATE TWO_FACTOR_VERIFY_CODE_TEMPLATE
TWO_FACTOR_SETUP_TEMPLATE TWO_FACTOR_SELECT_TEMPLATE CHANGE_EMAIL_TEMPLATE CHANGE_USERNAME_TEMPLATE
MULTI_FACTOR_RECOVERY_CODES_TEMPLATE MULTI_FACTOR_RECOVERY_TEMPLATE USERNAME_RECOVERY_TEMPLATE
US_SIGNIN_TEMPLATE US_SETUP_TEMPLATE US_VERIFY_TEMPLATE WAN_REGISTER_TEMPLATE WAN_SIGNIN_TEMPLATE
WAN_VERIFY_TEMPLATE LOGIN_WITHIN CHANGE_EMAIL_WITHIN CHANGE_EMAIL_SALT TWO_FACTOR_VALIDITY_SALT
TWO_FACTOR_SETUP_SALT TWO_FACTOR_SETUP_WITHIN CONFIRM_EMAIL_WITHIN RESET_PASSWORD_WITHIN
LOGIN_WITHOUT_CONFIRMATION AUTO_LOGIN_AFTER_CONFIRM AUTO_LOGIN_AFTER_RESET TOKEN_AUTHENTICATION_KEY
TOKEN_AUTHENTICATION_HEADER TOKEN_MAX_AGE TOKEN_EXPIRE_TIMESTAMP CONFIRM_SALT RESET_SALT LOGIN_SALT
CHANGE_SALT REMEMBER_SALT DEFAULT_REMEMBER_ME DEFAULT_HTTP_AUTH_REALM US_SETUP_SALT US_SETUP_WITHIN WAN_SALT
WAN_REGISTER_WITHIN WAN_SIGNIN_WITHIN SEND_REGISTER_EMAIL SEND_PASSWORD_CHANGE_EMAIL SEND_PASSWORD_RESET_EMAIL
SEND_PASSWORD_RESET_NOTICE_EMAIL CHANGE_EMAIL_SUBJECT SEND_USERNAME_CHANGE_EMAIL EMAIL_SENDER
TWO_FACTOR_RESCUE_MAIL EMAIL_SUBJECT_REGISTER EMAIL_SUBJECT_CONFIRM EMAIL_SUBJECT_PASSWORDLESS
EMAIL_SUBJECT_PASSWORD_NOTICE EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE EMAIL_SUBJECT_PASSWORD_RESET
EMAIL_SUBJECT_USERNAME_CHANGE_NOTICE EMAIL_SUBJECT_USERNAME_RECOVERY EMAIL_PLAINTEXT EMAIL_HTML
EMAIL_SUBJECT_TWO_FACTOR EMAIL_SUBJECT_TWO_FACTOR_RESCUE US_EMAIL_SUBJECT FRESHNESS FRESHNESS_GRACE_PERIOD
FRESHNESS_ALLOW_AUTH_TOKEN CSRF_PROTECT_MECHANISMS CSRF_IGNORE_UNAUTH_ENDPOINTS CSRF_COOKIE_NAME CSRF_COOKIE
CSRF_HEADER CSRF_COOKIE_REFRESH_EACH_REQUEST TWO_FACTOR_AUTHENTICATOR_VALIDITY TWO_FACTOR_MAIL_VALIDITY
TWO_FACTOR_SMS_VALIDITY TWO_FACTOR_ALWAYS_VALIDATE TWO_FACTOR_LOGIN_VALIDITY TWO_FACTOR_VALIDITY_COOKIE
TWO_FACTOR_RESCUE_EMAIL MULTI_FACTOR_RECOVERY_CODES_N MULTI_FACTOR_RECOVERY_CODES_KEYS
MULTI_FACTOR_RECOVERY_CODE_TTL TOTP_SECRETS TOTP_ISSUER SMS_SERVICE SMS_SERVICE_CONFIG TWO_FACTOR_REQUIRED
TWO_FACTOR_ENABLED_METHODS TWO_FACTOR_IMPLEMENTATIONS US_ENABLED_METHODS US_MFA_REQUIRED US_TOKEN_VALIDITY
US_SIGNIN_REPLACES_LOGIN USERNAME_REQUIRED USERNAME_MIN_LENGTH USERNAME_MAX_LENGTH USERNAME_NORMALIZE_FORM
WAN_CHALLENGE_BYTES WAN_RP_NAME WAN_REGISTER_TIMEOUT WAN_SIGNIN_TIMEOUT WAN_ALLOW_AS_FIRST_FACTOR
WAN_ALLOW_AS_MULTI_FACTOR WAN_ALLOW_USER_HINTS WAN_ALLOW_AS_VERIFY OAUTH_BUILTIN_PROVIDERS
]]

local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = w end
  return t
end

-- The table's rows on the page: name -> line.
local function page_rows()
  local rows, order = {}, {}
  for line in io.lines("docs/configuration.md") do
    local name = line:match("^| `SECURITY_([A-Z0-9_*]+)` |")
    if name then
      assert(not rows[name], "docs/configuration.md: two rows for SECURITY_" .. name)
      rows[name] = line
      order[#order + 1] = name
    end
  end
  return rows, order
end

local function base(extra)
  local c = helpers.config{ database = ":memory:" }
  for k, v in pairs(extra) do
    if v == "nil" then c[k] = nil else c[k] = v end
  end
  return c
end

describe("Flask-Security settings: the table #quick", function()
  local rows = page_rows()

  it("has every row of lua/fsec/flaskconf.lua, as it states it", function()
    local wrong = {}
    for _, row in ipairs(flask.ROWS) do
      local want = flask.doc_row(row)
      local have = rows[row[1]]
      if have ~= want then
        wrong[#wrong + 1] = (have and "docs/configuration.md states SECURITY_" .. row[1] .. " otherwise; the row is:\n"
                             or "docs/configuration.md lacks the row:\n") .. want
      end
    end
    assert(#wrong == 0, table.concat(wrong, "\n"))
  end)

  it("has no row that lua/fsec/flaskconf.lua lacks", function()
    local extra = {}
    for name in pairs(rows) do
      if not flask.BY_NAME[name] then
        extra[#extra + 1] = "docs/configuration.md has a row for SECURITY_" .. name
          .. " that lua/fsec/flaskconf.lua's ROWS lacks: add { \"" .. name .. "\", key = ... } or remove the row"
      end
    end
    table.sort(extra)
    assert(#extra == 0, table.concat(extra, "\n"))
  end)

  it("names every key of Flask-Security 3.0 (72 with PASSWORD_HASH_OPTIONS and MSG_*) as 3.0", function()
    local names = words(V3)
    assert.equals(70, #names)
    for _, n in ipairs(V3_MORE) do names[#names + 1] = n end
    local missing = {}
    for _, name in ipairs(names) do
      local row = flask.BY_NAME[name]
      if not row or not row.v3 then missing[#missing + 1] = "SECURITY_" .. name .. " (3.0): no row with v3 = true" end
    end
    assert(#missing == 0, table.concat(missing, "\n"))
    local n3 = 0
    for _, row in ipairs(flask.ROWS) do if row.v3 then n3 = n3 + 1 end end
    assert.equals(72, n3)
  end)

  it("names every key of Flask-Security-Too 5.8 (226), and nothing else", function()
    local names, known = words(TOO), { ["MSG_*"] = true }
    assert.equals(226, #names)
    local missing = {}
    for _, name in ipairs(names) do
      known[name] = true
      if not flask.BY_NAME[name] then missing[#missing + 1] = "SECURITY_" .. name .. " (Too 5.8): no row" end
    end
    for _, row in ipairs(flask.ROWS) do
      if not known[row[1]] then missing[#missing + 1] = "SECURITY_" .. row[1] .. ": not a Flask-Security key" end
    end
    assert(#missing == 0, table.concat(missing, "\n"))
  end)

  it("refuses no setting fsec now has under the same name (a key added since: map the row)", function()
    local stale = {}
    for _, row in ipairs(flask.ROWS) do
      local lower = row[1]:lower()
      if row.refuse and config.schema[lower] and not row.differs then
        stale[#stale + 1] = "SECURITY_" .. row[1] .. " is refused, but fsec.config now has " .. lower
          .. ": make its row { \"" .. row[1] .. "\", key = \"" .. lower .. "\" } in lua/fsec/flaskconf.lua"
          .. " (or mark it differs = true), and its line in docs/configuration.md"
      end
    end
    assert(#stale == 0, table.concat(stale, "\n"))
  end)

  it("maps template settings to fsec's templates of the same name and page", function()
    local pages = require "fsec.pages"
    require "fsec.mfpages"
    require "fsec.uspages"
    require "fsec.accpages"
    require "fsec.wanpages"
    local builtin = require "fsec.templates"
    local n = 0
    for _, row in ipairs(flask.ROWS) do
      if row.template then
        n = n + 1
        assert.is_string(builtin[row.template], "SECURITY_" .. row[1] .. " names " .. row.template .. ", not built in")
        assert.is_function(pages.PAGES[row.page], "SECURITY_" .. row[1] .. " names page " .. row.page)
        local drawn = pages.TEMPLATE[row.page] == row.template
          or (row.page == "login" and row.template == "security/send_login.html")
        assert.is_true(drawn, "page " .. row.page .. " is not drawn from " .. row.template)
      end
    end
    assert.is_true(n >= 18, "template rows: " .. n)
  end)

  it("reads a SECURITY_*_TEMPLATE file as the override of its template (template_dir)", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/mine"))
    local f = assert(io.open(dir .. "/mine/login.html", "w"))
    f:write('<p id="mine">{{ t.LABEL_EMAIL }}</p>')
    f:close()
    local c = assert(config.validate(base{ template_dir = dir,
      SECURITY_LOGIN_USER_TEMPLATE = "mine/login.html" }))
    assert.same('<p id="mine">{{ t.LABEL_EMAIL }}</p>', c.templates["security/login_user.html"])
    -- Flask-Security's own name changes nothing; a missing file is refused
    assert.is_nil(assert(config.validate(base{ SECURITY_LOGIN_USER_TEMPLATE = "security/login_user.html"
      })).templates)
    local bad, err = config.validate(base{ template_dir = dir, SECURITY_VERIFY_TEMPLATE = "none.html" })
    assert.is_nil(bad)
    assert.matches("security/verify.html", err, 1, true)
    os.execute("rm -r " .. dir)
  end)

  it("maps only to keys fsec.config has; every key of fsec.config is on the page", function()
    local bad = {}
    for _, row in ipairs(flask.ROWS) do
      if row.key and not config.schema[row.key] then
        bad[#bad + 1] = "SECURITY_" .. row[1] .. " maps to " .. row.key .. ", which fsec.config's schema lacks"
      end
      if not row.key and not row.refuse then bad[#bad + 1] = "SECURITY_" .. row[1] .. ": neither key nor refuse" end
    end
    local page = helpers.read("docs/configuration.md")
    for key in pairs(config.schema) do
      if not page:find("`" .. key .. "`", 1, true) then
        bad[#bad + 1] = "docs/configuration.md does not document the key " .. key
      end
    end
    table.sort(bad)
    assert(#bad == 0, table.concat(bad, "\n"))
  end)
end)

-- A value each fsec key takes when its default is none (or a function).
local SAMPLES = {
  password_salt = "another-pepper", url_prefix = "/auth", token_max_age = 3600,
  unauthorized_view = "/denied", post_register_view = "/welcome", post_confirm_view = "/confirmed",
  post_reset_view = "/reset-done", post_change_view = "/changed", two_factor_post_setup_view = "/tf-done",
  us_post_setup_view = "/us-done", wan_post_register_view = "/wan-done", change_email_error_view = "/email-bad",
  post_change_email_view = "/email-done", login_error_view = "/login-bad", confirm_error_view = "/confirm-bad",
  reset_view = "/reset-here", reset_error_view = "/reset-bad", post_verify_view = "/verified",
  requires_confirmation_error_view = "/confirm-first", redirect_host = "localhost:8080",
  redirect_behavior = "spa", csrf_cookie_name = "XSRF-TOKEN", csrf_cookie = { samesite = "Strict" },
  csrf_header = "X-XSRF-Token", csrf_cookie_refresh_each_request = true, post_change_username_view = "/name-done",
  two_factor_rescue_mail = "help@example.org",
  totp_secrets = { ["1"] = ("t"):rep(16) }, totp_issuer = "fsec spec",
  multi_factor_recovery_codes_keys = { ("r"):rep(16) },
  password_complexity_checker = function() return nil end,
  messages = { LOGIN = "Sign in first." },
}

describe("Flask-Security settings: each row does what the table says #quick", function()
  it("a row with an fsec key sets that key", function()
    local bad = {}
    for _, row in ipairs(flask.ROWS) do
      -- MSG_* and the *_TEMPLATE rows: their own tests (templates is a table of files)
      if row.key and row[1] ~= "MSG_*" and not row.template then
        local spec = config.schema[row.key]
        local v = SAMPLES[row.key]
        if v == nil then v = spec and spec.default end
        if v == nil then
          bad[#bad + 1] = "no sample value for " .. row.key .. ": add one to SAMPLES"
        else
          local given = "SECURITY_" .. row[1]
          local c, err = config.validate(base{ [row.key] = "nil", [given] = v })
          if not c then
            bad[#bad + 1] = given .. ": " .. tostring(err)
          elseif type(v) ~= "function" then
            local want = row.convert and row.convert(v) or v
            if type(want) == "table" then
              if require("cjson").encode(want) ~= require("cjson").encode(c[row.key]) then
                bad[#bad + 1] = given .. " did not set " .. row.key
              end
            elseif c[row.key] ~= want then
              bad[#bad + 1] = given .. " did not set " .. row.key .. " (" .. tostring(c[row.key]) .. ")"
            end
          end
        end
      end
    end
    assert(#bad == 0, table.concat(bad, "\n"))
  end)

  it("a refused row is refused with its message, and accepted with Flask-Security's default", function()
    local bad = {}
    for _, row in ipairs(flask.ROWS) do
      if row.refuse then
        local given = "SECURITY_" .. row[1]
        local c, err = config.validate(base{ [given] = "fsec-spec: not the default" })
        local want = given .. " is not supported: " .. row.refuse
        if c or err ~= want then bad[#bad + 1] = given .. ": " .. tostring(err) end
        for _, same in ipairs(row.same or {}) do
          c, err = config.validate(base{ [given] = same })
          if not c then bad[#bad + 1] = given .. " = its default: " .. tostring(err) end
        end
        -- fsec's spelling of the name: the same refusal (unless it is an fsec key)
        local lower = row[1]:lower()
        if not config.schema[lower] then
          c, err = config.validate(base{ [lower] = "x" })
          if c or err ~= lower .. " is not supported: " .. row.refuse then
            bad[#bad + 1] = lower .. ": " .. tostring(err)
          end
        end
      end
    end
    assert(#bad == 0, table.concat(bad, "\n"))
  end)
end)

describe("Flask-Security settings: values as Flask writes them #quick", function()
  local function ok(extra)
    return assert(config.validate(base(extra)))
  end
  local function refused(extra)
    local c, err = config.validate(base(extra))
    assert.is_nil(c)
    return err
  end

  it("takes durations as '5 days' strings or seconds", function()
    local c = ok{ SECURITY_CONFIRM_EMAIL_WITHIN = "5 days", SECURITY_RESET_PASSWORD_WITHIN = "1 day",
                  SECURITY_LOGIN_WITHIN = "90 minutes", SECURITY_TWO_FACTOR_LOGIN_VALIDITY = "2 weeks",
                  SECURITY_FRESHNESS = "24 hours", SECURITY_FRESHNESS_GRACE_PERIOD = 60,
                  SECURITY_TOKEN_MAX_AGE = "30 seconds" }
    assert.equals(432000, c.confirm_email_within)
    assert.equals(86400, c.reset_password_within)
    assert.equals(5400, c.login_within)
    assert.equals(1209600, c.two_factor_login_validity)
    assert.equals(86400, c.freshness)
    assert.equals(60, c.freshness_grace_period)
    assert.equals(30, c.token_max_age)
    for _, bad in ipairs{ "5 fortnights", "five days", "5days", "-1 days", "", {} } do
      assert.matches("^SECURITY_LOGIN_WITHIN: seconds, or a string", refused{ SECURITY_LOGIN_WITHIN = bad })
    end
    -- a value fsec's own check refuses names the key as given
    assert.matches("^SECURITY_LOGIN_WITHIN %(fsec's login_within%): an integer from 60 to ",
                   refused{ SECURITY_LOGIN_WITHIN = "1 seconds" })
  end)

  it("takes Python's None as false: the default", function()
    local c = ok{ SECURITY_TOKEN_MAX_AGE = false, SECURITY_URL_PREFIX = false, SECURITY_SUBDOMAIN = false,
                  SECURITY_UNAUTHORIZED_VIEW = false }
    assert.is_nil(c.token_max_age)
    assert.equals("", c.url_prefix)
    -- a boolean key keeps false
    assert.is_false(ok{ SECURITY_TRACKABLE = false, trackable = "nil" }.trackable)
  end)

  it("takes USER_IDENTITY_ATTRIBUTES as 3.0 and Too write it", function()
    local extra = { username_enable = true }
    extra.SECURITY_USER_IDENTITY_ATTRIBUTES = { "email", "username" }
    assert.same({ "email", "username" }, ok(extra).identity_attributes)
    extra.SECURITY_USER_IDENTITY_ATTRIBUTES = "email, username"
    assert.same({ "email", "username" }, ok(extra).identity_attributes)
    extra.SECURITY_USER_IDENTITY_ATTRIBUTES = { { email = { case_insensitive = true } }, { username = {} } }
    assert.same({ "email", "username" }, ok(extra).identity_attributes)
    extra.SECURITY_USER_IDENTITY_ATTRIBUTES = { { email = {}, username = {} } }
    assert.matches("one attribute name per item", refused(extra))
    extra.SECURITY_USER_IDENTITY_ATTRIBUTES = { "email", "nickname" }
    assert.matches("^SECURITY_USER_IDENTITY_ATTRIBUTES %(fsec's identity_attributes%)", refused(extra))
  end)

  it("takes CACHE_CONTROL's dict, PASSWORD_SINGLE_HASH's set, views named by endpoint", function()
    assert.equals("no-store, private", ok{ SECURITY_CACHE_CONTROL = { private = true, ["no-store"] = true } }.cache_control)
    assert.equals("max-age=0, private", ok{ SECURITY_CACHE_CONTROL = { private = true, ["max-age"] = 0 } }.cache_control)
    assert.is_false(ok{ SECURITY_CACHE_CONTROL = {} }.cache_control)
    local c = ok{ SECURITY_PASSWORD_SINGLE_HASH = { "django_argon2", "plaintext" } }
    assert.is_false(c.password_single_hash)
    assert.matches("per scheme", refused{ SECURITY_PASSWORD_SINGLE_HASH = { "bcrypt" } })
    assert.is_nil(ok{ SECURITY_US_POST_SETUP_VIEW = ".us_setup" }.us_post_setup_view)
    assert.is_nil(ok{ SECURITY_TWO_FACTOR_POST_SETUP_VIEW = ".two_factor_setup" }.two_factor_post_setup_view)
  end)

  it("takes SECURITY_MSG_<KEY> as a (text, category) pair or a text", function()
    local c = ok{ SECURITY_MSG_LOGIN = { "Sign in first.", "info" }, SECURITY_MSG_UNAUTHORIZED = "No." }
    assert.same({ LOGIN = "Sign in first.", UNAUTHORIZED = "No." }, c.messages)
    assert.equals("SECURITY_MSG_* (fsec's messages): unknown message key 'NO_SUCH'",
                  refused{ SECURITY_MSG_NO_SUCH = "x" })
    assert.matches("same setting", refused{ SECURITY_MSG_LOGIN = "x", messages = { LOGIN = "y" } })
  end)

  it("refuses an unknown SECURITY_ name, and one setting given twice", function()
    assert.equals("unknown configuration key: SECURITY_NOPE (no Flask-Security setting of that name)",
                  refused{ SECURITY_NOPE = 1 })
    assert.equals("SECURITY_LOGIN_URL and login_url are the same setting: give one",
                  refused{ SECURITY_LOGIN_URL = "/a", login_url = "/b" })
    -- SECURITY_ alone, lower case, or any other spelling is no Flask name
    assert.matches("unknown configuration key", refused{ SECURITY_ = 1 })
    assert.matches("unknown configuration key%(s%): security_login_url", refused{ security_login_url = "/a" })
    assert.matches("unknown configuration key%(s%): LOGIN_URL", refused{ LOGIN_URL = "/a" })
  end)

  it("refuses hashes fsec does not write, naming the key as given", function()
    assert.equals("SECURITY_PASSWORD_HASH (fsec's password_hash): only 'argon2' is supported for new hashes "
                  .. "(others verify)", refused{ SECURITY_PASSWORD_HASH = "bcrypt" })
    assert.equals("argon2", ok{ SECURITY_PASSWORD_HASH = "argon2" }.password_hash)
  end)

  it("takes a whole Flask-Security 3.0 default config, pasted", function()
    local pasted = {
      SECURITY_BLUEPRINT_NAME = "security", SECURITY_CLI_ROLES_NAME = "roles", SECURITY_CLI_USERS_NAME = "users",
      SECURITY_FLASH_MESSAGES = true, SECURITY_I18N_DOMAIN = "flask_security",
      SECURITY_PASSWORD_SINGLE_HASH = false, SECURITY_PASSWORD_HASH = "argon2",
      SECURITY_LOGIN_URL = "/login", SECURITY_LOGOUT_URL = "/logout", SECURITY_REGISTER_URL = "/register",
      SECURITY_RESET_URL = "/reset", SECURITY_CHANGE_URL = "/change", SECURITY_CONFIRM_URL = "/confirm",
      SECURITY_POST_LOGIN_VIEW = "/", SECURITY_POST_LOGOUT_VIEW = "/",
      SECURITY_LOGIN_USER_TEMPLATE = "security/login_user.html",
      SECURITY_FORGOT_PASSWORD_TEMPLATE = "security/forgot_password.html",
      SECURITY_CONFIRMABLE = false, SECURITY_REGISTERABLE = true, SECURITY_RECOVERABLE = true,
      SECURITY_TRACKABLE = true, SECURITY_PASSWORDLESS = false, SECURITY_CHANGEABLE = true,
      SECURITY_SEND_REGISTER_EMAIL = true, SECURITY_LOGIN_WITHIN = "1 days",
      SECURITY_CONFIRM_EMAIL_WITHIN = "5 days", SECURITY_RESET_PASSWORD_WITHIN = "5 days",
      SECURITY_LOGIN_WITHOUT_CONFIRMATION = false, SECURITY_EMAIL_SENDER = "no-reply@localhost",
      SECURITY_TOKEN_AUTHENTICATION_KEY = "auth_token",
      SECURITY_TOKEN_AUTHENTICATION_HEADER = "Authentication-Token",
      SECURITY_CONFIRM_SALT = "confirm-salt", SECURITY_RESET_SALT = "reset-salt", SECURITY_LOGIN_SALT = "login-salt",
      SECURITY_CHANGE_SALT = "change-salt", SECURITY_REMEMBER_SALT = "remember-salt",
      SECURITY_DEFAULT_REMEMBER_ME = false, SECURITY_DEFAULT_HTTP_AUTH_REALM = "Login Required",
      SECURITY_EMAIL_SUBJECT_REGISTER = "Welcome", SECURITY_EMAIL_PLAINTEXT = true, SECURITY_EMAIL_HTML = true,
      SECURITY_USER_IDENTITY_ATTRIBUTES = { "email" },
      SECURITY_DEPRECATED_PASSWORD_SCHEMES = { "auto" },
      SECURITY_HASHING_SCHEMES = { "sha256_crypt", "hex_md5" }, SECURITY_DEPRECATED_HASHING_SCHEMES = { "hex_md5" },
      SECURITY_MSG_LOGIN = { "Please log in to access this page.", "info" },
    }
    local c = ok(pasted)
    assert.equals(432000, c.reset_password_within)
    assert.is_true(c.registerable and c.recoverable and c.trackable and c.changeable)
    -- through fsec.new too
    pasted.log = function() end
    local sec = require("fsec").new(base(pasted))
    assert.equals("/login", sec.config.login_url)
    sec:close()
  end)
end)
