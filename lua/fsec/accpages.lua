--- The view models of account changes' pages (change email, recover and
-- change username), added to fsec.pages' set; their templates are
-- security/change_email.html, change_email_consent.html,
-- recover_username.html and change_username.html. An application's
-- `render` hook overrides them as any other page.
-- @module fsec.accpages

local pages = require "fsec.pages"
local i18n = require "fsec.i18n"

local field = pages.field

local _M = { _VERSION = "0.1.0" }

-- ctx.current_email: the account's address now
pages.PAGES.change_email = function(ctx, t)
  return { title = t.TITLE_CHANGE_EMAIL,
           current_html = i18n.html(t.TEXT_CURRENT_EMAIL, { email = ctx.current_email or "" }),
           email = field(ctx, "email", t.LABEL_NEW_EMAIL, "email", "email") }
end

-- a change-email link followed: ctx.email (new), ctx.current_email (old)
pages.PAGES.change_email_consent = function(ctx, t)
  return { title = t.TITLE_CHANGE_EMAIL_CONSENT, question_html = i18n.html(t.TEXT_CHANGE_EMAIL_CONSENT,
           { current = ctx.current_email or "", email = ctx.email or "" }) }
end

pages.PAGES.recover_username = function(ctx, t)
  return { title = t.TITLE_RECOVER_USERNAME, email = field(ctx, "email", t.LABEL_EMAIL, "email", "email") }
end

-- ctx.current_username: the account's username now (nil: none)
pages.PAGES.change_username = function(ctx, t)
  return { title = t.TITLE_CHANGE_USERNAME,
           current_html = ctx.current_username and i18n.html(t.TEXT_CURRENT_USERNAME,
                                                             { username = ctx.current_username })
             or i18n.html(t.TEXT_NO_USERNAME),
           username_field = field(ctx, "username", t.LABEL_NEW_USERNAME, "text", "username") }
end

return _M
