-- The registry of differences between fsec and Flask-Security 5.1.2:
-- every difference spec/33-flask_security_compare_spec.lua observes must
-- be covered by an entry here, and every entry must still cover one.
-- docs/differences.md is generated from this file.
--
-- An entry: endpoint ("METHOD /path", the step's `as`), play (the
-- configuration's name; nil: any), aspect (status, type, location,
-- cookie, "cookie NAME ATTR", envelope, key, message, field, user, form),
-- value ("peer -> fsec", "+x": fsec adds, "-x": fsec lacks), step (the
-- step's label), each a string, a list, or a Lua pattern starting "^";
-- why (the reason: security, a later Flask-Security-Too release, an
-- fsec feature); pending = "BRANCH" where that branch is closing it (the
-- entry goes stale when it lands, and is removed then).
local ANY_LOGOUT = { "POST /logout", "GET /logout" }
local LINKS = { "GET /confirm/<token>", "GET /login/<token>" }

return {
  -- Sessions and cookies
  { aspect = "cookie", value = "-session",
    why = "fsec's sessions are server-side: its cookie is set at sign-in and cleared at sign-out; Flask's "
      .. "client-side session cookie (CSRF token, flashes, two-factor state) is rewritten whenever they change" },
  { aspect = "cookie", value = "+session", endpoint = { "GET /change", "POST /change" },
    why = "fsec re-signs the session cookie where it checks freshness (the grace period slides) and after a "
      .. "password change (the new uniquifier)" },
  { aspect = { "cookie session SameSite", "cookie remember_token SameSite" }, value = " -> lax",
    why = "security: fsec's session and remember cookies are SameSite=Lax by default (session_cookie_samesite); "
      .. "Flask sets none" },
  { aspect = "cookie remember_token Max-Age", value = "false -> true",
    why = "fsec gives the remember cookie's lifetime as Max-Age (Flask-Login: Expires); the same 30 days" },
  { aspect = "cookie", value = "+remember_token", endpoint = "POST /verify",
    why = "security (catalogue S-02): re-authentication starts a new server-side session, so its remember "
      .. "cookie is re-issued" },
  { aspect = "cookie session deleted", value = "false -> true", endpoint = ANY_LOGOUT,
    why = "fsec deletes the session cookie at sign-out; Flask keeps an emptied client-side session" },
  { aspect = "cookie", value = "+session (deleted)", endpoint = "POST /logout",
    why = "fsec clears the session cookie on every sign-out, even of a client already signed out" },
  { aspect = "cookie", value = "+remember_token (deleted)", endpoint = ANY_LOGOUT,
    why = "fsec clears the remember cookie at every sign-out; Flask-Login only where one was sent" },
  { aspect = "cookie", value = "+fsec_csrf",
    why = "fsec binds the CSRF token of a client not signed in to its own HttpOnly cookie (Flask keeps the token "
      .. "in its session cookie); after sign-in the token is bound to the session" },
  { aspect = "cookie", value = { "+fsec_flash", "+fsec_flash (deleted)" },
    why = "fsec: a page's flashed message is carried in its own cookie across the redirect (Flask: in the session)" },
  { aspect = "cookie", value = { "+fsec_tf", "+fsec_tf (deleted)" },
    why = "fsec: the two-factor sign-in in progress is a signed state cookie (Flask: the session)" },

  -- Later Flask-Security-Too releases (fsec follows 5.8; the peer is 5.1.2)
  { aspect = "key", value = "+tf_required", endpoint = { "POST /login", "POST /register", "POST /reset/<token>" },
    why = "Flask-Security-Too 5.8 answers tf_required in every answer that signs in" },
  { aspect = "key", value = { "+tf_state_token", "+tf_method", "+tf_authr_b32key", "+tf_authr_uri" },
    endpoint = "POST /tf-setup",
    why = "Flask-Security-Too 5.8: the setup's state token, method, base32 key and otpauth:// URI" },
  { aspect = "key", value = "+identity_attributes", endpoint = "GET /login",
    why = "fsec answers identity_attributes in every GET /login answer, one shape for clients (5.1.2: only to a "
      .. "client not signed in, and not with passwordless)" },
  { aspect = "message", value = { "+You must sign in to view this resource.",
                                  "-You are not authenticated. Please supply the correct credentials." },
    why = "UNAUTHENTICATED's text since Flask-Security-Too 5.5" },
  { aspect = "message", value = { "+You must reauthenticate to access this endpoint",
                                  "-You must re-authenticate to access this endpoint" },
    endpoint = "GET /api/fresh", why = "REAUTHENTICATION_REQUIRED's text in later Flask-Security-Too" },
  { aspect = { "message", "field" }, value = { "+Email not provided", "+email" }, endpoint = "POST /login",
    why = "Flask-Security-Too 5.8 names the missing identity (5.1.2: a bare 400)" },

  -- JSON clients get JSON
  { aspect = "type", value = "html -> json", endpoint = "POST /login", step = "a malformed body",
    why = "fsec answers a malformed JSON body with its JSON envelope (Flask: Werkzeug's HTML 400)" },
  { aspect = "type", value = "html -> json", play = { "json-csrf", "csrf-ignore-unauth" },
    endpoint = { "POST /login", "POST /change", "POST /api/session" },
    why = "fsec answers a JSON client's CSRF failure in JSON (Flask-WTF's CSRFProtect: an HTML 400 page)" },
  { aspect = "type", value = "html -> json", endpoint = "POST /login", play = "passwordless", step = "no token",
    why = "fsec answers a JSON client's CSRF failure in JSON (Flask-WTF's CSRFProtect: an HTML 400 page)" },
  { aspect = { "status", "type" }, value = { "302 -> 200", "redirect -> json" }, endpoint = "GET /logout",
    why = "a JSON client's GET /logout is answered in JSON (5.1.2 redirects)" },
  { aspect = "type", value = "html -> json", endpoint = "GET /reset/<token>",
    why = "a JSON client's GET /reset/<token> is answered in JSON (5.1.2: the HTML form)" },
  { aspect = { "status", "type" }, value = { "302 -> 200", "302 -> 400", "redirect -> json" },
    endpoint = "GET /confirm/<token>", play = { "json-confirm", "json-confirm-auto" },
    why = "a JSON client's confirmation link is answered in JSON, errors with 400 (5.1.2 redirects with a flash)" },
  { aspect = "type", value = "html -> text", endpoint = { "GET /confirm", "GET /us-signin" },
    why = "fsec's 404 for an endpoint that is off is plain text (Werkzeug: an HTML page)" },

  -- Links that ask before they act (one_click_links = false, the default)
  { aspect = { "status", "type" }, value = { "302 -> 200", "redirect -> json", "redirect -> html" },
    endpoint = LINKS, play = { "json-confirm-auto", "passwordless" },
    why = "security (login CSRF): a mailed link's GET shows a page, or answers consent_required, and its POST "
      .. "acts (one_click_links = true: 5.1.2's GET that acts)" },
  { aspect = { "status", "type", "message" }, endpoint = "GET /login/<token>", play = "passwordless",
    step = "bad token", value = { "302 -> 400", "redirect -> json", "+Invalid login token.",
                                  "-You can only access this endpoint when not logged in." },
    why = "follows from the link that asks first: 5.1.2 signed in with the link before, fsec has not" },

  -- HTML forms
  { aspect = "form", value = { "-submit", "-submit_send_code" },
    why = "fsec's pages post through an unnamed submit button (and send-code through its own form): the "
      .. "button's name is not a field" },
  { aspect = "page message", value = "+FORGOT_PASSWORD",
    why = "fsec's form pages link to the reset form as \"Forgot password?\" (5.1.2's menu: \"Forgot password\")" },
  { aspect = "page message", play = { "json-confirm", "json-confirm-auto", "generic", "passwordless" },
    endpoint = { "GET /confirm", "GET /login" },
    value = { "-ALREADY_CONFIRMED", "-CONFIRM_REGISTRATION", "-EMAIL_CONFIRMED", "-INVALID_CONFIRMATION_TOKEN",
              "-PASSWORDLESS_LOGIN_SUCCESSFUL" },
    why = "5.1.2 flashes during JSON requests too, and the next page shows them all; fsec flashes for pages only" },
  { aspect = "page message", value = "+PASSWORD_RESET_REQUEST", endpoint = "GET /reset/<token>",
    why = "the reset form redirects after its post (below), so its flash shows on the next page" },
  { aspect = "page message", value = "+UNAUTHORIZED", endpoint = "GET /api/admin",
    why = "fsec's 403 page says why (5.1.2: Werkzeug's bare Forbidden page)" },
  { aspect = "form", value = { "-generate_new_codes", "-show_codes" },
    endpoint = { "GET /mf-recovery-codes", "POST /mf-recovery-codes" },
    why = "recovery codes are kept hashed, so fsec's page has no \"show codes\" button (they are shown once, "
      .. "when made), and its generate button is unnamed" },
  { aspect = "page message", value = "+TWO_FACTOR_LOGIN_SUCCESSFUL", endpoint = "GET /tf-setup",
    play = "two-factor-form",
    why = "fsec flashes the sign-in's success after a recovery code as after a code (5.1.2: nothing there)" },
  { aspect = "form", value = "+csrf_token",
    why = "fsec's pages always carry the CSRF token (harmless with CSRF off)" },
  { aspect = "form", value = "-next", endpoint = { "GET /login", "GET /register" },
    why = "fsec keeps next in the form's action URL, checked there, rather than a hidden field" },
  { aspect = "form", value = "+password_confirm", endpoint = "GET /register",
    why = "Flask-Security-Too 5.8: password_confirm is asked on the register form too (password_confirm_required)" },
  { aspect = "status", value = "200 -> 400",
    play = { "form-csrf", "form", "generic", "two-factor-form", "unified-form", "next" },
    endpoint = { "POST /login", "POST /change", "POST /register", "POST /reset", "POST /reset/<token>",
                 "POST /verify", "POST /tf-validate", "POST /us-signin", "POST /us-signin/send-code",
                 "POST /us-verify", "POST /mf-recovery" },
    why = "a failed HTML form is shown again with 400, not 200 (a client or test can tell it failed)" },
  { aspect = { "status", "type" }, value = { "200 -> 302", "html -> redirect" },
    play = { "form-csrf", "form", "generic", "passwordless" },
    endpoint = { "POST /reset", "POST /confirm", "POST /login" },
    why = "the 'send instructions' forms redirect after the post (the page shows the flash): a reload does not "
      .. "send the mail again" },
  { aspect = "location", endpoint = { "GET /api/session", "GET /api/fresh", "GET /api/token", "GET /verify",
                                      "GET /change" },
    value = { "/login?next=%2Fapi%2Fsession -> /login?next=/api/session",
              "/login?next=%2Fapi%2Ftoken -> /login?next=/api/token",
              "/login?next=%2Fverify -> /login?next=/verify", "/login?next=%2Fchange -> /login?next=/change",
              "/verify?next=http%3A%2F%2Flocalhost%2Fapi%2Ffresh -> /verify?next=/api/fresh" },
    why = "fsec's next is the relative path with its slashes unescaped (5.1.2: percent-encoded, for /verify the "
      .. "absolute URL): the same place" },
  { aspect = "form", value = "+phone", endpoint = { "GET /tf-setup", "POST /tf-setup" },
    why = "fsec's two-factor setup page always has the phone field for the SMS choice (5.1.2 shows it only "
      .. "after sms is chosen, a second round trip)" },
  { aspect = "type", value = "html -> text", endpoint = "GET /api/basic", step = "a browser, Basic only",
    why = "the body of fsec's Basic challenge (401 with WWW-Authenticate) is plain text (5.1.2: an HTML page)" },
  { aspect = { "key", "message", "field" }, endpoint = "POST /reset", play = "csrf-ignore-unauth",
    value = { "+field_errors", "+The CSRF token is missing.", "-You can only access this endpoint when not logged in.",
              "+csrf_token" },
    why = "fsec checks a signed-in client's CSRF token before the endpoint's own rules (both answer 400)" },
  { aspect = "type", value = "html -> json", endpoint = "PUT /login",
    why = "a JSON client's 405 is answered in JSON (with Allow), not Werkzeug's HTML page" },
  { aspect = "status", value = "200 -> 400", endpoint = "POST /api/session", play = "json-csrf-body",
    why = "security (csrf_protect_mechanisms): a session's state-changing request to a protected route needs a "
      .. "CSRF token (5.1.2 checks it only with Flask-WTF's CSRFProtect)" },
  { aspect = "key", value = "+user", endpoint = "POST /register", play = "generic",
    why = "security: with return_generic_responses a taken address gets the very answer of a new one (5.1.2 "
      .. "leaves out user there, which tells them apart)" },
  { aspect = { "status", "key" }, value = { "200 -> 401", "-user", "-csrf_token" }, play = "no-auto-login-after-reset",
    endpoint = { "POST /reset/<token>", "GET /api/session" },
    why = "a reset signs in only with auto_login_after_reset (off by default, as later Flask-Security-Too); 5.1.2 "
      .. "always signs in" },
  { aspect = "location", endpoint = "POST /login", play = { "two-factor", "two-factor-form" },
    value = "/tf-validate?next=http%3A%2F%2Flocalhost%2Flogin -> /tf-validate",
    why = "fsec does not send the browser back to /login after the code (5.1.2 puts the login URL in next)" },

  { aspect = { "status", "type", "key" }, play = "us-replaces-login", endpoint = "GET /login",
    value = { "200 -> 302", "html -> redirect", "-available_methods", "-code_methods" },
    why = "fsec: us_signin_replaces_login sends a browser's GET /login to /us-signin, and JSON clients keep the "
      .. "password endpoint (5.1.2 routes all of /login to its unified sign-in view); docs/multi-factor.md" },

}
