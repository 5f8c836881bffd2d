--- The view models of multi-factor sign-in's pages (two-factor setup
-- and code, recovery codes), added to fsec.pages' set; their templates
-- are security/two_factor_setup.html, two_factor_verify_code.html,
-- mf_recovery.html and mf_recovery_codes.html. An application's `render`
-- hook overrides them as any other page (page names: tf_setup,
-- tf_validate, mf_recovery, mf_recovery_codes).
-- @module fsec.mfpages

local pages = require "fsec.pages"
local i18n = require "fsec.i18n"
local format = require("fsec.messages").format

local field = pages.field

local _M = { _VERSION = "0.1.0" }

local function code_field(ctx, t)
  return field(ctx, "code", t.LABEL_CODE, "text", "one-time-code")
end

-- The authenticator's account line ("Account: x, issuer: y").
local function account(ctx, t)
  return format(t.TEXT_AUTHR_ACCOUNT, { username = ctx.authr_username or "", issuer = ctx.authr_issuer or "" })
end

pages.PAGES.tf_setup = function(ctx, t)
  local sent = ctx.chosen == "email" and t.TEXT_CODE_SENT_EMAIL or ctx.chosen == "sms" and t.TEXT_CODE_SENT_PHONE
  return {
    title = t.TITLE_TF_SETUP,
    primary_html = ctx.primary and i18n.html(t.TEXT_TF_ON,
                                             { method = t["METHOD_" .. ctx.primary:upper()] or ctx.primary }),
    show_code = (ctx.chosen and ctx.code_action) and true or false,
    sent_text = sent or false, authr_account = account(ctx, t),
    code_form = ctx.code_action and { action = ctx.code_action } or false,
    code = code_field(ctx, t),
    method_options = pages.options(t, ctx.methods, "METHOD_", ctx.chosen),
    setup_errors = pages.errors_of(ctx, "setup"),
    phone = field(ctx, "phone", t.LABEL_PHONE, "text", "tel"),
  }
end

pages.PAGES.tf_validate = function(ctx, t)
  local m, intro = ctx.method, t.TEXT_ENTER_APP_CODE
  if ctx.problem == "email" or (ctx.problem ~= "help" and m == "email") then
    intro = t.TEXT_CODE_SENT_EMAIL
  elseif ctx.problem == "help" then
    intro = format(t.TEXT_ADMIN_TOLD, { mail = ctx.rescue_mail or "" })
  elseif m == "sms" then
    intro = t.TEXT_CODE_SENT_PHONE
  end
  local o = ctx.options or {}
  local help = false
  if o.email or o.help or o.recovery_code then
    help = { action = o.email or o.help or o.recovery_code, help_email = o.email and true or false,
             help_recovery = o.recovery_code and true or false, help_admin = o.help and true or false }
  end
  return { title = t.TITLE_TF_VALIDATE, intro = intro, code = code_field(ctx, t), help = help }
end

pages.PAGES.mf_recovery = function(ctx, t)
  return { title = t.TITLE_MF_RECOVERY, code = field(ctx, "code", t.LABEL_RECOVERY_CODE, "text", "off") }
end

pages.PAGES.mf_recovery_codes = function(ctx, t)
  local count_text = false
  if ctx.count then
    count_text = format(ctx.count == 1 and t.TEXT_CODES_LEFT_ONE or t.TEXT_CODES_LEFT_MANY, { count = ctx.count })
  end
  return { title = t.TITLE_MF_RECOVERY_CODES, has_codes = ctx.codes and #ctx.codes > 0 or false,
           count_text = count_text, errors = ctx.errors or {} }
end

return _M
