--- The `fsec` command's grammar (argparse): its commands, options and
-- help texts, apart from what the commands do (fsec.cli).
-- @module fsec.cliargs

local argparse = require "argparse"

local ipairs = ipairs

local _M = { _VERSION = "0.1.0" }

--- The parser of fsec's command line.
function _M.parser()
  local p = argparse("fsec", "Users, roles and the database of an fsec application.")
  p:option("--db", "SQLite database file of the application, or a PostgreSQL URI"
    .. " (postgresql://user@host:port/db?passfile=FILE; a password in it is refused); every command but"
    .. " breached needs it."):args(1):count("0-1")
    :target("database")
  p:option("--config", "Lua file returning fsec's configuration (for hashing passwords).")
  p:command_target("command")

  local users = p:command("users", "Manage users.")
  users:command_target("users_command")
  local create = users:command("create", "Create a user.")
  create:argument("email")
  create:option("--username")
  create:option("--role", "A role to give (repeatable)."):count("*")
  create:flag("--password-prompt", "Ask for the password, twice (default).")
  create:flag("--password-stdin", "Read the password from standard input.")
  create:flag("--inactive", "Create the user inactive.")
  create:flag("--confirmed", "Mark the email as confirmed.")
  local list = users:command("list", "List users: id, email, active, confirmed, roles.")
  list:option("--role", "Only users with this role.")
  list:flag("--json", "JSON output.")
  local showc = users:command("show", "Show a user: state, roles, permissions, login tracking, second factors"
    .. " and WebAuthn keys set up (never a secret).")
  showc:argument("email")
  showc:flag("--json", "JSON output.")
  users:command("confirm", "Mark a user's email as confirmed."):argument("email")
  local wd = users:command("wan-delete", "Delete one of a user's WebAuthn keys (passkeys), by the name"
    .. " users show lists.")
  wd:argument("email")
  wd:argument("name", "The key's name.")
  users:command("tf-reset", "Clear a user's two-factor method, secret, phone and recovery codes"
    .. " (ends their sessions)."):argument("email")
  for _, verb in ipairs{ "activate", "deactivate", "delete", "reset-access" } do
    users:command(verb, ({ activate = "Activate a user.", deactivate = "Deactivate a user.",
      delete = "Delete a user.", ["reset-access"] = "End every session and token of a user." })[verb])
      :argument("email")
  end
  local cp = users:command("change-password", "Set a user's password (ends their sessions).")
  cp:argument("email")
  cp:flag("--password-prompt", "Ask for the password, twice (default).")
  cp:flag("--password-stdin", "Read the password from standard input.")

  local roles = p:command("roles", "Manage roles.")
  roles:command_target("roles_command")
  local rc = roles:command("create", "Create a role.")
  rc:argument("name")
  rc:option("--description")
  rc:option("--permissions", "Comma-separated permissions.")
  roles:command("list", "List roles: id, name, permissions, description."):flag("--json", "JSON output.")
  roles:command("delete", "Delete a role (every user who had it loses it)."):argument("name")
  for _, verb in ipairs{ "add", "remove" } do
    local c = roles:command(verb, verb == "add" and "Give a user a role." or "Take a role from a user.")
    c:argument("email")
    c:argument("role")
  end
  for _, verb in ipairs{ "add-permissions", "remove-permissions" } do
    local c = roles:command(verb, verb == "add-permissions" and "Add permissions to a role."
                                  or "Remove permissions from a role.")
    c:argument("role")
    c:argument("permissions", "Comma-separated permissions.")
  end

  local db = p:command("db", "The database.")
  db:command_target("db_command")
  local check = db:command("check", "Schema version, integrity_check, counts.")
  check:flag("--json", "JSON output.")
  local migrate = db:command("migrate", "Bring the database to this fsec's schema (a newer one is refused).")
  migrate:flag("--json", "JSON output.")

  local mail = p:command("mail", "The mail outbox (with mail_server set).")
  mail:command_target("mail_command")
  local drain = mail:command("drain", "Send the outbox's due mail over SMTP now (needs --config; for cron).")
  drain:flag("--until-empty", "Drain again while a run sent something.")
  drain:flag("--json", "JSON output.")
  mail:command("status", "Messages queued and given up."):flag("--json", "JSON output.")

  local imp = p:command("import", "Import from another system.")
  imp:command_target("import_command")
  local fs = imp:command("flask-security",
                         "Users, roles, links, hashes and tracking of a Flask-Security database.")
  fs:argument("source", "The Flask-Security SQLite file, or a PostgreSQL URI (postgresql://...; no password in it).")
  fs:flag("--quiet", "No progress bar.")
  fs:flag("--merge-roles", "Let roles that exist here gain the source's permissions (else such an import is refused).")
  fs:flag("--keep-costly-hashes", "Keep stored hashes over the verify budget (else those users get no password).")
  fs:option("--totp-secrets", "File (mode 600) of the source's TOTP_SECRETS: a JSON object {tag: secret} or"
    .. " 'tag: secret' lines. Decrypts its users' authenticator secrets, re-sealed with fsec's totp_secrets"
    .. " (--config).")
  fs:option("--recovery-keys", "File (mode 600) of the source's MULTI_FACTOR_RECOVERY_CODES_KEYS: one Fernet"
    .. " key a line, or a JSON list. Without it encrypted recovery codes are dropped (counted).")
  fs:option("--tf-fallback", "email: an authenticator whose secret cannot be decrypted becomes codes by email"
    .. " (else such users make the whole import fail, writing nothing)."):choices{ "email" }
  fs:flag("--json", "The summary as JSON.")

  local br = p:command("breached", "The breached-password list (password_breached_file).")
  br:command_target("breached_command")
  local build = br:command("build", "Build the compact binary form of a Have I Been Pwned list (SHA-1"
    .. " HEX:COUNT lines ordered by hash), mapped and searched in place by fsec.")
  build:argument("input", "The text list, sorted by hash (HIBP's ordered download).")
  build:argument("output", "The binary list (written beside it, then renamed over it).")
  return p
end


return _M
