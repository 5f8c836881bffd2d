--- The view models of unified sign-in's pages (us_signin, us_verify,
-- us_setup), added to fsec.pages' set; their templates are
-- security/us_signin.html, us_verify.html and us_setup.html. An
-- application's `render` hook overrides them as any other page.
-- @module fsec.uspages

local pages = require "fsec.pages"
local i18n = require "fsec.i18n"
local format = require("fsec.messages").format

local ipairs = ipairs
local concat = table.concat

local field = pages.field

local _M = { _VERSION = "0.1.0" }

local function label(t, m) return t["US_METHOD_" .. m:upper()] or m end

-- The "send me a code" choice (security/_send_code.html): radios of the
-- code methods and a button that posts the same form to send_action.
local function send_code(ctx, t, m)
  m.code_options = pages.options(t, ctx.code_methods, "US_METHOD_", ctx.chosen_method)
  m.has_code_options = #m.code_options > 0
  m.chosen_errors = pages.errors_of(ctx, "chosen_method")
  m.send_action = ctx.send_action or ""
  return m
end

local function passcode_field(ctx, t)
  return field(ctx, "passcode", t.LABEL_PASSCODE, "password", "off")
end

pages.PAGES.us_signin = function(ctx, t)
  return send_code(ctx, t, { title = t.TITLE_LOGIN, passcode = passcode_field(ctx, t),
                             identity = field(ctx, "identity", t.LABEL_IDENTITY, "text", "username") })
end

pages.PAGES.us_verify = function(ctx, t)
  return send_code(ctx, t, { title = t.TITLE_VERIFY, passcode = passcode_field(ctx, t) })
end

pages.PAGES.us_setup = function(ctx, t)
  local active = {}
  for _, m in ipairs(ctx.active_methods or {}) do active[#active + 1] = label(t, m) end
  local delete = pages.options(t, ctx.deletable, "US_METHOD_")
  return {
    title = t.TITLE_US_SETUP,
    active_html = i18n.html(t.TEXT_US_ACTIVE, { methods = concat(active, ", ") }),
    show_code = (ctx.chosen and ctx.code_action) and true or false,
    sent_text = ctx.code_sent and ctx.chosen and format(t.TEXT_US_CODE_SENT, { method = label(t, ctx.chosen) })
      or false,
    authr_account = format(t.TEXT_AUTHR_ACCOUNT, { username = ctx.authr_username or "",
                                                    issuer = ctx.authr_issuer or "" }),
    code_form = ctx.code_action and { action = ctx.code_action } or false,
    code = field(ctx, "passcode", t.LABEL_CODE, "text", "one-time-code"),
    setup_options = pages.options(t, ctx.setup_methods, "US_METHOD_", ctx.chosen),
    chosen_errors = pages.errors_of(ctx, "chosen_method"),
    phone = field(ctx, "phone", t.LABEL_PHONE, "tel", "tel"),
    delete_options = delete, has_delete = #delete > 0,
    delete_errors = #delete > 0 and pages.errors_of(ctx, "delete_method") or {},
  }
end

return _M
