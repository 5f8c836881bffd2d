--- Two-factor sign-in, as Flask-Security-Too's: /tf-setup (and
-- /tf-setup/<state>), /tf-validate, /tf-rescue, /tf-select; the
-- half-signed-in state between the first factor and the second; the
-- tf_validity cookie that remembers a device.
--
-- The half-signed-in state is a signed cookie (two_factor_state_cookie_name),
-- not a session: it grants nothing (current_user stays anonymous), it
-- names the user by fs_uniquifier (a password change or
-- reset_user_access ends it), it expires (two_factor_login_within), and
-- it lives in the browser that gave the password: a code typed in
-- another browser finds no state there. A pending setup's new secret
-- travels in it and in the tf_state_token sealed (fsec.otp), never in
-- clear.
--
-- Codes are metered as passwords are: each check reserves an attempt of the account's
-- lockout meter before it runs, and a password that verified for a two-factor user does
-- not give its attempt back; only the second factor's success does (auth.check_user_password).
-- @module fsec.twofactor

local http = require "fsec.http"
local auth = require "fsec.auth"
local datastore = require "fsec.datastore"
local forms = require "fsec.forms"
local mail = require "fsec.mail"
local otp = require "fsec.otp"
local phone = require "fsec.phone"
local throttle = require "fsec.throttle"
local A = require "fsec.answer"
require "fsec.mfpages"

local type = type
local pairs = pairs
local ipairs = ipairs

local _M = { _VERSION = "0.1.0" }

local json_ok, json_error, page, url, payload = A.json_ok, A.json_error, A.page, A.url, A.payload
local flash, signed_in, write_all = A.flash, A.signed_in, A.write_all

local function cfg_of(sec) return sec._cfg end

------------------------------------------------------------------------
-- Who needs a second factor
------------------------------------------------------------------------

--- Has the user set up a second factor?
function _M.has_tf(user)
  return type(user.tf_primary_method) == "string" and user.tf_primary_method ~= ""
    and type(user.tf_totp_secret) == "string" and user.tf_totp_secret ~= ""
end

