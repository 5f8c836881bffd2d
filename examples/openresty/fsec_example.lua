--- The fsec example app for OpenResty: pages around fsec's endpoints, a
-- custom auth flow written as hooks (a login deny list, an audit log),
-- and a development mailbox at /mail (off unless FSEC_DEV_MAILBOX=1:
-- dev_mailbox.lua says why and how it is fenced).
local fsec_or = require "fsec.openresty"
local mailbox = require "dev_mailbox"
local escape = require("fsec.http").html_escape
local pages = require "fsec.pages"
local http = require "fsec.http"
local cjson = require "cjson.safe"

local _M = {}
local PREFIX
local MAIL_DIR -- the mail folder (config reads it: workers see no environment)
local VERIFY_LOG
local BLOCK_FILE
local METRICS_ALLOW -- nil: loopback only (fsec.openresty.metrics)


--- Where the app keeps its data, under prefix unless the environment
-- names another place: several nodes of the app (scripts/run-cluster.sh)
-- share one database (FSEC_DATABASE: a file, or a postgresql:// URI),
-- one folder of secrets (FSEC_SECRETS_DIR: secret_key, password_salt and
-- admin-password.txt, which bootstrap.lua makes there; every node must
-- sign and hash with the same ones) and one mail folder (FSEC_MAIL_DIR).
function _M.paths(prefix)
  local function env(name, default)
    local v = os.getenv(name)
    if v and v ~= "" then return v end
    return default
  end
  return { database = env("FSEC_DATABASE", prefix .. "/var/auth.db"),
           secrets = env("FSEC_SECRETS_DIR", prefix .. "/secrets"),
           mail = env("FSEC_MAIL_DIR", prefix .. "/var/mail") }
end


--- fsec's configuration for this app. Secrets come from the environment
-- when set (FSEC_SECRET_KEY, FSEC_PASSWORD_SALT), else from files made
-- on first start in the secrets folder (paths above). A salt may be short
-- (a Flask-Security deployment's, whose users' hashes depend on it); a
-- secret key shorter than 32 bytes is an error, never silently replaced
-- by the file's.
-- The sign-in page: a language switcher, then fsec's own template (the
-- form keeps its fields, CSRF token and labels).
local LOGIN_TEMPLATE = '<nav id="languages" aria-label="Language">'
  .. '<a href="?lang=en" hreflang="en" lang="en">English</a>'
  .. '<a href="?lang=fr" hreflang="fr" lang="fr">Français</a>'
  .. '<a href="?lang=de" hreflang="de" lang="de">Deutsch</a></nav>'
  .. require("fsec.templates")["security/login_user.html"]

