--- The `fsec` command: users, roles and the database from the shell, and
-- import from a Flask-Security database. Lua 5.4, argparse (Debian's
-- lua-argparse), LuaSQL's sqlite3 and postgres drivers for reading
-- Flask-Security databases.
-- @module fsec.cli

local cjson = require "cjson"
local tty = require "fsec.tty"
local dburi = require "fsec.dburi"

-- Every value printed that fsec did not write itself (an email, a role
-- name, a file name, a source database's text, an error echoing one)
-- goes through show: its control characters are escaped (fsec.tty).
local show = tty.text

local _M = { _VERSION = "0.1.0" }


-- A line on standard output through io.stdout (print's own write error
-- is lost; this one is seen by the final flush, and the command fails).
local function say(line)
  io.stdout:write(line, "\n")
end


local function die(msg)
  io.stderr:write("fsec: ", show((tostring(msg):gsub("^E%u[%u%d]*: ", ""))), "\n")
  os.exit(1)
end

local function must(v, err)
  if v == nil or v == false then die(err or "failed") end
  return v
end


-- The store alone (no secrets needed), or the whole Security object when
-- passwords are hashed: its salt and parameters must be the application's
-- (--config FILE returning fsec's configuration, or FSEC_SECRET_KEY and
-- FSEC_PASSWORD_SALT in the environment).
-- --db is a SQLite file or a PostgreSQL URI (postgresql://...; issue 22):
-- the store picks its backend from it (core/src/store.c), and main has
-- already refused a URI holding a password (fsec.dburi).
-- Only the commands that make things (users create, roles create,
-- import: create = true) make a new database file; the others refuse a
-- path with no file rather than answer from an empty new one (a typo).
-- A URI names no file: the server holds the database, and says so when
-- it has none.
local function need_file(path, create)
  if create or path == ":memory:" or dburi.is_uri(path) then return end
  local f = io.open(path)
  if not f then die("no database at " .. path .. " (users create, roles create and import make one)") end
  f:close()
end

local function open_store(args, create)
  need_file(args.database, create)
  return must(require("fsec.datastore.sqlite").new{ path = args.database })
end

local function open_security(args, create)
  need_file(args.database, create)
  local cfg
  if args.config then
    local chunk = must(loadfile(args.config))
    cfg = chunk()
  else
    local key, salt = os.getenv("FSEC_SECRET_KEY"), os.getenv("FSEC_PASSWORD_SALT")
    cfg = { secret_key = key, password_salt = salt ~= "" and salt or nil }
    if not key or key == "" then
      die("hashing a password needs --config FILE or FSEC_SECRET_KEY and FSEC_PASSWORD_SALT")
    end
  end
  cfg.database = args.database
  cfg.datastore = nil
  -- the library's warnings reach this terminal escaped, as everything else
  cfg.log = function(_, m) io.stderr:write("fsec: ", show(m), "\n") end
  local ok, sec = pcall(require("fsec").new, cfg)
  if not ok then die((tostring(sec):gsub("^fsec%.new: ", ""))) end
  return sec
end


-- One line typed at the terminal without echo; nil at end of input.
local function prompt(label)
  -- echo off before the prompt shows: what is typed at once is not shown
  os.execute("stty -echo 2>/dev/null")
  io.stderr:write(label)
  local ok, line = pcall(io.read, "*l") -- Ctrl-C raises "interrupted!"
  os.execute("stty echo 2>/dev/null") -- whatever happened: the terminal echoes again
  io.stderr:write("\n")
  if not ok then die("interrupted") end
  return line
end

local PROMPT_TRIES = 3

-- A new password: from standard input as given (--password-stdin), or
-- typed twice at the prompt, which must agree (a typo unseen without
-- echo would make a password nobody knows). A mismatch says so and asks
-- again, PROMPT_TRIES times in all, then gives up (exit 1). A prompt
-- whose input is not a terminal (a pipe, a file) reads one line, as it
-- always did: nobody types there.
local function read_password(args)
  local pw
  if args.password_stdin then
    pw = io.read("*l")
  elseif os.execute("test -t 0") ~= true then
    pw = prompt("Password: ")
  else
    for try = 1, PROMPT_TRIES do
      pw = prompt("Password: ")
      if not pw or pw == "" then break end
      local again = prompt("Repeat the password: ")
      if again == pw then break end
      if try == PROMPT_TRIES then die("the two passwords did not match; nothing changed") end
      io.stderr:write("fsec: the two passwords do not match; try again\n")
    end
  end
  if not pw or pw == "" then die("no password given") end
  return pw
end


-- The same rules as registration: length in code points after
-- normalization, complexity hook and breached list from the configuration.
local function check_new_password(sec, pw, email)
  local form = require("fsec.forms").new(sec, {})
  form:new_password("password", pw, { email = email })
  if not form:ok() then die(form.errors[1]) end
end


local function find(ds, email)
  local u, err = ds:find_user{ email = email }
  if not u then die(err or ("no user " .. email)) end
  return u
end


-- JSON of a list: "[]" when empty (Debian's cjson 2.1.0 writes an empty
-- table as {} and has no empty_array).
-- encoded: the items are JSON texts already.
local function json_list(items, encoded)
  local parts = {}
  for i, v in ipairs(items) do parts[i] = encoded and v or cjson.encode(v) end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- What `users show` and `--json` tell of a user (never the password hash
-- or a uniquifier: they are credentials' material).
local SHOWN = { "id", "email", "username", "active", "confirmed_at", "login_count",
                "last_login_at", "current_login_at", "last_login_ip", "current_login_ip" }

-- The user's permissions (a set) as a sorted list.
local function permission_list(u)
  local list = {}
  for p in pairs(u.permissions) do list[#list + 1] = p end
  table.sort(list)
  return list
end

local function user_json(u, with_permissions)
  local t = {}
  for _, k in ipairs(SHOWN) do t[k] = u[k] end
  t.confirmed = u.confirmed_at ~= nil
  local obj = cjson.encode(t):sub(1, -2) .. ',"roles":' .. json_list(u.roles)
  if with_permissions then obj = obj .. ',"permissions":' .. json_list(permission_list(u)) end
  return obj .. "}"
end

local function role_json(r)
  local obj = cjson.encode{ id = r.id, name = r.name, description = r.description }
  return obj:sub(1, -2) .. ',"permissions":' .. json_list(r.permissions) .. "}"
end

local function confirmation(u)
  return u.confirmed_at and "confirmed" or "unconfirmed"
end

-- A time as UTC text, for people (JSON keeps the number).
local function when(t)
  return t and os.date("!%Y-%m-%d %H:%M:%S UTC", t) or "-"
end


------------------------------------------------------------------------
-- Commands
------------------------------------------------------------------------

local C = {}

function C.users_create(args)
  local sec = open_security(args, true)
  local pw = read_password(args)
  check_new_password(sec, pw, args.email)
  local u, err = sec.datastore:create_user{
    email = args.email, username = args.username,
    password = must(sec:hash_password(pw)), roles = args.role,
    active = not args.inactive, confirmed_at = args.confirmed and os.time() or nil,
  }
  must(u, err)
  say(("created user %s (id %d)"):format(show(u.email), u.id))
end

function C.users_list(args)
  local ds = open_store(args)
  local out = {}
  for u in ds:each_user(args.role) do
    if args.json then
      out[#out + 1] = user_json(u)
    else
      say(("%d\t%s\t%s\t%s\t%s"):format(u.id, show(u.email), u.active and "active" or "inactive",
                                         confirmation(u), show(table.concat(u.roles, ","))))
    end
  end
  if args.json then say(tty.json(json_list(out, true))) end
end

-- A phone number as `users show` prints it: all but its last two digits
-- hidden (enough to tell which phone, not to call it).
local function mask(phone)
  if phone == nil or phone == "" then return nil end
  local keep = 2
  return ("*"):rep(math.max(#phone - keep, 0)) .. phone:sub(-keep)
end

-- Which second factors u has set up, never a secret: the two-factor
-- method, the phones masked, the unified sign-in methods, how many
-- recovery codes are left.
local function factor_info(u)
  local otp, mfcodes = require "fsec.otp", require "fsec.mfcodes"
  local present = function(v) return v ~= nil and v ~= "" end
  return {
    two_factor = present(u.tf_primary_method) and u.tf_primary_method or nil,
    tf_phone = mask(u.tf_phone_number),
    us_methods = present(u.us_totp_secrets) and otp.us_methods(u.us_totp_secrets) or {},
    us_phone = mask(u.us_phone_number),
    recovery_codes = mfcodes.count(u),
  }
end

-- A user's WebAuthn keys for `users show` (empty without WebAuthn methods):
-- the id's first bytes tell keys apart; the public key is no one's business.
local function webauthn_keys(ds, u)
  if not ds.webauthn_credentials then return {} end
  local creds = must(ds:webauthn_credentials(u))
  local keys = {}
  for i, c in ipairs(creds) do
    keys[i] = { name = c.name, usage = c.usage, transports = c.transports,
                created = c.create_datetime, last_used = c.lastuse_datetime,
                credential_id = require("fsec.webauthn").b64u_encode(c.credential_id:sub(1, 9)) } -- 12 chars
  end
  return keys
end

local function keys_json(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local obj = cjson.encode{ name = k.name, usage = k.usage, created = k.created, last_used = k.last_used,
                              credential_id = k.credential_id }
    parts[i] = obj:sub(1, -2) .. ',"transports":' .. json_list(k.transports) .. "}"
  end
  return json_list(parts, true)
end

local function factors_json(f)
  local obj = cjson.encode{ two_factor = f.two_factor or cjson.null, tf_phone = f.tf_phone or cjson.null,
                            us_phone = f.us_phone or cjson.null, recovery_codes = f.recovery_codes }
  return obj:sub(1, -2) .. ',"us_methods":' .. json_list(f.us_methods) .. "}"
end

function C.users_show(args)
  local ds = open_store(args)
  local u = find(ds, args.email)
  local f = factor_info(u)
  local keys = webauthn_keys(ds, u)
  local own = {} -- the application's own fields (register_fields), by name
  for k in pairs(u.fields or {}) do own[#own + 1] = k end
  table.sort(own)
  if args.json then
    local extra = #own > 0 and (',"fields":' .. cjson.encode(u.fields)) or ""
    return say(tty.json(user_json(u, true):sub(1, -2) .. ',"factors":' .. factors_json(f)
                        .. ',"webauthn":' .. keys_json(keys) .. extra .. "}"))
  end
  local lines = {
    { "id", u.id }, { "email", show(u.email) }, { "username", u.username and show(u.username) or "-" },
    { "active", u.active and "yes" or "no" },
    { "confirmed", u.confirmed_at and ("yes, " .. when(u.confirmed_at)) or "no" },
    { "roles", show(table.concat(u.roles, ",")) },
    { "permissions", show(table.concat(permission_list(u), ",")) },
    { "login_count", u.login_count }, { "last_login_at", when(u.last_login_at) },
    { "last_login_ip", u.last_login_ip and show(u.last_login_ip) or "-" },
    { "current_login_at", when(u.current_login_at) },
    { "current_login_ip", u.current_login_ip and show(u.current_login_ip) or "-" },
    { "two_factor", f.two_factor and show(f.two_factor) or "none" },
    { "tf_phone", f.tf_phone and show(f.tf_phone) or "-" },
    { "us_methods", #f.us_methods > 0 and show(table.concat(f.us_methods, ",")) or "-" },
    { "us_phone", f.us_phone and show(f.us_phone) or "-" }, { "recovery_codes", f.recovery_codes },
  }
  for _, k in ipairs(own) do lines[#lines + 1] = { show(k), show(tostring(u.fields[k])) } end
  lines[#lines + 1] = { "webauthn_keys", #keys }
  for _, k in ipairs(keys) do
    lines[#lines + 1] = { "  " .. show(k.name), ("%s, %s, created %s, last used %s, id %s..."):format(
      k.usage, #k.transports > 0 and show(table.concat(k.transports, ",")) or "no transports",
      when(k.created), when(k.last_used), k.credential_id) }
  end
  for _, l in ipairs(lines) do say(("%-17s %s"):format(l[1] .. ":", tostring(l[2]))) end
end

-- Delete one WebAuthn key of a user, by its name (as users show lists
-- it). An unknown name deletes nothing and fails.
function C.users_wan_delete(args)
  local ds = open_store(args)
  local u = find(ds, args.email)
  if not ds.webauthn_credentials then die("this datastore keeps no WebAuthn keys") end
  for _, c in ipairs(must(ds:webauthn_credentials(u))) do
    if c.name == args.name then
      must(ds:delete_webauthn(c))
      return say(("wan-delete: %s of %s"):format(show(c.name), show(u.email)))
    end
  end
  die(("%s has no WebAuthn key named %s"):format(u.email, args.name))
end

-- Marks the email confirmed now, as following the confirmation link does
-- (an already confirmed user keeps the first date).
function C.users_confirm(args)
  local ds = open_store(args)
  local u = find(ds, args.email)
  local changed = false
  if not u.confirmed_at then changed = must(ds:set_confirmed_at(u, os.time())) end
  say(("confirm: %s%s"):format(show(u.email), changed and "" or " (no change)"))
end

local function user_action(verb)
  return function(args)
    local ds = open_store(args)
    local u = find(ds, args.email)
    local ok, err
    if verb == "activate" then ok, err = ds:activate_user(u)
    elseif verb == "deactivate" then ok, err = ds:deactivate_user(u)
    elseif verb == "delete" then ok, err = ds:delete_user(u)
    else ok, err = ds:reset_user_access(u) end
    if ok == nil then die(err) end
    say(("%s: %s%s"):format(verb, show(u.email), ok and "" or " (no change)"))
  end
end
C.users_activate = user_action("activate")
C.users_deactivate = user_action("deactivate")
C.users_delete = user_action("delete")
C.users_reset_access = user_action("reset-access")

-- The columns `users tf-reset` clears: Flask-Security's tf_reset, and
-- the recovery codes, which only serve two-factor.
local TF_RESET = { "tf_primary_method", "tf_totp_secret", "tf_phone_number", "mf_recovery_codes" }

-- An administrator's rescue for a user who lost their second factor.
-- Flask-Security's tf_reset leaves sessions alone; this one also ends
-- every session, remember cookie, token and remembered device of the user
-- (revoke_all: new uniquifiers), in the same transaction. The account
-- drops to its password alone until it enrols again, so whoever held the
-- lost device's sessions must not keep them; and a "remember this device"
-- cookie is bound to the uniquifier: left valid, it would skip the new
-- second factor on the lost device once the user enrols again.
function C.users_tf_reset(args)
  local ds = open_store(args)
  local u = find(ds, args.email)
  local datastore = require "fsec.datastore"
  local had = false
  for _, c in ipairs(TF_RESET) do had = had or (u[c] ~= nil and u[c] ~= "") end
  local ok, err = pcall(ds.transaction, ds, function()
    for _, c in ipairs(TF_RESET) do datastore.must(ds:set_field(u, c, nil)) end
    datastore.must(datastore.revoke_all(ds, u))
  end)
  if not ok then die("could not reset two-factor: " .. tostring(err)) end
  say(("tf-reset: %s%s; sessions ended"):format(show(u.email), had and "" or " (had no two-factor)"))
end

function C.users_change_password(args)
  local sec = open_security(args)
  local ds = sec.datastore
  local u = find(ds, args.email)
  local pw = read_password(args)
  check_new_password(sec, pw, u.email)
  local hash = must(sec:hash_password(pw))
  local raise = require("fsec.datastore").must -- a failed write: its message
  local ok, err = pcall(ds.transaction, ds, function()
    raise(ds:set_password(u, hash))
    raise(require("fsec.datastore").revoke_all(ds, u)) -- every session and token of the user ends
  end)
  if not ok then die("could not change the password: " .. tostring(err)) end
  sec.signals:send("password_changed", { user = require("fsec.auth").public_user(u) })
  say("password changed: " .. show(u.email))
end

function C.roles_create(args)
  local ds = open_store(args, true)
  local r, err = ds:create_role{ name = args.name, description = args.description,
                                 permissions = args.permissions }
  must(r, err)
  say("created role " .. show(r.name))
end

function C.roles_list(args)
  local ds = open_store(args)
  local out = {}
  for r in ds:each_role() do
    if args.json then
      out[#out + 1] = role_json(r)
    else
      say(("%d\t%s\t%s\t%s"):format(r.id, show(r.name), show(table.concat(r.permissions, ",")),
                                     show(r.description or "")))
    end
  end
  if args.json then say(tty.json(json_list(out, true))) end
end

-- Deleting a role takes it from every user who had it.
function C.roles_delete(args)
  local ds = open_store(args)
  local ok, err = ds:delete_role(args.name)
  if ok == nil then die(err) end
  if not ok then die("no role " .. args.name) end
  say("deleted role " .. show(args.name))
end

local function role_link(add)
  return function(args)
    local ds = open_store(args)
    local u = find(ds, args.email)
    local ok, err
    if add then ok, err = ds:add_role_to_user(u, args.role) else ok, err = ds:remove_role_from_user(u, args.role) end
    if ok == nil then die(err) end
    say(("%s %s %s %s%s"):format(add and "added" or "removed", show(args.role), add and "to" or "from",
                                  show(u.email), ok and "" or " (no change)"))
  end
end
C.roles_add = role_link(true)
C.roles_remove = role_link(false)

local function role_perms(add)
  return function(args)
    local ds = open_store(args)
    local ok, err
    if add then ok, err = ds:add_permissions_to_role(args.role, args.permissions)
    else ok, err = ds:remove_permissions_from_role(args.role, args.permissions) end
    if ok == nil then die(err) end
    if ok == false then die("no role " .. args.role) end
    say(("%s: %s"):format(show(args.role), show(table.concat(ds:find_role(args.role).permissions, ","))))
  end
end
C.roles_add_permissions = role_perms(true)
C.roles_remove_permissions = role_perms(false)

function C.db_check(args)
  local ds = open_store(args)
  local ok, msg = ds:integrity_check()
  local users, roles = ds:counts()
  local report = { schema_version = ds:schema_version(), integrity = ok and "ok" or msg,
                   users = users, roles = roles }
  if args.json then say(tty.json(cjson.encode(report)))
  else
    say(("schema version %d\nintegrity_check %s\nusers %d\nroles %d"):format(
      report.schema_version, show(report.integrity), users, roles))
  end
  if not ok then os.exit(1) end
end

-- Bring the database to this fsec's schema (opening a store does it too;
-- this does it on purpose, once, before the nodes of a new version
-- start). A file must exist; a PostgreSQL database may be empty. A newer
-- schema, or someone else's tables, are refused and left unchanged.
function C.db_migrate(args)
  local ds = open_store(args)
  local report = { schema_version = ds:schema_version(), backend = ds:backend() }
  if args.json then say(tty.json(cjson.encode(report)))
  else say(("schema version %d (%s)"):format(report.schema_version, report.backend)) end
end

-- The mail outbox (docs/mail.md): `fsec mail drain` sends what is due
-- over SMTP with the application's mail_* settings (--config), for cron
-- where no nginx worker drains; --until-empty drains again while a run
-- sent something. Exit 1 when a message was retried or given up.
function C.mail_drain(args)
  if not args.config then die("mail drain needs --config FILE (its mail_server and mail_* settings)") end
  local sec = open_security(args)
  if not sec._cfg.mail_server then die("the configuration sets no mail_server: there is no outbox to drain") end
  local total = { sent = 0, retried = 0, given_up = 0 }
  repeat
    local stats = must(sec:drain_mail())
    for k, v in pairs(stats) do total[k] = total[k] + v end
  until not args.until_empty or stats.sent == 0 or stats.retried > 0
  if args.json then say(tty.json(cjson.encode(total)))
  else say(("sent %d\nretried %d\ngiven up %d"):format(total.sent, total.retried, total.given_up)) end
  if total.retried > 0 or total.given_up > 0 then os.exit(1) end
end

-- Messages in the outbox: queued (given up ones included) and given up.
function C.mail_status(args)
  local ds = open_store(args)
  local queued, given_up = ds:outbox_counts()
  must(queued, given_up)
  if args.json then say(tty.json(cjson.encode{ queued = queued, given_up = given_up }))
  else say(("queued %d\ngiven up %d"):format(queued, given_up)) end
end

-- A file of secrets (the source's keys), or the command dies saying why.
local function read_secret_file(path, option)
  local text, err = require("fsec.secretfile").read(path)
  if not text then die(option .. ": " .. err) end
  return text
end

-- --totp-secrets and --recovery-keys, read and parsed (nil when not given).
local function source_keys(args)
  local factors = require "fsec.import.factors"
  local secrets, keys, err
  if args.totp_secrets then
    secrets, err = factors.parse_totp_secrets(read_secret_file(args.totp_secrets, "--totp-secrets"))
    if not secrets then die("--totp-secrets: " .. err) end
  end
  if args.recovery_keys then
    keys, err = factors.parse_recovery_keys(read_secret_file(args.recovery_keys, "--recovery-keys"))
    if not keys then die("--recovery-keys: " .. err) end
  end
  return secrets, keys
end

-- The import judges stored hashes by the application's caps and verify
-- budget (--config), else by fsec's defaults: no secret is needed, unless
-- users have second factors: fsec's totp_secrets (--config) seal them.
-- --json: the summary as one JSON object instead of its lines.
function C.import(args)
  local totp_secrets, recovery_keys = source_keys(args)
  local ds, engine, cfg
  if args.config then
    local sec = open_security(args, true)
    ds, engine, cfg = sec.datastore, sec._engine, sec._cfg -- plain values: fsec.otp keys its keyring by them
  else
    ds = open_store(args, true)
  end
  local summary = require("fsec.import").flask_security(ds, args.source, {
    progress = not args.quiet and not args.json, say = args.json and function() end or say, engine = engine,
    merge_roles = args.merge_roles, keep_costly_hashes = args.keep_costly_hashes, config = cfg,
    totp_secrets = totp_secrets, recovery_keys = recovery_keys, tf_fallback = args.tf_fallback,
    fields = cfg and cfg.register_fields })
  if args.json then
    local costly = {}
    for i, c in ipairs(summary.costly) do costly[i] = cjson.encode(c) end
    local obj = cjson.encode{ users = summary.users, skipped = summary.skipped, roles = summary.roles,
                              conflicts = summary.conflicts, no_email = summary.no_email,
                              factors = summary.factors, kept_costly = summary.kept_costly }
    say(tty.json(obj:sub(1, -2) .. ',"merged":' .. json_list(summary.merged) .. ',"costly":'
      .. json_list(costly, true) .. "}"))
  end
end


-- The binary form of a breached-password list (fsec/breached.h): the
-- input checked line by line (well formed, sorted), the output written
-- beside its name and renamed over it, so a running fsec never maps half
-- a list.
function C.breached_build(args)
  local n, err = require("fsec.core").breached_build(args.input, args.output)
  if not n then die(err) end
  say(("built %s: %d entries"):format(args.output, n))
end


function _M.main(argv)
  local ok, args = require("fsec.cliargs").parser():pparse(argv)
  if not ok then
    io.stderr:write("fsec: ", show(args), " (fsec --help for usage)\n") -- one line, as every error
    os.exit(2)
  end
  -- a password on the command line is refused before anything connects
  -- (the refusal never echoes the URI)
  local checked, cerr = pcall(function()
    if dburi.is_uri(args.database) then dburi.check(args.database, "--db") end
    if dburi.is_uri(args.source) then dburi.check(args.source, "the source") end
  end)
  if not checked then die(cerr) end
  local name = args.command
  if name ~= "breached" and not args.database then
    io.stderr:write("fsec: option '--db' must be used 1 time (fsec --help for usage)\n")
    os.exit(2)
  end
  local sub = args[name .. "_command"]
  if name == "import" then name, sub = "import", nil end
  local fn = C[(name .. (sub and ("_" .. sub) or "")):gsub("-", "_")]
  local ok2, err = pcall(fn, args)
  if not ok2 then die(err) end
  -- output that could not be written (a full disk, a closed pipe) is a failure
  local flushed, werr = io.stdout:flush()
  if not flushed then die("writing the output: " .. tostring(werr)) end
end


return _M
