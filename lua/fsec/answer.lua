--- The answers every endpoint module shares: JSON envelopes and pages,
-- the signed-in user, the validated next, transactions that answer 503,
-- work deferred past the response. fsec.views (password endpoints),
-- fsec.twofactor, fsec.mfcodes and fsec.unified answer through these, so
-- a form error, a CSRF token or a page looks the same from every one.
-- @module fsec.answer

local http = require "fsec.http"
local auth = require "fsec.auth"
local csrf = require "fsec.csrf"
local flashes = require "fsec.flash"
local pages = require "fsec.pages"
local i18n = require "fsec.i18n"
local redirect = require "fsec.redirect"
local regfields = require "fsec.regfields"

local type = type
local pairs = pairs
local ipairs = ipairs
local floor = math.floor

local _M = { _VERSION = "0.1.0" }

local take_flashes = flashes.take

local PASSWORD_FIELDS = { password = true, password_confirm = true, new_password = true,
                          new_password_confirm = true, csrf_token = true }

local function now(sec) return floor(sec._clock and sec._clock() or os.time()) end

--- "5 days", "1 hours", as Flask-Security shows its *_WITHIN settings,
-- in the current request's language (sec: the instance; without one,
-- English).
local messages_format = require("fsec.messages").format

local function within_text(seconds, sec)
  local lang = sec and (i18n.current() or i18n.default(sec))
  for _, u in ipairs{ { 86400, "WITHIN_DAYS" }, { 3600, "WITHIN_HOURS" }, { 60, "WITHIN_MINUTES" } } do
    if seconds % u[1] == 0 then
      local n = floor(seconds / u[1])
      return sec and i18n.text(sec, lang, u[2], { n = n }) or messages_format(i18n.catalogue("en")[u[2]], { n = n })
    end
  end
  if sec then return i18n.text(sec, lang, "WITHIN_SECONDS", { n = seconds }) end
  return messages_format(i18n.catalogue("en").WITHIN_SECONDS, { n = seconds })
end
_M.within_text = within_text

local function payload(sec, user, include_token)
  -- the application's declared fields (register_fields), then what its
  -- security_payload hook gives, over them
  local t = regfields.payload(sec, user)
  local hook = sec._cfg.security_payload
  if hook then
    local ok, p = pcall(hook, auth.public_user(user))
    if ok and type(p) == "table" then
      for k, v in pairs(p) do t[k] = v end
    end
  end
  if include_token then t.authentication_token = sec:get_auth_token(user) end
  return t
end

local function wants_token(req)
  return req.method == "POST" and type(req.query) == "table" and req.query.include_auth_token ~= nil
end

local function json_error(res, form, status)
  local fe = {}
  for k, v in pairs(form.field_errors) do fe[k] = v end
  return res:json(status or 400, { errors = form.errors, field_errors = fe })
end

local function json_ok(sec, req, res, extra)
  local t = extra or {}
  t.csrf_token = csrf.token(sec, req, res)
  return res:json(200, t)
end

local function page(sec, req, res, name, form, extra)
  local ctx = {
    action = http.full_path(req), csrf_token = csrf.token(sec, req, res),
    fields = {}, field_errors = form and form.field_errors or {},
    errors = form and form.errors or {}, flashes = take_flashes(sec, req, res),
  }
  for k, v in pairs(form and form.data or {}) do
    if not PASSWORD_FIELDS[k] and type(v) == "string" then ctx.fields[k] = v end
  end
  for k, v in pairs(extra or {}) do ctx[k] = v end
  -- the page again after a POST refused for its CSRF token (fsec.views):
  -- the form with the reason, and a fresh token to post it with
  local refused = req._fsec_csrf_refused
  if refused then
    ctx.errors = { refused }
    ctx.field_errors = { csrf_token = { refused } }
  end
  -- Flask-Security re-renders a failed form with 200; browsers do not care,
  -- tools do: a failed submission answers 400 here.
  return pages.respond(sec, res, (refused or (form and not form:ok())) and 400 or 200, name, ctx, req)
end

local function url(sec, key, tail)
  return sec._cfg.url_prefix .. sec._cfg[key] .. (tail or "")
end

