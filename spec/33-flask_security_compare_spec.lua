-- Every endpoint fsec shares with Flask-Security 5.1.2, in the
-- configurations fsec supports (JSON and HTML forms, CSRF off and on,
-- each optional endpoint, auto-login settings, identity attributes,
-- include_auth_token, the application's token / session / Basic
-- routes), played against both by spec/tools/compare.lua (the peer:
-- spec/peer/fs_play.py, one python process for all of them). Every
-- answer is compared: status, Location, type, envelope, keys, messages,
-- field names, a page's form fields and the messages it shows, cookies.
-- FSEC_COMPARE_SHOW=play:step prints both answers of one step;
-- FSEC_PEER_INPUT=FILE keeps the peer's input (to run fs_play.py by hand). Each difference found must be
-- covered by an entry of spec/peer/differences.lua (which says why), and
-- each entry must still match one: the list in docs/differences.md (made
-- from it) is complete and true.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local compare = require "spec.tools.compare"

local M, PW = "matt@example.com", "password-1"
local USERS = {
  { email = M, password = PW, confirmed = true },
  { email = "off@example.com", password = PW, active = false, confirmed = true },
}
local HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

local function j(method, path, body, extra)
  local s = { method = method, path = path, json = body }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end
local function get(path, extra) return j("GET", path, nil, extra) end
local function page(path, extra) return get(path, helpers.merged({ accept = HTML }, extra)) end
local function form(path, fields, extra)
  local f = { csrf_token = "{csrf}" }
  for k, v in pairs(fields) do f[k] = v end
  return helpers.merged({ method = "POST", path = path, form = f, accept = HTML }, extra)
end
local function login(extra) return j("POST", "/login", { email = M, password = PW }, extra) end
local function logout(extra) return j("POST", "/logout", nil, extra) end

-- The password endpoints, JSON, CSRF off.
local JSON_STEPS = {
  get("/login"),
  j("POST", "/login", { email = M, password = "bogus" }),
  j("POST", "/login", { email = "nobody@example.com", password = PW }),
  j("POST", "/login", { email = "not-an-email", password = PW }),
  j("POST", "/login", { email = M, password = "" }),
  j("POST", "/login", { email = "off@example.com", password = PW }),
  j("POST", "/login", {}),
  { method = "POST", path = "/login", raw = "{not json", label = "a malformed body" },
  get("/api/any", { label = "not signed in" }),
  get("/api/basic", { label = "not signed in" }),
  get("/api/basic", { basic = { M, PW }, label = "good Basic credentials" }),
  get("/api/basic", { basic = { M, "bogus" }, label = "bad Basic credentials" }),
  get("/api/any", { basic = { M, PW }, label = "Basic on a route that takes it" }),
  j("POST", "/login", { email = "MATT@example.com", password = PW }, { query = "include_auth_token" }),
  get("/api/token", { token = true, label = "the login's token" }),
  get("/api/any", { token = true, label = "the login's token" }),
  get("/api/session", { label = "the session" }),
  get("/api/admin", { label = "without the role" }),
  get("/api/fresh", { label = "fresh enough" }),
  get("/login", { label = "signed in" }),
  login({ label = "again, signed in" }),
  get("/verify"),
  j("POST", "/verify", { password = "bogus" }),
  j("POST", "/verify", { password = PW }),
  get("/change"),
  j("POST", "/change", { password = "wrong-pass", new_password = "new-password-2", new_password_confirm = "new-password-2" }),
  j("POST", "/change", { password = PW, new_password = PW, new_password_confirm = PW }),
  j("POST", "/change", { password = PW, new_password = "new-password-2", new_password_confirm = "other-password" }),
  j("POST", "/change", { password = PW, new_password = "short", new_password_confirm = "short" }),
  j("POST", "/change", { password = PW, new_password = "new-password-2", new_password_confirm = "new-password-2" }),
  get("/api/token", { token = true, label = "the token after a password change" }),
  get("/logout", { label = "GET" }),
  logout(),
  logout({ label = "signed out already" }),
  j("POST", "/change", { password = "x" }, { label = "not signed in" }),
  get("/register"),
  j("POST", "/register", { email = "MATT@example.com", password = "battery staple", password_confirm = "battery staple" }),
  j("POST", "/register", { email = "new@example.com", password = "short", password_confirm = "short" }),
  j("POST", "/register", { email = "bogus", password = "battery staple", password_confirm = "battery staple" }),
  j("POST", "/register", { email = "new@example.com", password = "battery staple", password_confirm = "battery staple" }),
  logout(),
  get("/reset"),
  j("POST", "/reset", { email = "nobody@example.com" }),
  j("POST", "/reset", { email = "bogus" }),
  j("POST", "/reset", { email = M }),
  get("{link}", { as = "GET /reset/<token>" }),
  j("POST", "{link}", { password = "short", password_confirm = "short" }, { as = "POST /reset/<token>" }),
  j("POST", "{link}", { password = "reset-password-3", password_confirm = "other-one" }, { as = "POST /reset/<token>" }),
  j("POST", "{link}", { password = "reset-password-3", password_confirm = "reset-password-3" }, { as = "POST /reset/<token>" }),
  get("/reset/not-a-token", { as = "GET /reset/<token>", label = "bad token" }),
  j("POST", "/login", { email = M, password = "reset-password-3" }),
  get("/confirm", { label = "not confirmable" }),
  get("/us-signin", { label = "not enabled" }),
}

