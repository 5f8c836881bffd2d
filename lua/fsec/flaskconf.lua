--- Flask-Security's settings, by their Flask names: what each one is in
-- fsec. Every key of Flask-Security 3.0 and of Flask-Security-Too 5.8 has
-- a row: the fsec key that means the same (its value converted where
-- Flask writes it otherwise: "5 days", a dict), or a refusal that names
-- fsec's way to the same end.
--
-- `fsec.new` takes these names as a Flask config spells them,
-- `SECURITY_LOGIN_URL = "/signin"` (and `SECURITY_MSG_<KEY>`), so a Flask
-- config dict can be given as it is; and it answers fsec's own spelling
-- of a name it lacks (`two_factor_select_template`) with the same refusal. A
-- refused key given its Flask default (the template path, the salt) is
-- accepted and ignored: fsec does then what Flask-Security would, so a
-- pasted config need not be trimmed. docs/configuration.md holds this
-- table; spec/08-flask_config_spec.lua checks the two against each other.
-- @module fsec.flaskconf

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local concat = table.concat


local _M = { _VERSION = "0.1.0" }

-- Python's None in a Lua table: the key is absent, or false.
local NONE = { false }

local SECONDS = { second = 1, minute = 60, hour = 3600, day = 86400, week = 604800 }

-- A duration as Flask writes it ("5 days", "30 minutes") or seconds.
local function duration(v)
  if type(v) == "number" then return v end
  if type(v) == "string" then
    local n, unit = v:match("^%s*(%d+)%s+(%a+)%s*$")
    local per = unit and SECONDS[unit:lower():gsub("s$", "")]
    if per then return tonumber(n) * per end
  end
  return nil, "seconds, or a string like '5 days' (seconds, minutes, hours, days, weeks) expected"
end