function _M.config(prefix)
  PREFIX = prefix
  local paths = _M.paths(prefix)
  MAIL_DIR = paths.mail
  local function secret(name, env, min)
    local v = os.getenv(env)
    if v and v ~= "" then
      if #v < min then error(("fsec example: %s is shorter than %d bytes"):format(env, min), 0) end
      return v
    end
    local f = assert(io.open(paths.secrets .. "/" .. name))
    v = f:read("*l")
    f:close()
    return v
  end
  local external_url = os.getenv("FSEC_EXTERNAL_URL")
  if mailbox.configure(os.getenv("FSEC_DEV_MAILBOX"), external_url).enabled and ngx then
    ngx.log(ngx.WARN, "fsec example: DEVELOPMENT MAILBOX ON at ", external_url, "/mail:"
      .. " every reset and sign-in link is readable there (loopback clients, Host ", external_url:match("//([^/]+)"),
      " only); never in production: unset FSEC_DEV_MAILBOX")
  end
  local c = {
    secret_key = secret("secret_key", "FSEC_SECRET_KEY", 32),
    password_salt = secret("password_salt", "FSEC_PASSWORD_SALT", 1),
    database = paths.database,
    database_busy_timeout = tonumber(os.getenv("FSEC_DB_BUSY_TIMEOUT") or "5000"),
    mail_dir = paths.mail,
    -- FSEC_MAIL_SERVER (and FSEC_MAIL_PORT, 25): real mail over SMTP,
    -- queued in the database's outbox and sent by the workers' drainer in
    -- the fsec_mail thread pool (docs/mail.md); unset: files in mail_dir
    mail_server = os.getenv("FSEC_MAIL_SERVER") ~= "" and os.getenv("FSEC_MAIL_SERVER") or nil,
    mail_port = tonumber(os.getenv("FSEC_MAIL_PORT") or ""),
    -- links in mail name this site, never the Host a client sent
    -- (scripts/serve-example.sh sets it from the port)
    external_url = external_url,
    registerable = true, confirmable = true, recoverable = true, changeable = true,
    -- a new address by a link mailed to it (/change-email); usernames and
    -- their recovery and change come with username_enable (off here:
    -- FSEC_EXAMPLE_CONFIG turns them on)
    change_email = true,
    -- FSEC_GENERIC_RESPONSES=1: Flask-Security's generic responses (no
    -- answer tells whether an account exists)
    return_generic_responses = os.getenv("FSEC_GENERIC_RESPONSES") == "1",
    -- FSEC_THROTTLE=off: no per-client or per-account limit (the
    -- benchmarks measure capacity from one client; never in production)
    throttle_client_limit = os.getenv("FSEC_THROTTLE") == "off" and 0 or nil,
    throttle_identity_limit = os.getenv("FSEC_THROTTLE") == "off" and 0 or nil,
    trackable = true, -- logout: POST with a CSRF token only (fsec's default; a GET could be forged)
    -- FSEC_PASSWORDLESS=1: sign in by a mailed link instead of a password
    passwordless = os.getenv("FSEC_PASSWORDLESS") == "1",
    -- mailed sign-in and confirmation links ask before they act (a page
    -- with a button); FSEC_ONE_CLICK_LINKS=1: Flask-Security's GET that acts
    one_click_links = os.getenv("FSEC_ONE_CLICK_LINKS") == "1" or nil,
    security_payload = function(user) return { email = user.email } end,
    -- the application's own registration field: on the register form,
    -- stored with the user, in the user JSON next to the email above
    register_fields = {
      { name = "display_name", label = "Display name", max_length = 60,
        description = "How other people see you (optional)" },
    },
    -- multi-factor: two-factor optional per user (authenticator app,
    -- email code, SMS through the development mailbox), recovery codes,
    -- and unified sign-in (a password or a one-time code); 'remember me'
    -- at sign-in remembers the device for the second factor (30 days)
    two_factor = true, unified_signin = true, multi_factor_recovery_codes = true,
    two_factor_always_validate = false,
    totp_issuer = "fsec example",
    totp_secrets = { ["1"] = secret("totp_secret", "FSEC_TOTP_SECRET", 16) },
    two_factor_rescue_mail = os.getenv("FSEC_ADMIN_EMAIL") or "admin@example.org",
    -- passkeys and security keys (/wan-register): to sign in without a
    -- password, or as a second factor after one; /wan-verify re-checks
    webauthn = true,
    -- pages, messages and mail in English, French or German: the
    -- browser's Accept-Language, or ?lang=xx (the sign-in page's links)
    languages = { "en", "fr", "de" },
    locale = function(req)
      local l = type(req.query) == "table" and req.query.lang
      if type(l) == "string" then return l end
    end,
    -- one template of fsec's overridden (docs/templates.md): the sign-in
    -- page with those links above fsec's own form
    templates = { ["security/login_user.html"] = LOGIN_TEMPLATE },
  }
  -- Tests and benchmarks run this very app with other settings: a JSON
  -- object of fsec settings in FSEC_EXAMPLE_CONFIG is merged over these
  -- (an unreadable one stops the start: no silent defaults).
  local extra = os.getenv("FSEC_EXAMPLE_CONFIG")
  if extra and extra ~= "" then
    local t = cjson.decode(extra)
    if type(t) ~= "table" then error("fsec example: FSEC_EXAMPLE_CONFIG is not a JSON object", 0) end
    for k, v in pairs(t) do c[k] = v end
  end
  -- read here, in nginx's master: workers see no environment
  VERIFY_LOG = os.getenv("FSEC_EXAMPLE_VERIFY_LOG") == "1" and prefix .. "/var/verify.log" or nil
  BLOCK_FILE = os.getenv("FSEC_EXAMPLE_BLOCK_FILE")
  -- who may read /metrics: loopback, or the addresses of
  -- FSEC_METRICS_ALLOW (space-separated; tests name another to be refused)
  local allow = os.getenv("FSEC_METRICS_ALLOW")
  if allow and allow ~= "" then
    METRICS_ALLOW = {}
    for a in allow:gmatch("%S+") do METRICS_ALLOW[#METRICS_ALLOW + 1] = a end
  end
  return c
end


--- /metrics: fsec's metrics in Prometheus's text format, for loopback
-- only (nginx.conf's allow/deny says so too; fsec checks again).
function _M.metrics()
  require("fsec.openresty").metrics{ allow = METRICS_ALLOW }
end


--- Named guards for protect("name"), checked once at start.
_M.guards = {
  api = { auth = { "token", "session" } },
  token = { auth = { "token" } },
  session = { auth = { "session" } },
  -- scripts may also sign in with HTTP Basic here; a browser resends
  -- cached Basic credentials to any site's form, so a POST signed in by
  -- Basic (or a session) needs a CSRF token (csrf_protect_mechanisms)
  api_basic = { auth = { "token", "session", "basic" }, realm = "fsec example" },
}


--- fsec.openresty's options for this app: the hooks and guards below,
-- a smaller worker heap (gc_pause), and the thread pools' job limits
-- (FSEC_THREAD_JOBS, FSEC_THREAD_WAIT in the environment override them).
function _M.options()
  return {
    setup = _M.setup, guards = _M.guards,
    -- FSEC_CACHE=off: no cache of authentication lookups, every request
    -- asks the store (bench/pg_miss.lua measures a cache miss so)
    shared_dict = os.getenv("FSEC_CACHE") ~= "off",
    -- FSEC_CACHE_TTL: seconds a cached user stands for the store (fsec's
    -- default 2); nodes on one PostgreSQL may keep them longer
    -- (docs/scaling.md): the revocation epoch bounds a revocation's delay
    cache_ttl = tonumber(os.getenv("FSEC_CACHE_TTL") or "") or nil,
    gc_pause = 150, -- a smaller worker heap than at 200 (docs/openresty.md: the trade-off)
    gc_stepmul = 400, -- collections end sooner: a lower heap peak (docs/openresty.md)
    -- nginx.conf gives the hashing pool one thread: a second job posted
    -- would only wait in nginx's queue, holding a Lua state (~400 KiB)
    thread_jobs = tonumber(os.getenv("FSEC_THREAD_JOBS") or "") or 1,
    thread_wait = tonumber(os.getenv("FSEC_THREAD_WAIT") or "") or 5, -- then 503: no long queue
    -- past 8 logins waiting per worker (under a second of argon2 at one
    -- thread), 503 with Retry-After at once instead of a longer queue
    thread_queue = tonumber(os.getenv("FSEC_THREAD_QUEUE") or "") or 8,
    -- with a PostgreSQL database: requests waiting for a datastore job
    -- (FSEC_DB_QUEUE; fsec's default 256 otherwise)
    db_queue = tonumber(os.getenv("FSEC_DB_QUEUE") or "") or nil,
  }
end


local DENY_FILE = "/var/deny.txt" -- one address a line

-- For tests only (FSEC_EXAMPLE_VERIFY_LOG=1): one line in var/verify.log
-- per password checked against a real stored hash (not fsec's dummy), by
-- whatever path: what an attacker's guesses really cost, seen from
-- outside the process. Nothing of the password or hash is written.
local function log_verifications(sec)
  local verify = sec.verify_password
  sec.verify_password = function(self, password, hash)
    if hash ~= self._dummy then
      local f = io.open(VERIFY_LOG, "a")
      if f then f:write("verify\n"); f:close() end
    end
    return verify(self, password, hash)
  end
end


-- For tests only (FSEC_EXAMPLE_BLOCK_FILE=PATH): an access hook refusing
-- the users whose address is a line of that file, read on every checked
-- request. No hook otherwise: protect()'s cache-hit check only runs
-- where no access hook is (a hook may refuse any request).

-- Is value a line of the file at path (no file: no)?
local function listed(path, value)
  local f = io.open(path)
  if not f then return false end
  for line in f:lines() do
    if line == value then f:close(); return true end
  end
  f:close()
  return false
end

local function block_listed(sec)
  sec:policy("access", function(user)
    if listed(BLOCK_FILE, user.email) then return false, "address on the block list" end
    return true
  end)
end


--- Hooks: the custom flow. Runs in every worker.
function _M.setup(sec)
  if VERIFY_LOG then log_verifications(sec) end
  if BLOCK_FILE then block_listed(sec) end
  sec:policy("login", function(_user, req) -- the deny file names addresses, not users
    if listed(PREFIX .. DENY_FILE, req.remote_addr) then return false, "address on the deny list" end
    return true
  end)
  sec:connect("user_authenticated", function(ev)
    local f = io.open(PREFIX .. "/var/audit.log", "a")
    if f then
      f:write(os.date("!%Y-%m-%dT%H:%M:%SZ"), " login ", ev.user.email, " via ",
              table.concat(ev.authn_via, ","), "\n")
      f:close()
    end
  end)
end


-- The sign-out button: a form posting the CSRF token (logout is POST only).
local SIGN_OUT = '<form id="sign-out" method="post" action="/logout">'
  .. '<input type="hidden" name="csrf_token" value="%s"><button type="submit">Sign out</button></form>'

local function page_headers()
  ngx.header["Content-Type"] = "text/html; charset=utf-8"
  ngx.header["X-Frame-Options"] = "DENY" -- as fsec's own pages: never framed
  ngx.header["Content-Security-Policy"] = "frame-ancestors 'none'"
  ngx.header["X-Content-Type-Options"] = "nosniff"
  ngx.header["Cache-Control"] = "private, no-store" -- pages of a signed-in user
end

local function html(title, body)
  local sec = fsec_or.security()
  local req = fsec_or.request()
  local res = sec:new_response()
  local flashes = req and sec:take_flashes(req, res) or {}
  if req and body:find("{{sign-out}}", 1, true) then
    local form = SIGN_OUT:format(escape(sec:csrf_token(req, res)))
    body = body:gsub("{{sign%-out}}", function() return form end)
  end
  fsec_or.add_cookies(res.cookies) -- beside a session protect() re-signed
  page_headers()
  ngx.print(pages.layout(title, body, flashes))
end


function _M.home()
  local user = fsec_or.current_user()
  local body
  if user.is_authenticated then
    -- the Admin link for admins only: others would get a 403
    body = ("<p>Signed in as <strong>%s</strong>.</p><nav><a href=\"/profile\">Profile</a>"
      .. "%s<a href=\"/change\">Change password</a><a href=\"/change-email\">Change email</a>"
      .. "<a href=\"/wan-register\">Security keys</a></nav>"
      .. "{{sign-out}}"):format(escape(user.email),
      user:has_role("admin") and '<a href="/admin">Admin</a>' or "")
  else
    body = '<p>Welcome to the fsec example.</p><nav><a href="/login">Sign in</a>'
      .. '<a href="/register">Register</a><a href="/reset">Forgot password?</a>'
      .. (mailbox.enabled() and '<a href="/mail">Mailbox</a>' or "") .. '</nav>'
  end
  html("fsec example", body)
end


local function when(t) return t and os.date("!%Y-%m-%d %H:%M:%S UTC", t) or "never" end

function _M.profile()
  local u = ngx.ctx.fsec_user
  html("Profile", ("<dl><dt>Email</dt><dd id=\"email\">%s</dd><dt>Roles</dt><dd>%s</dd>"
    .. "<dt>Logins</dt><dd id=\"login-count\">%d</dd><dt>Current login</dt><dd>%s from %s</dd>"
    .. "<dt>Previous login</dt><dd>%s from %s</dd></dl>{{sign-out}}"):format(
    escape(u.email), escape(#u.roles > 0 and table.concat(u.roles, ", ") or "none"), u.login_count or 0,
    when(u.current_login_at), escape(u.current_login_ip or "-"),
    when(u.last_login_at), escape(u.last_login_ip or "-")))
end


function _M.admin()
  html("Admin", "<p>Only administrators see this page.</p>")
end


--- Any other path (nginx's error_page sends its 404s here too): a page
-- in fsec's style for browsers, fsec's JSON envelope for JSON clients,
-- plain text for the rest (curl, scripts).
function _M.not_found()
  -- the two headers only: a POST's body is never read here
  local req = { headers = { accept = ngx.var.http_accept, ["content-type"] = ngx.var.content_type } }
  ngx.status = 404
  if http.wants_json(req) then
    ngx.header["Content-Type"] = "application/json"
    return ngx.print(cjson.encode{ meta = { code = 404 }, response = { errors = { "Not found" } } })
  end
  if http.wants_html(req) then
    -- no session, flashes or CSRF token: nothing here acts
    page_headers()
    return ngx.print(pages.layout("Not found", "<p>There is no page at <code>" .. escape(ngx.var.uri)
      .. "</code>.</p>"))
  end
  ngx.header["Content-Type"] = "text/plain; charset=utf-8"
  ngx.say("Not found")
end


--- The API: who is signed in, and how. A request that changes state
-- (any method but GET and HEAD) is recorded in var/audit.log, as an
-- application would act on it.
function _M.api()
  local u = ngx.ctx.fsec_user
  local method = ngx.req.get_method()
  if method ~= "GET" and method ~= "HEAD" then
    local f = io.open(PREFIX .. "/var/audit.log", "a")
    if f then
      f:write(os.date("!%Y-%m-%dT%H:%M:%SZ"), " api ", method, " ", ngx.var.uri, " by ", u.email,
              " via ", tostring(ngx.ctx.fsec_via), "\n")
      f:close()
    end
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode{ id = u.id, email = u.email, roles = u.roles, via = ngx.ctx.fsec_via, method = method,
                        upstream_user_header = ngx.req.get_headers()["x-user-id"] })
end


local function json_answer(status, response)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode{ meta = { code = status }, response = response })
end

--- The signed-in session's notes, kept in its per-session data: GET
-- lists them, a POST of { "note": "..." } adds one (the last 10 kept).
-- They go with the session: a sign-out ends them.
function _M.notes()
  local notes = fsec_or.session_data().notes or {}
  if ngx.req.get_method() == "POST" then
    ngx.req.read_body()
    local body = cjson.decode(ngx.req.get_body_data() or "")
    local note = type(body) == "table" and body.note
    if type(note) ~= "string" or note == "" or #note > 200 then
      return json_answer(400, { errors = { "note: a text of 1 to 200 bytes expected" } })
    end
    notes[#notes + 1] = note
    while #notes > 10 do table.remove(notes, 1) end
    local ok, err, code = fsec_or.set_session_data("notes", notes)
    if not ok then return json_answer(code == "ETOOLONG" and 413 or 400, { errors = { err } }) end
  end
  json_answer(200, { notes = notes, count = #notes })
end


--- The development mailbox: the messages fsec's dev mailer wrote, 50 a
-- page (?page=N), newest first; off, or refused, as dev_mailbox.lua says.
local function refuse(status, reason)
  ngx.status = status
  ngx.header["Content-Type"] = "text/plain; charset=utf-8"
  ngx.say(reason)
  return ngx.exit(status)
end

local function message_page(dir, name)
  local f = io.open(dir .. "/" .. name)
  if not f then return ngx.exit(404) end
  local text = f:read("*a")
  f:close()
  local link = text:match("X%-Fsec%-Link: (%S+)")
  return html("Message", "<pre>" .. escape(text) .. "</pre>"
    .. (link and ('<p><a id="mail-link" href="' .. escape(link) .. '">Open the link</a></p>') or ""))
end

local function list_page(dir)
  local n = mailbox.page_number(ngx.var.arg_page)
  if not n then return refuse(400, "page must be a whole number from 1") end
  local names = mailbox.list(dir)
  local shown, last = mailbox.page(names, n)
  if n > last then return refuse(404, "no such page: there are " .. last) end
  local items = {}
  for i, name in ipairs(shown) do
    items[i] = ('<li><a href="/mail/%s">%s</a></li>'):format(escape(name), escape(name))
  end
  local nav = {}
  if n > 1 then nav[#nav + 1] = ('<a id="newer" href="/mail?page=%d">Newer</a>'):format(n - 1) end
  if n < last then nav[#nav + 1] = ('<a id="older" href="/mail?page=%d">Older</a>'):format(n + 1) end
  html("Mailbox", #items == 0 and "<p>No messages yet.</p>"
    or ('<p id="mail-count">Page %d of %d (%d messages)</p><ul>%s</ul><nav>%s</nav>')
      :format(n, last, #names, table.concat(items), table.concat(nav)))
end

function _M.mailbox()
  local status, reason = mailbox.refusal(ngx.var)
  if status then return refuse(status, reason) end
  local dir = MAIL_DIR
  local name = ngx.var.uri:match("^/mail/([%w_-][%w._-]*%.eml)$")
  if name then return message_page(dir, name) end
  if ngx.var.uri ~= "/mail" and ngx.var.uri ~= "/mail/" then return ngx.exit(404) end
  return list_page(dir)
end


return _M