--- Has the user a WebAuthn key for a second factor? (Too's plugin: with or without two_factor.)
function _M.has_wan(sec, user)
  if not cfg_of(sec).webauthn or not sec.datastore.webauthn_credentials then return false end
  for _, c in ipairs(auth.check_store(sec.datastore:webauthn_credentials(user)) or {}) do
    if c.usage == "secondary" then return true end
  end
  return false
end

--- Must this user give a second factor? (A WebAuthn key for it; or two_factor on, and the user
-- has one, or two_factor_required, or check_tf_required says so.) A hook that fails answers yes:
-- fail closed, never a sign-in on one factor alone.
function _M.required(sec, user)
  local cfg = cfg_of(sec)
  if _M.has_wan(sec, user) then return true end
  if not cfg.two_factor then return false end
  if _M.has_tf(user) or cfg.two_factor_required then return true end
  local hook = cfg.check_tf_required
  if not hook then return false end
  local ok, want = pcall(hook, auth.public_user(user))
  if not ok then
    sec._log("error", "fsec: check_tf_required failed (a second factor is required): " .. tostring(want))
    return true
  end
  return want == true
end

------------------------------------------------------------------------
-- The half-signed-in state
------------------------------------------------------------------------

local STATE = "tf_state"

local function state_cookie(sec, req) return auth.cookie_name(sec, req, cfg_of(sec).two_factor_state_cookie_name) end

--- The state of this browser: { u, st, r, n, v, m, k, p, l } or nil.
-- u: fs_uniquifier; st: "ready" | "setup_from_login" |
-- "validating_profile"; r: remember; n: next; v: the first factor; m,
-- k, p: a pending setup's method, sealed secret and phone; l: a sign-in
-- in progress (not signed in yet).
function _M.read_state(sec, req)
  local v = http.request_cookie(req, state_cookie(sec, req), 4096)
  if not v then return nil end
  local expired, invalid, data = sec:get_token_status(v, STATE, cfg_of(sec).two_factor_login_within)
  if expired or invalid or type(data) ~= "table" or type(data.u) ~= "string" or type(data.st) ~= "string" then
    return nil
  end
  return data
end

function _M.set_state(sec, req, res, data)
  res:set_cookie(state_cookie(sec, req), assert(sec:generate_token(STATE, data)),
                 auth.cookie_opts(sec, req, cfg_of(sec).two_factor_login_within))
end

function _M.clear_state(sec, req, res)
  if http.request_cookie(req, state_cookie(sec, req)) then
    res:delete_cookie(state_cookie(sec, req), auth.cookie_opts(sec, req))
  end
end

-- The user a state names, still as it was (nil: gone, disabled).
local function state_user(sec, data)
  local user = auth.check_store(sec.datastore:find_user{ fs_uniquifier = data.u })
  if not user or not user.active then return nil end
  return user
end

------------------------------------------------------------------------
-- Remember this device: tf_validity
------------------------------------------------------------------------

local VALIDITY = "tf_validity"

local function validity_cookie(sec, req)
  return auth.cookie_name(sec, req, cfg_of(sec).two_factor_validity_cookie_name)
end

--- Does this browser's tf_validity cookie vouch for the user? It names
-- the user's fs_uniquifier, which a password change and
-- reset_user_access replace: they end it with everything else.
function _M.validity_ok(sec, req, user)
  local cfg = cfg_of(sec)
  if cfg.two_factor_always_validate then return false end
  local v = http.request_cookie(req, validity_cookie(sec, req), 4096)
  if not v then return false end
  local expired, invalid, data = sec:get_token_status(v, VALIDITY, cfg.two_factor_login_validity)
  return not expired and not invalid and type(data) == "table" and data.u == user.fs_uniquifier
end

local function set_validity(sec, req, res, user)
  local tok = assert(sec:generate_token(VALIDITY, { u = user.fs_uniquifier }))
  res:set_cookie(validity_cookie(sec, req), tok,
                 auth.cookie_opts(sec, req, cfg_of(sec).two_factor_login_validity))
  return tok
end

------------------------------------------------------------------------
-- Codes: sending, checking
------------------------------------------------------------------------

local function validity_of(sec, method)
  local cfg = cfg_of(sec)
  if method == "email" then return cfg.two_factor_mail_validity end
  if method == "sms" then return cfg.two_factor_sms_validity end
  return cfg.two_factor_authenticator_validity
end
_M.validity_of = validity_of

--- Send a code of raw to the user by method ("email", "sms"), a step
-- of its own (fsec.otp.sent_code); authenticator: nothing to send. The
-- mailer or SMS sender runs after the response where the adapter defers
-- work. false when no code could be sent (a burst of sends).
function _M.send_code(sec, user, method, raw, phone_number)
  if method ~= "email" and method ~= "sms" then return true end
  local code = otp.sent_code(sec, user, raw, validity_of(sec, method))
  if not code then
    sec._log("warn", "fsec: no two-factor code sent: too many sent within its validity")
    return false
  end
  if method == "email" then
    mail.send_code(sec, "two_factor_instructions", user, code, validity_of(sec, method))
  else
    mail.send_sms(sec, user, phone_number or user.tf_phone_number, code, "two_factor")
  end
  sec.signals:send("tf_security_token_sent", { user = auth.public_user(user), method = method,
                                               phone_number = method == "sms" and phone_number or nil })
  return true
end

--- Check a code the user typed against raw (a second factor), metered:
-- the attempt is reserved on the account's lockout meter first (a locked
-- account's code is refused unchecked), and given back on success.
-- rescue: the key of a rescue mail's code (otp.sent_key), tried too
-- under the same attempt. true, or nil, why.
function _M.check_code(sec, user, raw, code, method, slot, rescue)
  if not auth.reserve(sec, user) then return nil, "locked" end
  local ok, why = otp.check(sec, user, slot or "tf", raw, code, validity_of(sec, method))
  if not ok and rescue then
    ok, why = otp.check(sec, user, slot or "tf", rescue, code, validity_of(sec, "email"))
  end
  if not ok then
    sec.signals:send("user_failed_authn", { user = auth.public_user(user), auth_type = method, tfa = true })
    return nil, why
  end
  auth.check_store(auth.unlock(sec, user))
  return true
end

------------------------------------------------------------------------
-- Answers
------------------------------------------------------------------------

-- Flask-Security's tf_illegal_state: no state (or not this one) here.
local function illegal(sec, req, res, json)
  _M.clear_state(sec, req, res)
  if json then
    return res:json(400, { errors = { sec.msg("TWO_FACTOR_PERMISSION_DENIED") },
                           field_errors = { [""] = { sec.msg("TWO_FACTOR_PERMISSION_DENIED") } } })
  end
  flash(sec, req, res, "error", "TWO_FACTOR_PERMISSION_DENIED")
  return res:redirect(url(sec, "login_url"))
end
_M.illegal = illegal

--- What the rescue page offers this user.
function _M.recovery_options(sec, user)
  local cfg, t = cfg_of(sec), {}
  if cfg.two_factor_rescue_email then t.email = url(sec, "two_factor_rescue_url") end
  if cfg.two_factor_rescue_mail then t.help = url(sec, "two_factor_rescue_url") end
  if cfg.multi_factor_recovery_codes and type(user.mf_recovery_codes) == "string"
     and user.mf_recovery_codes ~= "" then
    t.recovery_code = url(sec, "multi_factor_recovery_url")
  end
  return t
end

--- Start the second factor after a first one verified (login,
-- unified sign-in). Returns nil when none is needed (the caller signs
-- the user in), else the answer: tf_required, with a code sent when the
-- method sends one. o: remember, next, via (the first factor's name).
function _M.enter(sec, req, res, json, user, o)
  if not _M.required(sec, user) then return nil end
  if _M.validity_ok(sec, req, user) then return nil end
  local ready = _M.has_tf(user)
  local wan = _M.has_wan(sec, user) -- a WebAuthn key: /wan-signin takes it
  local st = (ready or wan) and "ready" or "setup_from_login"
  _M.set_state(sec, req, res, { u = user.fs_uniquifier, st = st, r = o.remember and 1 or 0,
                                n = o.next or nil, v = o.via or "password", l = 1 })
  local pm = ready and user.tf_primary_method or (wan and "webauthn") or nil
  if ready and (pm == "email" or pm == "sms") then
    local raw = otp.unseal(sec._cfg, user.tf_totp_secret)
    if raw then _M.send_code(sec, user, pm, raw) end
  end
  if json then
    return json_ok(sec, req, res, { tf_required = true, tf_state = st, tf_method = pm, tf_primary_method = pm,
                                    tf_signin_url = wan and url(sec, "wan_signin_url") or nil })
  end
  if not ready and wan then return res:redirect(url(sec, "wan_signin_url")) end
  return res:redirect(url(sec, ready and "two_factor_token_validation_url" or "two_factor_setup_url"))
end

--- The second factor verified: sign the user in (the session the first
-- factor would have given), remember the device when asked, end the
-- half-signed-in state.
-- @return the answer
function _M.finish(sec, req, res, json, user, data, o)
  o = o or {}
  local remember = data.r == 1
  local ok, err = sec:login_user(req, res, user, { remember = remember, authn_via = { data.v or "password" } })
  if not ok then
    local form = forms.new(sec, {})
    form:error("", "GENERIC_AUTHN_FAILED")
    sec._log("warn", "fsec: two-factor sign-in refused: " .. tostring(err))
    if json then return json_error(res, form) end
    return page(sec, req, res, "tf_validate", form, {})
  end
  _M.clear_state(sec, req, res)
  local extra = { user = payload(sec, user, A.wants_token(req)) }
  if remember and not o.no_validity and not cfg_of(sec).two_factor_always_validate then
    extra.tf_validity_token = set_validity(sec, req, res, user)
  end
  sec.signals:send("tf_code_confirmed", { user = auth.public_user(user), method = o.method or user.tf_primary_method })
  if json then return json_ok(sec, req, res, extra) end
  flash(sec, req, res, "success", "TWO_FACTOR_LOGIN_SUCCESSFUL")
  local nxt = type(data.n) == "string" and data.n or nil
  return res:redirect(nxt or cfg_of(sec).post_login_view)
end

------------------------------------------------------------------------
-- Endpoints
------------------------------------------------------------------------

local V = {}
_M.handlers = V

local fresh_user = A.fresh_user

local function methods_offered(sec)
  local list = {}
  for _, m in ipairs(cfg_of(sec).two_factor_enabled_methods) do list[#list + 1] = m end
  if not cfg_of(sec).two_factor_required then list[#list + 1] = "disable" end
  return list
end

local function offered(sec, method)
  for _, m in ipairs(methods_offered(sec)) do
    if m == method then return true end
  end
  return false
end

-- Who is setting up: the signed-in user (fresh), or the user of a
-- sign-in that must set up a second factor first.
local function setup_user(sec, req, res)
  local current = signed_in(sec, req, res)
  if current then
    local user = fresh_user(sec, req, res)
    return user, nil, user == nil
  end
  local data = _M.read_state(sec, req)
  if not data or data.l ~= 1 or (data.st ~= "setup_from_login" and data.st ~= "validating_profile") then
    return nil, nil, false
  end
  local user = state_user(sec, data)
  -- a factor set up since this sign-in began: only that factor signs in now
  if user and (_M.has_tf(user) or _M.has_wan(sec, user)) then return nil, nil, false end
  return user, data, false
end

local function setup_page_ctx(sec, user, extra)
  local t = { methods = methods_offered(sec), primary = user and user.tf_primary_method,
              phone = user and user.tf_phone_number }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

function V.tf_setup(sec, req, res, fields, json)
  local user, data, answered = setup_user(sec, req, res)
  if answered then return res end
  if not user then return illegal(sec, req, res, json) end
  local cfg = cfg_of(sec)
  if req.method == "GET" then
    if json then
      -- none set up: null, as Flask-Security answers (the keys are there)
      local null = http.json.null
      return json_ok(sec, req, res, { tf_required = cfg.two_factor_required,
                                      tf_primary_method = user.tf_primary_method or null,
                                      tf_phone_number = user.tf_phone_number or null,
                                      tf_available_methods = methods_offered(sec) })
    end
    return page(sec, req, res, "tf_setup", nil, setup_page_ctx(sec, user))
  end
  local form = forms.new(sec, fields)
  local method = form:string("setup", 32)
  local number
  if not method or not offered(sec, method) or (method == "disable" and data) then
    form:error("setup", "TWO_FACTOR_METHOD_NOT_AVAILABLE")
  elseif method == "sms" then
    local given = form:string("phone", 64)
    number = given and phone.canonical(given, cfg.phone_region_default)
    if not number then form:error("phone", "PHONE_INVALID") end
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "tf_setup", form, setup_page_ctx(sec, user))
  end
  if method == "disable" then return _M.disable(sec, req, res, json, user) end
  if method == "sms" or method == "email" then -- a code leaves: metered (fsec.throttle.send)
    local allowed, wait = throttle.send(sec, req, user, number or user.email)
    if not allowed then return throttle.refuse(res, json, wait) end
  end
  local raw = otp.new_secret()
  local pending = { u = user.fs_uniquifier, st = "validating_profile", m = method, k = otp.seal(cfg, raw),
                    p = number, l = data and 1 or nil, r = data and data.r or nil, n = data and data.n or nil,
                    v = data and data.v or nil }
  _M.set_state(sec, req, res, pending)
  local state_token = assert(sec:generate_token("tf_setup", pending))
  _M.send_code(sec, user, method, raw, number)
  local t = { tf_state = "validating_profile", tf_method = method, tf_primary_method = method,
              tf_state_token = state_token }
  local label = user.email or user.username or ""
  local uri
  if method == "authenticator" then
    -- Too 5.8's keys: the key as typed and as base32, the otpauth:// URI
    -- (a client draws its own QR code from it), issuer and account
    uri = otp.uri(cfg, raw, label)
    t.tf_authr_key = otp.pretty_key(raw)
    t.tf_authr_b32key = require("fsec.core").base32_encode(raw)
    t.tf_authr_uri = uri
    t.tf_authr_username = label
    t.tf_authr_issuer = cfg.totp_issuer
  end
  if json then return json_ok(sec, req, res, t) end
  return page(sec, req, res, "tf_setup", nil, setup_page_ctx(sec, user, {
    chosen = method, state_token = state_token, authr_key = t.tf_authr_key, authr_username = label,
    authr_issuer = cfg.totp_issuer, authr_qrcode = uri and otp.qr_data_uri(uri),
    code_action = url(sec, "two_factor_setup_url", "/" .. state_token) }))
end

--- Turn two-factor off for a (fresh, signed-in) user.
function _M.disable(sec, req, res, json, user)
  local ds = sec.datastore
  local ok, err = write_all(sec, function()
    for _, f in ipairs{ "tf_primary_method", "tf_totp_secret", "tf_phone_number" } do
      datastore.must(ds:set_field(user, f, nil))
    end
  end)
  if not ok then error(err, 0) end
  sec.signals:send("tf_disabled", { user = auth.public_user(user) })
  if json then return json_ok(sec, req, res, {}) end
  flash(sec, req, res, "success", "TWO_FACTOR_DISABLED")
  return res:redirect(cfg_of(sec).post_login_view)
end

-- Complete a pending setup with its code: the method is stored, and a
-- sign-in that waited for it completes. o.validate: the code came to
-- /tf-validate (Flask-Security 5.1's way), which answers with the user
-- there, not /tf-setup/<state>'s method fields.
local function complete_setup(sec, req, res, fields, json, user, data, o)
  local cfg = cfg_of(sec)
  local form = forms.new(sec, fields)
  local code = form:string("code", 64)
  if not code then form:error("code", "TWO_FACTOR_INVALID_TOKEN") end
  local raw = form:ok() and otp.unseal(cfg, data.k)
  if form:ok() and not raw then form:error("", "API_ERROR") end
  if form:ok() and not _M.check_code(sec, user, raw, code, data.m, "tf") then
    form:error("code", "TWO_FACTOR_INVALID_TOKEN")
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "tf_setup", form, setup_page_ctx(sec, user, { chosen = data.m,
      code_action = http.full_path(req) }))
  end
  local ds = sec.datastore
  local ok, err = write_all(sec, function()
    datastore.must(ds:set_field(user, "tf_primary_method", data.m))
    datastore.must(ds:set_field(user, "tf_totp_secret", otp.seal(cfg, raw)))
    if data.m == "sms" then datastore.must(ds:set_field(user, "tf_phone_number", data.p)) end
  end)
  if not ok then error(err, 0) end
  sec.signals:send("tf_profile_changed", { user = auth.public_user(user), method = data.m })
  if data.l == 1 then return _M.finish(sec, req, res, json, user, data, { method = data.m }) end
  _M.clear_state(sec, req, res)
  if json and o and o.validate then
    return json_ok(sec, req, res, { user = payload(sec, user, A.wants_token(req)) })
  end
  if json then
    return json_ok(sec, req, res, { tf_method = data.m, tf_primary_method = data.m,
                                    tf_phone = data.m == "sms" and data.p or nil })
  end
  flash(sec, req, res, "success", "TWO_FACTOR_CHANGE_METHOD_SUCCESSFUL")
  return res:redirect(cfg.two_factor_post_setup_view or url(sec, "two_factor_setup_url"))
end

--- POST /tf-setup/<state>: the code of a setup the state token names.
-- The token alone signs no one in: a sign-in in progress needs this
-- browser's state cookie for the same user too.
function V.tf_setup_token(sec, req, res, fields, json, token)
  local cfg = cfg_of(sec)
  local expired, invalid, data = sec:get_token_status(token, "tf_setup", cfg.two_factor_setup_within)
  local function refuse(key, vars)
    local form = forms.new(sec, fields)
    form:error("", key, vars)
    if json then return json_error(res, form) end
    flash(sec, req, res, "error", key, vars)
    return res:redirect(url(sec, "two_factor_setup_url"))
  end
  if invalid or type(data) ~= "table" or type(data.u) ~= "string" then return refuse("API_ERROR") end
  if expired then
    return refuse("TWO_FACTOR_SETUP_EXPIRED", { within = A.within_text(cfg.two_factor_setup_within, sec) })
  end
  local current = signed_in(sec, req, res)
  local user
  if current then
    user = fresh_user(sec, req, res)
    if not user then return res end
    if user.fs_uniquifier ~= data.u or data.l == 1 then return refuse("API_ERROR") end
  else
    local st = _M.read_state(sec, req)
    -- the very setup this browser's state holds (its sealed secret), never
    -- a token kept from an earlier sign-in beside a new "ready" state
    if data.l ~= 1 or not st or st.u ~= data.u or st.l ~= 1 or st.st ~= "validating_profile"
       or st.k ~= data.k then return illegal(sec, req, res, json) end
    user = state_user(sec, data)
    if not user or _M.has_tf(user) or _M.has_wan(sec, user) then return illegal(sec, req, res, json) end
  end
  return complete_setup(sec, req, res, fields, json, user, data)
end

-- The state /tf-validate acts on: a sign-in in progress (ready, or a
-- setup from it), or a signed-in user's pending setup (Flask-Security
-- 5.1's way to complete a setup).
local function validate_state(sec, req, res)
  local data = _M.read_state(sec, req)
  local current = signed_in(sec, req, res)
  if current then
    if data and data.st == "validating_profile" and data.l ~= 1 and data.u == current.fs_uniquifier then
      return current, data
    end
    return nil
  end
  if not data or data.l ~= 1 or (data.st ~= "ready" and data.st ~= "validating_profile") then return nil end
  local user = state_user(sec, data)
  if not user then return nil end
  if data.st == "ready" and not _M.has_tf(user) then return nil end
  if data.st == "validating_profile" and (_M.has_tf(user) or _M.has_wan(sec, user)) then return nil end
  return user, data
end

function V.tf_validate(sec, req, res, fields, json)
  local user, data = validate_state(sec, req, res)
  if not user then return illegal(sec, req, res, json) end
  if data.st == "validating_profile" then
    if req.method == "GET" then
      if json then return json_ok(sec, req, res, {}) end
      return page(sec, req, res, "tf_setup", nil, setup_page_ctx(sec, user, { chosen = data.m }))
    end
    return complete_setup(sec, req, res, fields, json, user, data, { validate = true })
  end
  local options = _M.recovery_options(sec, user)
  local method = user.tf_primary_method
  if req.method == "GET" then
    if json then return json_ok(sec, req, res, { recovery_options = options, user = {} }) end
    local wan = _M.has_wan(sec, user) and { { url(sec, "wan_signin_url"), "LINK_WAN_SIGNIN" } } or nil
    return page(sec, req, res, "tf_validate", nil, { method = method, options = options, links = wan })
  end
  local form = forms.new(sec, fields)
  local code = form:string("code", 64)
  if not code then form:error("code", "TWO_FACTOR_INVALID_TOKEN") end
  if form:ok() then
    local raw = otp.unseal(cfg_of(sec), user.tf_totp_secret)
    if not raw then
      sec._log("error", "fsec: a two-factor secret does not unseal (totp_secrets changed?)")
      form:error("code", "TWO_FACTOR_INVALID_TOKEN")
    elseif not _M.check_code(sec, user, raw, code, method, "tf", data.rm == 1 and otp.sent_key(raw) or nil) then
      form:error("code", "TWO_FACTOR_INVALID_TOKEN")
    end
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "tf_validate", form, { method = method, options = options })
  end
  return _M.finish(sec, req, res, json, user, data, { method = method })
end

function V.tf_rescue(sec, req, res, fields, json)
  if signed_in(sec, req, res) then return A.anonymous_required(sec, res, json) end
  local data = _M.read_state(sec, req)
  local user = data and data.l == 1 and data.st == "ready" and state_user(sec, data)
  if not user or not _M.has_tf(user) then return illegal(sec, req, res, json) end
  local cfg = cfg_of(sec)
  local options = _M.recovery_options(sec, user)
  local form = forms.new(sec, fields)
  local problem
  if req.method == "POST" then
    local what = form:string("help_setup", 32)
    if what == "recovery_code" and options.recovery_code then
      return res:redirect(options.recovery_code)
    elseif what == "email" and options.email then
      -- metered as every other code sent (per client, account, address):
      -- a password holder filled the user's mailbox and sent steps else
      local allowed, wait = throttle.send(sec, req, user, user.email)
      if not allowed then return throttle.refuse(res, json, wait) end
      local raw = otp.unseal(cfg, user.tf_totp_secret)
      -- an authenticator's secret: the mailed code has a key of its own
      -- (never one of the app's codes), which this sign-in's state
      -- remembers to try (rm)
      local authr = raw and user.tf_primary_method == "authenticator"
      local code = raw and otp.sent_code(sec, user, authr and otp.sent_key(raw) or raw, validity_of(sec, "email"))
      if code then
        mail.send_code(sec, "two_factor_instructions", user, code, validity_of(sec, "email"))
        sec.signals:send("tf_security_token_sent", { user = auth.public_user(user), method = "email" })
        if authr then
          data.rm = 1
          _M.set_state(sec, req, res, data)
        end
      end
      problem = "email"
    elseif what == "help" and options.help then
      -- per account and client, not per address: the administrator's is
      -- everyone's, and one user must not close it to the others
      local allowed, wait = throttle.send(sec, req, user)
      if not allowed then return throttle.refuse(res, json, wait) end
      mail.send_rescue(sec, cfg.two_factor_rescue_mail, user)
      problem = "help"
    else
      form:error("help_setup", "INVALID_CHOICE")
    end
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "tf_validate", form, { method = user.tf_primary_method, options = options })
  end
  if json then return json_ok(sec, req, res, { recovery_options = options }) end
  return page(sec, req, res, "tf_validate", nil, { method = user.tf_primary_method, options = options,
                                                  problem = problem, rescue_mail = cfg.two_factor_rescue_mail })
end

-- No choice to make: as Flask-Security answers outside that state.
function V.tf_select(sec, req, res, _, json)
  return illegal(sec, req, res, json)
end

-- Routing: fsec.endpoints (so that this module loads at its first request).

return _M