-- USER_IDENTITY_ATTRIBUTES: 3.0's list of names (or "email,username"),
-- or Too's list of { name = { mapper = ..., case_insensitive = ... } }.
local function identity_attributes(v)
  if type(v) == "string" then
    local out = {}
    for name in v:gmatch("[^,%s]+") do out[#out + 1] = name end
    return out
  end
  if type(v) ~= "table" then return v end
  local out = {}
  for i, item in ipairs(v) do
    if type(item) == "table" then
      local name = next(item)
      if next(item, name) ~= nil then return nil, "item " .. i .. ": one attribute name per item expected" end
      out[i] = name
    else
      out[i] = item
    end
  end
  return out
end

-- CACHE_CONTROL: Too's dict ({ private = true, ["max-age"] = 0 }) as the
-- header's text; a string as it is; false or an empty dict: none.
local function cache_control(v)
  if type(v) ~= "table" then return v end
  local parts = {}
  for k, x in pairs(v) do
    if x == true then parts[#parts + 1] = tostring(k)
    elseif x ~= false then parts[#parts + 1] = tostring(k) .. "=" .. tostring(x) end
  end
  if #parts == 0 then return false end
  table.sort(parts)
  return concat(parts, ", ")
end

-- PASSWORD_SINGLE_HASH: a boolean as it is; Too's set of schemes that are
-- single-hashed names only schemes fsec does not verify (django_*,
-- plaintext), which for fsec is false.
local TOO_SINGLE = { django_argon2 = true, django_bcrypt_sha256 = true, django_pbkdf2_sha256 = true,
                     django_pbkdf2_sha1 = true, django_bcrypt = true, django_salted_md5 = true,
                     django_salted_sha1 = true, django_des_crypt = true, plaintext = true }
local function single_hash(v)
  if type(v) ~= "table" then return v end
  for _, s in ipairs(v) do
    if not TOO_SINGLE[s] then
      return nil, "a list of schemes is single-hashed per scheme in Flask-Security; fsec's password_single_hash is "
        .. "true or false for all ('" .. tostring(s) .. "' listed)"
    end
  end
  return false
end

-- A view Too names by endpoint (".us_setup"): fsec's default (none).
local function view_or_endpoint(default)
  return function(v)
    if v == default then return nil end
    return v
  end
end

-- file: the template's file name in Flask-Security, which is fsec's
-- template of the same page (fsec.templates); page: the name fsec's render
-- hook gets. The setting names a file (read from template_dir when
-- relative) that overrides it: templates[name] = { file = value }.
local function template(name, file, page, v3)
  local tname = "security/" .. file .. ".html"
  return { name, v3 = v3, key = "templates", template = tname, page = page,
           note = ("a file for the page '%s': templates[\"%s\"] = { file = value } "
             .. "(docs/templates.md)"):format(page, tname) }
end

local SALT = "fsec's own tokens name their purpose in the signed data and take no salt"
local function salt(name, default, v3)
  return { name, v3 = v3, same = { default }, refuse = SALT }
end

local NO_OAUTH = "fsec has no OAuth sign-in"
local NOT_YET = "not in fsec yet"
local STATIC = "fsec's pages carry their own styles; they load no static files"
local REDIRECTS = "fsec redirects to this site's paths or to views you configure"
local USERNAMES = NOT_YET .. ": fsec takes usernames of 1..64 bytes that fold (fsec.core.fold_username)"


-- The table: one row per Flask-Security name (without SECURITY_), in
-- Flask-Security-Too's groups. A row is { NAME, key = fsec key,
-- convert = fn(v) -> value | nil, msg, note = text } or { NAME,
-- same = { values fsec's behaviour matches }, refuse = why, and fsec's
-- way, differs = true when fsec has a key of the lower-case name that
-- means something else }. v3 = true: a key of Flask-Security 3.0.
_M.ROWS = {
  -- core, blueprint, i18n
  { "ANONYMOUS_USER_DISABLED", same = { false },
    refuse = "fsec's current_user answers the anonymous user when nobody is signed in" },
  { "BLUEPRINT_NAME", v3 = true, same = { "security" },
    refuse = "fsec has no blueprint: sec:handle(req) answers its endpoints under url_prefix" },
  { "CLI_ROLES_NAME", v3 = true, same = { "roles" }, refuse = "the command line is the fsec command (fsec roles ...)" },
  { "CLI_USERS_NAME", v3 = true, same = { "users" }, refuse = "the command line is the fsec command (fsec users ...)" },
  { "URL_PREFIX", v3 = true, key = "url_prefix" },
  { "STATIC_FOLDER", same = { "static" }, refuse = STATIC },
  { "STATIC_FOLDER_URL", same = { "/fs-static" }, refuse = STATIC },
  { "SUBDOMAIN", v3 = true, same = NONE, refuse = "fsec answers wherever the server routes to sec:handle" },
  { "FLASH_MESSAGES", v3 = true, same = { true },
    refuse = "fsec's pages always show their messages; JSON clients get them in the body" },
  { "RETURN_GENERIC_RESPONSES", key = "return_generic_responses" },
  { "USE_REGISTER_V2", same = { true },
    refuse = "fsec has one /register form (email, password, password_confirm, username)" },
  { "I18N_DOMAIN", v3 = true, same = { "flask_security" },
    refuse = "fsec ships en, fr, de: choose with languages, translate with translations = { [tag] = { KEY = text } }" },
  { "I18N_DIRNAME", same = { "builtin" },
    refuse = "fsec ships en, fr, de: choose with languages, translate with translations = { [tag] = { KEY = text } }" },
  { "EMAIL_VALIDATOR_ARGS", same = NONE,
    refuse = "fsec checks addresses itself (IDNA domains, no deliverability lookup)" },
  { "LOGOUT_METHODS", key = "logout_methods", note = "fsec's default is POST only (Too 5.9)" },
  { "USER_IDENTITY_ATTRIBUTES", v3 = true, key = "identity_attributes", convert = identity_attributes,
    note = "names (email, username, us_phone_number); Too's { name = { mapper = ... } } items give their names" },
  { "PHONE_REGION_DEFAULT", key = "phone_region_default" },
  { "API_ENABLED_METHODS", key = "auth_mechanisms", note = "session, token, basic" },
  { "DATETIME_FACTORY", v3 = true, same = NONE,
    refuse = "fsec stores times as Unix seconds; give clock = fn for tests" },
  { "CACHE_CONTROL", key = "cache_control", convert = cache_control,
    note = "a dict becomes the header's text" },
  { "BACKWARDS_COMPAT_AUTH_TOKEN", same = { false },
    refuse = "fsec's auth tokens are its own; sec:get_auth_token(user) makes one" },
  { "JOIN_USER_ROLES", same = { true }, refuse = "fsec's users always carry their roles and permissions" },

  -- password hashing and validation
  { "PASSWORD_HASH", v3 = true, key = "password_hash",
    note = "fsec writes argon2id only; other schemes' hashes verify (password_schemes) and are rewritten at sign-in" },
  { "PASSWORD_SALT", v3 = true, key = "password_salt" },
  { "PASSWORD_SINGLE_HASH", v3 = true, key = "password_single_hash", convert = single_hash,
    note = "Too's default set (django schemes, plaintext) is false" },
  { "PASSWORD_SCHEMES", v3 = true, key = "password_schemes",
    note = "des_crypt is not verified by fsec" },
  { "DEPRECATED_PASSWORD_SCHEMES", v3 = true, same = { { "auto" } },
    refuse = "fsec rewrites every hash not argon2id at the current parameters when its password verifies" },
  { "PASSWORD_HASH_OPTIONS", v3 = true, key = "password_hash_options",
    note = "{ argon2 = { time_cost, memory_cost, parallelism } }" },
  { "PASSWORD_HASH_PASSLIB_OPTIONS", same = { {} }, refuse = "fsec does not use passlib: password_hash_options" },
  { "PASSWORD_LENGTH_MIN", key = "password_length_min" },
  { "PASSWORD_COMPLEXITY_CHECKER", key = "password_complexity_checker",
    note = "'zxcvbn' (libzxcvbn, in C), or a function (docs/security.md: its contract)" },
  { "PASSWORD_CHECK_BREACHED", same = { false },
    refuse = "fsec calls no network service itself: password_breached_file, or a password_breached_range hook" },
  { "PASSWORD_BREACHED_COUNT", key = "password_breached_count",
    note = "with password_breached_file; a line without a count is always refused" },
  { "PASSWORD_NORMALIZE_FORM", key = "password_normalize_form" },
  { "PASSWORD_REQUIRED", key = "password_required" },
  { "PASSWORD_CONFIRM_REQUIRED", key = "password_confirm_required" },
  { "HASHING_SCHEMES", v3 = true, same = { { "sha256_crypt", "hex_md5" } },
    refuse = "fsec's tokens carry no hashed data: nothing is hashed with these" },
  { "DEPRECATED_HASHING_SCHEMES", v3 = true, same = { { "hex_md5" }, { "auto" } },
    refuse = "fsec's tokens carry no hashed data: nothing is hashed with these" },
  { "ZXCVBN_MINIMUM_SCORE", key = "zxcvbn_minimum_score" },

  -- features
  { "CONFIRMABLE", v3 = true, key = "confirmable" },
  { "REGISTERABLE", v3 = true, key = "registerable" },
  { "RECOVERABLE", v3 = true, key = "recoverable" },
  { "TRACKABLE", v3 = true, key = "trackable" },
  { "PASSWORDLESS", v3 = true, key = "passwordless" },
  { "CHANGEABLE", v3 = true, key = "changeable" },
  { "TWO_FACTOR", key = "two_factor" },
  { "CHANGE_EMAIL", key = "change_email" },
  { "CHANGE_USERNAME", key = "change_username" },
  { "MULTI_FACTOR_RECOVERY_CODES", key = "multi_factor_recovery_codes" },
  { "OAUTH_ENABLE", same = { false }, refuse = NO_OAUTH },
  { "UNIFIED_SIGNIN", key = "unified_signin" },
  { "USERNAME_RECOVERY", key = "username_recovery" },
  { "USERNAME_ENABLE", key = "username_enable" },
  { "WEBAUTHN", key = "webauthn" },

  -- URLs
  { "LOGIN_URL", v3 = true, key = "login_url" },
  { "LOGOUT_URL", v3 = true, key = "logout_url" },
  { "REGISTER_URL", v3 = true, key = "register_url" },
  { "RESET_URL", v3 = true, key = "reset_url" },
  { "CHANGE_URL", v3 = true, key = "change_url" },
  { "CONFIRM_URL", v3 = true, key = "confirm_url" },
  { "VERIFY_URL", key = "verify_url" },
  { "TWO_FACTOR_SETUP_URL", key = "two_factor_setup_url" },
  { "TWO_FACTOR_TOKEN_VALIDATION_URL", key = "two_factor_token_validation_url" },
  { "TWO_FACTOR_RESCUE_URL", key = "two_factor_rescue_url" },
  { "TWO_FACTOR_SELECT_URL", key = "two_factor_select_url" },
  { "CHANGE_EMAIL_URL", key = "change_email_url" },
  { "CHANGE_EMAIL_CONFIRM_URL", same = { "/change-email-confirm" },
    refuse = "fsec's confirmation links are change_email_url/<token>" },
  { "CHANGE_USERNAME_URL", key = "change_username_url" },
  { "MULTI_FACTOR_RECOVERY_CODES_URL", key = "multi_factor_recovery_codes_url" },
  { "MULTI_FACTOR_RECOVERY_URL", key = "multi_factor_recovery_url" },
  { "OAUTH_START_URL", same = { "/login/oauthstart" }, refuse = NO_OAUTH },
  { "OAUTH_RESPONSE_URL", same = { "/login/oauthresponse" }, refuse = NO_OAUTH },
  { "OAUTH_VERIFY_START_URL", same = { "/login/oauth-verify-start" }, refuse = NO_OAUTH },
  { "OAUTH_VERIFY_RESPONSE_URL", same = { "/login/oauth-verify-response" }, refuse = NO_OAUTH },
  { "USERNAME_RECOVERY_URL", key = "username_recovery_url" },
  { "US_SIGNIN_URL", key = "us_signin_url" },
  { "US_SIGNIN_SEND_CODE_URL", key = "us_signin_send_code_url" },
  { "US_SETUP_URL", key = "us_setup_url" },
  { "US_VERIFY_URL", key = "us_verify_url" },
  { "US_VERIFY_SEND_CODE_URL", key = "us_verify_send_code_url" },
  { "US_VERIFY_LINK_URL", key = "us_verify_link_url" },
  { "WAN_REGISTER_URL", key = "wan_register_url" },
  { "WAN_SIGNIN_URL", key = "wan_signin_url" },
  { "WAN_DELETE_URL", key = "wan_delete_url" },
  { "WAN_VERIFY_URL", key = "wan_verify_url" },

  -- redirects and SPA views
  { "TWO_FACTOR_POST_SETUP_VIEW", key = "two_factor_post_setup_view",
    convert = view_or_endpoint(".two_factor_setup"), note = "a path or URL; Too's '.two_factor_setup' is the default" },
  { "TWO_FACTOR_ERROR_VIEW", same = { ".login" }, refuse = "a failed second factor answers on its own page" },
  { "POST_LOGIN_VIEW", v3 = true, key = "post_login_view" },
  { "POST_LOGOUT_VIEW", v3 = true, key = "post_logout_view" },
  { "LOGIN_ERROR_VIEW", key = "login_error_view" },
  { "POST_OAUTH_LOGIN_VIEW", same = NONE, refuse = NO_OAUTH },
  { "POST_OAUTH_VERIFY_VIEW", same = NONE, refuse = NO_OAUTH },
  { "CONFIRM_ERROR_VIEW", v3 = true, key = "confirm_error_view" },
  { "POST_CONFIRM_VIEW", v3 = true, key = "post_confirm_view" },
  { "RESET_VIEW", key = "reset_view" },
  { "RESET_ERROR_VIEW", key = "reset_error_view" },
  { "VERIFY_ERROR_VIEW", same = NONE, refuse = NOT_YET .. " (SPA redirects)" },
  { "POST_RESET_VIEW", v3 = true, key = "post_reset_view" },
  { "POST_CHANGE_VIEW", v3 = true, key = "post_change_view" },
  { "POST_VERIFY_VIEW", key = "post_verify_view" },
  { "POST_REGISTER_VIEW", v3 = true, key = "post_register_view" },
  { "UNAUTHORIZED_VIEW", v3 = true, key = "unauthorized_view",
    note = "a path or URL (3.0's callable and Too's endpoint names are not); none answers 403" },
  { "REQUIRES_CONFIRMATION_ERROR_VIEW", key = "requires_confirmation_error_view" },
  { "REDIRECT_HOST", key = "redirect_host" },
  { "REDIRECT_BEHAVIOR", key = "redirect_behavior" },
  { "REDIRECT_ALLOW_SUBDOMAINS", same = { false }, refuse = REDIRECTS },
  { "REDIRECT_BASE_DOMAIN", same = NONE, refuse = REDIRECTS },
  { "REDIRECT_ALLOWED_SUBDOMAINS", same = { {} }, refuse = REDIRECTS },
  { "CHANGE_EMAIL_ERROR_VIEW", key = "change_email_error_view" },
  { "POST_CHANGE_EMAIL_VIEW", key = "post_change_email_view" },
  { "POST_CHANGE_USERNAME_VIEW", key = "post_change_username_view" },
  { "US_POST_SETUP_VIEW", key = "us_post_setup_view", convert = view_or_endpoint(".us_setup"),
    note = "a path or URL; Too's '.us_setup' is the default" },
  { "WAN_POST_REGISTER_VIEW", key = "wan_post_register_view", convert = view_or_endpoint(".wan_register"),
    note = "a path or URL; Too's '.wan_register' is the default" },

  -- templates
  template("FORGOT_PASSWORD_TEMPLATE", "forgot_password", "forgot", true),
  template("LOGIN_USER_TEMPLATE", "login_user", "login", true),
  template("REGISTER_USER_TEMPLATE", "register_user", "register", true),
  template("RESET_PASSWORD_TEMPLATE", "reset_password", "reset", true),
  template("CHANGE_PASSWORD_TEMPLATE", "change_password", "change", true),
  template("SEND_CONFIRMATION_TEMPLATE", "send_confirmation", "confirm", true),
  template("SEND_LOGIN_TEMPLATE", "send_login", "login", true),
  template("VERIFY_TEMPLATE", "verify", "verify"),
  template("TWO_FACTOR_VERIFY_CODE_TEMPLATE", "two_factor_verify_code", "tf_validate"),
  template("TWO_FACTOR_SETUP_TEMPLATE", "two_factor_setup", "tf_setup"),
  { "TWO_FACTOR_SELECT_TEMPLATE", same = { "security/two_factor_select.html" },
    refuse = "fsec has one second factor per user, so no page to choose one (/tf-select answers as Too does then)" },
  template("CHANGE_EMAIL_TEMPLATE", "change_email", "change_email"),
  template("CHANGE_USERNAME_TEMPLATE", "change_username", "change_username"),
  template("MULTI_FACTOR_RECOVERY_CODES_TEMPLATE", "mf_recovery_codes", "mf_recovery_codes"),
  template("MULTI_FACTOR_RECOVERY_TEMPLATE", "mf_recovery", "mf_recovery"),
  template("USERNAME_RECOVERY_TEMPLATE", "recover_username", "recover_username"),
  template("US_SIGNIN_TEMPLATE", "us_signin", "us_signin"),
  template("US_SETUP_TEMPLATE", "us_setup", "us_setup"),
  template("US_VERIFY_TEMPLATE", "us_verify", "us_verify"),
  template("WAN_REGISTER_TEMPLATE", "wan_register", "wan_register"),
  template("WAN_SIGNIN_TEMPLATE", "wan_signin", "wan_signin"),
  template("WAN_VERIFY_TEMPLATE", "wan_verify", "wan_verify"),

  -- tokens, salts, durations
  { "LOGIN_WITHIN", v3 = true, key = "login_within", convert = duration, note = "seconds, or '1 days'" },
  { "CHANGE_EMAIL_WITHIN", key = "change_email_within", convert = duration,
    note = "seconds, or '2 hours'" },
  { "CHANGE_EMAIL_SALT", same = { "change-email-salt" }, refuse = SALT },
  salt("TWO_FACTOR_VALIDITY_SALT", "tf-validity-salt"),
  salt("TWO_FACTOR_SETUP_SALT", "tf-setup-salt"),
  { "TWO_FACTOR_SETUP_WITHIN", key = "two_factor_setup_within", convert = duration,
    note = "seconds, or '30 minutes'" },
  { "CONFIRM_EMAIL_WITHIN", v3 = true, key = "confirm_email_within", convert = duration,
    note = "seconds, or '5 days'" },
  { "RESET_PASSWORD_WITHIN", v3 = true, key = "reset_password_within", convert = duration,
    note = "seconds, or '1 days'" },
  { "LOGIN_WITHOUT_CONFIRMATION", v3 = true, key = "login_without_confirmation" },
  { "AUTO_LOGIN_AFTER_CONFIRM", key = "auto_login_after_confirm" },
  { "AUTO_LOGIN_AFTER_RESET", key = "auto_login_after_reset" },
  { "TOKEN_AUTHENTICATION_KEY", v3 = true, key = "token_authentication_key" },
  { "TOKEN_AUTHENTICATION_HEADER", v3 = true, key = "token_authentication_header" },
  { "TOKEN_MAX_AGE", v3 = true, key = "token_max_age", convert = duration, note = "seconds" },
  { "TOKEN_EXPIRE_TIMESTAMP", same = NONE,
    refuse = "give each token its expiry: sec:get_auth_token(user, { expires_in = seconds })" },
  salt("CONFIRM_SALT", "confirm-salt", true),
  salt("RESET_SALT", "reset-salt", true),
  salt("LOGIN_SALT", "login-salt", true),
  salt("CHANGE_SALT", "change-salt", true),
  { "REMEMBER_SALT", v3 = true, key = "remember_salt",
    note = "the salt of the Flask app's auth tokens fsec verifies (flask_secret_key)" },
  { "DEFAULT_REMEMBER_ME", v3 = true, key = "default_remember_me" },
  { "DEFAULT_HTTP_AUTH_REALM", v3 = true, key = "default_http_auth_realm" },
  salt("US_SETUP_SALT", "us-setup-salt"),
  { "US_SETUP_WITHIN", key = "us_setup_within", convert = duration, note = "seconds, or '30 minutes'" },
  salt("WAN_SALT", "wan-salt"),
  { "WAN_REGISTER_WITHIN", key = "wan_register_within", convert = duration, note = "seconds, or '30 minutes'" },
  { "WAN_SIGNIN_WITHIN", key = "wan_signin_within", convert = duration, note = "seconds, or '1 minutes'" },

  -- mail
  { "SEND_REGISTER_EMAIL", v3 = true, key = "send_register_email" },
  { "SEND_PASSWORD_CHANGE_EMAIL", v3 = true, key = "send_password_change_email" },
  { "SEND_PASSWORD_RESET_EMAIL", v3 = true, key = "send_password_reset_email" },
  { "SEND_PASSWORD_RESET_NOTICE_EMAIL", v3 = true, key = "send_password_reset_notice_email" },
  { "CHANGE_EMAIL_SUBJECT", key = "change_email_subject" },
  { "SEND_USERNAME_CHANGE_EMAIL", key = "send_username_change_email" },
  { "EMAIL_SENDER", v3 = true, key = "email_sender" },
  { "TWO_FACTOR_RESCUE_MAIL", key = "two_factor_rescue_mail" },
  { "EMAIL_SUBJECT_REGISTER", v3 = true, key = "email_subject_register" },
  { "EMAIL_SUBJECT_CONFIRM", v3 = true, key = "email_subject_confirm" },
  { "EMAIL_SUBJECT_PASSWORDLESS", v3 = true, key = "email_subject_passwordless" },
  { "EMAIL_SUBJECT_PASSWORD_NOTICE", v3 = true, key = "email_subject_password_notice" },
  { "EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE", v3 = true, key = "email_subject_password_change_notice" },
  { "EMAIL_SUBJECT_PASSWORD_RESET", v3 = true, key = "email_subject_password_reset" },
  { "EMAIL_SUBJECT_USERNAME_CHANGE_NOTICE", key = "email_subject_username_change_notice" },
  { "EMAIL_SUBJECT_USERNAME_RECOVERY", key = "email_subject_username_recovery" },
  { "EMAIL_PLAINTEXT", v3 = true, key = "email_plaintext" },
  { "EMAIL_HTML", v3 = true, key = "email_html" },
  { "EMAIL_SUBJECT_TWO_FACTOR", key = "email_subject_two_factor" },
  { "EMAIL_SUBJECT_TWO_FACTOR_RESCUE", key = "email_subject_two_factor_rescue" },
  { "US_EMAIL_SUBJECT", key = "us_email_subject" },

  -- freshness
  { "FRESHNESS", key = "freshness", convert = duration, note = "seconds (a timedelta in Too); -1: never asked" },
  { "FRESHNESS_GRACE_PERIOD", key = "freshness_grace_period", convert = duration, note = "seconds" },
  { "FRESHNESS_ALLOW_AUTH_TOKEN", key = "freshness_allow_auth_token",
    note = "fsec's default is off: a token is never a fresh sign-in unless this says so" },

  -- CSRF
  { "CSRF_PROTECT_MECHANISMS", key = "csrf_protect_mechanisms", note = "fsec's default leaves out token" },
  { "CSRF_IGNORE_UNAUTH_ENDPOINTS", key = "csrf_ignore_unauth_endpoints" },
  { "CSRF_COOKIE_NAME", key = "csrf_cookie_name" },
  { "CSRF_COOKIE", key = "csrf_cookie" },
  { "CSRF_HEADER", key = "csrf_header" },
  { "CSRF_COOKIE_REFRESH_EACH_REQUEST", key = "csrf_cookie_refresh_each_request" },

  -- two-factor, TOTP, SMS, recovery codes
  { "TWO_FACTOR_AUTHENTICATOR_VALIDITY", key = "two_factor_authenticator_validity" },
  { "TWO_FACTOR_MAIL_VALIDITY", key = "two_factor_mail_validity" },
  { "TWO_FACTOR_SMS_VALIDITY", key = "two_factor_sms_validity" },
  { "TWO_FACTOR_ALWAYS_VALIDATE", key = "two_factor_always_validate" },
  { "TWO_FACTOR_LOGIN_VALIDITY", key = "two_factor_login_validity", convert = duration,
    note = "seconds, or '30 days'" },
  { "TWO_FACTOR_VALIDITY_COOKIE", same = NONE,
    refuse = "the tf_validity cookie has the session cookie's attributes (its name: two_factor_validity_cookie_name)" },
  { "TWO_FACTOR_RESCUE_EMAIL", key = "two_factor_rescue_email" },
  { "MULTI_FACTOR_RECOVERY_CODES_N", key = "multi_factor_recovery_codes_n" },
  { "MULTI_FACTOR_RECOVERY_CODES_KEYS", key = "multi_factor_recovery_codes_keys" },
  { "MULTI_FACTOR_RECOVERY_CODE_TTL", same = NONE,
    refuse = "fsec shows kept codes again whenever asked (with multi_factor_recovery_codes_keys)" },
  { "TOTP_SECRETS", key = "totp_secrets" },
  { "TOTP_ISSUER", key = "totp_issuer" },
  { "SMS_SERVICE", same = { "Dummy" }, refuse = "give send_sms = function(message) (none: messages go to mail_dir)" },
  { "SMS_SERVICE_CONFIG", same = NONE, refuse = "give send_sms = function(message)" },
  { "TWO_FACTOR_REQUIRED", key = "two_factor_required" },
  { "TWO_FACTOR_ENABLED_METHODS", key = "two_factor_enabled_methods" },
  { "TWO_FACTOR_IMPLEMENTATIONS", same = NONE, refuse = "fsec's second factors are its own (codes, WebAuthn keys)" },

  -- unified sign-in
  { "US_ENABLED_METHODS", key = "us_enabled_methods" },
  { "US_MFA_REQUIRED", key = "us_mfa_required" },
  { "US_TOKEN_VALIDITY", key = "us_token_validity" },
  { "US_SIGNIN_REPLACES_LOGIN", key = "us_signin_replaces_login" },

  -- username
  { "USERNAME_REQUIRED", key = "username_required" },
  { "USERNAME_MIN_LENGTH", same = { 4 }, refuse = USERNAMES },
  { "USERNAME_MAX_LENGTH", same = { 32 }, refuse = USERNAMES },
  { "USERNAME_NORMALIZE_FORM", same = { "NFKD" }, refuse = USERNAMES },

  -- WebAuthn, OAuth
  { "WAN_CHALLENGE_BYTES", key = "wan_challenge_bytes", note = "None: 32" },
  { "WAN_RP_NAME", key = "wan_rp_name" },
  { "WAN_REGISTER_TIMEOUT", key = "wan_register_timeout" },
  { "WAN_SIGNIN_TIMEOUT", key = "wan_signin_timeout" },
  { "WAN_ALLOW_AS_FIRST_FACTOR", key = "wan_allow_as_first_factor" },
  { "WAN_ALLOW_AS_MULTI_FACTOR", key = "wan_allow_as_multi_factor" },
  { "WAN_ALLOW_USER_HINTS", key = "wan_allow_user_hints" },
  { "WAN_ALLOW_AS_VERIFY", key = "wan_allow_as_verify",
    note = "[]: no /wan-verify" },
  { "OAUTH_BUILTIN_PROVIDERS", same = { { "github", "google" } }, refuse = NO_OAUTH },

  -- messages
  { "MSG_*", v3 = true, key = "messages",
    note = "SECURITY_MSG_<KEY> = text or { text, category } becomes messages[KEY] = text" },
}


-- By name.
local BY_NAME = {}
for _, row in ipairs(_M.ROWS) do
  assert(not BY_NAME[row[1]], row[1] .. " twice")
  BY_NAME[row[1]] = row
end
_M.BY_NAME = BY_NAME


local same_value = require("fsec.jsonexact").same

--- Is v a value for which fsec does what Flask-Security would (a refused
-- row given its Flask default)?
function _M.is_same(row, v)
  for _, s in ipairs(row.same or {}) do
    if same_value(s, v) then return true end
  end
  return false
end


--- The row of docs/configuration.md's table for a row (spec/08 checks the
-- page holds exactly these; `lua -e 'for _, r in ipairs(require
-- "fsec.flaskconf".ROWS) do print(require "fsec.flaskconf".doc_row(r)) end'`
-- prints them all).
function _M.doc_row(row)
  local name = row[1] == "MSG_*" and "`SECURITY_MSG_*`" or "`SECURITY_" .. row[1] .. "`"
  local since = row.v3 and "3.0" or "Too"
  if row.refuse then return ("| %s | %s | not supported | %s |"):format(name, since, row.refuse) end
  return ("| %s | %s | `%s` | %s |"):format(name, since, row.key, row.note or "")
end


--- The refusal message of a row, naming the key as it was given.
function _M.refusal(given, row)
  return given .. " is not supported: " .. row.refuse
end


-- SECURITY_MSG_<KEY> = text | { text, category }.
local function message_text(v)
  if type(v) == "table" then v = v[1] end
  return v
end


--- Translate Flask-Security names in a configuration into fsec keys.
-- `SECURITY_NAME` keys (and `SECURITY_MSG_<KEY>`) are mapped, converted
-- or refused; fsec-spelled names of refused rows (`two_factor_select_template`)
-- are refused with the same message. Other keys pass as they are.
-- @tparam table user the table given to fsec.new
-- @tparam table schema fsec.config.schema (fsec's own keys)
-- @treturn table|nil a new table (user itself when no Flask name is in it)
-- @treturn string|nil the message naming the key
-- @treturn table|nil fsec key -> the Flask name it was given as
function _M.translate(user, schema)
  local out, changed = {}, false
  local messages, names, templates
  for k, v in pairs(user) do
    local name = type(k) == "string" and k:match("^SECURITY_(.+)$")
    local row = name and BY_NAME[name]
    if not row and type(k) == "string" and not schema[k] then
      -- fsec's spelling of a Flask name fsec refuses
      local r = BY_NAME[k:upper()]
      if r and r.refuse and k == k:lower() then return nil, _M.refusal(k, r) end
    end
    if name and name:find("^MSG_") then
      messages = messages or {}
      messages[name:sub(5)] = message_text(v)
      changed = true
    elseif row and row.template then
      -- the template's own name (Flask-Security's default) changes nothing
      if v ~= row.template then
        if type(v) ~= "string" or v == "" then return nil, k .. ": a template file name expected" end
        templates = templates or {}
        templates[row.template] = { file = v }
      end
      changed = true
    elseif name and not row then
      return nil, "unknown configuration key: " .. k .. " (no Flask-Security setting of that name)"
    elseif row and row.refuse then
      if not _M.is_same(row, v) then return nil, _M.refusal(k, row) end
      changed = true -- fsec does this already: nothing to set
    elseif row then
      local fk = row.key
      if user[fk] ~= nil then return nil, k .. " and " .. fk .. " are the same setting: give one" end
      if out[fk] ~= nil then return nil, k .. " is given twice" end
      local value, err = v
      -- None spelled false, for a key that takes no boolean: the default
      local spec = schema[fk]
      local types = spec and (type(spec.type) == "table" and spec.type or { spec.type }) or {}
      if value == false and spec and types[1] ~= "boolean" and types[2] ~= "boolean" then
        value = nil
      elseif row.convert then
        value, err = row.convert(v)
        if err then return nil, k .. ": " .. err end
      end
      out[fk] = value
      names = names or {}
      names[fk] = k
      changed = true
    else
      out[k] = v
    end
  end
  if not changed then return user end
  if templates then
    if user.templates ~= nil then return nil, "SECURITY_*_TEMPLATE and templates are the same setting: give one" end
    out.templates = templates
    names = names or {}
    names.templates = "SECURITY_*_TEMPLATE"
  end
  if messages then
    if user.messages ~= nil then return nil, "SECURITY_MSG_* and messages are the same setting: give one" end
    out.messages = messages
    names = names or {}
    names.messages = "SECURITY_MSG_*"
  end
  return out, nil, names
end


return _M