-- The validated next (form field, then query), false when one was given
-- but is unsafe, nil when none.
-- The query's next first, then the form's, as Flask-Security's
-- get_post_action_redirect reads them.
local function next_of(req, form)
  local v = http.single(req.query, "next", 2048)
  if (not v or v == "") and form then v = form.data.next end
  if type(v) ~= "string" then v = nil end
  if not v or v == "" then return nil end
  return redirect.safe(req, v) or false
end

-- Run job after the response where the adapter can (sec:set_deferrer:
-- a timer in OpenResty), else now. The "send me instructions" endpoints
-- put all of a mail's work there (token, message, mailer, signal); with
-- generic responses, the account's lookup too.
-- The job runs in the request's language (a mail in the language of the
-- request that sent it): a timer's coroutine has none of its own.
local function later(sec, job)
  local defer = sec._defer
  if defer then
    local lang = i18n.current()
    return defer(function() return i18n.within(lang, job) end)
  end
  return job()
end

local function signed_in(sec, req, res)
  local user = sec:current_user(req, res)
  return user.is_authenticated and user or nil
end

local function anonymous_required(sec, res, json)
  if json then return res:json(400, { errors = { sec.msg("ANONYMOUS_USER_REQUIRED") } }) end
  return res:redirect(sec._cfg.post_login_view)
end

--- Run fn's writes as one transaction (its commit made durable off the
-- event loop under nginx): true, or nil and the error of a write that
-- failed (fn raises it: `must`). A store that cannot answer raises
-- Unavailable: the endpoint answers 503, with none of this response's
-- cookies.
local function write_all(sec, fn)
  local ok, err = pcall(auth.in_transaction, sec.datastore, fn, true)
  if ok then return true end
  if auth.is_unavailable(err) then error(err, 0) end
  return nil, err
end

local function require_user(sec, req, res)
  local ok, user = sec:check(req, { auth = sec._cfg.auth_mechanisms }, res)
  if not ok then return nil end
  return user
end

-- The signed-in user, when the sign-in is recent enough to change
-- credentials (Flask-Security's change_password, tf-setup, us-setup,
-- mf-recovery-codes, change-email, change-username: a sign-in within
-- `freshness`, else 401 and /verify first). Basic always is fresh. A
-- token is never fresh by default: it is a bearer credential, kept by
-- scripts and apps, and one that leaked must not be enough to move the
-- account's email elsewhere, set the thief's second factor or show the
-- recovery codes (an attack review took accounts over so). With
-- freshness_allow_auth_token (Too's FRESHNESS_ALLOW_AUTH_TOKEN) a token
-- passes when it was minted (at its sign-in: the token's `a`, Too's
-- fs_paa) within `freshness`. asks_password: the endpoint checks the
-- user's current password itself (/change, as Flask-Security 5.1.2's,
-- which asks no freshness): for a token, the password is the proof, when
-- the user has one. nil when res holds the refusal.
local function fresh_user(sec, req, res, asks_password)
  local user = require_user(sec, req, res)
  if not user then return nil end
  local via = sec:authn_via(req)
  local cfg = sec._cfg
  if via == "session" or via == "remember" then
    local spec = { auth = { "session" }, within = cfg.freshness, grace = cfg.freshness_grace_period }
    if not sec:check(req, spec, res) then return nil end
  elseif via == "token" and cfg.freshness >= 0 and not (asks_password and user.password ~= nil) then
    local minted
    if cfg.freshness_allow_auth_token then
      local _, _, data = auth.authenticate(sec, req, { "token" })
      minted = type(data) == "table" and data.a
    end
    if type(minted) ~= "number" or now(sec) - minted >= cfg.freshness then
      -- a token is never "fresh" to sec:check: its 401 reauth_required
      sec:check(req, { auth = { "token" }, within = cfg.freshness, grace = 0 }, res)
      return nil
    end
  end
  return user
end

_M.now = now
_M.fresh_user = fresh_user
_M.within_text = within_text
_M.payload = payload
_M.wants_token = wants_token
_M.json_error = json_error
_M.json_ok = json_ok
_M.page = page
_M.url = url
_M.next_of = next_of
_M.later = later
_M.signed_in = signed_in
_M.anonymous_required = anonymous_required
_M.write_all = write_all
_M.require_user = require_user
_M.flash = flashes.add
_M.take_flashes = take_flashes

return _M
