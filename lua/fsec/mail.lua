--- Mail: the messages Flask-Security sends, and a development mailer.
-- A message is { to, from, subject, text, html, kind, link, lang }. The
-- application sends it with `send_mail` (a function); without one, and
-- with `mail_server` set, it is queued in the store's outbox and sent over
-- SMTP by a drainer (fsec.outbox, docs/mail.md); with neither, each
-- message is written to `mail_dir` as a .eml file (a person trying the
-- demo, and the tests, read them there). Flask-Security's send_*_email
-- switches leave their kinds of mail out.
-- @module fsec.mail

local http = require "fsec.http"
local core = require "fsec.core"
local i18n = require "fsec.i18n"
local metrics = require "fsec.metrics"
local outbox = require "fsec.outbox"

local format = string.format


local _M = { _VERSION = "0.1.0" }

-- Each kind of mail: its template (security/email/<base>.txt and .html,
-- fsec.templates), its texts' catalogue keys (intro before the link,
-- outro after it) and its subject (the setting, and the catalogue key
-- of its default).
local KINDS = {
  welcome = { "welcome", "MAIL_WELCOME", nil, "email_subject_register", "SUBJECT_REGISTER" },
  welcome_confirm = { "welcome", "MAIL_WELCOME_CONFIRM", nil, "email_subject_register", "SUBJECT_REGISTER" },
  -- to the owner of an address someone tried to register again (generic
  -- responses: the page said nothing, the owner is told here)
  welcome_existing = { "welcome_existing", "MAIL_WELCOME_EXISTING", "MAIL_WELCOME_EXISTING_OUTRO",
                       "email_subject_register", "SUBJECT_REGISTER" },
  -- a new address with a username another account has (generic
  -- responses: the page said nothing about the username)
  welcome_existing_username = { "welcome_existing_username", "MAIL_WELCOME_EXISTING_USERNAME", nil,
                                "email_subject_register", "SUBJECT_REGISTER" },
  confirm = { "confirmation_instructions", "MAIL_CONFIRM", nil, "email_subject_confirm", "SUBJECT_CONFIRM" },
  reset = { "reset_instructions", "MAIL_RESET", nil, "email_subject_password_reset", "SUBJECT_PASSWORD_RESET" },
  reset_notice = { "reset_notice", "MAIL_RESET_NOTICE", nil, "email_subject_password_notice",
                   "SUBJECT_PASSWORD_NOTICE" },
  change_notice = { "change_notice", "MAIL_CHANGE_NOTICE", nil, "email_subject_password_change_notice",
                    "SUBJECT_PASSWORD_CHANGE_NOTICE" },
  login = { "login_instructions", "MAIL_LOGIN", nil, "email_subject_passwordless", "SUBJECT_PASSWORDLESS" },
  two_factor_instructions = { "two_factor_instructions", "MAIL_CODE", nil, "email_subject_two_factor",
                              "SUBJECT_TWO_FACTOR" },
  us_instructions = { "us_instructions", "MAIL_CODE", nil, "us_email_subject", "SUBJECT_US" },
  two_factor_rescue = { "two_factor_rescue", "MAIL_RESCUE", nil, "email_subject_two_factor_rescue",
                        "SUBJECT_TWO_FACTOR_RESCUE" },
  username_recovery = { "username_recovery", "MAIL_USERNAME_RECOVERY", "MAIL_USERNAME_RECOVERY_OUTRO",
                        "email_subject_username_recovery", "SUBJECT_USERNAME_RECOVERY" },
  username_change_notice = { "username_change_notice", "MAIL_USERNAME_CHANGE", "MAIL_USERNAME_CHANGE_OUTRO",
                             "email_subject_username_change_notice", "SUBJECT_USERNAME_CHANGE_NOTICE" },
  change_email_instructions = { "change_email_instructions", "MAIL_CHANGE_EMAIL", "MAIL_CHANGE_EMAIL_OUTRO",
                                "change_email_subject", "SUBJECT_CHANGE_EMAIL" },
  change_email_notice = { "change_email_notice", "MAIL_CHANGE_EMAIL_NOTICE", "MAIL_CHANGE_EMAIL_NOTICE_OUTRO",
                          "email_subject_change_email_notice", "SUBJECT_CHANGE_EMAIL_NOTICE" },
}
_M.KINDS = KINDS

