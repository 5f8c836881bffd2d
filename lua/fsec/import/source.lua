--- What fsec.import reads from a Flask-Security database: its real
-- tables only (fsec.import.sqlite and fsec.import.postgres check them
-- before any row is read), of the user table only the columns the import
-- uses, sized by the source before any row is read. Internal to
-- fsec.import.
-- @module fsec.import.source

local dburi = require "fsec.dburi"

local _M = { _VERSION = "0.1.0" }


-- The tables the import reads. Flask-Security-Too's WebAuthn model is
-- the application's class: Flask-SQLAlchemy names `class WebAuthn` table
-- web_authn, and applications that name it often say webauthn.
local TABLES = { "user", "role", "roles_users", "webauthn", "web_authn" }
local WAN_TABLES = { "webauthn", "web_authn" }
local WAN_COLUMNS = { "user_id", "credential_id", "public_key", "sign_count", "transports", "backup_state",
                      "device_type", "create_datetime", "lastuse_datetime", "name", "usage" }

-- The source: a PostgreSQL URI (fsec.import.postgres) or a SQLite file
-- (fsec.import.sqlite); either checks the tables are real ones first.
local function open_source(source)
  if dburi.is_uri(source) then return require("fsec.import.postgres").open(source, TABLES) end
  return require("fsec.import.sqlite").open(source, TABLES)
end


-- The user columns the import reads (of those the source has; with
-- the configuration's own fields): no other is read.
local USER_COLUMNS = { "id", "email", "username", "password", "active", "confirmed_at", "fs_uniquifier",
                       "fs_token_uniquifier", "last_login_at", "current_login_at", "last_login_ip",
                       "current_login_ip", "login_count", "fs_webauthn_user_handle", "tf_primary_method",
                       "tf_totp_secret", "tf_phone_number", "us_totp_secrets", "us_phone_number",
                       "mf_recovery_codes" }

-- What the import holds in memory: no value of a user column over
-- VALUE_MAX bytes (a hash, a sealed secret, a list of recovery codes
-- are far less), and not over ROWS_MAX bytes of them all (a million
-- users at 1 KiB each). Counted by the source before any row is read:
-- a small file can hold a large default (a rewritten schema gives a
-- column a 1 MB DEFAULT that every row then reads as its value: an
-- attack review made a 2 MB file take 2 GB).
local VALUE_MAX, ROWS_MAX = 65536, 1024 * 1024 * 1024

local function user_columns(src, ucols, fields)
  local cols, seen = {}, {}
  local function add(c)
    if ucols[c] and not seen[c] then cols[#cols + 1], seen[c] = c, true end
  end
  for _, c in ipairs(USER_COLUMNS) do add(c) end
  for _, f in ipairs(fields or {}) do add(f.name) end
  local longest, bytes = src:sizes("user", cols)
  for _, c in ipairs(cols) do
    if longest[c] > VALUE_MAX then
      error(("%s: a value of the user table's %s is %d bytes, over %d: not a Flask-Security user's;"
        .. " nothing imported"):format(src.name, c, longest[c], VALUE_MAX), 0)
    end
  end
  if bytes > ROWS_MAX then
    error(("%s: the user table's values come to %.0f bytes, over %d: nothing imported")
      :format(src.name, bytes, ROWS_MAX), 0)
  end
  return cols
end

-- Everything the import takes from the source, read before anything is
-- written: user columns, roles, users, links, users with WebAuthn keys.
local function read_source(src, fields)
  local ucols = src:columns("user")
  if not ucols.email then error(src.name .. " has no Flask-Security user table", 0) end
  local rcols = { "id", "name", "description" }
  if src:columns("role").permissions then rcols[#rcols + 1] = "permissions" end
  local roles = src:select("role", rcols, "id")
  for _, r in ipairs(roles) do -- SQLite keeps any type in any column
    if type(r.name) ~= "string" then
      error(("%s: role id %s: its name is not text; nothing imported"):format(src.name, tostring(r.id)), 0)
    end
  end
  local users = src:select("user", user_columns(src, ucols, fields), "id")
  local links = src:select("roles_users", { "user_id", "role_id" })
  local keys = {} -- source user id -> its WebAuthn rows, in id order
  for _, tbl in ipairs(WAN_TABLES) do
    local cols = src:columns(tbl)
    if cols.user_id and cols.credential_id then
      for _, c in ipairs(WAN_COLUMNS) do
        if not cols[c] then error(("%s: %s has no column %s"):format(src.name, tbl, c), 0) end
      end
      for _, k in ipairs(src:select(tbl, WAN_COLUMNS, "id")) do
        local list = keys[k.user_id] or {}
        list[#list + 1] = k
        keys[k.user_id] = list
      end
      break
    end
  end
  return ucols, roles, users, links, keys
end


--- Everything the import takes from `source` (a SQLite file, or a
-- PostgreSQL URI), read before anything is written, the source closed
-- again: the user table's columns (a set), roles, users, links (rows of
-- roles_users), WebAuthn rows by source user id. fields: the
-- configuration's register_fields (their columns are read too). Raises
-- with a message for people (nothing read is in it).
function _M.read(source, fields)
  local src = open_source(source)
  local ok, ucols, roles, users, links, keys = pcall(read_source, src, fields)
  src:close()
  if not ok then error(ucols, 0) end
  return ucols, roles, users, links, keys
end


return _M
