--- The WebAuthn endpoints, as Flask-Security-Too 5.x's: /wan-register
-- (and /wan-register/<state>), /wan-signin (and /wan-signin/<state>),
-- /wan-delete, /wan-verify (and /wan-verify/<state>), and the pages'
-- script. Each ceremony is two requests: the first answers the options
-- for navigator.credentials and a wan_state, the second posts the
-- browser's credential to URL/<wan_state> (fsec.webauthn checks it).
--
-- A key is a credential as a password is: each assertion reserves an
-- attempt of the account's lockout meter before it is checked, and gives
-- it back only when it verified and no second factor follows; the
-- endpoints are throttled as credential endpoints.
-- @module fsec.wanviews

local http = require "fsec.http"
local auth = require "fsec.auth"
local events = require "fsec.events"
local forms = require "fsec.forms"
local twofactor = require "fsec.twofactor"
local wan = require "fsec.webauthn"
local A = require "fsec.answer"
local cjson = require "cjson.safe"
local core = require "fsec.core"
require "fsec.wanpages"

local type = type
local ipairs = ipairs
local pairs = pairs

local _M = { _VERSION = "0.1.0" }

local json_ok, json_error, page, url, payload = A.json_ok, A.json_error, A.page, A.url, A.payload
local flash, signed_in = A.flash, A.signed_in

local NAME_MAX = 64

local function cfg_of(sec) return sec._cfg end

-- A form error by message key; the first one is kept for a flash
-- (pages post back with a redirect, which shows it).
local function err(form, field, key, vars)
  form:error(field, key, vars)
  form.first = form.first or { key, vars }
end

local function flash_first(sec, req, res, form)
  local f = form.first or { "API_ERROR" }
  flash(sec, req, res, "error", f[1], f[2])
end

local function listed(list, v)
  for _, x in ipairs(list or {}) do
    if x == v then return true end
  end
  return false
end

