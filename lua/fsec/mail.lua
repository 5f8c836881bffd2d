--- Mail: the messages Flask-Security sends, and a development mailer.
-- A message is { to, from, subject, text, html, kind, link }. The
-- application sends it with `send_mail` (a function); without one, each
-- message is written to `mail_dir` as a .eml file (a person trying the
-- demo, and the tests, read them there).
-- @module fsec.mail

local http = require "fsec.http"
local core = require "fsec.core"

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


-- Hand a message to the application's send_mail or the development
-- mailer; a failure is logged.
local function deliver(sec, msg)
  local send = sec._cfg.send_mail
  local ok, err
  if send then
    ok, err = pcall(send, msg)
  else
    ok, err = write_file(sec, msg)
  end
  if not ok then sec._log("error", "fsec: sending " .. msg.kind .. " mail failed: " .. tostring(err)) end
  return ok and true or false
end


-- The message of a kind for a user.
local function message(sec, kind, user, link)
  local text = format(TEMPLATES[kind], kind:find("^welcome") and user.email or link or "", link or "")
  local msg = {
    to = user.email, from = sec._cfg.email_sender,
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
  local msg = message(sec, kind, user, link)
  local defer = sec._defer
  if defer then
    defer(function() return deliver(sec, msg) end)
    return true
  end
  return deliver(sec, msg)
end


--- The same, now (for work that is already deferred).
function _M.deliver_now(sec, kind, user, link)
  return deliver(sec, message(sec, kind, user, link))
end


-- kept for callers of fsec.mail.html_escape: it lives in fsec.http
_M.html_escape = html_escape
_M.quote = http.quote_value

return _M
