--- The endpoints: Flask-Security-Too's JSON API and HTML forms.
-- `sec:handle(req)` answers a request under `url_prefix` with a response,
-- or returns nil when the path is not one of fsec's endpoints.
--
-- Over 600 lines on purpose: one concept, the endpoints, whose handlers
-- share some twenty private helpers (the JSON and page answers, tokens in
-- links, write_all, the routing table). Split by endpoint, those helpers
-- would become a public module of their own for no caller but these;
-- each handler here is short and they read in the order a user meets
-- them (login, links, register, confirm, reset, change, verify).
-- @module fsec.views

local core = require "fsec.core"
local http = require "fsec.http"
local auth = require "fsec.auth"
local csrf = require "fsec.csrf"
local flashes = require "fsec.flash"
local forms = require "fsec.forms"
local mail = require "fsec.mail"
local throttle = require "fsec.throttle"
local events = require "fsec.events"
local twofactor = require "fsec.twofactor"
local endpoints = require "fsec.endpoints"
local datastore = require "fsec.datastore"
local redirect = require "fsec.redirect"
local regfields = require "fsec.regfields"
local i18n = require "fsec.i18n"
local must = datastore.must
local A = require "fsec.answer"
local now, within_text, payload, wants_token = A.now, A.within_text, A.payload, A.wants_token
local json_error, json_ok, page, url, next_of = A.json_error, A.json_ok, A.page, A.url, A.next_of
local later, signed_in, anonymous_required = A.later, A.signed_in, A.anonymous_required
local write_all, require_user = A.write_all, A.require_user

local type = type
local pairs = pairs
local ipairs = ipairs


local _M = { _VERSION = "0.1.0" }



-- verify_password codes that come from the stored hash, not the password







local flash, take_flashes = flashes.add, flashes.take


------------------------------------------------------------------------
-- Answers
------------------------------------------------------------------------