local BASE_FSEC = { csrf_enabled = false, registerable = true, recoverable = true, changeable = true,
                    logout_methods = { "GET", "POST" }, auto_login_after_reset = true }
local BASE_FLASK = { WTF_CSRF_ENABLED = false, SECURITY_REGISTERABLE = true, SECURITY_RECOVERABLE = true,
                     SECURITY_CHANGEABLE = true }

-- Confirmation: register, the link, send-confirmation, sign-in before it.
local function confirm_steps(auto)
  return {
    get("/confirm"),
    j("POST", "/register", { email = "new@example.com", password = "battery staple", password_confirm = "battery staple" }),
    j("POST", "/login", { email = "new@example.com", password = "battery staple" }, { label = "unconfirmed" }),
    logout({ label = auto and "after an unconfirmed sign-in" or nil }),
    j("POST", "/confirm", { email = "nobody@example.com" }),
    j("POST", "/confirm", { email = "bogus" }),
    j("POST", "/confirm", { email = M }, { label = "confirmed already" }),
    j("POST", "/confirm", { email = "new@example.com" }),
    get("{link}", { as = "GET /confirm/<token>" }),
    get("{link}", { as = "GET /confirm/<token>", label = "again" }),
    get("/confirm/not-a-token", { as = "GET /confirm/<token>", label = "bad token" }),
    logout(),
    j("POST", "/login", { email = "new@example.com", password = "battery staple" }, { label = "confirmed" }),
    logout(),
    page("/confirm"),
    j("POST", "/register", { email = "late@example.com", password = "battery staple", password_confirm = "battery staple" }),
    page("{link}", { as = "GET /confirm/<token>", label = "a browser" }),
  }
end

-- HTML forms with CSRF on (tokens from each form).
local FORM_STEPS = {
  page("/login"),
  form("/login", { email = M, password = "bogus" }),
  form("/login", { email = M, password = PW }, { label = "no token", form = { email = M, password = PW } }),
  form("/login", { email = M, password = PW }, { form = { email = M, password = PW, csrf_token = "stale" },
                                                 label = "a bad token" }),
  page("/login", { label = "fresh form" }),
  form("/login", { email = M, password = PW }),
  page("/login", { label = "signed in" }),
  page("/api/session", { label = "a browser, signed in" }),
  page("/api/admin", { label = "a browser without the role" }),
  page("/change"),
  form("/change", { password = "wrong", new_password = "new-password-2", new_password_confirm = "new-password-2" }),
  page("/change", { label = "fresh form" }),
  form("/change", { password = PW, new_password = "new-password-2", new_password_confirm = "new-password-2" }),
  page("/verify"),
  form("/verify", { password = "new-password-2" }),
  page("/change", { label = "token for logout" }),
  form("/logout", {}),
  page("/api/session", { label = "a browser, signed out" }),
  page("/register"),
  form("/register", { email = "bogus", password = "battery staple", password_confirm = "battery staple" }),
  page("/register", { label = "fresh form" }),
  form("/register", { email = "new@example.com", password = "battery staple", password_confirm = "battery staple" }),
  page("/reset"),
  form("/reset", { email = M }),
  page("{link}", { as = "GET /reset/<token>" }),
  form("{link}", { password = "short", password_confirm = "short" }, { as = "POST /reset/<token>" }),
  page("{link}", { as = "GET /reset/<token>", label = "fresh form" }),
  form("{link}", { password = "reset-password-3", password_confirm = "reset-password-3" }, { as = "POST /reset/<token>" }),
  page("/confirm"),
  form("/confirm", { email = "new@example.com" }),
  page("/login", { label = "after the mail" }),
  form("/login", { email = M, password = "reset-password-3" }),
  logout({ label = "no token" }),
  get("/api/session", { label = "after a logout without a token" }),
}

