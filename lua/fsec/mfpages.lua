--- The HTML pages of multi-factor sign-in (two-factor setup and code,
-- recovery codes), added to fsec.pages' set; an application's `render`
-- hook overrides them as any other page (page names: tf_setup,
-- tf_validate, mf_recovery, mf_recovery_codes).
-- @module fsec.mfpages

local pages = require "fsec.pages"
local escape = require("fsec.http").html_escape

local concat = table.concat
local ipairs = ipairs

local field, form = pages.field, pages.form

local _M = { _VERSION = "0.1.0" }

local METHOD_LABEL = { email = "Email a code", authenticator = "Authenticator app", sms = "Text message (SMS)",
                       disable = "Turn two-factor off" }

local with_action, errors_of = pages.with_action, pages.errors_of

local function code_field(ctx)
  return field(ctx, "code", "Code", "text", "one-time-code")
end

local function setup(ctx)
  local out = {}
  if ctx.primary then
    out[#out + 1] = "<p>Two-factor sign-in is on: <strong>" .. escape(METHOD_LABEL[ctx.primary] or ctx.primary)
      .. "</strong>.</p>"
  end
  if ctx.chosen and ctx.code_action then
    if ctx.authr_qrcode then
      out[#out + 1] = '<p>Scan this code with your authenticator app:</p><p><img id="qrcode" alt="QR code of '
        .. 'the authenticator key" width="246" height="246" src="' .. escape(ctx.authr_qrcode) .. '"></p>'
        .. '<p>Or enter this key: <code id="authr-key">' .. escape(ctx.authr_key or "") .. "</code><br>"
        .. "Account: " .. escape(ctx.authr_username or "") .. ", issuer: " .. escape(ctx.authr_issuer or "")
        .. "</p>"
    elseif ctx.chosen == "email" then
      out[#out + 1] = "<p>A code was sent to your email address.</p>"
    elseif ctx.chosen == "sms" then
      out[#out + 1] = "<p>A code was sent to your phone.</p>"
    end
    out[#out + 1] = form(with_action(ctx, ctx.code_action), code_field(ctx), "Verify code")
    out[#out + 1] = "<h2>Or choose another method</h2>"
  end
  local radios = { "<fieldset><legend>Method</legend>" }
  for _, m in ipairs(ctx.methods or {}) do
    radios[#radios + 1] = ('<label><input type="radio" name="setup" value="%s"%s> %s</label>'):format(
      escape(m), ctx.chosen == m and " checked" or "", escape(METHOD_LABEL[m] or m))
  end
  radios[#radios + 1] = "</fieldset>"
  radios[#radios + 1] = errors_of(ctx, "setup")
  local inner = concat(radios) .. field(ctx, "phone", "Phone number (for text messages)", "text", "tel")
  out[#out + 1] = form(ctx, inner, "Set up")
  return "Two-factor setup", concat(out)
end

local function validate(ctx)
  local out = {}
  local m = ctx.method
  if ctx.problem == "email" then
    out[#out + 1] = "<p>A code was sent to your email address.</p>"
  elseif ctx.problem == "help" then
    out[#out + 1] = "<p>The administrator (" .. escape(ctx.rescue_mail or "")
      .. ") was told; they will contact you.</p>"
  elseif m == "email" then
    out[#out + 1] = "<p>A code was sent to your email address.</p>"
  elseif m == "sms" then
    out[#out + 1] = "<p>A code was sent to your phone.</p>"
  else
    out[#out + 1] = "<p>Enter the code your authenticator app shows.</p>"
  end
  out[#out + 1] = form(ctx, code_field(ctx), "Verify code")
  local o = ctx.options or {}
  if o.email or o.help or o.recovery_code then
    local radios = { "<fieldset><legend>Cannot give your code?</legend>" }
    if o.email then
      radios[#radios + 1] = '<label><input type="radio" name="help_setup" value="email"> Email me a code</label>'
    end
    if o.recovery_code then
      radios[#radios + 1] = '<label><input type="radio" name="help_setup" value="recovery_code"> Use a recovery '
        .. "code</label>"
    end
    if o.help then
      radios[#radios + 1] = '<label><input type="radio" name="help_setup" value="help"> Ask the administrator'
        .. "</label>"
    end
    radios[#radios + 1] = "</fieldset>"
    out[#out + 1] = form(with_action(ctx, o.email or o.help or o.recovery_code), concat(radios), "Get help")
  end
  return "Two-factor sign-in", concat(out)
end

local function recovery(ctx)
  return "Use a recovery code", form(ctx, field(ctx, "code", "Recovery code", "text", "off"), "Sign in")
end

local function recovery_codes(ctx)
  local out = {}
  if ctx.codes and #ctx.codes > 0 then
    out[#out + 1] = '<p>Keep these codes somewhere safe. Each can be used once.</p><ul id="recovery-codes">'
    for _, c in ipairs(ctx.codes) do out[#out + 1] = "<li><code>" .. escape(c) .. "</code></li>" end
    out[#out + 1] = "</ul>"
  elseif ctx.count then
    out[#out + 1] = ("<p>You have %d recovery code%s left.</p>"):format(ctx.count, ctx.count == 1 and "" or "s")
  end
  for _, e in ipairs(ctx.errors or {}) do out[#out + 1] = '<p class="error" role="alert">' .. escape(e) .. "</p>" end
  if ctx.can_show then
    out[#out + 1] = '<p><a href="?show_codes=1">Show my recovery codes</a></p>'
  end
  out[#out + 1] = form(ctx, "", "Generate new recovery codes")
  return "Recovery codes", concat(out)
end

pages.PAGES.tf_setup = setup
pages.PAGES.tf_validate = validate
pages.PAGES.mf_recovery = recovery
pages.PAGES.mf_recovery_codes = recovery_codes

return _M