local function home_links(sec)
  local l = {}
  -- texts as catalogue keys: fsec.pages shows them in the page's language
  if sec._cfg.registerable then l[#l + 1] = { url(sec, "register_url"), "LINK_REGISTER" } end
  if sec._cfg.recoverable then l[#l + 1] = { url(sec, "reset_url"), "FORGOT_PASSWORD" } end
  if sec._cfg.confirmable then l[#l + 1] = { url(sec, "confirm_url"), "LINK_CONFIRM_ACCOUNT" } end
  if sec._cfg.webauthn and sec._cfg.wan_allow_as_first_factor then
    l[#l + 1] = { url(sec, "wan_signin_url"), "LINK_WAN_SIGNIN" }
  end
  l[#l + 1] = { url(sec, "login_url"), "LINK_SIGN_IN" }
  return l
end

local function generic(form)
  -- Generic responses: identity and password errors become one message.
  local fe, errors = {}, {}
  for k, v in pairs(form.field_errors) do
    if k ~= "email" and k ~= "password" and k ~= "username" then
      fe[k] = v
      for _, m in ipairs(v) do errors[#errors + 1] = m end
    end
  end
  form.field_errors, form.errors = fe, errors
  form:error("", "GENERIC_AUTHN_FAILED")
end


------------------------------------------------------------------------
-- Tokens bound to the user's current state
------------------------------------------------------------------------

local function email_digest(user)
  return core.digest(core.fold_email(user.email) or user.email)
end

-- What a link is bound to besides the user: a confirm or sign-in link
-- dies when the email changes (it went to the old address), a reset link
-- when the password does, a sign-in link also at the next sign-in when
-- logins are counted (trackable): it works once.
local function make_token(sec, purpose, user)
  local data = { u = user.fs_uniquifier }
  if purpose == "confirm" or purpose == "login" then data.e = email_digest(user) end
  if purpose == "login" then data.n = user.login_count or 0 end
  if purpose == "reset" then data.p = core.digest(user.password or "") end
  return assert(sec:generate_token(purpose, data))
end

-- The user a token names, and "expired"/"invalid"/nil.
local function user_from_token(sec, purpose, token, within)
  local expired, invalid, data, iat = sec:get_token_status(token, purpose, within)
  if invalid or type(data) ~= "table" or type(data.u) ~= "string" then return nil, "invalid" end
  local user = sec.datastore:find_user{ fs_uniquifier = data.u }
  if not user then return nil, "invalid" end
  if (purpose == "confirm" or purpose == "login") and data.e ~= email_digest(user) then return nil, "invalid" end
  if purpose == "login" and data.n ~= (user.login_count or 0) then return nil, "invalid" end
  if purpose == "reset" and data.p ~= core.digest(user.password or "") then return nil, "invalid" end
  if expired then return user, "expired" end
  return user, nil, iat
end

-- Spend a mailed link once: of the requests that race with one link (a
-- reset's hash takes a while), one goes on. A link stands while the state
-- it names does (the password, the sign-in count), and only the write that
-- ends it changes that, after the check: without this, every request that
-- checked before it wrote (an attack review saw 18 of 30) set its own
-- password. The store's replay guard of one-time codes (otp_advance)
-- keeps the issue time of the last link spent, per purpose: a link is
-- spent once, as are the older ones (which that write ended anyway).
local function spend_link(sec, user, purpose, iat)
  return type(iat) == "number" and iat >= 0
    and auth.check_store(sec.datastore:otp_advance(user, "link:" .. purpose, iat)) == true
end

-- base: mail.base_url's answer, taken from the request before any
-- deferred work (a timer has no request)
local function link(sec, base, key, token)
  return base .. url(sec, key, "/" .. token)
end



------------------------------------------------------------------------
-- Endpoints
------------------------------------------------------------------------

local V = {}

-- Whether this user must confirm the address before signing in (and so
-- before resetting: the reset mail would prove the address by itself).
local requires_confirmation = auth.requires_confirmation

--- Check identity and password, always at the cost of one hash (lockout,
-- failure counting: auth.check_password).
local function check_credentials(sec, form, email, password, field)
  field = field or "email"
  if not email then
    auth.spend(sec, password or "")
    form:error(field, "USER_DOES_NOT_EXIST")
    return nil
  end
  -- a second factor follows: only its success gives the attempt back
  local user, why = auth.check_password(sec, email, password or "",
                                        function(u) return twofactor.required(sec, u) end)
  if user then return user end
  if why == "unknown" then
    form:error(field, "USER_DOES_NOT_EXIST")
  else
    form:error("password", "INVALID_PASSWORD")
  end
  return nil
end

-- Which field names the account at /login, and its value, as
-- Flask-Security's LoginForm reads them: the email when one is given;
-- else, with username_enable, the username (when "username" is an
-- identity attribute); else the email's own error.
local function login_by_username(sec)
  if not sec._cfg.username_enable then return false end
  for _, a in ipairs(sec._cfg.identity_attributes) do
    if a == "username" then return true end
  end
  return false
end

local function login_identity(sec, form)
  local e = form.data.email
  if sec._cfg.username_enable and (e == nil or e == http.json.null or (type(e) == "string" and not e:find("%S"))) then
    local name, bad = form:string("username", core.LIMITS.username)
    if bad then return "username", nil end
    if name then
      -- not an identity attribute here: "does not exist", after one hash
      return "username", login_by_username(sec) and name or nil
    end
  end
  return "email", form:email()
end

-- us_signin_replaces_login on a site whose unified sign-in takes no
-- password: Flask-Security 5.1.2 routes all of /login to us_signin, so
-- a password is refused there; fsec keeps /login for JSON clients only
-- where a password is one of the site's methods (an attack review signed
-- in with a leaked password past the site's choice of codes only).
local function password_closed(cfg)
  if not (cfg.unified_signin and cfg.us_signin_replaces_login) then return false end
  for _, m in ipairs(cfg.us_enabled_methods) do
    if m == "password" then return false end
  end
  return true
end

function V.login(sec, req, res, fields, json)
  if sec._cfg.passwordless then return V.passwordless(sec, req, res, fields, json) end
  if req.method ~= "GET" and password_closed(sec._cfg) then
    return require("fsec.unified").handlers.us_signin(sec, req, res, fields, json)
  end
  local current = signed_in(sec, req, res)
  if req.method == "GET" then
    if json then
      local t = { identity_attributes = sec:get_identity_attributes() }
      if current then t.user = payload(sec, current, false) end
      return json_ok(sec, req, res, t)
    end
    if current then return res:redirect(sec._cfg.post_login_view) end
    if sec._cfg.unified_signin and sec._cfg.us_signin_replaces_login then
      -- browsers sign in at /us-signin (the query, and so next, kept)
      local q = type(req.query) == "table" and http.encode_query(req.query) or ""
      return res:redirect(url(sec, "us_signin_url") .. (q ~= "" and "?" .. q or ""))
    end
    return page(sec, req, res, "login", nil, { links = home_links(sec),
                                               next = http.single(req.query, "next", 2048),
                                               remember = sec._cfg.default_remember_me,
                                               username = login_by_username(sec) })
  end
  if current then return anonymous_required(sec, res, json) end
  local form = forms.new(sec, fields)
  local field, identity = login_identity(sec, form)
  local password = form:password("password")
  local nxt = next_of(req, form)
  if nxt == false then form:error("next", "INVALID_REDIRECT") end
  local user, unconfirmed
  if form:ok() then
    user = check_credentials(sec, form, identity, password, field)
    if user and not user.active then
      form:error(field, "DISABLED_ACCOUNT")
      events.emit(sec, "login", { outcome = "failure", reason = "inactive", user = user }, req)
    elseif user and requires_confirmation(sec, user) then
      form:error(field, "CONFIRMATION_REQUIRED")
      unconfirmed = true
      events.emit(sec, "login", { outcome = "failure", reason = "unconfirmed", user = user }, req)
    end
  end
  if form:ok() then
    -- the second factor, when this user needs one: the answer is
    -- tf_required and the browser is half signed in (fsec.twofactor)
    local tfa = twofactor.enter(sec, req, res, json, user, { remember = form:bool("remember"), next = nxt,
                                                            via = "password" })
    if tfa then return tfa end
    -- this device is remembered (tf_validity): no second factor follows,
    -- so the attempt the password check kept for it is given back here
    if twofactor.required(sec, user) then auth.check_store(auth.unlock(sec, user)) end
    -- as Flask-Security: what the form says, false when absent (an
    -- unchecked box sends nothing); default_remember_me pre-checks the box
    local ok = sec:login_user(req, res, user, { remember = form:bool("remember"), authn_via = { "password" } })
    if not ok then form:error("", "GENERIC_AUTHN_FAILED") end
  end
  if not form:ok() then
    if sec._cfg.return_generic_responses then generic(form) end
    if json then return json_error(res, form) end
    local view = sec._cfg.requires_confirmation_error_view
    if unconfirmed and view and not sec._cfg.return_generic_responses then
      -- as Too: the right password of an unconfirmed account leads there,
      -- with the address typed (never in generic mode: it tells the account exists)
      flash(sec, req, res, "error", "CONFIRMATION_REQUIRED")
      return res:redirect(redirect.spa_url(sec, view, { { "email", field == "email" and identity or user.email } }))
    end
    return page(sec, req, res, "login", form, { links = home_links(sec), next = nxt or nil,
                                                remember = form:bool("remember"), username = login_by_username(sec) })
  end
  if json then
    return json_ok(sec, req, res, { tf_required = false, user = payload(sec, user, wants_token(req)) })
  end
  return res:redirect(nxt or sec._cfg.post_login_view)
end

-- Mail a new link of one kind (the instructions endpoints, and an expired
-- link followed, as Flask-Security re-sends it) and send its signal.
local SEND = {
  login = { url = "login_url", signal = "login_instructions_sent" },
  confirm = { url = "confirm_url", signal = "confirm_instructions_sent" },
  reset = { url = "reset_url", signal = "reset_password_instructions_sent" },
}
local function send_link(sec, base, kind, user)
  local k = SEND[kind]
  later(sec, function()
    mail.deliver_now(sec, kind, user, link(sec, base, k.url, make_token(sec, kind, user)))
    sec.signals:send(k.signal, { user = auth.public_user(user) })
  end)
end

-- An expired link followed brings a new one, within the address's and
-- the client's mail limits (fsec.throttle.mail); over them, silently
-- none: the answer ("expired, a new link was sent") stays the same.
local function resend_link(sec, req, kind, user)
  if throttle.mail(sec, req, user.email) then send_link(sec, mail.base_url(sec, req), kind, user) end
end

-- The "send me instructions" endpoints (confirm, forgot, passwordless):
-- an email field, a check of the account, a mail and a signal. In generic
-- mode the answer does not depend on whether the account exists.
-- o: page, extra (page context), get_json (GET answer), refuse(user) ->
-- message key or nil, send(user), flash { category, key },
-- redirect, generic_any (generic mode hides malformed emails too),
-- ok_json() (the JSON answer's keys when the mail goes).
local function instructions(sec, req, res, fields, json, o)
  if req.method == "GET" then
    if json then return json_ok(sec, req, res, o.get_json) end
    return page(sec, req, res, o.page, nil, o.extra)
  end
  local form = forms.new(sec, fields)
  local email = form:email()
  -- the mail limits, counted for every well-formed address (known or
  -- not: the same work, no oracle): with generic responses, over them the
  -- answer is the usual one and no mail goes; without, 429
  local allowed, wait = true, nil
  if email then allowed, wait = throttle.mail(sec, req, email) end
  local generic_mode = sec._cfg.return_generic_responses
  if not allowed and not generic_mode then return throttle.refuse(res, json, wait) end
  local base = mail.base_url(sec, req)
  if generic_mode and email and form:ok() then
    -- the answer cannot depend on the account: finding it and mailing it
    -- come after the answer (later), so a known address and an unknown
    -- one cost the request the same work, and the same time
    later(sec, function()
      local ok, user = pcall(auth.lookup_identity, sec, email)
      if not ok then return sec._log("error", "fsec: instructions not sent: " .. tostring(user)) end
      if user and allowed and not o.refuse(user) then o.send(user, base) end
    end)
  else
    local user = email and auth.lookup_identity(sec, email)
    if form:ok() then
      local key = not user and "USER_DOES_NOT_EXIST" or o.refuse(user)
      if key then form:error("email", key) end
    end
    if form:ok() then
      o.send(user, base)
    elseif generic_mode and form.field_errors.email and (email or o.generic_any) then
      form = forms.new(sec, fields) -- the same answer whether or not the account exists
    end
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, o.page, form, o.extra)
  end
  if json then return json_ok(sec, req, res, o.ok_json and o.ok_json()) end
  flash(sec, req, res, o.flash[1], o.flash[2], { email = email })
  return res:redirect(o.redirect)
end

function V.passwordless(sec, req, res, fields, json)
  if req.method == "POST" and signed_in(sec, req, res) then return anonymous_required(sec, res, json) end
  return instructions(sec, req, res, fields, json, {
    page = "login", extra = { passwordless = true, links = home_links(sec) },
    get_json = { identity_attributes = sec:get_identity_attributes() },
    refuse = function(user) return not user.active and "DISABLED_ACCOUNT" or nil end,
    send = function(user, base) send_link(sec, base, "login", user) end,
    flash = { "success", "LOGIN_EMAIL_SENT" }, redirect = url(sec, "login_url"), generic_any = true,
    -- as Flask-Security: an empty user (a client may read response.user);
    -- the same for every address, so it tells nothing
    ok_json = function() return { user = {} } end,
  })
end
-- A mailed link that signs a browser in (passwordless) or may sign it out
-- (confirmation of another account) acts on a POST from its own page, not
-- on the GET: another site can send a victim's browser to a link (its
-- own passwordless link signs the victim in to the attacker's account:
-- login CSRF; a confirm link signs the victim out), and mail scanners
-- follow links. The GET shows whose account, and a button that posts the
-- CSRF token; JSON clients get { consent_required, email, csrf_token }
-- and POST. one_click_links: Flask-Security's GET that acts.
local function ask_consent(sec, req, res, json, kind, user, current)
  if json then
    return json_ok(sec, req, res, { consent_required = true, email = user.email })
  end
  return page(sec, req, res, "link_consent", nil, {
    kind = kind, email = user.email,
    current = current and current.id ~= user.id and current.email or nil })
end

local function consent_first(sec, req)
  return req.method == "GET" and not sec._cfg.one_click_links
end

function V.login_token(sec, req, res, _, json, token)
  -- signed in already: following someone else's link must not switch the
  -- account (login CSRF); Flask-Security's token_login is anonymous-only
  if signed_in(sec, req, res) then return anonymous_required(sec, res, json) end
  local user, state, iat = user_from_token(sec, "login", token, sec._cfg.login_within)
  local key
  if not user or state == "invalid" or not user.active or auth.lockout_active(sec, user) then
    key = "INVALID_LOGIN_TOKEN"
  elseif state == "expired" then
    key = "LOGIN_EXPIRED"
    resend_link(sec, req, "login", user)
  end
  local vars = { within = within_text(sec._cfg.login_within, sec), email = user and user.email }
  local spa_error = not json and redirect.spa(sec, sec._cfg.login_error_view)
  if key and spa_error then -- Too's SPA: the error in the query, the user's too once the link was good
    return redirect.to_spa(sec, res, sec._cfg.login_error_view,
      redirect.user_params(sec, key == "LOGIN_EXPIRED" and user or nil, { { "error", sec.msg(key, vars) } }))
  end
  if not key and consent_first(sec, req) then return ask_consent(sec, req, res, json, "login", user) end
  if not key and spa_error and twofactor.required(sec, user) then
    -- as Too's SPA link sign-in: the SPA cannot take a second factor from
    -- a redirect; it signs in with a code instead
    return redirect.to_spa(sec, res, sec._cfg.login_error_view,
      redirect.user_params(sec, user, { { "tf_required", "1" } }))
  end
  if not key then
    -- a mailed link is one factor: a user with two gives the second next
    -- spent first: a link that led to the second factor is used as well
    local ok = spend_link(sec, user, "login", iat)
    local tfa = ok and twofactor.enter(sec, req, res, json, user, { via = "token" })
    if tfa then return tfa end
    ok = ok and sec:login_user(req, res, user, { authn_via = { "token" } }) -- Flask-Security's name
    if not ok then key = "INVALID_LOGIN_TOKEN" end
  end
  if json then
    if key then return res:json(400, { errors = { sec.msg(key, vars) } }) end
    return json_ok(sec, req, res, { user = payload(sec, user, false) })
  end
  if key then
    flash(sec, req, res, "error", key, vars)
    return res:redirect(url(sec, "login_url"))
  end
  if redirect.spa(sec, sec._cfg.post_login_view) then
    return redirect.to_spa(sec, res, sec._cfg.post_login_view, redirect.user_params(sec, user))
  end
  flash(sec, req, res, "success", "PASSWORDLESS_LOGIN_SUCCESSFUL")
  return res:redirect(sec._cfg.post_login_view)
end

function V.logout(sec, req, res, _, json)
  -- who signs out, for the event (the session's user; nobody: no event)
  local user = signed_in(sec, req, res)
  sec:logout_user(req, res)
  if user then events.emit(sec, "logout", { user = user }, req) end
  if json then return res:json(200, {}) end
  local nxt = next_of(req, nil)
  return res:redirect(nxt or sec._cfg.post_logout_view)
end

-- A browser's GET of a POST-only logout (a bookmarked or typed
-- /logout): still 405 (GET is not allowed, as tools must see), but with
-- a page holding the sign-out button (a form posting the CSRF token)
-- rather than a bare "Method not allowed". The GET itself signs nobody
-- out: another site can make a browser send one.
function V.logout_page(sec, req, res)
  local user = signed_in(sec, req, res)
  page(sec, req, res, "logout", nil, { email = user and user.email })
  res.status = 405
  return res
end

function V.register(sec, req, res, fields, json)
  if signed_in(sec, req, res) then return anonymous_required(sec, res, json) end
  local declared = sec._cfg.register_fields and regfields.describe(sec) or nil
  local extra = { links = home_links(sec), confirm = sec._cfg.password_confirm_required,
                  username = sec._cfg.username_enable, register_fields = declared }
  if req.method == "GET" then
    -- the application's fields, described for a client that draws the form
    if json then return json_ok(sec, req, res, declared and { register_fields = declared } or nil) end
    return page(sec, req, res, "register", nil, extra)
  end
  local cfg, ds = sec._cfg, sec.datastore
  local form = forms.new(sec, fields)
  local email = form:email()
  local username
  if cfg.username_enable then username = form:username("username", cfg.username_required) end
  -- the application's declared fields, and only those (no mass assignment)
  local own = regfields.read(sec, form, json)
  local existing = email and auth.check_store(ds:find_user{ email = email })
  if existing and not cfg.return_generic_responses then
    form:error("email", "EMAIL_ALREADY_ASSOCIATED", { email = email })
  end
  -- generic responses hide a taken username as they hide a taken email
  local taken = username and auth.check_store(ds:find_user{ username = username })
  if taken and not cfg.return_generic_responses then
    form:error("username", "USERNAME_ALREADY_ASSOCIATED", { username = username })
  end
  -- unified sign-in without password_required: an account may have none
  -- (it signs in with email codes, set up below), as Flask-Security's
  local optional = cfg.unified_signin and not cfg.password_required
  local password
  if optional then password = form:string("password", 4096) else password = form:password("password") end
  if password then form:new_password("password", password, { email = email, username = username }) end
  if cfg.password_confirm_required and (password or not optional) then form:confirm("password_confirm", password) end
  local nxt = next_of(req, form)
  if nxt == false then form:error("next", "INVALID_REDIRECT") end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "register", form, extra)
  end
  if existing or taken then
    -- generic responses: answer as for a new account, create nothing
    -- (Flask-Security's register_existing)
    if password then auth.new_hash(sec, password) end -- the same work as a registration (and faults)
    -- past the mail limits the taken address's owner is not mailed,
    -- silently (the answer stays a new account's)
    local mail_ok = throttle.mail(sec, req, email)
    sec.signals:send("user_not_registered", { user = existing and auth.public_user(existing) or nil,
      existing_email = existing and true or false, existing_username = taken and true or false,
      form_data = { email = email, username = username } })
    if not mail_ok then -- over the mail limits: no mail, the same answer
      sec._log("warn", "fsec: registration of a taken address: mail limit reached, not mailed")
    elseif existing then
      -- the owner hears of it (Flask-Security-Too's welcome_existing; E-06)
      mail.send(sec, "welcome_existing", existing, mail.base_url(sec, req)
        .. url(sec, cfg.recoverable and "reset_url" or "login_url"))
    else
      -- a new address with a taken username: its owner is told to pick
      -- another (welcome_existing_username)
      mail.send(sec, "welcome_existing_username", { email = email }, mail.base_url(sec, req)
        .. url(sec, "register_url"))
    end
    if json then return json_ok(sec, req, res, { user = {} }) end
    -- the very answer a new account gets
    if cfg.confirmable then flash(sec, req, res, "success", "CONFIRM_REGISTRATION", { email = email }) end
    return res:redirect(nxt or cfg.post_register_view or cfg.post_login_view)
  end
  local hash = password and auth.new_hash(sec, password) or nil
  local user, _, code = auth.check_store(ds:create_user{ email = email, username = username, password = hash,
                                                         fields = next(own) ~= nil and own or nil })
  if user and not hash then require("fsec.unified").setup_email(sec, user) end
  if not user then
    if code == "EEXIST" then form:error("email", "EMAIL_ALREADY_ASSOCIATED", { email = email })
    else form:error("", "API_ERROR") end
    if json then return json_error(res, form) end
    return page(sec, req, res, "register", form, extra)
  end
  sec.signals:send("user_registered", { user = auth.public_user(user),
                                        form_data = { email = email, username = username, fields = own } })
  local logged_in = false
  if cfg.confirmable then
    local token = make_token(sec, "confirm", user)
    mail.send(sec, "welcome_confirm", user, link(sec, mail.base_url(sec, req), "confirm_url", token))
  else
    mail.send(sec, "welcome", user, mail.base_url(sec, req) .. url(sec, "login_url"))
  end
  if not cfg.confirmable or cfg.login_without_confirmation then
    -- two_factor_required (or the hook): the new account sets up its
    -- second factor before its first session
    local tfa = twofactor.enter(sec, req, res, json, user, { via = "register", next = nxt })
    if tfa then return tfa end
    logged_in = sec:login_user(req, res, user, { authn_via = { "register" } }) == true
  end
  if json then
    local t = { user = payload(sec, user, logged_in and wants_token(req)) }
    if logged_in then t.tf_required = false end
    return json_ok(sec, req, res, t)
  end
  if cfg.confirmable then flash(sec, req, res, "success", "CONFIRM_REGISTRATION", { email = email }) end
  return res:redirect(nxt or cfg.post_register_view or cfg.post_login_view)
end

function V.confirm(sec, req, res, fields, json)
  return instructions(sec, req, res, fields, json, {
    page = "confirm", extra = { links = home_links(sec) },
    refuse = function(user) return user.confirmed_at and "ALREADY_CONFIRMED" or nil end,
    send = function(user, base) send_link(sec, base, "confirm", user) end,
    flash = { "info", "CONFIRMATION_REQUEST" }, redirect = url(sec, "confirm_url"),
  })
end
function V.confirm_token(sec, req, res, _, json, token)
  local cfg = sec._cfg
  local user, state, iat = user_from_token(sec, "confirm", token, cfg.confirm_email_within)
  local key
  if not user or state == "invalid" then key = "INVALID_CONFIRMATION_TOKEN"
  elseif user.confirmed_at then key = "ALREADY_CONFIRMED"
  elseif state == "expired" then
    key = "CONFIRMATION_EXPIRED" -- with a new link, as Flask-Security
    resend_link(sec, req, "confirm", user)
  end
  local vars = { within = within_text(cfg.confirm_email_within, sec), email = user and user.email }
  if key and not json and redirect.spa(sec, cfg.confirm_error_view) then
    -- Too's SPA: the message under its category, the user's details once the link was good
    local category = key == "ALREADY_CONFIRMED" and "info" or "error"
    return redirect.to_spa(sec, res, cfg.confirm_error_view, redirect.user_params(sec,
      key ~= "INVALID_CONFIRMATION_TOKEN" and user or nil, { { category, sec.msg(key, vars) } }))
  end
  if not key and consent_first(sec, req) then
    return ask_consent(sec, req, res, json, "confirm", user, signed_in(sec, req, res))
  end
  -- spend the link once (as reset and sign-in links): of the requests
  -- that race with it, one confirms (and signs in); the others are told
  -- it was confirmed already
  if not key and not spend_link(sec, user, "confirm", iat) then key = "ALREADY_CONFIRMED" end
  if not key then
    local current = signed_in(sec, req, res)
    sec.datastore:set_confirmed_at(user, now(sec))
    sec.signals:send("user_confirmed", { user = auth.public_user(user) })
    -- Flask-Security's confirm_email: whoever was signed in here is not
    -- the account just confirmed, so the browser is signed out rather than
    -- left in one account after confirming another (then signed in to the
    -- confirmed one with auto_login_after_confirm, whose new session ends
    -- the request's); the same account stays as it is
    if not (current and current.id == user.id) then
      -- a confirmation link is no second factor: such a user signs in
      if cfg.auto_login_after_confirm and not twofactor.required(sec, user) then
        sec:login_user(req, res, user, { authn_via = { "confirm" } })
      elseif current then
        sec:logout_user(req, res)
      end
    end
  end
  if json then
    if key then return res:json(400, { errors = { sec.msg(key, vars) } }) end
    return json_ok(sec, req, res)
  end
  if key then
    flash(sec, req, res, key == "ALREADY_CONFIRMED" and "info" or "error", key, vars)
    return res:redirect(url(sec, "confirm_url"))
  end
  if redirect.spa(sec, cfg.post_confirm_view) then
    return redirect.to_spa(sec, res, cfg.post_confirm_view,
      redirect.user_params(sec, user, { { "success", sec.msg("EMAIL_CONFIRMED") } }))
  end
  flash(sec, req, res, "success", "EMAIL_CONFIRMED")
  return res:redirect(cfg.post_confirm_view or (cfg.auto_login_after_confirm and cfg.post_login_view)
                      or url(sec, "login_url"))
end

-- /reset and /reset/<token> are for signed-out users, as in
-- Flask-Security (its anonymous_user_required, GET included).
function V.forgot(sec, req, res, fields, json)
  if signed_in(sec, req, res) then return anonymous_required(sec, res, json) end
  return instructions(sec, req, res, fields, json, {
    page = "forgot", extra = { links = home_links(sec) },
    refuse = function(user)
      if not user.active then return "DISABLED_ACCOUNT" end
      if requires_confirmation(sec, user) then return "CONFIRMATION_REQUIRED" end
    end,
    send = function(user, base) send_link(sec, base, "reset", user) end,
    flash = { "info", sec._cfg.return_generic_responses and "GENERIC_RECOVERY" or "PASSWORD_RESET_REQUEST" },
    redirect = url(sec, "reset_url"),
  })
end
function V.reset_token(sec, req, res, fields, json, token)
  if signed_in(sec, req, res) then return anonymous_required(sec, res, json) end
  local cfg, ds = sec._cfg, sec.datastore
  local user, state, iat = user_from_token(sec, "reset", token, cfg.reset_password_within)
  local vars = { within = within_text(cfg.reset_password_within, sec), email = user and user.email }
  local bad = (not user or state == "invalid") and "INVALID_RESET_PASSWORD_TOKEN"
    or (state == "expired" and "PASSWORD_RESET_EXPIRED") or nil
  -- an expired link brings a new one, as in Flask-Security (GET and POST),
  -- if /reset would send one: not to a disabled or unconfirmed account,
  -- whose expired link is then just invalid
  if bad == "PASSWORD_RESET_EXPIRED" then
    if user.active and not requires_confirmation(sec, user) then
      resend_link(sec, req, "reset", user)
    else
      bad = "INVALID_RESET_PASSWORD_TOKEN"
    end
  end
  if req.method == "GET" then
    if not json and bad and redirect.spa(sec, cfg.reset_error_view) then
      return redirect.to_spa(sec, res, cfg.reset_error_view, redirect.user_params(sec,
        bad == "PASSWORD_RESET_EXPIRED" and user or nil, { { "error", sec.msg(bad, vars) } }))
    end
    if not json and not bad and redirect.spa(sec, cfg.reset_view) then
      -- the SPA's own form POSTs the token back (JSON); the GET spends nothing
      return redirect.to_spa(sec, res, cfg.reset_view, redirect.user_params(sec, user, { { "token", token } }))
    end
    if bad then
      if json then return res:json(400, { errors = { sec.msg(bad, vars) } }) end
      flash(sec, req, res, "error", bad, vars)
      return res:redirect(url(sec, "reset_url"))
    end
    if json then return json_ok(sec, req, res) end
    return page(sec, req, res, "reset", nil)
  end
  local form = forms.new(sec, fields)
  if bad then -- the token's error alone (Flask-Security reads no field)
    form:error("", bad, vars)
    if json then return json_error(res, form) end
    flash(sec, req, res, "error", bad, vars)
    return res:redirect(url(sec, "reset_url"))
  end
  -- the fields first, then the new password's rules (Flask-Security's order)
  local password = form:password("password")
  form:confirm("password_confirm", password)
  if form:ok() then form:new_password("password", password, { email = user.email }) end
  -- hashed before the link is spent: a hash refused (503, the hashing
  -- queue full) leaves the user the link; of racers (the endpoint is
  -- throttled per client), each hashes and one spends it
  local hash = form:ok() and auth.new_hash(sec, password)
  if form:ok() and not spend_link(sec, user, "reset", iat) then form:error("", "INVALID_RESET_PASSWORD_TOKEN", vars) end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "reset", form)
  end
  local ok, err = write_all(sec, function()
    must(ds:set_password(user, hash))
    -- ends every session, remember cookie, token and outstanding reset link
    must(datastore.revoke_all(ds, user))
    must(auth.unlock(sec, user))           -- a reset unlocks (catalogue L-04)
    -- the outbox queues the notice with the reset itself, or not at all
    if mail.queues(sec) then mail.send(sec, "reset_notice", user, nil) end
  end)
  if not ok then
    sec._log("error", "fsec: password reset failed: " .. tostring(err))
    form:error("", "API_ERROR")
    if json then return json_error(res, form, 500) end
    return page(sec, req, res, "reset", form)
  end
  sec.signals:send("password_reset", { user = auth.public_user(user) })
  if not mail.queues(sec) then mail.send(sec, "reset_notice", user, nil) end
  -- a reset link is no second factor: a user who has one signs in
  local logged_in = cfg.auto_login_after_reset and not twofactor.required(sec, user) and
    sec:login_user(req, res, user, { authn_via = { "reset" } }) == true
  if json then
    if logged_in then
      return json_ok(sec, req, res, { tf_required = false, user = payload(sec, user, wants_token(req)) })
    end
    return res:json(200, {})
  end
  flash(sec, req, res, "success", logged_in and "PASSWORD_RESET" or "PASSWORD_RESET_NO_LOGIN")
  return res:redirect(cfg.post_reset_view or (logged_in and cfg.post_login_view) or url(sec, "login_url"))
end

-- Where the change notice sends a user who did not change the password.
local function change_link(sec, req)
  return mail.base_url(sec, req) .. url(sec, sec._cfg.recoverable and "reset_url" or "login_url")
end

function V.change(sec, req, res, fields, json)
  -- Flask-Security's change_password wants a recent sign-in (a token: the
  -- current password asked below stands for one)
  local user = A.fresh_user(sec, req, res, true)
  if not user then return res end
  if req.method == "GET" then
    if json then
      return json_ok(sec, req, res, { user = payload(sec, user, false), active_password = user.password ~= nil })
    end
    return page(sec, req, res, "change", nil)
  end
  -- Flask-Security's order: the new password's fields; then the current
  -- password (one hash), the same-password check, and the new password's
  -- rules, each only when what came before passed.
  local form = forms.new(sec, fields)
  local new = form:password("new_password")
  form:confirm("new_password_confirm", new)
  local current = form:ok() and form:password("password")
  if current then
    -- the metered check: counted, locked out, one hash (W19-02)
    if not auth.check_user_password(sec, user, current) then
      form:error("password", "INVALID_PASSWORD")
    elseif new == current then
      form:error("password", "PASSWORD_IS_THE_SAME")
    end
  end
  if form:ok() then form:new_password("new_password", new, { email = user.email }) end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "change", form)
  end
  -- one transaction: the new password never stands beside the sessions
  -- and tokens it ends (a failure leaves the old password and all of them)
  local hash = auth.new_hash(sec, new)
  local ok, err = write_all(sec, function()
    must(sec.datastore:set_password(user, hash))
    must(sec:end_other_sessions(req, res, user, true))
    -- the outbox queues the notice with the change itself, or not at all
    if mail.queues(sec) then mail.send(sec, "change_notice", user, change_link(sec, req)) end
  end)
  if not ok then
    sec._log("error", "fsec: password change failed: " .. tostring(err))
    res = http.new_response() -- not the session cookie of what was rolled back
    form:error("", "API_ERROR")
    if json then return json_error(res, form, 500) end
    return page(sec, req, res, "change", form)
  end
  -- Flask-Security signs the user in again after a change (its
  -- user_authenticated, authn_via "change"), then says password_changed
  sec.signals:send("user_authenticated", { user = auth.public_user(user), authn_via = { "change" } })
  sec.signals:send("password_changed", { user = auth.public_user(user) })
  if not mail.queues(sec) then mail.send(sec, "change_notice", user, change_link(sec, req)) end
  if json then return json_ok(sec, req, res, { user = payload(sec, user, wants_token(req)) }) end
  flash(sec, req, res, "success", "PASSWORD_CHANGE")
  return res:redirect(sec._cfg.post_change_view or sec._cfg.post_login_view)
end

function V.verify(sec, req, res, fields, json)
  local user = require_user(sec, req, res)
  if not user then return res end
  if req.method == "GET" then
    if json then
      -- whether /wan-verify could take one of the user's keys instead
      local has_key = require("fsec.wanviews").has_verify(sec, user)
      return json_ok(sec, req, res, { user = payload(sec, user, false), has_webauthn_verify_credential = has_key })
    end
    local nxt = http.single(req.query, "next", 2048)
    -- a key instead of the password, where the user has one /wan-verify takes
    local links = require("fsec.wanviews").has_verify(sec, user)
      and { { url(sec, "wan_verify_url") .. (nxt and "?next=" .. http.quote_value(nxt) or ""), "LINK_WAN_VERIFY" } }
    return page(sec, req, res, "verify", nil, { next = nxt, links = links or nil })
  end
  local form = forms.new(sec, fields)
  local password = form:password("password")
  -- a bad next is ignored here, as Flask-Security's verify does
  local nxt = next_of(req, form) or nil
  if form:ok() and not auth.check_user_password(sec, user, password) then
    form:error("password", "INVALID_PASSWORD")
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "verify", form, { next = nxt or nil })
  end
  if sec:mark_fresh(req, res) ~= true then -- no session to mark (a token): nothing was done
    form:error("", "API_ERROR")
    if json then return json_error(res, form) end
    return page(sec, req, res, "verify", form, { next = nxt or nil })
  end
  if json then return json_ok(sec, req, res, { user = payload(sec, user, wants_token(req)) }) end
  flash(sec, req, res, "info", "REAUTHENTICATION_SUCCESSFUL")
  return res:redirect(nxt or sec._cfg.post_verify_view or sec._cfg.post_login_view)
end


-- ---------------------------------------------------------------------
-- Routing
-- ---------------------------------------------------------------------

-- Endpoints that take a credential or send mail: the throttle policy
-- and the per-client limit (fsec.throttle) run for their POSTs, before
-- any hashing or mail; at /login also the per-account limit.
local CREDENTIAL = { login = true, verify = true, change = true, register = true,
                     forgot = true, passwordless = true, reset_token = true, confirm = true,
                     us_signin = true, us_verify = true, us_verify_link = true }
-- a GET that checks a code: metered as a POST of credentials is
local CREDENTIAL_GET = { us_verify_link = true }

-- The account a credential names, if any: a password login's email or
-- username, a unified sign-in's identity, the magic link's account (its
-- uniquifier). Its own count, whatever the client's address: an attack
-- review guessed /us-signin codes from 100 addresses, and GET
-- /us-verify-link codes without any limit.
local function posted_identity(sec, name, fields, req)
  if name == "us_signin" then
    local i = fields.identity
    return type(i) == "string" and i:find("%S") and i or nil
  end
  if name == "us_verify_link" then
    local id = http.single(req.query, "id", 1024)
    return type(id) == "string" and id ~= "" and ("us-link:" .. id) or nil
  end
  if name ~= "login" or sec._cfg.passwordless then return nil end
  local e = fields.email
  if type(e) == "string" and e:find("%S") then return e end
  local u = fields.username
  if type(u) == "string" then return u end
  return nil
end

-- The mailed links that sign a browser in or out: GET shows the consent
-- page, POST acts (GET alone with one_click_links).
local LINKS = { login_token = true, confirm_token = true }
local GET_ONLY, GET_POST = { "GET" }, { "GET", "POST" }
-- a setup's code goes to its state's URL, by POST only (as Flask-Security)
local POST_ONLY, POST_ONLY_LIST = { tf_setup_token = true }, { "POST" }
-- Where a GET acts: it signs out, or uses a mailed link (a new one is
-- even mailed when it has expired). A HEAD there must do none of that:
-- mail scanners and link previews probe links with HEAD before a person
-- follows them.
local ACTS = { logout = true, login_token = true, confirm_token = true, reset_token = true }

local function own_route(sec, path)
  local c = sec._cfg
  local function tail(base)
    if path:sub(1, #base + 1) == base .. "/" then
      local t = path:sub(#base + 2)
      if t ~= "" and not t:find("/", 1, true) then return t end
    end
  end
  if path == c.login_url then return "login" end
  if path == c.logout_url then return "logout" end
  if path == c.verify_url then return "verify" end
  if c.passwordless and tail(c.login_url) then return "login_token", tail(c.login_url) end
  if c.registerable and path == c.register_url then return "register" end
  if c.recoverable and path == c.reset_url then return "forgot" end
  if c.recoverable and tail(c.reset_url) then return "reset_token", tail(c.reset_url) end
  if c.changeable and path == c.change_url then return "change" end
  if c.confirmable and path == c.confirm_url then return "confirm" end
  if c.confirmable and tail(c.confirm_url) then return "confirm_token", tail(c.confirm_url) end
end

-- The endpoint modules besides this one (fsec.endpoints): their routes
-- and kinds here, each module loaded at the first request for one of its
-- endpoints (V's __index).
local GET_ONLY_NAMES = {}
for name in pairs(endpoints.CREDENTIAL) do CREDENTIAL[name] = true end
for name in pairs(endpoints.POST_ONLY) do POST_ONLY[name] = true end
for name in pairs(endpoints.GET_ONLY) do GET_ONLY_NAMES[name] = true end
-- a mailed link: consent first, CSRF on its POST, HEAD does nothing
for name in pairs(endpoints.LINKS) do LINKS[name], ACTS[name] = true, true end
setmetatable(V, { __index = function(t, name)
  local fn = endpoints.handler(name)
  if fn then rawset(t, name, fn) end
  return fn
end })

local function route(sec, path)
  local name, token = own_route(sec, path)
  if name then return name, token end
  return endpoints.route(sec, path)
end


local Security = {}
_M.methods = Security


local answer

-- The Allow header: the endpoint's methods, with HEAD beside GET and
-- OPTIONS, as Werkzeug lists them for a Flask view.
local function allow_list(allowed, has_get)
  local list = {}
  for _, m in ipairs(allowed) do list[#list + 1] = m end
  if has_get then list[#list + 1] = "HEAD" end
  list[#list + 1] = "OPTIONS"
  return table.concat(list, ", ")
end

-- OPTIONS: the Allow header and no body (as Werkzeug answers it). HEAD: what
-- GET would answer, headers only; where GET acts, 200 and nothing done.
local function head_or_options(sec, req, res, name, method, allowed, has_get)
  if method == "OPTIONS" or ACTS[name] then
    res:set_header("Allow", allow_list(allowed, has_get))
    res.status, res.body = 200, ""
    return res
  end
  req.method = "GET"
  local ok, out = pcall(answer, sec, req)
  req.method = method
  if not ok then error(out, 0) end
  out.body = ""
  return out
end

-- A POST refused for its CSRF token. JSON: the error (csrf.deny). A form:
-- the page again, showing why, with a fresh token (as Flask-Security
-- re-renders a form whose csrf_token failed), 400 as fsec answers every
-- failed form. Where GET is not allowed, acts (a mailed link) or answers
-- no page, csrf.deny's page.
local function csrf_refused(sec, req, res, name, key, json, token, has_get)
  if json or not has_get or ACTS[name] or not V[name] then return csrf.deny(sec, req, res, key, true) end
  req._fsec_csrf_refused = sec.msg(key)
  req.method = "GET"
  local ok, out = pcall(V[name], sec, req, res, {}, false, token)
  req.method = "POST"
  req._fsec_csrf_refused = nil
  if not ok then error(out, 0) end
  out = out or res
  local ct = out.headers["Content-Type"] or ""
  if out.status == 400 and ct:find("^text/html") then return out end
  return csrf.deny(sec, req, http.new_response(), key, true)
end

--- Answer a request if it is for one of fsec's endpoints.
-- @return a response (status, headers, cookies, body), or nil
function Security:handle(req)
  events.enter(self, req)
  -- fsec's messages (sec.msg) in the request's language while it answers
  local res = i18n.within(i18n.lang_for(self, req), answer, self, req)
  events.leave(self)
  -- every answer carries the user's data, a CSRF token or a credential:
  -- no shared cache may keep it, and no browser replay it from its cache
  local cc = self._cfg.cache_control
  if res and cc then res:set_header("Cache-Control", cc) end
  if res then csrf.refresh(self, req, res) end
  return res
end

answer = function(self, req)
  local cfg = self._cfg
  local path = type(req.path) == "string" and req.path or ""
  local prefix = cfg.url_prefix
  if prefix ~= "" then
    if path:sub(1, #prefix) ~= prefix or (#path > #prefix and path:sub(#prefix + 1, #prefix + 1) ~= "/") then
      return nil
    end
    path = path:sub(#prefix + 1)
  end
  local name, token = route(self, path)
  if not name then return nil end
  req._fsec_endpoint = name -- for security events (fsec.events)
  local res = http.new_response()
  local json = http.wants_json(req)
  local method = req.method
  local allowed = (name == "logout") and cfg.logout_methods or (POST_ONLY[name] and POST_ONLY_LIST) or
                  (((LINKS[name] and cfg.one_click_links) or GET_ONLY_NAMES[name]) and GET_ONLY or GET_POST)
  local ok_method, has_get = false, false
  for _, m in ipairs(allowed) do
    if m == method then ok_method = true end
    if m == "GET" then has_get = true end
  end
  if method == "OPTIONS" or (method == "HEAD" and has_get) then
    return head_or_options(self, req, res, name, method, allowed, has_get)
  end
  if not ok_method then
    res:set_header("Allow", allow_list(allowed, has_get))
    if name == "logout" and method == "GET" and not json then return V.logout_page(self, req, res) end
    if json then return res:json(405, { errors = { "Method not allowed" } }) end
    return res:text(405, "Method not allowed")
  end
  if type(req.body) == "string" and #req.body > cfg.max_body_bytes then
    if json then return res:json(413, { errors = { "Request body too large" } }) end
    return res:text(413, "Request body too large")
  end
  local fields = forms.input(req, cfg.max_body_bytes)
  if not fields then
    return res:json(400, { errors = { self.msg("API_ERROR") }, field_errors = { [""] = { self.msg("API_ERROR") } } })
  end
  -- a link's POST is the user's consent: another site's form must not
  -- give it, even where unauthenticated endpoints skip CSRF
  -- logout needs none from this site, as in Flask-Security-Too (its views
  -- exempt it): a client whose token is lost or stale can still sign out.
  -- A request the browser marks as from elsewhere still needs one: a
  -- forged sign-out is a nuisance, not a takeover (docs/security.md).
  if method == "POST" and (name ~= "logout" or csrf.cross_site(req))
      and csrf.required(self, req, LINKS[name]) then
    local ok, key = csrf.check(self, req, fields)
    if not ok then return csrf_refused(self, req, res, name, key, json, token, has_get) end
  end
  if (method == "POST" and CREDENTIAL[name]) or (method == "GET" and CREDENTIAL_GET[name]) then
    local ok, wait = self._policy:run("throttle", req, name), 60
    if ok then ok, wait = throttle.credential(self, req, posted_identity(self, name, fields, req)) end
    if not ok then
      events.emit(self, name == "login" and "login" or "throttled", { outcome = "failure", reason = "throttled" }, req)
      return throttle.refuse(res, json, wait)
    end
  end
  if not self.datastore then error("fsec: endpoints need a datastore (database or datastore)", 3) end
  local ok, out = pcall(V[name], self, req, res, fields, json, token)
  if ok then return out or res end
  if auth.is_unavailable(out) then
    local fresh = http.new_response() -- drop half-made cookies
    require("fsec.authz").unavailable(self, req, fresh, out)
    return fresh
  end
  error(out, 0)
end


--- Check a request's CSRF token for the application's own endpoints.
-- @return true, or false, status, body, res (a 400 to send)
function Security:csrf_protect(req, res)
  res = res or http.new_response()
  if not csrf.required(self, req) then return true end
  local fields = forms.input(req, self._cfg.max_body_bytes) or {}
  local ok, key = csrf.check(self, req, fields)
  if ok then return true end
  csrf.deny(self, req, res, key)
  return false, res.status, res.body, res
end


--- The flash messages waiting for this client ({ category, message }
-- pairs), cleared on res: for the application's own pages.
function Security:take_flashes(req, res)
  return take_flashes(self, req, res)
end


--- A CSRF token for pages the application renders itself.
function Security:csrf_token(req, res)
  return csrf.token(self, req, res)
end


return _M
