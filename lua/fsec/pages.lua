--- The HTML pages: each is a named template (fsec.templates, Flask-
-- Security's names: security/login_user.html ...) drawn in the request's
-- language (fsec.i18n) inside security/base.html. An application
-- overrides any template one at a time (`templates`, `template_dir`), or
-- a whole page with `render = function(page, ctx)` returning HTML (nil:
-- the template). ctx carries `title`, `action`, `csrf_token`, `fields`
-- (submitted values, never passwords), `field_errors`, `errors`,
-- `flashes` ({ category, message } list) and page-specific values; the
-- templates get it with the view model below added (docs/templates.md).
-- @module fsec.pages

local escape = require("fsec.http").html_escape
local i18n = require "fsec.i18n"

local concat = table.concat
local ipairs = ipairs
local pairs = pairs
local type = type


local _M = { _VERSION = "0.1.0" }

--- The template of each page (fsec's page name -> template name); the
-- login page of passwordless sign-in is security/send_login.html.
_M.TEMPLATE = {
  login = "security/login_user.html", register = "security/register_user.html",
  forgot = "security/forgot_password.html", reset = "security/reset_password.html",
  change = "security/change_password.html", confirm = "security/send_confirmation.html",
  verify = "security/verify.html", link_consent = "security/link_consent.html",
  logout = "security/logout.html", message = "security/message.html",
  tf_setup = "security/two_factor_setup.html", tf_validate = "security/two_factor_verify_code.html",
  mf_recovery = "security/mf_recovery.html", mf_recovery_codes = "security/mf_recovery_codes.html",
  us_signin = "security/us_signin.html", us_verify = "security/us_verify.html", us_setup = "security/us_setup.html",
  change_email = "security/change_email.html", change_email_consent = "security/change_email_consent.html",
  recover_username = "security/recover_username.html", change_username = "security/change_username.html",
  wan_register = "security/wan_register.html", wan_signin = "security/wan_signin.html",
  wan_verify = "security/wan_verify.html",
}


--- A field's view model (security/_field.html draws it): its id and
-- name, label, input type, kept value (never a password's), autocomplete
-- and errors (aria-invalid and aria-describedby when there are some).
function _M.field(ctx, name, label, kind, autocomplete)
  local errs = ctx.field_errors and ctx.field_errors[name] or {}
  local f = { id = name, label = label, type = kind, autocomplete = autocomplete or "off",
              errors = errs, invalid = #errs > 0 }
  if kind ~= "password" and ctx.fields and type(ctx.fields[name]) == "string" then
    f.has_value, f.value = true, ctx.fields[name]
  end
  return f
end

--- The errors a form shows above its fields: the form's own, next's and
-- csrf_token's (no field of the page shows them).
function _M.form_errors(ctx)
  local errs = {}
  for _, key in ipairs{ "", "next", "csrf_token" } do
    for _, e in ipairs(ctx.field_errors and ctx.field_errors[key] or {}) do errs[#errs + 1] = e end
  end
  return errs
end

--- The errors of a field the page draws itself (radios, say).
function _M.errors_of(ctx, name)
  return ctx.field_errors and ctx.field_errors[name] or {}
end

--- A label of a method (two-factor, unified sign-in) in the page's language.
function _M.options(t, list, prefix, checked)
  local out = {}
  for _, m in ipairs(list or {}) do
    out[#out + 1] = { value = m, label = t[prefix .. m:upper()] or m, checked = checked == m }
  end
  return out
end


-- One of the application's fields (register_fields, described by
-- fsec.regfields.describe) as security/_own_field.html draws it: the
-- input its type asks for (checkbox, select with an empty first option
-- so nothing is chosen for the user, or an input with its bounds), the
-- hint and errors bound to it (aria-describedby), required marked for
-- browsers and assistive technology. Numbers are formatted here (%d):
-- a template would write 5.0 for a float on Lua 5.4.
local INPUT = { string = "text", email = "email", integer = "number" }

function _M.own_field(ctx, f)
  local name = f.name
  local errs = ctx.field_errors and ctx.field_errors[name] or {}
  local v = ctx.fields and ctx.fields[name]
  local described = {}
  if f.description then described[#described + 1] = name .. "-hint" end
  if #errs > 0 then described[#described + 1] = name .. "-error" end
  -- label and hint are the application's own texts, as declared
  local m = { id = name, label = f.label or name, description = f.description or false,
              required = f.required and true or false, errors = errs, invalid = #errs > 0,
              described = #described > 0 and concat(described, " ") or false,
              -- every name the template asks is set (false, not nil): an
              -- unset one would be looked up in the page's scope
              checkbox = false, choice = false, input = false, checked = false, has_value = false }
  if f.type == "boolean" then
    m.checkbox = true
    m.checked = type(v) == "string" and v ~= "" and v ~= "false"
  elseif f.type == "choice" then
    m.choice = true
    local opts = {}
    for _, c in ipairs(f.choices or {}) do opts[#opts + 1] = { value = c, selected = v == c } end
    m.options = opts
  else
    m.input, m.type = true, INPUT[f.type] or "text"
    if type(v) == "string" then m.has_value, m.value = true, v end
    m.max_length = f.max_length and ("%d"):format(f.max_length) or false
    m.min = f.min and ("%d"):format(f.min) or false
    m.max = f.max and ("%d"):format(f.max) or false
    m.integer = f.type == "integer"
  end
  return m
end

local field, form_errors, own_field = _M.field, _M.form_errors, _M.own_field

-- ctx.links: { href, text } pairs; a text that is a catalogue key
-- (LINK_REGISTER) is shown in the page's language.
local function links(ctx, t)
  local out = {}
  for _, l in ipairs(ctx.links or {}) do out[#out + 1] = { href = l[1], text = t[l[2]] or l[2] } end
  return out
end

-- ctx.flashes ({ category, message } pairs) as the template reads them.
local function flash_list(flashes)
  local out = {}
  for _, f in ipairs(flashes or {}) do out[#out + 1] = { category = f[1], message = f[2] } end
  return out
end


-- The view model of each page: what its template needs beyond ctx
-- (t: the page's language's texts). Pages of other modules add theirs
-- (fsec.mfpages, fsec.uspages, fsec.accpages).
_M.PAGES = {
  login = function(ctx, t)
    return {
      title = t.TITLE_LOGIN,
      email = field(ctx, "email", t.LABEL_EMAIL, "email", "username"),
      -- username_enable with "username" an identity attribute: either field
      username_field = ctx.username and field(ctx, "username", t.LABEL_OR_USERNAME, "text", "username"),
      password = not ctx.passwordless and field(ctx, "password", t.LABEL_PASSWORD, "password", "current-password"),
      button = ctx.passwordless and t.BUTTON_SEND_LINK or t.BUTTON_SIGN_IN,
    }
  end,
  -- ctx.extra_fields: an application's own fields ({ name, label (a
  -- catalogue key or a text), type, autocomplete }), after fsec's
  register = function(ctx, t)
    local extra = {}
    for _, f in ipairs(ctx.extra_fields or {}) do
      extra[#extra + 1] = field(ctx, f.name, t[f.label] or f.label, f.type or "text", f.autocomplete)
    end
    -- ctx.register_fields: the declared register_fields (fsec.regfields)
    local own = {}
    for _, f in ipairs(ctx.register_fields or {}) do own[#own + 1] = own_field(ctx, f) end
    return {
      extra_fields = extra,
      own_fields = own,
      title = t.TITLE_REGISTER,
      email = field(ctx, "email", t.LABEL_EMAIL, "email", "email"),
      username_field = ctx.username and field(ctx, "username", t.LABEL_USERNAME, "text", "username"),
      password = field(ctx, "password", t.LABEL_PASSWORD, "password", "new-password"),
      password_confirm = ctx.confirm and field(ctx, "password_confirm", t.LABEL_RETYPE_PASSWORD, "password",
                                               "new-password"),
    }
  end,
  forgot = function(ctx, t)
    return { title = t.TITLE_FORGOT, email = field(ctx, "email", t.LABEL_EMAIL, "email", "email") }
  end,
  reset = function(ctx, t)
    return { title = t.TITLE_RESET,
             password = field(ctx, "password", t.LABEL_NEW_PASSWORD, "password", "new-password"),
             password_confirm = field(ctx, "password_confirm", t.LABEL_RETYPE_PASSWORD, "password", "new-password") }
  end,
  change = function(ctx, t)
    return { title = t.TITLE_CHANGE,
             password = field(ctx, "password", t.LABEL_CURRENT_PASSWORD, "password", "current-password"),
             new_password = field(ctx, "new_password", t.LABEL_NEW_PASSWORD, "password", "new-password"),
             new_password_confirm = field(ctx, "new_password_confirm", t.LABEL_RETYPE_NEW_PASSWORD, "password",
                                          "new-password") }
  end,
  confirm = function(ctx, t)
    return { title = t.TITLE_CONFIRM, email = field(ctx, "email", t.LABEL_EMAIL, "email", "email") }
  end,
  -- a mailed link's consent (views.lua ask_consent): whose account, and a
  -- button that posts; ctx.kind "login" or "confirm", ctx.email, and
  -- ctx.current: another account signed in here, which confirming ends
  link_consent = function(ctx, t)
    local login = ctx.kind == "login"
    return {
      title = login and t.TITLE_LOGIN or t.TITLE_CONFIRM_EMAIL, button = login and t.BUTTON_SIGN_IN or t.BUTTON_CONFIRM,
      question_html = i18n.html(login and t.TEXT_SIGN_IN_AS or t.TEXT_CONFIRM_ADDRESS, { email = ctx.email or "" }),
      current_html = ctx.current and i18n.html(t.TEXT_CONFIRM_SIGNS_OUT, { email = ctx.current }),
    }
  end,
  -- a browser's GET of a POST-only logout (views.lua): the sign-out
  -- button, a form posting the CSRF token; ctx.email, who is signed in
  logout = function(ctx, t)
    return { title = t.TITLE_LOGOUT, signed_in_html = ctx.email and i18n.html(t.TEXT_SIGNED_IN_AS,
                                                                              { email = ctx.email }) }
  end,
  -- a short answer as a page (a browser's 403): ctx.title (or
  -- ctx.title_key, a catalogue key), ctx.message
  message = function(ctx, t)
    return { title = ctx.title_key and t[ctx.title_key] or ctx.title }
  end,
  verify = function(ctx, t)
    return { title = t.TITLE_VERIFY,
             password = field(ctx, "password", t.LABEL_PASSWORD, "password", "current-password") }
  end,
}


-- The templates of this instance (fsec.template set), made at first use.
local function templates(sec)
  local set = sec._templates
  if not set then
    set = require("fsec.template").set(require("fsec.templates"), sec._cfg.templates, sec._cfg.template_dir)
    sec._templates = set
  end
  return set
end
_M.templates = templates


--- The model a template gets: ctx, then the page's view model over it,
-- then lang, t (texts), home, form_errors and links.
function _M.model(sec, page, ctx, lang)
  local t = i18n.texts(sec, lang)
  local m = {}
  for k, v in pairs(ctx) do m[k] = v end
  for k, v in pairs(_M.PAGES[page](ctx, t)) do m[k] = v end
  m.t, m.lang, m.home = t, lang, sec._cfg.post_logout_view or "/"
  m.form_errors, m.nav = form_errors(ctx), links(ctx, t)
  m.has_nav, m.flash_list = #m.nav > 0, flash_list(ctx.flashes)
  m.csrf_token = ctx.csrf_token or ""
  return m
end


--- Render a page: the application's render hook first, then the
-- page's template inside security/base.html. lang: the language tag
-- (nil: the default language).
function _M.render(sec, page, ctx, lang)
  local custom = sec._cfg.render
  if custom then
    local ok, html = pcall(custom, page, ctx)
    if ok and type(html) == "string" then return html end
    if not ok then sec._log("error", "fsec: render hook failed for " .. page .. ": " .. tostring(html)) end
  end
  lang = lang or i18n.default(sec)
  local set = templates(sec)
  local m = _M.model(sec, page, ctx, lang)
  local name = _M.TEMPLATE[page]
  if page == "login" and ctx.passwordless then name = "security/send_login.html" end
  m.content = set:render(name, m)
  return set:render("security/base.html", m)
end


--- A whole page of the application's own (the example's pages): title,
-- body (HTML the caller built and escaped), flashes and a Home link,
-- drawn with fsec's default security/base.html.
local builtin_set -- fsec's own templates, compiled once (for layout)

function _M.layout(title, body, flashes, home)
  builtin_set = builtin_set or require("fsec.template").set(require("fsec.templates"))
  return builtin_set:render("security/base.html", { title = title, content = body, flash_list = flash_list(flashes),
                                            home = home or "/", lang = "en", t = i18n.texts(nil, "en") })
end


--- Answer res with a page: status, the page's headers (no framing of a
-- page that takes a password: clickjacking) and the rendered body.
-- req (optional): the request, whose language the page is in.
function _M.respond(sec, res, status, page, ctx, req)
  local lang = req and i18n.lang_for(sec, req) or nil
  res.status = status
  res.headers["Content-Type"] = "text/html; charset=utf-8"
  if lang then res.headers["Content-Language"] = lang end
  if sec._cfg.page_security_headers then
    res.headers["X-Frame-Options"] = "DENY"
    res.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    res.headers["X-Content-Type-Options"] = "nosniff"
    -- a page's URL may hold a mailed link's token (/reset/<token>): no
    -- Referer names it to whatever the page (an app's template) loads
    res.headers["Referrer-Policy"] = "no-referrer"
  end
  res.body = _M.render(sec, page, ctx, lang)
  return res
end


-- kept for callers that escaped through fsec.pages
_M.escape = escape

return _M
