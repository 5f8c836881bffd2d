--- The view models of the WebAuthn pages (wan_register, wan_signin,
-- wan_verify), added to fsec.pages' set; their templates are
-- security/wan_register.html, wan_signin.html and wan_verify.html. A
-- ceremony's page (options_json set) is drawn by
-- security/_wan_ceremony.html, which fsec's script drives.
-- @module fsec.wanpages

local pages = require "fsec.pages"
local format = require("fsec.messages").format

local ipairs = ipairs
local type = type

local field = pages.field

local _M = { _VERSION = "0.1.0" }

local function usage_label(t, u) return t["WAN_USAGE_" .. u:upper()] or u end

pages.PAGES.wan_register = function(ctx, t)
  local creds = {}
  for i, c in ipairs(ctx.credentials or {}) do
    local last = type(c.lastuse) == "string" and c.lastuse:gsub("T", " ") or "-"
    creds[i] = { name = c.name, text = format(t.TEXT_WAN_KEY, { name = c.name, usage = usage_label(t, c.usage),
                                                                lastuse = last }) }
  end
  local usages = ctx.usages or {}
  local checked = ctx.fields and ctx.fields.usage or usages[1]
  return {
    title = t.TITLE_WAN_REGISTER, wan_kind = "create",
    credentials = creds, has_credentials = #creds > 0,
    name = field(ctx, "name", t.LABEL_WAN_NAME, "text", "off"),
    usage_options = pages.options(t, usages, "WAN_USAGE_", checked), has_usages = #usages > 1,
    usage_errors = pages.errors_of(ctx, "usage"),
  }
end

pages.PAGES.wan_signin = function(ctx, t)
  return { title = t.TITLE_WAN_SIGNIN, wan_kind = "get",
           identity = (ctx.hints and not ctx.is_secondary) and field(ctx, "identity", t.LABEL_IDENTITY, "text",
                                                                     "username webauthn") or false }
end

pages.PAGES.wan_verify = function(_, t)
  return { title = t.TITLE_VERIFY, wan_kind = "get" }
end

return _M
