--- The HTML pages of account changes (change email, recover and change
-- username), added to fsec.pages' set; an application's `render` hook
-- overrides them as any other page (page names: change_email,
-- change_email_consent, recover_username, change_username).
-- @module fsec.accpages

local pages = require "fsec.pages"
local escape = require("fsec.http").html_escape

local field, form = pages.field, pages.form

local _M = { _VERSION = "0.1.0" }

local function strong(s) return "<strong>" .. escape(s or "") .. "</strong>" end

-- ctx.current_email: the account's address now
pages.PAGES.change_email = function(ctx)
  return "Change email address", "<p>Your email address is " .. strong(ctx.current_email) .. ".</p>"
    .. form(ctx, field(ctx, "email", "New email address", "email", "email"), "Send a confirmation link")
end

-- a change-email link followed: ctx.email (new), ctx.current_email (old)
pages.PAGES.change_email_consent = function(ctx)
  return "Confirm your new email address", "<p>Change the email address of the account "
    .. strong(ctx.current_email) .. " to " .. strong(ctx.email) .. "?</p>" .. form(ctx, "", "Confirm")
end

pages.PAGES.recover_username = function(ctx)
  return "Recover your username",
    form(ctx, field(ctx, "email", "Email address", "email", "email"), "Send me my username")
end

-- ctx.current_username: the account's username now (nil: none)
pages.PAGES.change_username = function(ctx)
  local now = ctx.current_username and ("<p>Your username is " .. strong(ctx.current_username) .. ".</p>")
    or "<p>Your account has no username yet.</p>"
  return "Change username", now .. form(ctx, field(ctx, "username", "New username", "text", "username"),
                                        "Change username")
end

return _M