-- The subject: the application's setting when it changed it, else the
-- catalogue's text (the setting's default, translated).
local function subject_of(sec, lang, cfg_key, text_key)
  local v = sec._cfg[cfg_key]
  local default = require("fsec.config").schema[cfg_key].default
  if v ~= nil and v ~= default then return v end
  return i18n.text(sec, lang, text_key)
end

-- The paragraphs of a text (blank lines between), for the HTML body.
local function paragraphs(text)
  local out = {}
  for p in (text .. "\n\n"):gmatch("(.-)\n\n+") do
    if p ~= "" then out[#out + 1] = p end
  end
  return out
end

--- A mail's subject, text and HTML bodies, from its templates in lang
-- (nil: the current request's language, else the default). kind: one of
-- KINDS; vars: the texts' placeholders (email, link, code, within,
-- username, old, new, current, method). The bodies are the templates
-- security/email/<base>.txt and .html (an application overrides them
-- as any template); the link (vars.link) follows the intro text.
function _M.compose(sec, kind, vars, lang)
  local k = assert(KINDS[kind], "unknown mail kind")
  lang = lang or i18n.current() or i18n.default(sec)
  local intro = i18n.text(sec, lang, k[2], vars)
  if kind == "us_instructions" and vars.link then intro = intro .. "\n\n" .. i18n.text(sec, lang, "MAIL_CODE_LINK") end
  local outro = k[3] and i18n.text(sec, lang, k[3], vars) or false
  local subject = subject_of(sec, lang, k[4], k[5])
  local model = { intro = intro, outro = outro, link = vars.link or false, subject = subject, lang = lang,
                  paragraphs = paragraphs(intro), vars = vars, kind = kind, t = i18n.texts(sec, lang) }
  local set = require("fsec.pages").templates(sec)
  local base = "security/email/" .. k[1]
  return subject, set:render(base .. ".txt", model), set:render(base .. ".html", model)
end

-- "5 minutes" in a language.
local function minutes(sec, lang, seconds)
  local m = math.floor(seconds / 60)
  if m == 1 then return i18n.text(sec, lang, "MINUTE_ONE") end
  return i18n.text(sec, lang, "MINUTES", { n = m })
end


--- scheme://host of links in mail.
function _M.base_url(sec, req)
  if sec._cfg.external_url then return sec._cfg.external_url end
  return (req.scheme == "https" and "https" or "http") .. "://" .. (req.host or "localhost")
end


local html_escape = http.html_escape


-- The development mailer's file names: the time first (they sort by
-- time), this process's count, then a random id, so that processes
-- writing at the same second (nginx workers, which all start from the
-- same count) never pick the same name.
-- Messages hold reset and sign-in links: each file is created 0600 and
-- the folder 0700 whatever the umask (core.create_private_file, which
-- also never writes over a name that exists or through a planted link).
local counter = 0

local function message_text(msg)
  return table.concat{ "From: ", msg.from, "\nTo: ", msg.to, "\nSubject: ", msg.subject,
                       "\nX-Fsec-Kind: ", msg.kind, "\n",
                       msg.link and ("X-Fsec-Link: " .. msg.link .. "\n") or "",
                       "Content-Type: text/plain; charset=utf-8\n\n", msg.text }
end

local function write_file(sec, msg)
  local dir = sec._cfg.mail_dir
  if type(dir) ~= "string" or dir == "" or dir:find("\0", 1, true) then
    return nil, "mail_dir must name a folder (not empty, no NUL byte)"
  end
  -- every time (one mkdir call): a folder removed while running comes back
  local made, err = core.make_private_dir(dir)
  if not made then return nil, err end
  local text = message_text(msg)
  counter = counter + 1
  for _ = 1, 8 do -- a name taken already (a copied folder, say) is never written over
    local name = format("%s/%d-%05d-%s-%s.eml", dir, os.time(), counter, core.random_id(16):sub(1, 12), msg.kind)
    local ok, code
    ok, err, code = core.create_private_file(name, text)
    if ok then return name end
    if code ~= "EEXIST" then return nil, err end
  end
  return nil, "no free file name in " .. dir
