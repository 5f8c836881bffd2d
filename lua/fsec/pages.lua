--- The built-in HTML pages: plain, accessible, no external assets.
-- An application overrides any of them with `render = function(page, ctx)`
-- returning HTML (or nil to keep the built-in one). ctx carries `title`,
-- `action`, `csrf_token`, `fields` (submitted values, never passwords),
-- `field_errors`, `errors`, `flashes` ({ category, message } list) and
-- page-specific values.
-- @module fsec.pages

local escape = require("fsec.http").html_escape

local concat = table.concat
local ipairs = ipairs
local pairs = pairs


local _M = { _VERSION = "0.1.0" }

local STYLE = [[
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}
input[type=email],input[type=password],input[type=text],
input[type=number],select{width:100%;padding:.5rem;box-sizing:border-box;font-size:1rem}
button{margin-top:1.5rem;padding:.5rem 1.5rem;font-size:1rem}
.hint{color:#555;margin:.25rem 0 0;font-size:.9rem}
.error{color:#a00}.flash{padding:.5rem;border:1px solid #888;margin:.5rem 0}
.flash.error{border-color:#a00}.flash.success{border-color:#070}
nav a{margin-right:1rem}
header{margin-bottom:1rem}
main,p,dd,li,pre{overflow-wrap:anywhere}pre{white-space:pre-wrap}
]]


--- A whole page: title, body (HTML), flashes, and a Home link to `home`
-- ("/" if not given; fsec's own pages pass post_logout_view) on every
-- page, so that no page is a dead end.
function _M.layout(title, body, flashes, home)
  local f = {}
  for _, fl in ipairs(flashes or {}) do
    f[#f + 1] = ('<p class="flash %s" role="status">%s</p>'):format(escape(fl[1]), escape(fl[2]))
  end
  return concat{
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>", escape(title), "</title><style>", STYLE, "</style></head><body>",
    '<header><nav><a id="home" href="', escape(home or "/"), '">Home</a></nav></header>',
    "<main><h1>", escape(title), "</h1>", concat(f), body, "</main></body></html>\n",
  }
end


local function field(ctx, name, label, kind, autocomplete)
  local errs = ctx.field_errors and ctx.field_errors[name] or {}
  local value = ""
  if kind ~= "password" and ctx.fields and type(ctx.fields[name]) == "string" then
    value = ' value="' .. escape(ctx.fields[name]) .. '"'
  end
  local out = { ('<label for="%s">%s</label>'):format(name, escape(label)),
                ('<input id="%s" name="%s" type="%s"%s autocomplete="%s"%s>'):format(
                  name, name, kind, value, autocomplete or "off",
                  #errs > 0 and (' aria-describedby="%s-error" aria-invalid="true"'):format(name) or "") }
  for _, e in ipairs(errs) do
    out[#out + 1] = ('<p class="error" id="%s-error" role="alert">%s</p>'):format(name, escape(e))
  end
  return concat(out)
end


-- One of the application's fields (register_fields, described by
-- fsec.regfields.describe): its label, the input its type asks for, the
-- hint and errors bound to it (aria-describedby), required marked for
-- browsers and assistive technology.
local INPUT = { string = "text", email = "email", integer = "number" }

local function own_field(ctx, f)
  local name = f.name
  local errs = ctx.field_errors and ctx.field_errors[name] or {}
  local v = ctx.fields and ctx.fields[name]
  local req = f.required and " required aria-required=\"true\"" or ""
  local described = {}
  local out = {}
  if f.description then described[#described + 1] = name .. "-hint" end
  if #errs > 0 then described[#described + 1] = name .. "-error" end
  local aria = (#described > 0 and (' aria-describedby="' .. concat(described, " ") .. '"') or "")
    .. (#errs > 0 and ' aria-invalid="true"' or "")
  if f.type == "boolean" then
    local checked = type(v) == "string" and v ~= "" and v ~= "false"
    out[1] = ('<label><input id="%s" name="%s" type="checkbox" value="y"%s%s%s> %s</label>'):format(
      name, name, checked and " checked" or "", req, aria, escape(f.label))
  elseif f.type == "choice" then
    out[1] = ('<label for="%s">%s</label>'):format(name, escape(f.label))
    -- an empty first option: nothing is chosen for the user, and with
    -- required the browser asks for a choice (a placeholder option)
    local opts = { '<option value=""></option>' }
    for _, c in ipairs(f.choices) do
      opts[#opts + 1] = ('<option value="%s"%s>%s</option>'):format(escape(c), v == c and " selected" or "", escape(c))
    end
    out[2] = ('<select id="%s" name="%s"%s%s>%s</select>'):format(name, name, req, aria, concat(opts))
  else
    local extra = {}
    if f.max_length then extra[#extra + 1] = (' maxlength="%d"'):format(f.max_length) end
    if f.min then extra[#extra + 1] = (' min="%d"'):format(f.min) end
    if f.max then extra[#extra + 1] = (' max="%d"'):format(f.max) end
    if f.type == "integer" then extra[#extra + 1] = ' step="1" inputmode="numeric"' end
    out[1] = ('<label for="%s">%s</label>'):format(name, escape(f.label))
    out[2] = ('<input id="%s" name="%s" type="%s"%s%s%s%s autocomplete="off">'):format(
      name, name, INPUT[f.type] or "text", type(v) == "string" and (' value="' .. escape(v) .. '"') or "",
      concat(extra), req, aria)
  end
  if f.description then
    out[#out + 1] = ('<p class="hint" id="%s-hint">%s</p>'):format(name, escape(f.description))
  end
  for _, e in ipairs(errs) do
    out[#out + 1] = ('<p class="error" id="%s-error" role="alert">%s</p>'):format(name, escape(e))
  end
  return concat(out)
end


local function form(ctx, inner, button)
  local errs = {}
  -- the form's own errors, next's and csrf_token's: no field of the page shows them
  for _, key in ipairs{ "", "next", "csrf_token" } do
    for _, e in ipairs(ctx.field_errors and ctx.field_errors[key] or {}) do
      errs[#errs + 1] = '<p class="error" role="alert">' .. escape(e) .. "</p>"
    end
  end
  return concat{
    concat(errs),
    '<form method="post" action="', escape(ctx.action), '">',
    '<input type="hidden" name="csrf_token" value="', escape(ctx.csrf_token or ""), '">',
    ctx.next and ('<input type="hidden" name="next" value="' .. escape(ctx.next) .. '">') or "",
    inner, '<button type="submit">', escape(button), "</button></form>",
  }
end


local function links(ctx)
  local out = {}
  for _, l in ipairs(ctx.links or {}) do
    out[#out + 1] = ('<a href="%s">%s</a>'):format(escape(l[1]), escape(l[2]))
  end
  return #out > 0 and ("<nav>" .. concat(out) .. "</nav>") or ""
end


_M.PAGES = {
  login = function(ctx)
    local inner = field(ctx, "email", "Email address", "email", "username")
    -- username_enable with "username" an identity attribute: either field
    if ctx.username then inner = inner .. field(ctx, "username", "or username", "text", "username") end
    if not ctx.passwordless then
      inner = inner .. field(ctx, "password", "Password", "password", "current-password")
        .. '<label><input type="checkbox" name="remember" value="y"' .. (ctx.remember and " checked" or "")
        .. '> Remember me</label>'
    end
    return "Sign in", form(ctx, inner, ctx.passwordless and "Send me a link" or "Sign in") .. links(ctx)
  end,
  register = function(ctx)
    local inner = field(ctx, "email", "Email address", "email", "email")
    if ctx.username then inner = inner .. field(ctx, "username", "Username", "text", "username") end
    inner = inner .. field(ctx, "password", "Password", "password", "new-password")
    if ctx.confirm then
      inner = inner .. field(ctx, "password_confirm", "Retype password", "password", "new-password")
    end
    for _, f in ipairs(ctx.register_fields or {}) do inner = inner .. own_field(ctx, f) end
    return "Register", form(ctx, inner, "Register") .. links(ctx)
  end,
  forgot = function(ctx)
    return "Send password reset instructions",
      form(ctx, field(ctx, "email", "Email address", "email", "email"), "Send") .. links(ctx)
  end,
  reset = function(ctx)
    return "Reset password", form(ctx, field(ctx, "password", "New password", "password", "new-password")
      .. field(ctx, "password_confirm", "Retype password", "password", "new-password"), "Reset password")
  end,
  change = function(ctx)
    return "Change password", form(ctx, field(ctx, "password", "Current password", "password", "current-password")
      .. field(ctx, "new_password", "New password", "password", "new-password")
      .. field(ctx, "new_password_confirm", "Retype new password", "password", "new-password"), "Change password")
  end,
  confirm = function(ctx)
    return "Resend confirmation instructions",
      form(ctx, field(ctx, "email", "Email address", "email", "email"), "Resend") .. links(ctx)
  end,
  -- a mailed link's consent (views.lua ask_consent): whose account, and a
  -- button that posts; ctx.kind "login" or "confirm", ctx.email, and
  -- ctx.current: another account signed in here, which confirming ends
  link_consent = function(ctx)
    local who = "<strong>" .. escape(ctx.email or "") .. "</strong>"
    if ctx.kind == "login" then
      return "Sign in", "<p>Sign in as " .. who .. "?</p>" .. form(ctx, "", "Sign in")
    end
    local note = ctx.current and ("<p>You are signed in as <strong>" .. escape(ctx.current)
      .. "</strong>: confirming this address signs you out.</p>") or ""
    return "Confirm your email", "<p>Confirm the address " .. who .. "?</p>" .. note .. form(ctx, "", "Confirm")
  end,
  -- a browser's GET of a POST-only logout (views.lua): the sign-out
  -- button, a form posting the CSRF token; ctx.email, who is signed in
  logout = function(ctx)
    if not ctx.email then return "Sign out", "<p>You are not signed in.</p>" end
    return "Sign out", "<p>Signed in as <strong>" .. escape(ctx.email) .. "</strong>.</p>"
      .. form(ctx, "", "Sign out")
  end,
  -- a short answer as a page (a browser's 403): ctx.title, ctx.message
  message = function(ctx)
    return ctx.title, "<p>" .. escape(ctx.message) .. "</p>"
  end,
  verify = function(ctx)
    return "Please reauthenticate",
      form(ctx, field(ctx, "password", "Password", "password", "current-password"), "Continue")
  end,
}


-- A copy of ctx whose forms post to another action (a page with two forms).
local function with_action(ctx, action)
  local t = {}
  for k, v in pairs(ctx) do t[k] = v end
  t.action = action
  return t
end

-- The errors of a field the page draws itself (radios, say), as field does.
local function errors_of(ctx, name)
  local out = {}
  for _, e in ipairs(ctx.field_errors and ctx.field_errors[name] or {}) do
    out[#out + 1] = '<p class="error" role="alert">' .. escape(e) .. "</p>"
  end
  return concat(out)
end

-- the building blocks, for the pages of other modules (fsec.mfpages, fsec.uspages)
_M.field, _M.form, _M.links, _M.with_action, _M.errors_of = field, form, links, with_action, errors_of


--- Render a page: the application's renderer first, then the built-in.
function _M.render(sec, page, ctx)
  local custom = sec._cfg.render
  if custom then
    local ok, html = pcall(custom, page, ctx)
    if ok and type(html) == "string" then return html end
    if not ok then sec._log("error", "fsec: render hook failed for " .. page .. ": " .. tostring(html)) end
  end
  local title, body = _M.PAGES[page](ctx)
  return _M.layout(title, body, ctx.flashes, sec._cfg.post_logout_view)
end


--- Answer res with a page: status, the page's headers (no framing of a
-- page that takes a password: clickjacking) and the rendered body.
function _M.respond(sec, res, status, page, ctx)
  res.status = status
  res.headers["Content-Type"] = "text/html; charset=utf-8"
  if sec._cfg.page_security_headers then
    res.headers["X-Frame-Options"] = "DENY"
    res.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    res.headers["X-Content-Type-Options"] = "nosniff"
  end
  res.body = _M.render(sec, page, ctx)
  return res
end


return _M
