--- Mail: the messages Flask-Security sends, and a development mailer.
-- A message is { to, from, subject, text, html, kind, link }. The
-- application sends it with `send_mail` (a function); without one, and
-- with `mail_server` set, it is queued in the store's outbox and sent over
-- SMTP by a drainer (fsec.outbox, docs/mail.md); with neither, each
-- message is written to `mail_dir` as a .eml file (a person trying the
-- demo, and the tests, read them there). Flask-Security's send_*_email
-- switches leave their kinds of mail out.
-- @module fsec.mail

local http = require "fsec.http"
local core = require "fsec.core"
local metrics = require "fsec.metrics"
local outbox = require "fsec.outbox"

local format = string.format


local _M = { _VERSION = "0.1.0" }

local TEMPLATES = {
  welcome = "Welcome %s!\n\nYou can sign in at:\n%s\n",
  welcome_confirm = "Welcome %s!\n\nPlease confirm your email through the link below:\n%s\n",
  -- to the owner of an address someone tried to register again (generic
  -- responses: the page said nothing, the owner is told here)
  welcome_existing = "Hello %s,\n\nSomeone (you, we hope) tried to register an account with this"
    .. " email address, which already has one. If that was you and you forgot your password,"
    .. " you can sign in or reset it from:\n%s\n\nIf it was not you, you can ignore this message.\n",
  -- a new address with a username another account has (generic
  -- responses: the page said nothing about the username)
  welcome_existing_username = "Hello %s,\n\nYou tried to register with a username that another"
    .. " account already has. Please register again with a different username:\n%s\n",
  confirm = "Please confirm your email through the link below:\n%s\n",
  reset = "Click the link below to reset your password:\n%s\n",
  reset_notice = "Your password has been reset.\n",
  change_notice = "Your password has been changed.\n\nIf you did not change your password, reset it at:\n%s\n",
  login = "You can sign in through the link below:\n%s\n",
}

local SUBJECTS = {
  welcome = "email_subject_register", welcome_confirm = "email_subject_register",
  welcome_existing = "email_subject_register", welcome_existing_username = "email_subject_register",
  confirm = "email_subject_confirm", reset = "email_subject_password_reset",
  reset_notice = "email_subject_password_notice",
  change_notice = "email_subject_password_change_notice",
  login = "email_subject_passwordless",
}


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


-- The message of a kind for a user.
-- email_sender, or Flask-Mail's mail_default_sender when email_sender
-- is left at its default (as Flask-Security's EMAIL_SENDER falls back).
local function sender(sec)
  local c = sec._cfg
  if c.mail_default_sender and c.email_sender == "no-reply@localhost" then return c.mail_default_sender end
  return c.email_sender
end

local function message(sec, kind, user, link)
  local text = format(TEMPLATES[kind], kind:find("^welcome") and user.email or link or "", link or "")
  local msg = {
    to = user.email, from = sender(sec),
    subject = sec._cfg[SUBJECTS[kind]], kind = kind, link = link, text = text,
    html = "<p>" .. html_escape(text):gsub("\n", "<br>\n")
      .. (link and ('<p><a href="' .. html_escape(link) .. '">' .. html_escape(link) .. "</a></p>") or "") .. "</p>",
  }
  return msg
end


--- Send one of fsec's messages to a user. A failure of the mailer is
-- logged, never shown to the client (catalogue E-05). Where the adapter
-- defers work (sec:set_deferrer; fsec.openresty: a timer), the mailer
-- runs after the response: it never holds up an answer.
function _M.send(sec, kind, user, link)
  if switched_off(sec, kind) then return true end
  local msg = message(sec, kind, user, link)
  local defer = sec._defer
  -- a queued message is one insert: now, in the caller's transaction if any
  if defer and not queued(sec) then
    defer(function() return deliver(sec, msg) end)
    return true
  end
  return deliver(sec, msg)
end


--- The same, now (for work that is already deferred).
function _M.deliver_now(sec, kind, user, link)
  if switched_off(sec, kind) then return true end
  return deliver(sec, message(sec, kind, user, link))
end


-- A message of fsec's own text to an address, with its link (if any)
-- as the X-Fsec-Link header and an anchor in the HTML part.
local function text_message(sec, kind, to, subject, text, link)
  return { to = to, from = sender(sec), subject = subject, kind = kind, text = text, link = link,
           html = "<p>" .. html_escape(text):gsub("\n", "<br>\n") .. "</p>"
             .. (link and ('<p><a href="' .. html_escape(link) .. '">' .. html_escape(link) .. "</a></p>") or "") }
end

--- Send a message of the caller's text to an address, now (for work
-- that is already deferred, as fsec.changeemail's link).
function _M.deliver_text_now(sec, kind, to, subject, text, link)
  return deliver(sec, text_message(sec, kind, to, subject, text, link))
end

-- A message of fsec's own text (codes, rescue), sent as _M.send does.
local function send_text(sec, kind, to, subject, text)
  local msg = text_message(sec, kind, to, subject, text)
  local defer = sec._defer
  if defer and not queued(sec) then
    defer(function() return deliver(sec, msg) end)
    return true
  end
  return deliver(sec, msg)
end

local function minutes(seconds)
  local m = math.floor(seconds / 60)
  return m == 1 and "1 minute" or (m .. " minutes")
end

--- Mail a one-time code (two-factor, unified sign-in): kind names the
-- message ("two_factor_instructions", "us_instructions"), validity the
-- seconds it is accepted for; link, when given, signs in by itself
-- (unified sign-in's magic link).
function _M.send_code(sec, kind, user, code, validity, link)
  local subject = kind == "us_instructions" and sec._cfg.us_email_subject or sec._cfg.email_subject_two_factor
  local text = format("Hello %s,\n\nYour sign-in code is: %s\n\nIt can be used once, within %s.\n",
                      user.email, code, minutes(validity))
  if link then text = text .. "\nOr sign in through this link:\n" .. link .. "\n" end
  return send_text(sec, kind, user.email, subject, text)
end

--- Mail the administrator (two_factor_rescue_mail) that a user cannot
-- give their second factor.
function _M.send_rescue(sec, to, user)
  local text = format("The user %s cannot sign in with their second factor (%s) and asks for help.\n",
                      user.email, tostring(user.tf_primary_method))
  return send_text(sec, "two_factor_rescue", to, sec._cfg.email_subject_two_factor_rescue, text)
end

--- Send a message of the caller's text to an address, as _M.send does
-- (after the response where the adapter defers work).
function _M.send_text(sec, kind, to, subject, text)
  return send_text(sec, kind, to, subject, text)
end

--- Send a code by SMS through the application's send_sms(message),
-- message = { to, text, code, kind, user }; without one, the development
-- sender writes it to the mailbox (mail_dir) as a message to the phone
-- number. A failure is logged, never shown (the answer is the same).
function _M.send_sms(sec, user, to, code, kind)
  local text = format("Your sign-in code is: %s", code)
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