end


-- Flask-Security's switches: a kind whose switch is off is not sent.
local SWITCHES = {
  welcome = "send_register_email", welcome_confirm = "send_register_email",
  welcome_existing = "send_register_email", welcome_existing_username = "send_register_email",
  reset = "send_password_reset_email", reset_notice = "send_password_reset_notice_email",
  change_notice = "send_password_change_email",
}

local function switched_off(sec, kind)
  local key = SWITCHES[kind]
  return key ~= nil and sec._cfg[key] == false
end

-- email_html / email_plaintext false: that part is left out.
local function parts(sec, msg)
  local c = sec._cfg
  if c.email_html == false then msg.html = nil end
  if c.email_plaintext == false and msg.html then msg.text = nil end
  return msg
end

-- The outbox takes the message: an SMTP server is configured and the
-- application gave no send_mail of its own.
local function queued(sec)
  return sec._cfg.mail_server ~= nil and not sec._cfg.send_mail
end

--- Does mail go through the outbox (mail_server set, no send_mail)? Then
-- a view queues it inside its own transaction (the change and its
-- notice commit together, or neither does).
_M.queues = queued

-- Hand a message to the application's send_mail, the outbox or the
-- development mailer; a failure is logged.
local function deliver(sec, msg)
  local send = sec._cfg.send_mail
  local ok, err
  if send then
    ok, err = pcall(send, parts(sec, msg))
  elseif sec._cfg.mail_server then
    ok, err = outbox.queue(sec.datastore, parts(sec, msg), (sec._clock or os.time)())
  else
    ok, err = write_file(sec, msg)
  end
  if not ok then sec._log("error", "fsec: sending " .. msg.kind .. " mail failed: " .. tostring(err)) end
  -- through the outbox a message is only queued here: the drain counts
  -- what was sent (count_drain)
  local outcome = not ok and "failed" or (send == nil and sec._cfg.mail_server and "queued") or "sent"
  metrics.inc("fsec_mails_total", { kind = msg.kind, outcome = outcome })
  return ok and true or false
end


-- email_sender, or Flask-Mail's mail_default_sender when email_sender
-- is left at its default (as Flask-Security's EMAIL_SENDER falls back).
local function sender(sec)
  local c = sec._cfg
  if c.mail_default_sender and c.email_sender == "no-reply@localhost" then return c.mail_default_sender end
  return c.email_sender
end

-- A message of a kind to an address, composed now (in the language of
-- the request sending it): { to, from, subject, text, html, kind, link,
-- lang }.
local function composed(sec, kind, to, vars)
  local lang = i18n.current() or i18n.default(sec)
  local subject, text, html = _M.compose(sec, kind, vars, lang)
  return { to = to, from = sender(sec), subject = subject, kind = kind, link = vars.link,
           text = text, html = html, lang = lang }
end

-- Hand msg to the mailer after the response where the adapter defers
-- work (sec:set_deferrer), else now. A queued message is one insert:
-- now, in the caller's transaction if any.
local function send_later(sec, msg)
  local defer = sec._defer
  if defer and not queued(sec) then
    defer(function() return deliver(sec, msg) end)
    return true
  end
  return deliver(sec, msg)
end

-- The message of a kind for a user: its link, and the user's address
-- (the welcome mails greet it).
local function message(sec, kind, user, link)
  return composed(sec, kind, user.email, { email = user.email, link = link })
end


--- Send one of fsec's messages to a user. A failure of the mailer is
-- logged, never shown to the client (catalogue E-05). Where the adapter
-- defers work (sec:set_deferrer; fsec.openresty: a timer), the mailer
-- runs after the response: it never holds up an answer.
function _M.send(sec, kind, user, link)
  if switched_off(sec, kind) then return true end
  return send_later(sec, message(sec, kind, user, link))
end


--- The same, now (for work that is already deferred).
function _M.deliver_now(sec, kind, user, link)
  if switched_off(sec, kind) then return true end
  return deliver(sec, message(sec, kind, user, link))
end


--- Send a mail of a kind (KINDS) to an address with its texts' vars
-- (vars.link: its link), as _M.send does.
function _M.send_kind(sec, kind, to, vars)
  return send_later(sec, composed(sec, kind, to, vars))
end

--- The same, now (for work that is already deferred).
function _M.deliver_kind_now(sec, kind, to, vars)
  return deliver(sec, composed(sec, kind, to, vars))
end


-- A message of the caller's text to an address, with its link (if any)
-- as the X-Fsec-Link header and an anchor in the HTML part.
local function text_message(sec, kind, to, subject, text, link)
  return { to = to, from = sender(sec), subject = subject, kind = kind, text = text, link = link,
           html = "<p>" .. html_escape(text):gsub("\n", "<br>\n") .. "</p>"
             .. (link and ('<p><a href="' .. html_escape(link) .. '">' .. html_escape(link) .. "</a></p>") or "") }
end

--- Send a message of the caller's text to an address, now (for an
-- application's own mail; fsec's own go through templates).
function _M.deliver_text_now(sec, kind, to, subject, text, link)
  return deliver(sec, text_message(sec, kind, to, subject, text, link))