local function creds_of(sec, user, usages)
  local out = {}
  for _, c in ipairs(auth.check_store(sec.datastore:webauthn_credentials(user)) or {}) do
    if not usages or listed(usages, c.usage) then out[#out + 1] = c end
  end
  return out
end

--- Has the user a key for a second factor? (webauthn on.)
function _M.has_secondary(sec, user) return twofactor.has_wan(sec, user) end

--- Has the user a key /wan-verify takes? (/verify's has_webauthn_verify_credential)
function _M.has_verify(sec, user)
  local c = cfg_of(sec)
  if not c.webauthn or #c.wan_allow_as_verify == 0 then return false end
  return #creds_of(sec, user, c.wan_allow_as_verify) > 0
end

-- A state's refusal: the form's error, then JSON or back to a page.
local function state_refused(sec, req, res, json, why, within, back)
  local form = forms.new(sec, {})
  if why == "expired" then
    err(form, "", "WEBAUTHN_EXPIRED", { within = A.within_text(within, sec) })
  else
    err(form, "", "API_ERROR")
  end
  if json then return json_error(res, form) end
  flash_first(sec, req, res, form)
  return res:redirect(url(sec, back))
end

-- The credential field: the parsed credential, or nil with the form's error.
local function posted_credential(form)
  local c = wan.credential(form.data.credential)
  if not c then err(form, "credential", "API_ERROR") end
  return c
end

local function no_verify(form, cause)
  err(form, "credential", "WEBAUTHN_NO_VERIFY", { cause = cause })
end

------------------------------------------------------------------------
-- /wan-register
------------------------------------------------------------------------

local V = {}
_M.handlers = V

local function iso(t)
  return type(t) == "number" and os.date("!%Y-%m-%dT%H:%M:%S", t) or cjson.null
end

local function listing(creds)
  local out = {}
  for i, c in ipairs(creds) do
    out[i] = { name = c.name, credential_id = wan.b64u_encode(c.credential_id), transports = c.transports or {},
               lastuse = iso(c.lastuse_datetime), usage = c.usage, backup_state = c.backup_state == true,
               device_type = c.device_type or "Unknown" }
  end
  return out
end

-- The listing as JSON sends it: an empty list is [] (http.EMPTY_ARRAY),
-- as Too's, so a client can loop over it.
local function json_listing(creds)
  local out = listing(creds)
  for _, c in ipairs(out) do
    if #c.transports == 0 then c.transports = http.EMPTY_ARRAY end
  end
  return #out > 0 and out or http.EMPTY_ARRAY
end

local function usages(sec)
  return cfg_of(sec).wan_allow_as_first_factor and { "first", "secondary" } or { "secondary" }
end

local function register_ctx(sec, user, extra)
  local t = { credentials = listing(creds_of(sec, user)), usages = usages(sec),
              delete_action = url(sec, "wan_delete_url"), script = url(sec, "wan_script_url") }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

function V.wan_register(sec, req, res, fields, json)
  local user = A.fresh_user(sec, req, res)
  if not user then return res end
  if req.method == "GET" then
    local creds = creds_of(sec, user)
    if json then return json_ok(sec, req, res, { registered_credentials = json_listing(creds) }) end
    return page(sec, req, res, "wan_register", nil, register_ctx(sec, user))
  end
  local form = forms.new(sec, fields)
  local name, bad = form:string("name", NAME_MAX)
  name = name and name:match("^%s*(.-)%s*$")
  if not bad and (not name or name == "") then err(form, "name", "WEBAUTHN_NAME_REQUIRED") end
  local usage = form:string("usage", 16) or usages(sec)[1]
  if form:ok() and not listed(usages(sec), usage) then err(form, "usage", "INVALID_CHOICE") end
  local existing = form:ok() and creds_of(sec, user) or {}
  for _, c in ipairs(existing) do
    if c.name == name then err(form, "name", "WEBAUTHN_NAME_INUSE", { name = name }) break end
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "wan_register", form, register_ctx(sec, user))
  end
  local handle = auth.check_store(sec.datastore:set_webauthn_user_handle(user))
  local challenge, state = wan.start(sec, req, res, "register",
                                     { u = user.fs_uniquifier, n = name, us = usage, uv = 0 })
  local options = wan.registration_options(sec, req, { handle = handle, challenge = challenge, usage = usage,
                                                        name = user.email or user.username or name,
                                                        existing = existing })
  if json then return json_ok(sec, req, res, { credential_options = options, wan_state = state }) end
  return page(sec, req, res, "wan_register", nil, register_ctx(sec, user, {
    options_json = http.json.encode(options), response_action = url(sec, "wan_register_url", "/" .. state) }))
end

-- The fields of a new key, from core.wan_register's info.
local function new_key(info, cred, data, user)
  return { credential_id = info.credential_id, public_key = info.public_key, sign_count = info.sign_count,
           transports = cred.transports, name = data.n, usage = data.us, backup_state = info.bs == true,
           device_type = info.be and "multi_device" or "single_device", user_handle = user.fs_webauthn_user_handle }
end

function V.wan_register_response(sec, req, res, fields, json, token)
  local user = A.require_user(sec, req, res)
  if not user then return res end
  local cfg = cfg_of(sec)
  local data, why = wan.take(sec, req, token, "register", cfg.wan_register_within)
  if data and data.u ~= user.fs_uniquifier then data, why = nil, "invalid" end
  if not data then return state_refused(sec, req, res, json, why, cfg.wan_register_within, "wan_register_url") end
  local form = forms.new(sec, fields)
  local cred = posted_credential(form)
  if cred then
    local info, cause = wan.verify_registration(sec, req, cred, data)
    if not info then
      no_verify(form, cause)
    else
      local made, why_not = sec.datastore:create_webauthn(user, new_key(info, cred, data, user))
      if not made and why_not == "credential_id_in_use" then
        err(form, "credential", "WEBAUTHN_CREDENTIAL_ID_INUSE")
      elseif not made and why_not == "name_in_use" then
        err(form, "credential", "WEBAUTHN_NAME_INUSE", { name = data.n })
      elseif not made then
        auth.check_store(made, why_not)
        err(form, "", "API_ERROR")
      end
    end
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    flash_first(sec, req, res, form)
    return res:redirect(url(sec, "wan_register_url"))
  end
  sec.signals:send("wan_registered", { user = auth.public_user(user), name = data.n })
  if json then return json_ok(sec, req, res, {}) end
  flash(sec, req, res, "info", "WEBAUTHN_REGISTER_SUCCESSFUL", { name = data.n })
  return res:redirect(cfg.wan_post_register_view or url(sec, "wan_register_url"))
end

------------------------------------------------------------------------
-- /wan-delete
------------------------------------------------------------------------

function V.wan_delete(sec, req, res, fields, json)
  local user = A.fresh_user(sec, req, res)
  if not user then return res end
  local form = forms.new(sec, fields)
  local name = form:string("name", NAME_MAX)
  local found
  if not name or name == "" then
    err(form, "name", "WEBAUTHN_NAME_REQUIRED")
  else
    for _, c in ipairs(creds_of(sec, user)) do
      if c.name == name then found = c end
    end
    if not found then err(form, "name", "WEBAUTHN_NAME_NOT_FOUND", { name = name }) end
  end
  if form:ok() then auth.check_store(sec.datastore:delete_webauthn(found)) end
  if not form:ok() then
    if json then return json_error(res, form) end
    flash_first(sec, req, res, form)
    return res:redirect(url(sec, "wan_register_url"))
  end
  sec.signals:send("wan_deleted", { user = auth.public_user(user), name = name })
  if json then return json_ok(sec, req, res, {}) end
  flash(sec, req, res, "info", "WEBAUTHN_CREDENTIAL_DELETED", { name = name })
  return res:redirect(url(sec, "wan_register_url"))
end

------------------------------------------------------------------------
-- Assertions: /wan-signin and /wan-verify share the checks
------------------------------------------------------------------------

-- The key and its user for a posted assertion, checked against the
-- ceremony: known key, owner, user handle, usage. nil with the form's error.
local function asserted_key(sec, form, cred, want_user, usage_list, handle_required)
  local ds = sec.datastore
  local stored = auth.check_store(ds:find_webauthn(cred.id))
  if not stored then err(form, "credential", "WEBAUTHN_UNKNOWN_CREDENTIAL_ID") return nil end
  local user = auth.check_store(ds:find_user_from_webauthn(stored))
  if not user then err(form, "credential", "WEBAUTHN_ORPHAN_CREDENTIAL_ID") return nil end
  local h = cred.response.userHandle
  local mine = type(user.fs_webauthn_user_handle) == "string" and user.fs_webauthn_user_handle or ""
  if (h and not core.equal(h, mine)) or (not h and handle_required)
     or (want_user and want_user ~= user.fs_uniquifier) then
    err(form, "credential", "WEBAUTHN_MISMATCH_USER_HANDLE")
    return nil
  end
  if not listed(usage_list, stored.usage) then err(form, "credential", "WEBAUTHN_CREDENTIAL_WRONG_USAGE") return nil end
  return stored, user
end

-- Check the assertion on the account's meter: the result, or nil with
-- the form's error (a clone, a bad signature...).
local function check_assertion(sec, req, form, cred, data, stored, user, tfa)
  if not auth.reserve(sec, user) then
    no_verify(form, "locked")
    return nil
  end
  local result, cause = wan.verify_assertion(sec, req, cred, data, stored, false)
  if result then
    local ok, why = wan.record_use(sec, stored, result.sign_count, A.now(sec))
    if not ok then result, cause = nil, why end
  end
  if not result then
    sec.signals:send("user_failed_authn", { user = auth.public_user(user), auth_type = "webauthn", tfa = tfa })
    if cause == "clone" then
      -- two authenticators hold one key: worth an alert of its own
      events.emit(sec, "wan_clone", { outcome = "failure", reason = "clone", user = user }, req)
      sec._log("warn", "fsec: a WebAuthn key's sign count went back: a cloned key, refused")
    end
    no_verify(form, cause)
    return nil
  end
  return result
end

------------------------------------------------------------------------
-- /wan-signin
------------------------------------------------------------------------

-- Is this browser between a password and a second factor (a ready
-- two-factor state)? Its data and user.
local function secondary_state(sec, req)
  local data = twofactor.read_state(sec, req)
  if not data or data.l ~= 1 or data.st ~= "ready" then return nil end
  local user = auth.check_store(sec.datastore:find_user{ fs_uniquifier = data.u })
  if not user or not user.active or not _M.has_secondary(sec, user) then return nil end
  return data, user
end

local function signin_ctx(sec, extra)
  local t = { script = url(sec, "wan_script_url"), hints = cfg_of(sec).wan_allow_user_hints }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function not_found(res, json)
  if json then return res:json(404, { errors = { "Not found" } }) end
  return res:text(404, "Not found")
end

function V.wan_signin(sec, req, res, fields, json)
  local cfg = cfg_of(sec)
  local tf, tf_user = secondary_state(sec, req)
  local secondary = tf ~= nil
  if not secondary and not cfg.wan_allow_as_first_factor then return not_found(res, json) end
  if signed_in(sec, req, res) then return A.anonymous_required(sec, res, json) end
  if req.method == "GET" then
    if json then return json_ok(sec, req, res, { is_secondary = secondary }) end
    return page(sec, req, res, "wan_signin", nil, signin_ctx(sec, { is_secondary = secondary,
      next = http.single(req.query, "next", 2048), remember = cfg.default_remember_me }))
  end
  local form = forms.new(sec, fields)
  local remember = form:bool("remember")
  local nxt = A.next_of(req, form)
  if nxt == false then err(form, "next", "INVALID_REDIRECT") end
  local user = tf_user
  local identity = not secondary and cfg.wan_allow_user_hints and form:string("identity", 320)
  if identity and identity:match("%S") then
    user = auth.lookup_identity(sec, identity:match("^%s*(.-)%s*$"))
    -- generic responses: an unknown identity gets options as any other
    -- (no key of it will answer), so the answer does not tell
    if not user and not cfg.return_generic_responses then err(form, "identity", "US_SPECIFY_IDENTITY") end
  end
  if not form:ok() then
    if json then return json_error(res, form) end
    return page(sec, req, res, "wan_signin", form, signin_ctx(sec, { is_secondary = secondary, remember = remember }))
  end
  local usage = secondary and "secondary" or "first"
  local challenge, state = wan.start(sec, req, res, "signin", { s = secondary and 1 or 0,
    u = user and user.fs_uniquifier or nil, r = remember and 1 or 0, n = nxt or nil })
  local options = wan.authentication_options(sec, req, challenge, user and creds_of(sec, user, { usage }), usage)
  if json then
    return json_ok(sec, req, res, { credential_options = options, wan_state = state, is_secondary = secondary,
                                    remember = remember })
  end
  return page(sec, req, res, "wan_signin", nil, signin_ctx(sec, { is_secondary = secondary, remember = remember,
    options_json = http.json.encode(options), response_action = url(sec, "wan_signin_url", "/" .. state) }))
end

local function signin_failed(sec, req, res, json, form)
  if json then return json_error(res, form) end
  flash_first(sec, req, res, form)
  return res:redirect(url(sec, "wan_signin_url"))
end

function V.wan_signin_response(sec, req, res, fields, json, token)
  local cfg = cfg_of(sec)
  local tf, tf_user = secondary_state(sec, req)
  if not tf and not cfg.wan_allow_as_first_factor then return not_found(res, json) end
  if signed_in(sec, req, res) then return A.anonymous_required(sec, res, json) end
  local data, why = wan.take(sec, req, token, "signin", cfg.wan_signin_within)
  -- a state of a second factor is only taken in the same sign-in, and
  -- a first factor's never where a second one is due
  if data and (data.s == 1) ~= (tf ~= nil) then data, why = nil, "invalid" end
  if data and tf and data.u ~= tf_user.fs_uniquifier then data, why = nil, "invalid" end
  if not data then return state_refused(sec, req, res, json, why, cfg.wan_signin_within, "wan_signin_url") end
  local form = forms.new(sec, fields)
  local cred = posted_credential(form)
  local stored, user
  if cred then
    -- without an identity nothing else names the user: the handle must
    stored, user = asserted_key(sec, form, cred, data.u, { tf and "secondary" or "first" }, data.u == nil)
  end
  local result = form:ok() and check_assertion(sec, req, form, cred, data, stored, user, tf ~= nil)
  -- the account's state only to whoever holds its key (after the check)
  if result and not user.active then
    err(form, "credential", "DISABLED_ACCOUNT")
  elseif result and auth.requires_confirmation(sec, user) then
    err(form, "credential", "CONFIRMATION_REQUIRED")
  end
  if not result or not form:ok() then return signin_failed(sec, req, res, json, form) end
  if tf then
    auth.check_store(auth.unlock(sec, user))
    return twofactor.finish(sec, req, res, json, user, tf, { method = "webauthn" })
  end
  local remember = data.r == 1
  -- a key that verified its user (UV) is two factors in one
  if not (result.uv and cfg.wan_allow_as_multi_factor) then
    local tfa = twofactor.enter(sec, req, res, json, user, { remember = remember, next = data.n, via = "webauthn" })
    if tfa then return tfa end
  end
  auth.check_store(auth.unlock(sec, user))
  if not sec:login_user(req, res, user, { remember = remember, authn_via = { "webauthn" } }) then
    err(form, "", "GENERIC_AUTHN_FAILED")
    return signin_failed(sec, req, res, json, form)
  end
  local goto_url = type(data.n) == "string" and data.n or cfg.post_login_view
  if json then
    return json_ok(sec, req, res, { user = payload(sec, user, A.wants_token(req)), post_login_url = goto_url })
  end
  return res:redirect(goto_url)
end

------------------------------------------------------------------------
-- /wan-verify: freshness again, with a key
------------------------------------------------------------------------

function V.wan_verify(sec, req, res, fields, json)
  local cfg = cfg_of(sec)
  if #cfg.wan_allow_as_verify == 0 then return not_found(res, json) end
  local user = A.require_user(sec, req, res)
  if not user then return res end
  local nxt = A.next_of(req, forms.new(sec, fields)) or nil -- a bad next is ignored, as at /verify
  if req.method == "GET" then
    if json then return json_ok(sec, req, res, {}) end
    return page(sec, req, res, "wan_verify", nil, signin_ctx(sec, { next = http.single(req.query, "next", 2048) }))
  end
  local challenge, state = wan.start(sec, req, res, "verify", { u = user.fs_uniquifier, n = nxt })
  local options = wan.authentication_options(sec, req, challenge, creds_of(sec, user, cfg.wan_allow_as_verify), "first")
  if json then return json_ok(sec, req, res, { credential_options = options, wan_state = state }) end
  return page(sec, req, res, "wan_verify", nil, signin_ctx(sec, { options_json = http.json.encode(options),
    response_action = url(sec, "wan_verify_url", "/" .. state) }))
end

function V.wan_verify_response(sec, req, res, fields, json, token)
  local cfg = cfg_of(sec)
  if #cfg.wan_allow_as_verify == 0 then return not_found(res, json) end
  local current = A.require_user(sec, req, res)
  if not current then return res end
  local data, why = wan.take(sec, req, token, "verify", cfg.wan_signin_within)
  if data and data.u ~= current.fs_uniquifier then data, why = nil, "invalid" end
  if not data then return state_refused(sec, req, res, json, why, cfg.wan_signin_within, "wan_verify_url") end
  local form = forms.new(sec, fields)
  local cred = posted_credential(form)
  local stored, user
  if cred then stored, user = asserted_key(sec, form, cred, data.u, cfg.wan_allow_as_verify, false) end
  local result = form:ok() and check_assertion(sec, req, form, cred, data, stored, user, false)
  if result then auth.check_store(auth.unlock(sec, user)) end
  if result and sec:mark_fresh(req, res) ~= true then err(form, "", "API_ERROR") end
  if not form:ok() then
    if json then return json_error(res, form) end
    flash_first(sec, req, res, form)
    return res:redirect(url(sec, "wan_verify_url"))
  end
  if json then return json_ok(sec, req, res, { user = payload(sec, current, A.wants_token(req)) }) end
  flash(sec, req, res, "info", "REAUTHENTICATION_SUCCESSFUL")
  return res:redirect(type(data.n) == "string" and data.n or cfg.post_login_view)
end

------------------------------------------------------------------------
-- The pages' script
------------------------------------------------------------------------

function V.wan_script(_, _, res)
  res.status = 200
  res.headers["Content-Type"] = "text/javascript; charset=utf-8"
  res.headers["X-Content-Type-Options"] = "nosniff"
  res.body = require("fsec.wanscript")
  return res
end

-- Routing: fsec.endpoints (so that this module loads at its first request).

return _M
