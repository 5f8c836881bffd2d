--- Change of email address, as Flask-Security-Too 5.5's: /change-email
-- (a signed-in, fresh user asks for a new address) and
-- /change-email/<token> (the link mailed to the new address confirms it).
--
-- The link's token names the user (fs_uniquifier), a digest of the old
-- address (folded as the store compares addresses) and the new address:
-- it dies when the account's address changes (another link used first),
-- when its uniquifier is rotated (password change or reset, deactivation,
-- reset_user_access), and after change_email_within. The new address
-- must still be free when the link is used; two accounts confirming the
-- same address at once meet at the store's unique key: one wins, the
-- other's link answers as an invalid one.
--
-- Sessions are kept, as Flask-Security-Too keeps them: the account is
-- the same, only its address moved (and the change needed a fresh
-- sign-in and the new address's mailbox). Links mailed to the old
-- address for confirmation or sign-in die with it (fsec.views binds them
-- to the address); the old address is told of the change.
--
-- Unlike Flask-Security-Too, following the link does not act on the GET
-- (unless one_click_links): a page asks first and its POST, with its CSRF
-- token, changes the address. Mail scanners fetch links, and an address
-- proven by a scanner's fetch is proven by nobody.
-- @module fsec.changeemail

local core = require "fsec.core"
local auth = require "fsec.auth"
local forms = require "fsec.forms"
local mail = require "fsec.mail"
local throttle = require "fsec.throttle"
local A = require "fsec.answer"
require "fsec.accpages"

local type = type

local _M = { _VERSION = "0.1.0" }

local PURPOSE = "change_email"

-- The old address as the store compares it, digested (the token holds
-- no address it was not asked to carry).
local function digest_of(email)
  return core.digest(core.fold_email(email) or email)
end

local function make_token(sec, user, new_email)
  return assert(sec:generate_token(PURPOSE, { u = user.fs_uniquifier, e = digest_of(user.email), n = new_email }))
end

--- What a link's token names: the user and the new address, or nil,
-- nil, "expired" | "invalid". An expired token is not looked further
-- into (as Flask-Security-Too); a valid one must name an active user
-- whose address is still the old one, and a new address nobody has.
function _M.read_token(sec, token)
  local expired, invalid, data = sec:get_token_status(token, PURPOSE, sec._cfg.change_email_within)
  if invalid or type(data) ~= "table" or type(data.u) ~= "string" or type(data.e) ~= "string"
     or type(data.n) ~= "string" then
    return nil, nil, "invalid"
  end
  if expired then return nil, nil, "expired" end
  local ds = sec.datastore
  local user = auth.check_store(ds:find_user{ fs_uniquifier = data.u })
  if not user or not user.active or digest_of(user.email) ~= data.e then return nil, nil, "invalid" end
  if auth.check_store(ds:find_user{ email = data.n }) then return nil, nil, "invalid" end
  return user, data.n
end

------------------------------------------------------------------------
-- Endpoints
------------------------------------------------------------------------

local V = {}
_M.handlers = V

local function answer_form(sec, req, res, json, user, form)
  if json then
    if form and not form:ok() then return A.json_error(res, form) end
    return A.json_ok(sec, req, res, { user = A.payload(sec, user, false), current_email = user.email })
  end
  return A.page(sec, req, res, "change_email", form, { current_email = user.email })
end

function V.change_email(sec, req, res, fields, json)
  local user = A.fresh_user(sec, req, res)
  if not user then return res end
  if req.method == "GET" then return answer_form(sec, req, res, json, user) end
  local cfg = sec._cfg
  local form = forms.new(sec, fields)
  local email = form:email()
  local generic = cfg.return_generic_responses
  -- every well-formed address counts against the mail limits, taken or
  -- not (the count is no oracle); over them: 429, or with generic
  -- responses the usual answer and no mail
  local allowed, wait = true, nil
  if email then allowed, wait = throttle.mail(sec, req, email) end
  if not allowed and not generic then return throttle.refuse(res, json, wait) end
  local taken = email and auth.check_store(sec.datastore:find_user{ email = email })
  if taken and not generic then form:error("email", "EMAIL_ALREADY_ASSOCIATED", { email = email }) end
  if not form:ok() then return answer_form(sec, req, res, json, user, form) end
  -- with generic responses a taken address answers as a free one, and
  -- nothing is sent (its owner is not pestered: Flask-Security-Too)
  if allowed and not taken then
    local base = mail.base_url(sec, req)
    local public = auth.public_user(user)
    A.later(sec, function()
      local link = base .. A.url(sec, "change_email_url", "/" .. make_token(sec, user, email))
      mail.deliver_kind_now(sec, "change_email_instructions", email, { email = email, current = user.email,
                            within = A.within_text(cfg.change_email_within, sec), link = link })
      sec.signals:send("change_email_instructions_sent", { user = public, new_email = email })
    end)
  end
  if json then return answer_form(sec, req, res, json, user) end
  A.flash(sec, req, res, "success", "CHANGE_EMAIL_SENT", { email = email })
  return res:redirect(A.url(sec, "change_email_url"))
end

-- A bad or expired link: JSON 400, a browser to change_email_error_view
-- (or the form) with the message flashed.
local function refuse_link(sec, req, res, json, why)
  local cfg = sec._cfg
  local key, vars = "API_ERROR", nil
  if why == "expired" then
    key, vars = "CHANGE_EMAIL_EXPIRED", { within = A.within_text(cfg.change_email_within, sec) }
  end
  if json then return res:json(400, { errors = { sec.msg(key, vars) } }) end
  A.flash(sec, req, res, "error", key, vars)
  return res:redirect(cfg.change_email_error_view or A.url(sec, "change_email_url"))
end

-- The move, once, from the address the link was read with: true, or
-- false when the address moved meanwhile or the new one was taken (the
-- store's unique key decides that race). Any other failure raises.
-- Found by an
-- attack review on PostgreSQL: the link was checked, then written, so one
-- link posted at once moved the account several times (a notice each),
-- and two links (to X and to Y) both applied. One compare-and-set of the
-- address decides, on any node (it cannot run in a transaction under
-- nginx on PostgreSQL, whose writes answer only with the commit); the
-- confirmation time follows it.
local function move(sec, user, old_email, new_email)
  local ds = sec.datastore
  local swapped, err, code = auth.check_store(ds:swap_text(user, "email", old_email, new_email))
  if swapped == nil then
    if code == "EEXIST" then return false end
    error(err, 0)
  end
  if not swapped then return false end
  auth.check_store(ds:set_confirmed_at(user, A.now(sec)))
  require("fsec.unified").renew_email(sec, user)
  return true
end

function V.change_email_token(sec, req, res, _, json, token)
  local cfg = sec._cfg
  local user, new_email, why = _M.read_token(sec, token)
  if not user then return refuse_link(sec, req, res, json, why) end
  if req.method == "GET" and not cfg.one_click_links then
    -- consent first: the page's POST (with its CSRF token) changes it
    if json then return A.json_ok(sec, req, res, { consent_required = true, email = new_email }) end
    return A.page(sec, req, res, "change_email_consent", nil, { email = new_email, current_email = user.email })
  end
  local old_email = user.email
  if not move(sec, user, old_email, new_email) then return refuse_link(sec, req, res, json, "invalid") end
  sec.signals:send("change_email_confirmed", { user = auth.public_user(user), old_email = old_email })
  -- the old address hears of it: it no longer receives this account's
  -- reset links, and someone with a fresh session could have done this
  mail.send_kind(sec, "change_email_notice", old_email, { old = old_email, new = new_email })
  if json then return A.json_ok(sec, req, res, {}) end
  A.flash(sec, req, res, "success", "CHANGE_EMAIL_CONFIRMED")
  return res:redirect(cfg.post_change_email_view or cfg.post_login_view)
end

return _M