-- CSRF on, header tokens (CSRFProtect on the peer: Too's setup for SPAs).
local CSRF_STEPS = {
  get("/login"),
  login({ label = "no token" }),
  login({ headers = { ["X-CSRF-Token"] = "bogus" }, label = "a bad token" }),
  login({ headers = { ["X-XSRF-Token"] = "{csrf}" }, label = "X-XSRF-Token" }),
  get("/login", { label = "fresh token" }),
  login({ headers = { ["X-CSRF-Token"] = "{csrf}" } }),
  get("/api/session", { label = "signed in" }),
  j("POST", "/api/session", {}, { label = "a POST without a token" }),
  j("POST", "/api/session", {}, { headers = { ["X-CSRF-Token"] = "{csrf}" }, label = "a POST with the token" }),
  logout({ label = "no token" }),
  logout({ headers = { ["X-CSRF-Token"] = "{csrf}" } }),
  get("/login", { label = "after logout" }),
  get("/login", { accept = "text/html, application/json", label = "Accept: html first" }),
  get("/login", { accept = "application/json, text/html", label = "Accept: json first" }),
  j("POST", "/login", { email = M, password = PW }, { content_type = "application/vnd.api+json",
    headers = { ["X-CSRF-Token"] = "{csrf}" }, accept = "application/vnd.api+json", label = "+json" }),
}

local function passwordless_steps()
  local t = { headers = { ["X-CSRF-Token"] = "{csrf}" } }
  return {
    get("/login"),
    j("POST", "/login", { email = "nobody@example.com" }, t),
    j("POST", "/login", { email = "bogus" }, t),
    j("POST", "/login", { email = M }, { label = "no token" }),
    j("POST", "/login", { email = M }, t),
    get("{link}", { as = "GET /login/<token>" }),
    get("/login/not-a-token", { as = "GET /login/<token>", label = "bad token" }),
    logout(t),
    page("/login"),
    form("/login", { email = M }),
    page("{link}", { as = "GET /login/<token>", label = "a browser" }),
  }
end

local TF_STEPS = {
  get("/tf-setup", { label = "not signed in" }),
  login(),
  get("/tf-setup"),
  j("POST", "/tf-setup", { setup = "bogus" }),
  j("POST", "/tf-setup", { setup = "authenticator" }),
  j("POST", "/tf-validate", { code = "000000" }),
  j("POST", "/tf-validate", { code = "{authr:0}" }),
  logout(),
  login({ label = "two-factor user" }),
  get("/tf-validate"),
  j("POST", "/tf-validate", { code = "{authr:1}" }),
  get("/tf-select"),
  logout(),
  page("/login"),
  form("/login", { email = M, password = PW }),
  page("/tf-validate"),
  page("/tf-rescue"),
}

local US_STEPS = {
  get("/us-signin"),
  j("POST", "/us-signin", { identity = M, passcode = "wrong-one" }),
  j("POST", "/us-signin", { identity = M, passcode = PW }, { query = "include_auth_token" }),
  get("/us-setup"),
  j("POST", "/us-setup", { chosen_method = "email" }),
  j("POST", "/us-setup/{state}", { passcode = "{mail}" }, { as = "POST /us-setup/<state>" }),
  get("/us-verify"),
  j("POST", "/us-verify", { passcode = PW }),
  logout(),
  j("POST", "/us-signin/send-code", { identity = M, chosen_method = "email" }),
  j("POST", "/us-signin", { identity = M, passcode = "{mail}" }, { label = "a mailed code" }),
  logout(),
  page("/us-signin"),
  form("/us-signin", { identity = M, passcode = PW }),
  page("/us-setup"),
  page("/us-verify"),
}

-- HTML forms, CSRF off; a browser on the app's routes; remember me.
local FORM_OPEN_STEPS = {
  page("/api/session", { label = "a browser, not signed in" }),
  page("/api/token", { label = "a browser, token only" }),
  page("/api/basic", { label = "a browser, Basic only" }),
  page("/verify", { label = "not signed in" }),
  page("/change", { label = "not signed in" }),
  get("/verify", { label = "JSON, not signed in" }),
  get("/change", { label = "JSON, not signed in" }),
  page("/login"),
  form("/login", { email = "nobody@example.com", password = PW }),
  form("/login", { email = M, password = PW, remember = "y" }, { label = "remember me" }),
  page("/api/session", { label = "a browser, signed in" }),
  page("/api/admin", { label = "a browser without the role" }),
  page("/api/fresh", { label = "a browser, not fresh" }),
  page("/verify"),
  form("/verify", { password = "bogus" }),
  form("/verify", { password = PW }),
  page("/change"),
  form("/change", { password = PW, new_password = "short", new_password_confirm = "short" }),
  form("/change", { password = PW, new_password = "new-password-2", new_password_confirm = "new-password-2" }),
  page("/register", { label = "signed in" }),
  form("/logout", {}),
  page("/logout", { label = "GET" }),
  page("/register"),
  form("/register", { email = M, password = "battery staple", password_confirm = "battery staple" }),
  form("/register", { email = "new@example.com", password = "battery staple", password_confirm = "battery staple" }),
  form("/logout", {}),
  page("/reset"),
  form("/reset", { email = "nobody@example.com" }),
  form("/reset", { email = M }),
  page("{link}", { as = "GET /reset/<token>" }),
  form("{link}", { password = "reset-password-3", password_confirm = "other-one" }, { as = "POST /reset/<token>" }),
  form("{link}", { password = "reset-password-3", password_confirm = "reset-password-3" }, { as = "POST /reset/<token>" }),
  page("/reset/not-a-token", { as = "GET /reset/<token>", label = "bad token" }),
  page("/login", { label = "after the reset" }),
  j("PUT", "/login", {}, { label = "a method it does not take" }),
  get("/api/any", { query = "auth_token={token}", label = "no token yet" }),
  j("POST", "/login", { email = M, password = "reset-password-3" }, { query = "include_auth_token" }),
  get("/api/token", { query = "auth_token={token}", label = "the token in the query" }),
  get("/api/token", { headers = { ["Authentication-Token"] = "garbage" }, label = "a bad token" }),
  get("/register", { label = "JSON, signed in" }),
  page("/register", { label = "a browser, signed in" }),
  page("/reset", { label = "a browser, signed in" }),
  j("POST", "/logout", nil, { token = true, label = "with the token only" }),
}

-- CSRF on, the token in the JSON body (no CSRFProtect: Flask-Security's
-- forms check it).
local CSRF_BODY_STEPS = {
  get("/login"),
  j("POST", "/login", { email = M, password = PW }, { label = "no token" }),
  j("POST", "/login", { email = M, password = PW, csrf_token = "{csrf}" }),
  get("/api/session", { label = "signed in" }),
  j("POST", "/api/session", {}, { label = "a POST without a token" }),
  j("POST", "/change", { password = PW, new_password = "new-password-2", new_password_confirm = "new-password-2" },
    { label = "no token" }),
  j("POST", "/change", { password = PW, new_password = "new-password-2", new_password_confirm = "new-password-2",
                         csrf_token = "{csrf}" }),
  logout({ label = "no token" }),
  get("/api/session", { label = "after a logout without a token" }),
  j("POST", "/logout", { csrf_token = "{csrf}" }, { label = "with the token" }),
  get("/login", { label = "a fresh token" }),
  j("POST", "/register", { email = "new@example.com", password = "battery staple", password_confirm = "battery staple",
                           csrf_token = "{csrf}" }),
  j("POST", "/reset", { email = M, csrf_token = "{csrf}" }, { label = "signed in" }),
}

-- Generic answers: no answer tells whether an account exists.
local GENERIC_STEPS = {
  j("POST", "/login", { email = "nobody@example.com", password = PW }),
  j("POST", "/login", { email = M, password = "bogus" }),
  j("POST", "/register", { email = M, password = "battery staple", password_confirm = "battery staple" }),
  j("POST", "/reset", { email = "nobody@example.com" }),
  j("POST", "/reset", { email = M }),
  j("POST", "/confirm", { email = "nobody@example.com" }),
  j("POST", "/confirm", { email = M }),
  page("/login"),
  form("/login", { email = "nobody@example.com", password = PW }),
  form("/reset", { email = "nobody@example.com" }),
}

local TF_FORM_STEPS = {
  page("/login"),
  form("/login", { email = M, password = PW }),
  page("/tf-setup"),
  form("/tf-setup", { setup = "authenticator" }),
  form("/tf-validate", { code = "{authr:0}" }),
  page("/tf-setup", { label = "set up" }),
  page("/login", { label = "token for logout" }),
  form("/logout", {}),
  page("/login", { label = "again" }),
  form("/login", { email = M, password = PW }, { label = "two-factor user" }),
  page("/tf-validate"),
  form("/tf-validate", { code = "000000" }),
  page("/tf-rescue"),
  form("/tf-rescue", { help_setup = "email" }),
  page("/tf-validate", { label = "after the rescue mail" }),
  form("/tf-validate", { code = "{mail}" }, { label = "the mailed code" }),
  page("/mf-recovery-codes"),
  form("/mf-recovery-codes", {}),
  page("/tf-setup", { label = "token for logout" }),
  form("/logout", {}),
  page("/login", { label = "for the recovery code" }),
  form("/login", { email = M, password = PW }, { label = "for the recovery code" }),
  page("/tf-rescue", { label = "for the recovery code" }),
  form("/tf-rescue", { help_setup = "recovery_code" }),
  page("/mf-recovery"),
  form("/mf-recovery", { code = "0000-0000-0000" }),
  page("/mf-recovery", { label = "fresh form" }),
  form("/mf-recovery", { code = "{recovery:1}" }, { label = "a recovery code" }),
  page("/tf-setup", { label = "signed in" }),
  form("/tf-setup", { setup = "disable" }),
}

local US_FORM_STEPS = {
  page("/us-signin"),
  form("/us-signin", { identity = M, passcode = "wrong" }),
  form("/us-signin/send-code", { identity = M, chosen_method = "email" }, { label = "email not set up" }),
  page("/us-signin", { label = "fresh form" }),
  form("/us-signin", { identity = M, passcode = PW }, { label = "the password" }),
  page("/us-setup"),
  form("/us-setup", { chosen_method = "authenticator" }),
  form("/us-setup/{state}", { passcode = "{authr:0}" }, { as = "POST /us-setup/<state>" }),
  page("/us-setup", { label = "set up" }),
  page("/us-verify"),
  form("/us-verify", { passcode = "bogus" }),
  page("/us-verify", { label = "fresh form" }),
  form("/us-verify", { passcode = "{authr:1}" }, { label = "the authenticator's code" }),
  page("/us-setup", { label = "token for logout" }),
  form("/logout", {}),
  page("/us-signin", { label = "again" }),
  form("/us-signin", { identity = M, passcode = PW }, { label = "the password, a second factor set" }),
}

-- Too's SPA redirects, as fsec takes them once it knows
-- redirect_behavior (branch wire): until then the play shows what differs.
local SPA_KEYS = { redirect_behavior = "spa", redirect_host = "localhost:8080", reset_view = "/reset-view",
                  reset_error_view = "/reset-error", post_confirm_view = "/confirmed",
                  confirm_error_view = "/confirm-error", login_error_view = "/login-error" }

local PLAYS = {
  { name = "json", users = USERS, roles = {}, fsec = BASE_FSEC, flask = BASE_FLASK, steps = JSON_STEPS },
  { name = "json-confirm", users = USERS,
    fsec = helpers.merged(BASE_FSEC, { confirmable = true, auto_login_after_confirm = false, one_click_links = true }),
    flask = helpers.merged(BASE_FLASK, { SECURITY_CONFIRMABLE = true, SECURITY_AUTO_LOGIN_AFTER_CONFIRM = false }),
    steps = confirm_steps(false) },
  { name = "json-confirm-auto", users = USERS,
    fsec = helpers.merged(BASE_FSEC, { confirmable = true, auto_login_after_confirm = true,
                                       login_without_confirmation = true }),
    flask = helpers.merged(BASE_FLASK, { SECURITY_CONFIRMABLE = true, SECURITY_AUTO_LOGIN_AFTER_CONFIRM = true,
                                         SECURITY_LOGIN_WITHOUT_CONFIRMATION = true }),
    steps = confirm_steps(true) },
  { name = "form-csrf", users = { { email = M, password = PW, confirmed = true } },
    fsec = helpers.merged(BASE_FSEC, { csrf_enabled = true, confirmable = true, roles = nil }),
    flask = helpers.merged(BASE_FLASK, { WTF_CSRF_ENABLED = true, SECURITY_CONFIRMABLE = true }),
    steps = FORM_STEPS },
  { name = "json-csrf", users = { { email = M, password = PW, confirmed = true } }, csrf_protect = true,
    fsec = helpers.merged(BASE_FSEC, { csrf_enabled = true }),
    flask = helpers.merged(BASE_FLASK, { WTF_CSRF_ENABLED = true }),
    steps = CSRF_STEPS },
  { name = "passwordless", users = USERS, csrf_protect = true,
    fsec = helpers.merged(BASE_FSEC, { passwordless = true, csrf_enabled = true }),
    flask = helpers.merged(BASE_FLASK, { SECURITY_PASSWORDLESS = true, WTF_CSRF_ENABLED = true }),
    steps = passwordless_steps() },
  { name = "spa", users = USERS,
    fsec = helpers.merged(BASE_FSEC, helpers.merged({ confirmable = true, one_click_links = true }, SPA_KEYS)),
    flask = helpers.merged(BASE_FLASK, { SECURITY_CONFIRMABLE = true, SECURITY_REDIRECT_BEHAVIOR = "spa",
      SECURITY_REDIRECT_HOST = "localhost:8080", SECURITY_RESET_VIEW = "/reset-view",
      SECURITY_RESET_ERROR_VIEW = "/reset-error", SECURITY_POST_CONFIRM_VIEW = "/confirmed",
      SECURITY_CONFIRM_ERROR_VIEW = "/confirm-error", SECURITY_LOGIN_ERROR_VIEW = "/login-error" }),
    steps = {
      j("POST", "/reset", { email = M }),
      page("{link}", { as = "GET /reset/<token>" }),
      page("/reset/not-a-token", { as = "GET /reset/<token>", label = "bad token" }),
      j("POST", "/register", { email = "new@example.com", password = "battery staple",
                               password_confirm = "battery staple" }),
      page("{link}", { as = "GET /confirm/<token>" }),
      page("/confirm/not-a-token", { as = "GET /confirm/<token>", label = "bad token" }),
    } },
  { name = "username", identity = { "email", "username" },
    users = { { email = M, password = PW, confirmed = true, username = "matt" } },
    fsec = helpers.merged(BASE_FSEC, { username_enable = true, identity_attributes = { "email", "username" } }),
    flask = helpers.merged(BASE_FLASK, { SECURITY_USERNAME_ENABLE = true }),
    steps = {
      get("/login"),
      j("POST", "/login", { username = "matt", password = PW }),
      logout(),
      j("POST", "/login", { username = "nobody", password = PW }),
      j("POST", "/register", { email = "new@example.com", username = "newbie", password = "battery staple",
                               password_confirm = "battery staple" }),
      logout(),
      j("POST", "/register", { email = "other@example.com", username = "matt", password = "battery staple",
                               password_confirm = "battery staple" }, { label = "a taken username" }),
      page("/register"),
      page("/login"),
    } },
  { name = "two-factor", users = { { email = M, password = PW, confirmed = true } },
    fsec = helpers.merged(BASE_FSEC, { two_factor = true, csrf_enabled = false }),
    flask = helpers.merged(BASE_FLASK, { SECURITY_TWO_FACTOR = true,
                                         SECURITY_TWO_FACTOR_ENABLED_METHODS = { "email", "authenticator", "sms" } }),
    steps = TF_STEPS },
  { name = "unified", identity = { "email", "us_phone_number" }, users = { { email = M, password = PW, confirmed = true } },
    fsec = helpers.merged(BASE_FSEC, { unified_signin = true, two_factor = true,
                                       identity_attributes = { "email", "us_phone_number" } }),
    flask = helpers.merged(BASE_FLASK, { SECURITY_UNIFIED_SIGNIN = true, SECURITY_TWO_FACTOR = true }),
    steps = US_STEPS },
}
PLAYS[#PLAYS + 1] = { name = "form", users = { { email = M, password = PW, confirmed = true } },
  fsec = BASE_FSEC, flask = BASE_FLASK, steps = FORM_OPEN_STEPS }
PLAYS[#PLAYS + 1] = { name = "json-csrf-body", users = { { email = M, password = PW, confirmed = true } },
  fsec = helpers.merged(BASE_FSEC, { csrf_enabled = true }),
  flask = helpers.merged(BASE_FLASK, { WTF_CSRF_ENABLED = true }), steps = CSRF_BODY_STEPS }
PLAYS[#PLAYS + 1] = { name = "generic", users = { { email = M, password = PW, confirmed = true } },
  fsec = helpers.merged(BASE_FSEC, { return_generic_responses = true, confirmable = true }),
  flask = helpers.merged(BASE_FLASK, { SECURITY_RETURN_GENERIC_RESPONSES = true, SECURITY_CONFIRMABLE = true }),
  steps = GENERIC_STEPS }
PLAYS[#PLAYS + 1] = { name = "two-factor-form", users = { { email = M, password = PW, confirmed = true } },
  fsec = helpers.merged(BASE_FSEC, { two_factor = true, csrf_enabled = true, multi_factor_recovery_codes = true }),
  flask = helpers.merged(BASE_FLASK, { SECURITY_TWO_FACTOR = true, WTF_CSRF_ENABLED = true,
                                       SECURITY_TWO_FACTOR_ENABLED_METHODS = { "email", "authenticator", "sms" },
                                       SECURITY_MULTI_FACTOR_RECOVERY_CODES = true }),
  steps = TF_FORM_STEPS }
PLAYS[#PLAYS + 1] = { name = "unified-form", identity = { "email", "us_phone_number" },
  users = { { email = M, password = PW, confirmed = true } },
  fsec = helpers.merged(BASE_FSEC, { unified_signin = true, two_factor = true, csrf_enabled = true,
                                     identity_attributes = { "email", "us_phone_number" } }),
  flask = helpers.merged(BASE_FLASK, { SECURITY_UNIFIED_SIGNIN = true, SECURITY_TWO_FACTOR = true,
                                       WTF_CSRF_ENABLED = true }),
  steps = US_FORM_STEPS }
PLAYS[#PLAYS + 1] = { name = "csrf-ignore-unauth", csrf_protect = true,
  users = { { email = M, password = PW, confirmed = true } },
  fsec = helpers.merged(BASE_FSEC, { csrf_enabled = true, csrf_ignore_unauth_endpoints = true }),
  flask = helpers.merged(BASE_FLASK, { WTF_CSRF_ENABLED = true, SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS = true,
                                       WTF_CSRF_CHECK_DEFAULT = false }),  -- as 5.1.2 wants it
  steps = {
    get("/login"),
    login({ label = "no token" }),
    j("POST", "/change", { password = PW, new_password = "new-password-2", new_password_confirm = "new-password-2" },
      { label = "signed in, no token" }),
    j("POST", "/api/session", {}, { label = "signed in, no token" }),
    get("/login", { label = "the token" }),
    logout({ headers = { ["X-CSRF-Token"] = "{csrf}" } }),
    j("POST", "/register", { email = "new@example.com", password = "battery staple", password_confirm = "battery staple" },
      { label = "no token" }),
    j("POST", "/reset", { email = M }, { label = "signed in, no token" }),
  } }
PLAYS[#PLAYS + 1] = { name = "csrf-cookie", csrf_protect = true,
  users = { { email = M, password = PW, confirmed = true } },
  fsec = helpers.merged(BASE_FSEC, { csrf_enabled = true, csrf_cookie_name = "XSRF-TOKEN" }),
  flask = helpers.merged(BASE_FLASK, { WTF_CSRF_ENABLED = true, SECURITY_CSRF_COOKIE_NAME = "XSRF-TOKEN" }),
  steps = {
    get("/login"),
    login({ headers = { ["X-XSRF-Token"] = "{csrf}" }, label = "X-XSRF-Token" }),
    get("/api/session", { label = "signed in?" }),
  } }
PLAYS[#PLAYS + 1] = { name = "next", users = { { email = M, password = PW, confirmed = true } },
  fsec = BASE_FSEC, flask = BASE_FLASK,
  steps = {
    page("/login", { query = "next=/api/session" }),
    form("/login", { email = M, password = PW }, { query = "next=/api/session" }),
    form("/logout", {}),
    form("/login", { email = M, password = PW }, { query = "next=http://evil.example/x", label = "another host" }),
    form("/logout", {}),
    form("/login", { email = M, password = PW }, { query = "next=//evil.example/x", label = "scheme-relative" }),
    form("/logout", {}),
    j("POST", "/login", { email = M, password = PW }, { query = "next=/api/session", label = "JSON with next" }),
    get("/api/session"),
    j("POST", "/logout", {}, { query = "next=/api/any" }),
    j("POST", "/register", { email = "new@example.com", password = "battery staple", password_confirm = "battery staple" },
      { query = "include_auth_token", label = "with a token" }),
    get("/api/token", { token = true, label = "the register's token" }),
  } }
PLAYS[#PLAYS + 1] = { name = "us-replaces-login", identity = { "email" },
  users = { { email = M, password = PW, confirmed = true } },
  fsec = helpers.merged(BASE_FSEC, { unified_signin = true, us_signin_replaces_login = true }),
  flask = helpers.merged(BASE_FLASK, { SECURITY_UNIFIED_SIGNIN = true, SECURITY_US_SIGNIN_REPLACES_LOGIN = true }),
  steps = {
    page("/api/session", { label = "a browser, not signed in" }),
    get("/api/session", { label = "JSON, not signed in" }),
    page("/login"),
    get("/login"),
    j("POST", "/us-signin", { identity = M, passcode = PW }),
  } }
PLAYS[#PLAYS + 1] = { name = "no-auto-login-after-reset", users = { { email = M, password = PW, confirmed = true } },
  fsec = helpers.merged(BASE_FSEC, { auto_login_after_reset = false }), flask = BASE_FLASK,
  steps = { j("POST", "/reset", { email = M }),
            j("POST", "{link}", { password = "reset-password-3", password_confirm = "reset-password-3" },
              { as = "POST /reset/<token>" }),
            get("/api/session", { label = "after the reset" }) } }

-- What each play configures (docs/differences.md shows it).
local ABOUT = {
  json =
    "JSON, CSRF off; registerable, recoverable, changeable; include_auth_token; token, session and Basic routes",
  ["json-confirm"] =
    "JSON; confirmable, one_click_links (5.1.2's links that act on GET)",
  ["json-confirm-auto"] =
    "JSON; confirmable with login_without_confirmation and auto_login_after_confirm; links ask first",
  ["form-csrf"] =
    "HTML forms, CSRF on; confirmable",
  ["json-csrf"] =
    "JSON, CSRF on, header tokens (Flask-WTF's CSRFProtect on the peer)",
  passwordless =
    "passwordless, CSRF on (CSRFProtect), JSON and forms",
  spa =
    "Too's SPA redirects (redirect_behavior = \"spa\", redirect_host, the *_view keys) on both",
  username =
    "identity attributes email and username (username_enable)",
  ["two-factor"] =
    "two-factor, JSON",
  unified =
    "unified sign-in with two-factor, email and phone identities, JSON and pages",
  form =
    "HTML forms, CSRF off; remember me, next, 405, tokens in the query, signed-in and signed-out pages",
  ["json-csrf-body"] =
    "JSON, CSRF on, the token in the body (no CSRFProtect)",
  generic =
    "return_generic_responses, confirmable",
  ["two-factor-form"] =
    "two-factor and recovery code pages and forms, CSRF on",
  ["unified-form"] =
    "unified sign-in pages and forms, CSRF on",
  ["csrf-ignore-unauth"] =
    "csrf_ignore_unauth_endpoints (CSRFProtect, WTF_CSRF_CHECK_DEFAULT off)",
  ["csrf-cookie"] =
    "Too's CSRF cookie and X-XSRF-Token header (CSRF_COOKIE_NAME)",
  next =
    "next on form and JSON sign-in (a path, another host, scheme-relative); include_auth_token on /register",
  ["us-replaces-login"] =
    "unified sign-in with us_signin_replaces_login",
  ["no-auto-login-after-reset"] =
    "a reset with auto_login_after_reset off (fsec's default)",
}
for _, play in ipairs(PLAYS) do play.about = ABOUT[play.name] end

describe("every shared endpoint against the real Flask-Security", function()
  if not peer.present(it, pending) then return end
  local registry = require "spec.peer.differences"

  it("differs only where the registry of differences says, and every entry still holds", function()
    local result = compare.run(PLAYS)
    local uncovered, stale = compare.check(result, registry)
    local msg = {}
    for _, d in ipairs(uncovered) do msg[#msg + 1] = "not listed: " .. compare.describe(d) end
    for _, e in ipairs(stale) do
      msg[#msg + 1] = ("stale entry: %s %s %s %s"):format(tostring(e.endpoint), tostring(e.aspect),
        tostring(e.value), e.pending and ("(pending " .. e.pending .. ": landed? remove it)") or "")
    end
    print(("\ncompared %d answers in %d configurations; %d differences observed, %d listed"):format(
      result.answers, #PLAYS, #result.differences, #registry))
    assert(#msg == 0, table.concat(msg, "\n"))
    local want = compare.markdown(registry, result.answers, PLAYS)
    if os.getenv("FSEC_WRITE_DIFFERENCES") == "1" then
      local f = assert(io.open("docs/differences.md", "w"))
      f:write(want)
      f:close()
    end
    assert.equals(want, helpers.read("docs/differences.md"),
      "docs/differences.md is not the registry's: FSEC_WRITE_DIFFERENCES=1 rewrites it")
  end)
end)

describe("the registry check", function()
  local function diff(t)
    return { play = t[1], step = 1, endpoint = t[2], aspect = t[3], value = t[4], label = t[5] }
  end

  it("flags a difference no entry covers and an entry that covers none", function()
    local registry = {
      { endpoint = "POST /login", aspect = "key", value = "+tf_required", why = "5.8" },
      { aspect = "cookie", value = { "+a", "+b" }, play = "x", why = "fsec" },
      { aspect = "location", value = "^/reset%-error", why = "pending", pending = "wire" },
      { aspect = "status", step = "gone", why = "no longer differs" },
    }
    local result = { differences = {
      diff{ "json", "POST /login", "key", "+tf_required" },
      diff{ "json", "POST /register", "key", "+tf_required" },   -- another endpoint: not covered
      diff{ "x", "GET /login", "cookie", "+b" },
      diff{ "y", "GET /login", "cookie", "+b" },                 -- another play: not covered
      diff{ "spa", "GET /reset/<token>", "location", "/reset-error?error=x -> /reset" },
      diff{ "spa", "GET /reset/<token>", "location", "/elsewhere -> /reset" },
      diff{ "json", "GET /x", "status", "200 -> 400", "still here" },
    } }
    local uncovered, stale, used = compare.check(result, registry)
    local got = {}
    for _, d in ipairs(uncovered) do got[#got + 1] = compare.describe(d) end
    assert.same({ "json step 1: POST /register: key +tf_required", "y step 1: GET /login: cookie +b",
                  "spa step 1: GET /reset/<token>: location /elsewhere -> /reset",
                  "json step 1 (still here): GET /x: status 200 -> 400" }, got)
    assert.same({ registry[4] }, stale)
    assert.equals(1, used[registry[1]])
  end)

  it("normalizes both sides alike: host, tokens, cookies, fields", function()
    local n = compare.normalize{ status = 302.0, location = "//localhost:8080/reset-view?token=" .. ("x"):rep(40),
      content_type = "text/html; charset=utf-8", body = "",
      cookies = { "session=abc; Path=/; HttpOnly; SameSite=Lax", "remember_token=; Max-Age=0; Path=/" } }
    assert.equals(302, n.status)
    assert.equals("redirect", n.type)
    assert.equals("/reset-view?token=<token>", n.location)
    assert.same({ deleted = false, httponly = true, samesite = "lax", max_age = false }, n.cookies.session)
    assert.is_true(n.cookies.remember_token.deleted)
    local a = compare.normalize{ status = 400, content_type = "application/json",
      json = { meta = {}, response = { errors = { "x" }, field_errors = { null = { "x" } }, csrf_token = "t" } } }
    local b = compare.normalize{ status = 400, content_type = "application/json",
      json = { meta = {}, response = { errors = { "y" }, field_errors = { [""] = { "y" } } } } }
    local got = {}
    for _, d in ipairs(compare.differences(a, b)) do got[#got + 1] = d.aspect .. " " .. d.value end
    table.sort(got)
    assert.same({ "key -csrf_token", "message +y", "message -x" }, got)
    local h = compare.normalize{ status = 200, content_type = "text/html",
      body = '<form><input type="hidden" name="csrf_token" value="z"><INPUT name="email">'
        .. '<select name="chosen_method"></select><button name="ignored"></form>' }
    assert.same({ "chosen_method", "csrf_token", "email" }, h.form)
    -- pages: the catalogue's messages they show, by key, escaped or not
    compare.add_probes{ X_LONG = "Thank you. Instructions were sent to %(email)s.", X_SHORT = "Instructions were sent to" }
    local shown = compare.normalize{ status = 200, content_type = "text/html",
      body = "<p>Thank you. Instructions were sent to a@b.c.</p><p>You don&#39;t have permission</p>" }.shown
    assert.same({ "X_LONG" }, shown)
  end)

  it("keeps docs/differences.md's table the registry's", function()
    local md = compare.markdown({ { endpoint = "GET /a|b", aspect = "key", value = "+x", why = "w", pending = "wire" } }, 3, 1)
    assert.matches("| 1 | GET /a\\|b | any | key | +x | w *(pending: wire)* |", md, 1, true)
    assert.matches("plays 3 requests in 1 configurations", md, 1, true)
  end)
end)