end

--- Send a message of the caller's text to an address, as _M.send does
-- (after the response where the adapter defers work).
function _M.send_text(sec, kind, to, subject, text)
  return send_later(sec, text_message(sec, kind, to, subject, text))
end

--- Mail a one-time code (two-factor, unified sign-in): kind names the
-- message ("two_factor_instructions", "us_instructions"), validity the
-- seconds it is accepted for; link, when given, signs in by itself
-- (unified sign-in's magic link).
function _M.send_code(sec, kind, user, code, validity, link)
  local lang = i18n.current() or i18n.default(sec)
  return _M.send_kind(sec, kind, user.email, { email = user.email, code = code, link = link,
                                               within = minutes(sec, lang, validity) })
end

--- Mail the administrator (two_factor_rescue_mail) that a user cannot
-- give their second factor.
function _M.send_rescue(sec, to, user)
  return _M.send_kind(sec, "two_factor_rescue", to, { email = user.email, method = tostring(user.tf_primary_method) })
end

--- Send a code by SMS through the application's send_sms(message),
-- message = { to, text, code, kind, user }; without one, the development
-- sender writes it to the mailbox (mail_dir) as a message to the phone
-- number. A failure is logged, never shown (the answer is the same).
function _M.send_sms(sec, user, to, code, kind)
  local text = i18n.text(sec, i18n.current() or i18n.default(sec), "SMS_CODE", { code = code })
  local send = sec._cfg.send_sms
  local function go()
    local ok, err
    if send then
      ok, err = pcall(send, { to = to, text = text, code = code, kind = kind, user = user })
    else
      ok, err = write_file(sec, { to = to, from = "sms", subject = "SMS", kind = "sms", text = text .. "\n" })
    end
    if not ok then sec._log("error", "fsec: sending an SMS failed: " .. tostring(err)) end
    return ok and true or false
  end
  if sec._defer then
    sec._defer(go)
    return true
  end
  return go()
end


--- Send the outbox's due mail now (cron, `fsec mail drain`, tests):
-- { sent, retried, given_up }, or nil and why. Blocks on the SMTP server:
-- under nginx the workers drain from a thread instead (fsec.openresty).
--- Count a drain's outcome in fsec_mails_total (kind "outbox": the
-- drain sees messages, not their kinds).
function _M.count_drain(sent, retried, given_up)
  local function add(outcome, n)
    if type(n) == "number" and n > 0 then metrics.inc("fsec_mails_total", { kind = "outbox", outcome = outcome }, n) end
  end
  add("sent", sent); add("retried", retried); add("given_up", given_up)
end

function _M.drain(sec)
  if not sec._cfg.mail_server then return nil, "mail_server is not set: there is no outbox to drain" end
  local stats, err = outbox.drain(sec.datastore, sec._cfg, { log = sec._log, clock = sec._clock })
  if stats then _M.count_drain(stats.sent, stats.retried, stats.given_up) end
  return stats, err
end


-- kept for callers of fsec.mail.html_escape: it lives in fsec.http
_M.html_escape = html_escape
_M.quote = http.quote_value

return _M
