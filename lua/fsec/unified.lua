--- Unified sign-in, as Flask-Security-Too's: one identity (email, or a
-- phone number when us_phone_number is an identity attribute) and one
-- passcode, which is the password or a one-time code of any method the
-- user set up (email, authenticator, SMS). /us-signin,
-- /us-signin/send-code, /us-verify and /us-verify/send-code (freshness),
-- /us-setup with /us-setup/<state>, and /us-verify-link (the mailed link).
--
-- Each method has its own secret (us_totp_secrets: method -> sealed
-- secret, fsec.otp), so a code names the method that made it. A code is
-- taken once: its time step is spent per user and method (slot
-- "us:<method>"), whichever endpoint (sign-in, verify, link) took it.
--
-- A passcode is one metered attempt, as a password is: it is reserved on
-- the account's lockout meter before anything is checked, tried as each
-- code, then as the password (one hash), and given back only when it
-- verified and no second factor follows (fsec.auth.check_user_password).
--
-- Over 600 lines on purpose: one concept, the unified sign-in endpoints,
-- whose seven handlers share the per-user method helpers (the enabled,
-- active and set-up methods, the sealed secrets map, sending a chosen
-- method's code, the passcode check); split by endpoint, those would
-- become a public module with no caller but these.
-- @module fsec.unified

local http = require "fsec.http"
local auth = require "fsec.auth"
local forms = require "fsec.forms"
local mail = require "fsec.mail"
local otp = require "fsec.otp"
local phone = require "fsec.phone"
local throttle = require "fsec.throttle"
local twofactor = require "fsec.twofactor"
local cjson = require "cjson.safe"
local A = require "fsec.answer"
local redirect = require "fsec.redirect"
require "fsec.uspages"

local type = type
local pairs = pairs
local ipairs = ipairs
local next = next

local _M = { _VERSION = "0.1.0" }

local json_ok, json_error, page, url, payload = A.json_ok, A.json_error, A.page, A.url, A.payload
local flash, signed_in = A.flash, A.signed_in

local CODE_SENDERS = { email = true, sms = true }

local function cfg_of(sec) return sec._cfg end

local function listed(list, v)
  for _, x in ipairs(list or {}) do
    if x == v then return true end
  end
  return false
end

local function enabled(sec, method) return listed(cfg_of(sec).us_enabled_methods, method) end

------------------------------------------------------------------------
-- Methods
------------------------------------------------------------------------

-- The methods that send a code (enabled, in their configured order).
local function code_methods(sec)
  local t = {}
  for _, m in ipairs(cfg_of(sec).us_enabled_methods) do
    if CODE_SENDERS[m] then t[#t + 1] = m end
  end
  return t
end

-- The methods a user can set up: every enabled one but the password.
local function setup_methods(sec)
  local t = {}
  for _, m in ipairs(cfg_of(sec).us_enabled_methods) do
    if m ~= "password" then t[#t + 1] = m end
  end
  return t
end

-- The stored secrets as a table (method -> sealed), never unsealed here.
local function sealed_map(user)
  local t = type(user.us_totp_secrets) == "string" and cjson.decode(user.us_totp_secrets)
  return type(t) == "table" and t or {}
end

--- The methods a user has (enabled ones): set up, and the password.
function _M.active_methods(sec, user)
  local have, t = sealed_map(user), {}
  for _, m in ipairs(cfg_of(sec).us_enabled_methods) do
    if (m == "password" and type(user.password) == "string") or (m ~= "password" and have[m]) then
      t[#t + 1] = m
    end
  end
  return t
end

local function active_code_methods(sec, user)
  local t = {}
  for _, m in ipairs(_M.active_methods(sec, user)) do
    if CODE_SENDERS[m] then t[#t + 1] = m end
  end
  return t
end

------------------------------------------------------------------------
-- Passcodes
------------------------------------------------------------------------

-- Does a sign-in by `via` go on to the second factor for this user?
local function mfa_follows(sec, via, user)
  return listed(cfg_of(sec).us_mfa_required, via) and twofactor.required(sec, user)
end

--- Check a passcode of a known user: the method it verified as, or nil
-- and why ("locked", "invalid"). One reservation of the lockout meter
-- covers the whole check; keep(method) true keeps it after a success (a
-- second factor follows: only that gives the attempts back).
function _M.check_passcode(sec, user, passcode, keep)
  local cfg = cfg_of(sec)
  local password_on = enabled(sec, "password")
  -- codes as people type them: spaces and dashes do not count (passlib's)
  local maybe_code = passcode:gsub("[%s%-]", ""):match("^%d%d%d%d%d%d$") ~= nil
  -- neither a code nor a password that could be right: counted for nothing
  if not maybe_code and (not password_on or auth.hopeless(sec, passcode)) then return nil, "invalid" end
  if not auth.reserve(sec, user) then
    if password_on then auth.spend(sec, passcode) end -- a locked account costs the same
    return nil, "locked"
  end
  if maybe_code then
    local secrets = otp.unseal_us(cfg, user.us_totp_secrets)
    for _, m in ipairs(cfg.us_enabled_methods) do
      local raw = m ~= "password" and secrets[m]
      if raw and otp.check(sec, user, "us:" .. m, raw, passcode, cfg.us_token_validity) then
        if not keep(m) then auth.check_store(auth.unlock(sec, user)) end
        return m
      end
    end
  end
  if password_on then
    local ok = auth.check_user_password(sec, user, passcode, function() return keep("password") end, true)
    if ok then return "password" end
    return nil, "invalid"
  end
  sec.signals:send("user_failed_authn", { user = auth.public_user(user), auth_type = "passcode", tfa = false })
  return nil, "invalid"
end

--- The user an identity names: an identity attribute (email, username,
-- us_phone_number, as identity_attributes lists them).
local function lookup(sec, identity)
  return auth.lookup_identity(sec, identity)
end

-- The account a (canonical) phone number belongs to, if any.
local function lookup_phone(sec, number)
  return auth.check_store(sec.datastore:find_user{ us_phone_number = number })
end

------------------------------------------------------------------------
-- Sending codes
------------------------------------------------------------------------

-- The magic link of an email code: the account by its fs_uniquifier (not
-- the address: the link lands in logs and Referer headers).
local function magic_link(sec, base, user, code)
  return base .. url(sec, "us_verify_link_url") .. "?id=" .. http.quote_value(user.fs_uniquifier)
    .. "&code=" .. code
end

--- Send a code of raw by method, a step of its own (fsec.otp.sent_code:
-- the code of now could be one taken already). base: links'
-- scheme://host when a magic link goes with an email code (sign-in only).
function _M.send_code(sec, user, method, raw, phone_number, base)
  local code = otp.sent_code(sec, user, raw, cfg_of(sec).us_token_validity)
  if not code then
    sec._log("warn", "fsec: no sign-in code sent: too many sent within its validity")
    return
  end
  if method == "email" then
    mail.send_code(sec, "us_instructions", user, code, cfg_of(sec).us_token_validity,
                   base and magic_link(sec, base, user, code) or nil)
  elseif method == "sms" then
    mail.send_sms(sec, user, phone_number, code, "us_signin")
  end
  sec.signals:send("us_security_token_sent", { user = auth.public_user(user), method = method,
                                               phone_number = method == "sms" and phone_number or nil,
                                               send_magic_link = base ~= nil })
end

-- The chosen_method of a send-code form: only email and sms are choices
-- there (anything else is not one, as WTForms' RadioField answers);
-- then it must be enabled and set up by the user, and SMS needs a phone.
local function chosen_for(sec, form, user)
  local m = form:string("chosen_method", 32)
  if m and not CODE_SENDERS[m] then
    form:error("chosen_method", "INVALID_CHOICE")
    return nil
  end
  if not form:ok() then return nil end
  if not m or not enabled(sec, m) or (user and not sealed_map(user)[m]) then
    form:error("chosen_method", "US_METHOD_NOT_AVAILABLE")
    return nil
  end
  if user and m == "sms" and not user.us_phone_number then
    form:error("chosen_method", "PHONE_INVALID")
    return nil
  end
  return m
end

-- The code of method to user, within the account's sending limit
-- (throttle.to_account): true, false (no such secret), or nil and the
-- seconds to wait.
local function send_chosen(sec, user, method, base)
  local raw = otp.unseal_us(cfg_of(sec), user.us_totp_secrets)[method]
  if not raw then return false end
  -- the account only: the address or number typed was counted already
  -- (throttle.mail), and each account has its own number
  local allowed, wait = throttle.to_account(sec, user)
  if not allowed then return nil, wait end
  _M.send_code(sec, user, method, raw, user.us_phone_number, base)
  return true
end

------------------------------------------------------------------------
-- /us-signin
------------------------------------------------------------------------

local V = {}
_M.handlers = V

local function signin_extra(sec, extra)
  local t = { available_methods = cfg_of(sec).us_enabled_methods, code_methods = code_methods(sec),
              send_action = url(sec, "us_signin_send_code_url") }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

-- Generic responses: the identity's and the passcode's errors become one.
local function generic(form)
  local fe, errors = {}, {}
  for k, v in pairs(form.field_errors) do
    if k ~= "identity" and k ~= "passcode" then
      fe[k] = v
      for _, m in ipairs(v) do errors[#errors + 1] = m end
    end
  end
  form.field_errors, form.errors = fe, errors
  form:error("", "GENERIC_AUTHN_FAILED")
end

-- The identity field: required (WTForms' "This field is required.").
local function identity_of(form)
  local v, bad = form:string("identity", 320)
  if bad then return nil end
  v = v and v:match("^%s*(.-)%s*$")
  if not v or v == "" then form:error("identity", "FIELD_REQUIRED") return nil end
  return v
end

-- Check identity and passcode: the user, or nil with the form's errors.
local function signin_user(sec, form, identity, passcode)
  local user = lookup(sec, identity)
  if not user then
    -- the same work as a known account's wrong password: one hash, one
    -- reservation (under the identity's keyed hash)
    if enabled(sec, "password") then auth.check_password(sec, identity, passcode) end
    form:error("identity", "US_SPECIFY_IDENTITY")
    return nil
  end
  local via = _M.check_passcode(sec, user, passcode, function(m) return mfa_follows(sec, m, user) end)
  if not via then
    form:error("passcode", "INVALID_PASSWORD_CODE")
    return nil
  end
  if not user.active then
    form:error("identity", "DISABLED_ACCOUNT")
  elseif auth.requires_confirmation(sec, user) then
    form:error("identity", "CONFIRMATION_REQUIRED")
  end
  return form:ok() and user or nil, via
end

function V.us_signin(sec, req, res, fields, json)
  local cfg = cfg_of(sec)
  local current = signed_in(sec, req, res)
  if req.method == "GET" then
    if json then
      return json_ok(sec, req, res, { available_methods = cfg.us_enabled_methods, code_methods = code_methods(sec),
                                      identity_attributes = sec:get_identity_attributes() })
    end
    if current then return res:redirect(cfg.post_login_view) end
    return page(sec, req, res, "us_signin", nil, signin_extra(sec, { next = http.single(req.query, "next", 2048),
                                                                     remember = cfg.default_remember_me }))
  end
  if current then return A.anonymous_required(sec, res, json) end
  local form = forms.new(sec, fields)
  local identity = identity_of(form)
  local passcode = form:string("passcode", 4096)
  local nxt = A.next_of(req, form)
  if nxt == false then form:error("next", "INVALID_REDIRECT") end
  local user, via
  if form:ok() then
    if not passcode then
      form:error("passcode", "INVALID_PASSWORD_CODE")
    else
      user, via = signin_user(sec, form, identity, passcode)
    end
  end
  local remember = form:bool("remember")
  if user then
    if mfa_follows(sec, via, user) then
      local tfa = twofactor.enter(sec, req, res, json, user, { remember = remember, next = nxt, via = via })
      if tfa then return tfa end
      -- this device is remembered: no second factor, the meter is given back
      auth.check_store(auth.unlock(sec, user))
    end
    if not sec:login_user(req, res, user, { remember = remember, authn_via = { via } }) then
      form:error("", "GENERIC_AUTHN_FAILED")
    end
  end
  if not form:ok() then
    if cfg.return_generic_responses then generic(form) end
    if json then return json_error(res, form) end
    return page(sec, req, res, "us_signin", form, signin_extra(sec, { next = nxt or nil, remember = remember }))
  end
  if json then return json_ok(sec, req, res, { user = payload(sec, user, A.wants_token(req)) }) end
  return res:redirect(nxt or cfg.post_login_view)
end

-- POST /us-signin/send-code: a code (and, by email, a magic link) to the
-- account an identity names. With generic responses the answer is the
-- same whatever the identity and method, and the look-up and the mail
-- come after it (as fsec.views' instructions endpoints).
function V.us_signin_send_code(sec, req, res, fields, json)
  if signed_in(sec, req, res) then return A.anonymous_required(sec, res, json) end
  local cfg = cfg_of(sec)
  local form = forms.new(sec, fields)
  local identity = identity_of(form)
  local generic_mode = cfg.return_generic_responses
  local base = mail.base_url(sec, req)
  -- the mail limits count every well-formed request, known account or not
  local allowed, wait = true, nil
  if identity then allowed, wait = throttle.mail(sec, req, identity) end
  if not allowed and not generic_mode then return throttle.refuse(res, json, wait) end
  if generic_mode and identity then
    local m = form:string("chosen_method", 32)
    form = forms.new(sec, fields) -- the same answer whatever happens next
    A.later(sec, function()
      local ok, err = pcall(function()
        local user = lookup(sec, identity)
        if not user or not user.active or auth.requires_confirmation(sec, user) or not allowed then return end
        local f = forms.new(sec, { chosen_method = m })
        local method = chosen_for(sec, f, user)
        if method then send_chosen(sec, user, method, method == "email" and base or nil) end
      end)
      if not ok then sec._log("error", "fsec: unified sign-in code not sent: " .. tostring(err)) end
    end)
  else
    local user
    if form:ok() then
      user = lookup(sec, identity)
      if not user then form:error("identity", "US_SPECIFY_IDENTITY")
      elseif not user.active then form:error("identity", "DISABLED_ACCOUNT") end
    end
    local method = form:ok() and chosen_for(sec, form, user)
    if form:ok() and auth.requires_confirmation(sec, user) then form:error("identity", "CONFIRMATION_REQUIRED") end
    if form:ok() then
      local sent, later = send_chosen(sec, user, method, method == "email" and base or nil)
      if sent == nil then return throttle.refuse(res, json, later) end
    end
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "us_signin", form, signin_extra(sec, { action = url(sec, "us_signin_url") }))
  end
  if json then return json_ok(sec, req, res, {}) end
  -- the sign-in page again, saying so (its form posts to /us-signin)
  local said = sec.msg(generic_mode and "GENERIC_US_SIGNIN" or "CODE_HAS_BEEN_SENT")
  return page(sec, req, res, "us_signin", forms.new(sec, fields), signin_extra(sec, {
    chosen_method = form.data.chosen_method, flashes = { { "info", said } }, action = url(sec, "us_signin_url") }))
end

------------------------------------------------------------------------
-- /us-verify: freshness again
------------------------------------------------------------------------

local function verify_extra(sec, user, extra)
  local t = { available_methods = cfg_of(sec).us_enabled_methods, code_methods = active_code_methods(sec, user),
              send_action = url(sec, "us_verify_send_code_url") }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

function V.us_verify(sec, req, res, fields, json)
  local user = A.require_user(sec, req, res)
  if not user then return res end
  if req.method == "GET" then
    if json then
      return json_ok(sec, req, res, { available_methods = cfg_of(sec).us_enabled_methods,
                                      code_methods = active_code_methods(sec, user),
                                      has_webauthn_verify_credential =
                                        require("fsec.wanviews").has_verify(sec, user) })
    end
    local nxt = http.single(req.query, "next", 2048)
    return page(sec, req, res, "us_verify", nil, verify_extra(sec, user, { next = nxt }))
  end
  local form = forms.new(sec, fields)
  local passcode = form:string("passcode", 4096)
  local nxt = A.next_of(req, form) or nil -- a bad next is ignored, as at /verify
  if form:ok() and (not passcode or not _M.check_passcode(sec, user, passcode, function() return false end)) then
    form:error("passcode", "INVALID_PASSWORD_CODE")
  end
  if form:ok() and sec:mark_fresh(req, res) ~= true then form:error("", "API_ERROR") end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "us_verify", form, verify_extra(sec, user, { next = nxt }))
  end
  if json then return json_ok(sec, req, res, { user = payload(sec, user, A.wants_token(req)) }) end
  flash(sec, req, res, "info", "REAUTHENTICATION_SUCCESSFUL")
  return res:redirect(nxt or cfg_of(sec).post_login_view)
end

function V.us_verify_send_code(sec, req, res, fields, json)
  local user = A.require_user(sec, req, res)
  if not user then return res end
  local form = forms.new(sec, fields)
  local method = chosen_for(sec, form, user)
  if method then
    local allowed, wait = throttle.mail(sec, req, user.email)
    if not allowed then return throttle.refuse(res, json, wait) end
    send_chosen(sec, user, method, nil)
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "us_verify", form, verify_extra(sec, user, { action = url(sec, "us_verify_url") }))
  end
  if json then return json_ok(sec, req, res, {}) end
  return page(sec, req, res, "us_verify", nil, verify_extra(sec, user, { chosen_method = method,
    flashes = { { "info", sec.msg("CODE_HAS_BEEN_SENT") } }, action = url(sec, "us_verify_url") }))
end

------------------------------------------------------------------------
-- /us-setup
------------------------------------------------------------------------

local fresh_user = A.fresh_user

local function setup_info(sec, user)
  return { identity_attributes = sec:get_identity_attributes(), available_methods = cfg_of(sec).us_enabled_methods,
           active_methods = _M.active_methods(sec, user), setup_methods = setup_methods(sec),
           phone = user.us_phone_number or http.json.null }
end

local function setup_ctx(sec, user, extra)
  local t = setup_info(sec, user)
  local deletable = {}
  for _, m in ipairs(t.active_methods) do
    if m ~= "password" then deletable[#deletable + 1] = m end
  end
  t.deletable = deletable
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

-- delete_method: a list (JSON, repeated form field) or one name.
local function delete_list(form)
  local v = form.data.delete_method
  if v == nil or v == http.json.null or v == "" then return nil end
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" then return nil, true end
  local t = {}
  for i, m in ipairs(v) do
    if type(m) ~= "string" or #m > 32 then return nil, true end
    t[i] = m
  end
  return #t > 0 and t or nil
end

-- Remove methods: their secrets, and the phone with SMS.
local function delete_methods(sec, user, list)
  local ds = sec.datastore
  for _ = 1, 3 do -- compare-and-set: a setup completing at once is kept
    local stored = user.us_totp_secrets
    local map = sealed_map(user)
    for _, m in ipairs(list) do map[m] = nil end
    local value = next(map) and cjson.encode(map) or nil
    if auth.check_store(ds:swap_text(user, "us_totp_secrets", stored, value)) then break end
    user = auth.check_store(ds:find_user{ id = user.id })
    if not user then return end
  end
  if listed(list, "sms") then auth.check_store(ds:set_field(user, "us_phone_number", nil)) end
  sec.signals:send("us_profile_changed", { user = auth.public_user(user), methods = list, delete = true })
end

function V.us_setup(sec, req, res, fields, json)
  local user = fresh_user(sec, req, res)
  if not user then return res end
  local cfg = cfg_of(sec)
  if req.method == "GET" then
    if json then return json_ok(sec, req, res, setup_info(sec, user)) end
    -- the number on file shows in the phone field
    return page(sec, req, res, "us_setup", nil, setup_ctx(sec, user, { fields = { phone = user.us_phone_number } }))
  end
  local form = forms.new(sec, fields)
  local method = form:string("chosen_method", 32)
  local deletes, bad = delete_list(form)
  if bad then form:error("delete_method", "API_ERROR") end
  local number
  if form:ok() and not method and not deletes then form:error("", "API_ERROR") end
  if form:ok() and method then
    if not listed(setup_methods(sec), method) then
      form:error("chosen_method", "US_METHOD_NOT_AVAILABLE")
    elseif method == "sms" then
      local given = form:string("phone", 64)
      number = given and phone.canonical(given, cfg.phone_region_default)
      if not number then
        form:error("phone", "PHONE_INVALID")
      else
        -- an identity attribute: one account per number
        local other = lookup_phone(sec, number)
        if other and other.id ~= user.id then
          form:error("phone", "IDENTITY_ALREADY_ASSOCIATED", { attr = "us_phone_number", value = number })
        end
      end
    end
  end
  if form:ok() and deletes then
    local active = _M.active_methods(sec, user)
    for _, m in ipairs(deletes) do
      if m == "password" or not listed(active, m) then form:error("delete_method", "US_METHOD_NOT_AVAILABLE") break end
    end
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "us_setup", form, setup_ctx(sec, user))
  end
  if deletes then
    delete_methods(sec, user, deletes)
    user = auth.check_store(sec.datastore:find_user{ id = user.id }) or user
  end
  local t = {}
  if method then
    if method == "sms" or method == "email" then -- a code leaves: metered (fsec.throttle.send)
      local allowed, wait = throttle.send(sec, req, user, number or user.email)
      if not allowed then return throttle.refuse(res, json, wait) end
    end
    local raw = otp.new_secret()
    local state = { u = user.fs_uniquifier, m = method, k = otp.seal(cfg, raw), p = number }
    t.state = assert(sec:generate_token("us_setup", state))
    t.chosen_method, t.phone = method, number or http.json.null
    _M.send_code(sec, user, method, raw, number, nil)
    if method == "authenticator" then
      -- 5.1's keys, and Too 5.8's base32 key and otpauth:// URI (a client
      -- draws its own QR code from it), as /tf-setup answers
      local label = user.email or user.username or ""
      local uri = otp.uri(cfg, raw, label)
      t.authr_key, t.authr_username, t.authr_issuer = otp.pretty_key(raw), label, cfg.totp_issuer
      t.authr_b32key, t.authr_uri = require("fsec.core").base32_encode(raw), uri
      t.authr_qrcode = not json and otp.qr_data_uri(uri) or nil
    end
  end
  if json then
    t.authr_qrcode = nil
    return json_ok(sec, req, res, t)
  end
  t.chosen, t.code_action = method, method and url(sec, "us_setup_url", "/" .. t.state) or nil
  t.code_sent = method and CODE_SENDERS[method] or nil
  return page(sec, req, res, "us_setup", nil, setup_ctx(sec, user, t))
end

-- Store a verified method: its secret beside the others, the phone.
local function store_method(sec, user, method, raw, number)
  local ds = sec.datastore
  if method == "sms" then
    local ok, _, code = ds:set_field(user, "us_phone_number", number)
    if not ok and code == "EEXIST" then return nil, "taken" end
    auth.check_store(ok, _, code)
  end
  for _ = 1, 3 do
    local stored = user.us_totp_secrets
    local map = sealed_map(user)
    map[method] = otp.seal(cfg_of(sec), raw)
    if auth.check_store(ds:swap_text(user, "us_totp_secrets", stored, cjson.encode(map))) then return true end
    user = auth.check_store(ds:find_user{ id = user.id })
    if not user then return nil, "gone" end
  end
  error("fsec: us_totp_secrets keeps changing", 0)
end

--- POST /us-setup/<state>: the code of the new method. The state token
-- names the user who started the setup: nobody else can complete it.
function V.us_setup_token(sec, req, res, fields, json, token)
  local user = A.require_user(sec, req, res)
  if not user then return res end
  local cfg = cfg_of(sec)
  local form = forms.new(sec, fields)
  local expired, invalid, data = sec:get_token_status(token, "us_setup", cfg.us_setup_within)
  local refuse
  if invalid or type(data) ~= "table" or data.u ~= user.fs_uniquifier or not listed(setup_methods(sec), data.m) then
    refuse = { "API_ERROR" }
  elseif expired then
    refuse = { "US_SETUP_EXPIRED", { within = A.within_text(cfg.us_setup_within, sec) } }
  end
  if refuse then
    form:error("", refuse[1], refuse[2])
    if json then return json_error(res, form) end
    flash(sec, req, res, "error", refuse[1], refuse[2])
    return res:redirect(url(sec, "us_setup_url"))
  end
  local passcode = form:string("passcode", 64)
  local raw = otp.unseal(cfg, data.k)
  local bad -- { field, key, vars }
  if not passcode then
    bad = { "passcode", "FIELD_REQUIRED" }
  elseif not raw then
    bad = { "", "API_ERROR" }
  elseif not auth.reserve(sec, user) then
    bad = { "passcode", "INVALID_PASSWORD_CODE" }
  elseif not otp.check(sec, user, "us:" .. data.m, raw, passcode, cfg.us_token_validity) then
    sec.signals:send("user_failed_authn", { user = auth.public_user(user), auth_type = "code", tfa = false })
    bad = { "passcode", "INVALID_PASSWORD_CODE" }
  else
    auth.check_store(auth.unlock(sec, user))
    local ok, why = store_method(sec, user, data.m, raw, data.p)
    if not ok and why == "taken" then
      bad = { "phone", "IDENTITY_ALREADY_ASSOCIATED", { attr = "us_phone_number", value = data.p } }
    elseif not ok then
      bad = { "", "API_ERROR" }
    end
  end
  if bad or not form:ok() then
    if bad then form:error(bad[1], bad[2], bad[3]) end
    if json then return json_error(res, form) end
    -- back to the setup page, saying why (as Flask-Security)
    if bad then flash(sec, req, res, "error", bad[2], bad[3]) end
    return res:redirect(url(sec, "us_setup_url"))
  end
  sec.signals:send("us_profile_changed", { user = auth.public_user(user), methods = { data.m }, delete = false })
  if json then
    local phone_now = data.m == "sms" and data.p or user.us_phone_number
    return json_ok(sec, req, res, { chosen_method = data.m, phone = phone_now or http.json.null })
  end
  flash(sec, req, res, "success", "US_SETUP_SUCCESSFUL")
  return res:redirect(cfg.us_post_setup_view or url(sec, "us_setup_url"))
end

--- Give a new account without a password its email codes (registration
-- under unified sign-in without password_required, as Flask-Security's
-- us_setup_email): else it could not sign in at all.
function _M.setup_email(sec, user)
  local ok, why = store_method(sec, user, "email", otp.new_secret(), nil)
  if not ok then sec._log("error", "fsec: email codes not set up for a new account: " .. tostring(why)) end
  return ok
end

--- A new email secret for a user who has one, when the address changed:
-- the codes and magic links mailed to the old address (valid for
-- us_token_validity) end with it, else whoever reads the old mailbox
-- signs in for minutes after the change (an attack review did).
function _M.renew_email(sec, user)
  if not sealed_map(user).email then return true end
  return store_method(sec, user, "email", otp.new_secret(), nil)
end

------------------------------------------------------------------------
-- /us-verify-link: the mailed link
------------------------------------------------------------------------

-- The link's failures go back to the sign-in page (JSON: 400), as
-- Flask-Security's; with generic responses the account's state is not told.
local function link_error(sec, req, res, json, key, user)
  if cfg_of(sec).return_generic_responses and key ~= "API_ERROR" then key = "GENERIC_AUTHN_FAILED" end
  if json then return res:json(400, { errors = { sec.msg(key) } }) end
  local view = cfg_of(sec).login_error_view
  if redirect.spa(sec, view) then -- Too's SPA: the error in the query (and the user's, for a bad code)
    return redirect.to_spa(sec, res, view, redirect.user_params(sec, user, { { "error", sec.msg(key) } }))
  end
  flash(sec, req, res, "error", key)
  return res:redirect(url(sec, "us_signin_url"))
end

-- Does code match the user's email secret now (not spent: the consent
-- page's check; the POST spends it)? Metered as a code check.
local function link_code_ok(sec, user, code, spend)
  local cfg = cfg_of(sec)
  local raw = otp.unseal_us(cfg, user.us_totp_secrets).email
  if not raw or not code:match("^%d%d%d%d%d%d$") then return false end
  if not auth.reserve(sec, user) then return false end
  local ok
  if spend then
    ok = otp.check(sec, user, "us:email", raw, code, cfg.us_token_validity)
  else
    -- matched, not spent: whether it was spent already only spending it
    -- tells (the POST), so a used link shows this page and fails there
    local counter = require("fsec.core").totp_match(raw, code, A.now(sec), { step = otp.STEP,
      digits = otp.DIGITS, window = math.ceil(cfg.us_token_validity / otp.STEP) })
    ok = type(counter) == "number"
  end
  if not ok then
    sec.signals:send("user_failed_authn", { user = auth.public_user(user), auth_type = "code", tfa = false })
    return false
  end
  if not spend then
    -- a match that spends nothing gives back its own reservation, never
    -- the meter: a spent link still matches its code for minutes, and
    -- its holder must not reset the count of the guesses made meanwhile
    if sec._cfg.login_lockout_threshold > 0 then auth.check_store(sec.datastore:release_login(user)) end
  elseif not mfa_follows(sec, "email", user) then
    auth.check_store(auth.unlock(sec, user))
  end
  return true
end

--- GET /us-verify-link?id=<fs_uniquifier>&code=<code>. A GET signs no
-- browser in by itself (unless one_click_links): it shows whose account
-- and a button that posts the CSRF token back (fsec.views' ask_consent),
-- for the reasons mailed sign-in links have there: another site can send
-- a victim's browser to its own link (login CSRF: the victim works in
-- the attacker's account), and mail scanners and link previews follow
-- links (and would spend the one-time code). The POST acts.
function V.us_verify_link(sec, req, res, _, json)
  if signed_in(sec, req, res) then return A.anonymous_required(sec, res, json) end
  -- the link's own query, GET and POST (the consent page posts back to it)
  local id, code = http.single(req.query, "id", 64), http.single(req.query, "code", 64)
  if not id or id == "" or not code or code == "" then return link_error(sec, req, res, json, "API_ERROR") end
  local user = auth.check_store(sec.datastore:find_user{ fs_uniquifier = id })
  if not user then return link_error(sec, req, res, json, "USER_DOES_NOT_EXIST") end
  if not user.active then return link_error(sec, req, res, json, "DISABLED_ACCOUNT") end
  local act = req.method == "POST" or cfg_of(sec).one_click_links
  if not link_code_ok(sec, user, code, act) then return link_error(sec, req, res, json, "INVALID_CODE", user) end
  if not act then
    if json then return json_ok(sec, req, res, { consent_required = true, email = user.email }) end
    return page(sec, req, res, "link_consent", nil, { kind = "login", email = user.email })
  end
  local view = cfg_of(sec).login_error_view
  if not json and redirect.spa(sec, view) and mfa_follows(sec, "email", user) then
    -- as Too: an SPA cannot take the second factor from a redirect
    return redirect.to_spa(sec, res, view, redirect.user_params(sec, user, { { "tf_required", "1" } }))
  end
  if mfa_follows(sec, "email", user) then
    local tfa = twofactor.enter(sec, req, res, json, user, { via = "email" })
    if tfa then return tfa end
    auth.check_store(auth.unlock(sec, user))
  end
  if not sec:login_user(req, res, user, { authn_via = { "email" } }) then
    return link_error(sec, req, res, json, "INVALID_CODE")
  end
  if json then return json_ok(sec, req, res, { user = payload(sec, user, false) }) end
  if redirect.spa(sec, cfg_of(sec).post_login_view) then
    -- no auth token in the query (logs, Referer): the SPA has the session
    return redirect.to_spa(sec, res, cfg_of(sec).post_login_view, redirect.user_params(sec, user))
  end
  flash(sec, req, res, "success", "PASSWORDLESS_LOGIN_SUCCESSFUL")
  return res:redirect(cfg_of(sec).post_login_view)
end

-- Routing: fsec.endpoints (so that this module loads at its first request).

return _M
