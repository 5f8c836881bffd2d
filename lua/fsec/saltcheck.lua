--- The password salt a database was made with, checked whenever fsec
-- opens it with a salt (fsec.new with `database`, the `fsec` command).
-- Users' hashes depend on the salt (Flask-Security's HMAC pre-hash): an
-- application or a command given another salt would create users who can
-- never sign in, and nobody signs in who was made with the right one. The
-- database keeps no salt, only a check of it: a password hash of a fixed
-- text, as the application hashes passwords (the salt's HMAC, then
-- argon2id) but at most at OWASP's floor (19 MiB, t=2): each process that
-- opens the database verifies it once (every nginx worker at its start,
-- whose memory would otherwise keep a 64 MiB peak), and guessing a salt
-- from it still costs a password hash per guess.
--
-- A database that has no check yet (made before schema 7, or made by a
-- command that hashes nothing, such as `fsec roles create`) gets one at
-- its first open with a salt; when it already holds users, that is logged
-- (a warning), since from then on another salt is refused.
-- @module fsec.saltcheck

local core = require "fsec.core"
local config = require "fsec.config"

local min = math.min

local _M = { _VERSION = "0.1.0" }

local KEY = "password_salt_check"
-- what is hashed: fixed, so any process with the same salt and the same
-- password_single_hash setting verifies it
local TEXT = "fsec: the password salt of this database (v1)"

local MISMATCH = "password_salt does not match this database: its users' passwords were hashed"
  .. " with another salt (or with none: password_single_hash), so nobody could sign in;"
  .. " give the salt the database was made with"

local function store_error(err)
  return nil, "could not read or record the password salt check: " .. tostring(err)
end

-- A check that cannot run because hashing itself fails (the argon2
-- helper down, a stored check over this configuration's caps): the
-- application starts and logs it. While hashing fails no user is made
-- and nobody signs in (each such request answers an error), so nothing
-- is written that the check guards against.
local function unchecked(log, why)
  log("error", "fsec: the password salt check could not run (" .. tostring(why) .. ")")
  return true
end

-- A database with no check gets the one of this salt (the first writer
-- wins when processes race). Returns the check to verify, or true when
-- this call recorded it, or nil, err.
local function record(engine, ds, log)
  local h, herr = engine:hash_password(TEXT)
  if not h then return unchecked(log, herr) end
  local added, err = ds:add_meta(KEY, h)
  if added == nil then return store_error(err) end
  if not added then -- another process recorded one first: that one counts
    local stored
    stored, err = ds:get_meta(KEY)
    if not stored then return store_error(err) end
    return stored
  end
  if (ds:counts() or 0) > 0 then
    log("warn", "fsec: this database had no password salt check (made before fsec schema 7):"
      .. " recorded the one of the salt given now; from now on another password_salt is refused")
  end
  return true
end

-- An engine of the application's (salt, normalization, argon2 helper)
-- whose argon2id costs at most OWASP's floor.
local function check_engine(ecfg)
  local e = {}
  for k, v in pairs(ecfg) do e[k] = v end
  e.argon2_memory_kib = min(e.argon2_memory_kib, config.OWASP_ARGON2_MIN_MEMORY_KIB)
  e.argon2_time = min(e.argon2_time, config.OWASP_ARGON2_MIN_TIME)
  return core.new(e)
end

local function check_with(engine, ds, log)
  local stored, err = ds:get_meta(KEY)
  if err then return store_error(err) end
  if not stored then
    stored, err = record(engine, ds, log)
    if stored == true or stored == nil then return stored, err end
  end
  local ok, why = engine:verify_password(TEXT, stored)
  if ok then return true end
  if why then return unchecked(log, why) end
  return nil, MISMATCH
end

--- Check the database's salt (record it when it has no check): true, or
-- nil and a message that names the problem (never the salt). ecfg: the
-- application's engine configuration (fsec.engine_config). log(level,
-- msg) hears that a check was recorded in a database with users, or
-- could not run.
function _M.check(ecfg, ds, log)
  local engine, err = check_engine(ecfg)
  if not engine then return nil, err end
  local ok, msg = check_with(engine, ds, log)
  engine:close()
  return ok, msg
end

return _M
