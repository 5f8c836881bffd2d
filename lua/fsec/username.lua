--- Usernames, as Flask-Security-Too 5.6's: /recover-username (mail an
-- account's username to its address) and /change-username (a signed-in,
-- fresh user picks another). Both need username_enable.
--
-- /recover-username gives one answer whether or not the address has an
-- account (Flask-Security-Too answers USER_DOES_NOT_EXIST and the like
-- unless RETURN_GENERIC_RESPONSES; fsec never tells: the message itself
-- says "if registered"). The account is looked up after the answer
-- (fsec.answer.later), so a known and an unknown address cost the
-- request the same work; its mail is metered as /reset's is.
--
-- /change-username checks the new name as registration does
-- (fsec.forms' username) and leaves its uniqueness to the store's
-- case-insensitive key: of two accounts taking one name at once, one
-- gets it, the other is told it is taken.
-- @module fsec.username

local auth = require "fsec.auth"
local forms = require "fsec.forms"
local mail = require "fsec.mail"
local i18n = require "fsec.i18n"
local throttle = require "fsec.throttle"
local datastore = require "fsec.datastore"
local A = require "fsec.answer"
require "fsec.accpages"

local type = type

local _M = { _VERSION = "0.1.0" }

local V = {}
_M.handlers = V

-- Whether a recovery mail goes to this account: active, with a username,
-- and confirmed where confirmation is required (as Flask-Security-Too
-- refuses the others, but silently here).
local function may_recover(sec, user)
  return user.active and type(user.username) == "string" and not auth.requires_confirmation(sec, user)
end

local function send_username(sec, user)
  mail.deliver_kind_now(sec, "username_recovery", user.email, { username = user.username })
  sec.signals:send("username_recovery_email_sent", { user = auth.public_user(user) })
end

function V.recover_username(sec, req, res, fields, json)
  if A.signed_in(sec, req, res) then return A.anonymous_required(sec, res, json) end
  if req.method == "GET" then
    if json then return A.json_ok(sec, req, res) end
    return A.page(sec, req, res, "recover_username", nil, {})
  end
  local form = forms.new(sec, fields)
  local email = form:email()
  if not form:ok() then
    if json then return A.json_error(res, form) end
    return A.page(sec, req, res, "recover_username", form, {})
  end
  -- counted for every well-formed address (known or not: no oracle);
  -- over the limits: 429, or with generic responses the usual answer
  local allowed, wait = throttle.mail(sec, req, email)
  if not allowed and not sec._cfg.return_generic_responses then return throttle.refuse(res, json, wait) end
  if allowed then
    -- the account is found after the answer: the same work for any address
    A.later(sec, function()
      local ok, user = pcall(function() return auth.check_store(sec.datastore:find_user{ email = email }) end)
      if not ok then return sec._log("error", "fsec: username not sent: " .. tostring(user)) end
      if user and may_recover(sec, user) then send_username(sec, user) end
    end)
  end
  if json then return A.json_ok(sec, req, res) end
  A.flash(sec, req, res, "info", "USERNAME_RECOVERY_REQUEST")
  return res:redirect(A.url(sec, "login_url"))
end

local function answer_form(sec, req, res, json, user, form)
  if json then
    if form and not form:ok() then return A.json_error(res, form) end
    return A.json_ok(sec, req, res, { user = A.payload(sec, user, false), current_username = user.username })
  end
  return A.page(sec, req, res, "change_username", form, { current_username = user.username })
end

-- Store the name: true, or false when another account has it (the
-- store's unique key decides a race). Any other failure raises.
local function rename(sec, user, name)
  local ok, err = A.write_all(sec, function()
    datastore.must(sec.datastore:set_username(user, name))
  end)
  if ok then return true end
  if type(err) == "string" and err:find("^EEXIST") then return false end
  error(err, 0)
end

function V.change_username(sec, req, res, fields, json)
  local user = A.fresh_user(sec, req, res)
  if not user then return res end
  if req.method == "GET" then return answer_form(sec, req, res, json, user) end
  local cfg = sec._cfg
  local form = forms.new(sec, fields)
  local name = form:username("username", true)
  local other = name and auth.check_store(sec.datastore:find_user{ username = name })
  -- the account's own name in another case or form is a rename, not a clash
  if other and other.id ~= user.id then
    form:error("username", "USERNAME_ALREADY_ASSOCIATED", { username = name })
  end
  local old = user.username
  if form:ok() and not rename(sec, user, name) then
    form:error("username", "USERNAME_ALREADY_ASSOCIATED", { username = name })
  end
  if not form:ok() then return answer_form(sec, req, res, json, user, form) end
  sec.signals:send("username_changed", { user = auth.public_user(user), old_username = old })
  if cfg.send_username_change_email then
    local none = i18n.text(sec, i18n.current() or i18n.default(sec), "NONE")
    mail.send_kind(sec, "username_change_notice", user.email, { old = old or none, new = name })
  end
  if json then return A.json_ok(sec, req, res, { user = A.payload(sec, user, false) }) end
  A.flash(sec, req, res, "success", "USERNAME_CHANGE")
  return res:redirect(cfg.post_change_username_view or cfg.post_login_view)
end

return _M
