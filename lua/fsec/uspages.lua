--- The HTML pages of unified sign-in (us_signin, us_verify, us_setup),
-- added to fsec.pages' set; an application's `render` hook overrides
-- them as any other page.
-- @module fsec.uspages

local pages = require "fsec.pages"
local escape = require("fsec.http").html_escape

local concat = table.concat
local ipairs = ipairs

local field, form = pages.field, pages.form

local _M = { _VERSION = "0.1.0" }

local LABEL = { email = "Email", authenticator = "Authenticator app", sms = "Text message (SMS)",
                password = "Password" }

local function label(m) return escape(LABEL[m] or m) end

local with_action, errors_of = pages.with_action, pages.errors_of

-- The "send me a code" choice: radios of the code methods and a button
-- that posts the same form to the send-code endpoint (formaction).
local function send_code(ctx)
  local methods = ctx.code_methods or {}
  if #methods == 0 then return "" end
  local out = { "<fieldset><legend>Or get a code</legend>" }
  for _, m in ipairs(methods) do
    out[#out + 1] = ('<label><input type="radio" name="chosen_method" value="%s"%s> %s</label>'):format(
      escape(m), ctx.chosen_method == m and " checked" or "", label(m))
  end
  out[#out + 1] = errors_of(ctx, "chosen_method")
  out[#out + 1] = ('<button type="submit" formaction="%s">Send code</button></fieldset>'):format(
    escape(ctx.send_action or ""))
  return concat(out)
end

local function passcode_field(ctx)
  return field(ctx, "passcode", "Password or code", "password", "off")
end

local function signin(ctx)
  local inner = field(ctx, "identity", "Email or phone number", "text", "username") .. passcode_field(ctx)
    .. '<label><input type="checkbox" name="remember" value="y"' .. (ctx.remember and " checked" or "")
    .. "> Remember me</label>" .. send_code(ctx)
  return "Sign in", form(ctx, inner, "Sign in")
end

local function verify(ctx)
  return "Please reauthenticate", form(ctx, passcode_field(ctx) .. send_code(ctx), "Continue")
end

local function setup(ctx)
  local out = {}
  local active = {}
  for _, m in ipairs(ctx.active_methods or {}) do active[#active + 1] = label(m) end
  out[#out + 1] = "<p>You can sign in with: <strong>" .. concat(active, ", ") .. "</strong>.</p>"
  if ctx.chosen and ctx.code_action then
    if ctx.authr_qrcode then
      out[#out + 1] = '<p>Scan this code with your authenticator app:</p><p><img id="qrcode" alt="QR code of '
        .. 'the authenticator key" width="246" height="246" src="' .. escape(ctx.authr_qrcode) .. '"></p>'
        .. '<p>Or enter this key: <code id="authr-key">' .. escape(ctx.authr_key or "") .. "</code><br>"
        .. "Account: " .. escape(ctx.authr_username or "") .. ", issuer: " .. escape(ctx.authr_issuer or "")
        .. "</p>"
    elseif ctx.code_sent then
      out[#out + 1] = "<p>A code was sent (" .. label(ctx.chosen) .. ").</p>"
    end
    out[#out + 1] = form(with_action(ctx, ctx.code_action),
                         field(ctx, "passcode", "Code", "text", "one-time-code"), "Verify code")
    out[#out + 1] = "<h2>Or change another method</h2>"
  end
  local inner = { "<fieldset><legend>Set up a sign-in method</legend>" }
  for _, m in ipairs(ctx.setup_methods or {}) do
    inner[#inner + 1] = ('<label><input type="radio" name="chosen_method" value="%s"%s> %s</label>'):format(
      escape(m), ctx.chosen == m and " checked" or "", label(m))
  end
  inner[#inner + 1] = errors_of(ctx, "chosen_method") .. "</fieldset>"
  inner[#inner + 1] = field(ctx, "phone", "Phone number (for text messages)", "tel", "tel")
  if ctx.deletable and #ctx.deletable > 0 then
    inner[#inner + 1] = "<fieldset><legend>Remove a sign-in method</legend>"
    for _, m in ipairs(ctx.deletable) do
      inner[#inner + 1] = ('<label><input type="checkbox" name="delete_method" value="%s"> %s</label>'):format(
        escape(m), label(m))
    end
    inner[#inner + 1] = errors_of(ctx, "delete_method") .. "</fieldset>"
  end
  out[#out + 1] = form(ctx, concat(inner), "Save")
  return "Sign-in methods", concat(out)
end

pages.PAGES.us_signin = signin
pages.PAGES.us_verify = verify
pages.PAGES.us_setup = setup

return _M
