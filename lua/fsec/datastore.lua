--- The datastore interface, and helpers its implementations share.
--
-- fsec talks to users and roles only through these methods, so an
-- application can plug in its own store (PostgreSQL through OpenResty's
-- cosocket drivers, say) by passing `datastore = my_store` to `fsec.new`.
-- `spec/10-datastore_conformance_spec.lua` is the executable contract: it
-- runs against the SQLite implementation (`fsec.datastore.sqlite`) and a
-- pure-Lua one (`fsec.datastore.memory`).
--
-- Conventions: users are `fsec.user` User objects (snapshots with methods);
-- roles may be given as names or Role objects; "not found" is `nil`;
-- failures are `nil, "ECODE: message", "ECODE"`; wrong argument types
-- raise. Every call commits on its own unless inside `ds:transaction(fn)`.
--
--   find_user{ <key> = value }    exactly one of id, email, username,
--                                 fs_uniquifier, fs_token_uniquifier,
--                                 us_phone_number (as stored: E.164);
--                                 email and username case-insensitive
--   create_user{ email=, password=<already hashed>, username=, active=,
--                confirmed_at=, roles={...}, fs_uniquifier=,
--                fs_token_uniquifier=, fields={...} } -> User
--       fields: the application's own fields (register_fields), a
--       table of name -> string, integer or boolean, kept as one JSON
--       object; the User has them in user.fields (and reads them as
--       user.<name>)
--   delete_user(user)                                -> deleted
--   activate_user(user) / deactivate_user(user)      -> changed
--   toggle_active(user)                              -> true
--   set_password(user, hash) / set_email(user, e) / set_username(user, u)
--   set_confirmed_at(user, t|nil)                    -> changed
--   set_field(user, name, value)                     -> changed
--       (tf_primary_method, tf_totp_secret, tf_phone_number,
--        us_totp_secrets, us_phone_number, mf_recovery_codes)
--   set_uniquifier(user[, u]) / set_token_uniquifier(user[, u]) -> true
--   set_user_fields(user, fields|nil)                -> changed
--       optional: replace the user's own fields (as create_user's)
--   reset_user_access(user)                          -> true
--   track_login(user, ip|nil)                        -> true
--   create_role{ name=, description=, permissions= } -> Role
--   find_role(name)                                  -> Role | nil
--   find_or_create_role(name[, { description=, permissions= }]) -> Role
--   delete_role(role)                                -> deleted
--   add_role_to_user(user, role) / remove_role_from_user(user, role) -> changed
--   add_permissions_to_role(role, perms) / remove_permissions_from_role(role, perms)
--                                                    -> true | false (no such role)
--   record_failed_login(user, window)                -> failures in the
--       current window (atomic: parallel failures all count); a window
--       older than `window` seconds starts again at 1
--   reset_failed_logins(user)                        -> true
--   reserve_login(user, threshold, window)           -> failures now
--       counted, or false: one password check reserved before its hash
--       runs, counted as a failure at once (a success gives it back with
--       reset_failed_logins), refused while `threshold` failures stand in
--       the window. Atomic across connections and processes: however
--       many checks race, at most `threshold` are granted per window
--       (false too when the user no longer exists)
--   release_login(user)                              -> true: give back a
--       reservation whose check never ran (the hashing failed): one
--       failure fewer, never below 0
--   reserve_attempt(key, threshold, window)          -> the same for an
--       identity that names no account, by key (a keyed hash of it, at
--       most 128 bytes); a row is pruned once its own window (the
--       longest it was counted with) has passed, never by another caller's
--   otp_advance(user, method, counter)               -> true | false:
--       the replay guard of one-time codes (RFC 6238 5.2): counter (a
--       TOTP time step, >= 0) is stored as the last accepted for the user
--       and method (1..32 bytes of [A-Za-z0-9_.:-]) when none is yet or it
--       is greater; false when it is not (the code was used already).
--       Atomic across connections and nodes: of racers with the same
--       counter exactly one gets true. Rows go with the user; sessions
--       and caches are untouched
--   swap_text(user, field, expected, value)          -> true | false:
--       compare-and-set of one of set_field's fields, or the email:
--       value (nil: none) is stored only while the field holds expected
--       (nil: none; the email compares folded and is never nil), and set
--       on the user object then; false when it did not (or the user is
--       gone). Atomic as otp_advance: a single-use recovery code spent
--       twice at once is spent once, and of two links moving an account
--       from one address, one does. Under nginx on PostgreSQL neither
--       may run inside transaction() (its answer would come with the
--       commit): it raises there
--   create_session(user, sid, expires_at)           -> true
--   find_user_by_session(sid, fs_uniquifier)         -> User | nil (the
--       session must exist, be unexpired and belong to the user whose
--       uniquifier matches: rotating it ends every session)
--   delete_session(sid)                              -> deleted
--   get_session_data(sid)                            -> data | false (none
--       written), version; nil when no such live session. Optional (as
--       set_session_data): a datastore without them has no per-session
--       data (sec:session_data says so)
--   set_session_data(sid, data|nil, version)         -> true | false:
--       compare-and-set of a live session's data (text, at most
--       core.LIMITS.session_data bytes): written, and the version moved
--       by one, only while the session's version is `version`; false when
--       another write came first or the session is gone
--   delete_user_sessions(user[, keep_sid])           -> count removed
--   outbox_add{ message_id, sender, recipient, kind, message } -> row id:
--       queue a whole message (fsec.outbox), in the caller's transaction
--       when there is one. Optional, as the four below: a datastore
--       without them cannot take mail_server (the outbox needs a table)
--   outbox_claim(owner, lease)                       -> row | false (none
--       due): { id, message_id, sender, recipient, kind, message,
--       attempts, created_at }, leased to owner for lease seconds
--   outbox_sent(id)                                  -> deleted
--   outbox_retry(id, owner, next_at|nil, error|nil)  -> changed (only
--       while owner holds the lease; next_at nil: given up)
--   outbox_counts()                                  -> queued, given up
--   WebAuthn credentials (passkeys; optional, as the outbox):
--       set_webauthn_user_handle, find_user_by_webauthn_handle,
--       create_webauthn, find_webauthn, webauthn_credentials,
--       find_user_from_webauthn, webauthn_used, delete_webauthn,
--       webauthn_reset: see fsec.datastore.webauthn
--   transaction(fn, ...)  run fn in one write transaction; an error in fn
--                         rolls everything back and is raised again
--   transaction_deferred(fn, ...)  optional: the same, with the commit's
--                         fsync left to a syncer (see fsec.datastore.sqlite,
--                         whose write methods outside a transaction use it
--                         too; a login's writes use it when it is there)
--   counts()                                         -> users, roles
--   close()
--
-- @module fsec.datastore

local core = require "fsec.core"
local userlib = require "fsec.user"
local json = require("cjson.safe").new()

local type = type
local error = error
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local concat = table.concat
local select = select


local _M = { _VERSION = "0.1.0" }

_M.METHODS = {
  "find_user", "create_user", "delete_user", "activate_user",
  "deactivate_user", "toggle_active", "set_password", "set_email",
  "set_username", "set_confirmed_at", "set_field", "set_uniquifier",
  "set_token_uniquifier", "reset_user_access", "track_login", "create_role",
  "find_role", "find_or_create_role", "delete_role", "add_role_to_user",
  "remove_role_from_user", "add_permissions_to_role",
  "remove_permissions_from_role", "record_failed_login",
  "reset_failed_logins", "reserve_login", "release_login", "reserve_attempt",
  "otp_advance", "swap_text", "create_session", "find_user_by_session",
  "delete_session", "delete_user_sessions", "transaction", "counts", "close",
}

-- Methods a datastore may have; fsec.openresty's and fsec.cache's views
-- pass them on when the store has them.
_M.OPTIONAL = { "get_session_data", "set_session_data", "set_user_fields", "outbox_add", "outbox_claim",
                 "outbox_sent", "outbox_retry", "outbox_counts",
                 "set_webauthn_user_handle", "find_user_by_webauthn_handle", "create_webauthn",
                 "find_webauthn", "webauthn_credentials", "find_user_from_webauthn",
                 "webauthn_used", "delete_webauthn", "webauthn_reset" }

-- The methods above that write: outside a transaction each one commits
-- on its own (fsec.datastore.sqlite defers those commits' fsyncs to its
-- syncer; fsec.openresty drops cached users after most of them).
_M.WRITES = {
  "create_user", "delete_user", "activate_user", "deactivate_user",
  "toggle_active", "set_password", "set_email", "set_username",
  "set_confirmed_at", "set_field", "set_uniquifier", "set_token_uniquifier",
  "reset_user_access", "track_login", "create_role", "delete_role",
  "add_role_to_user", "remove_role_from_user", "add_permissions_to_role",
  "remove_permissions_from_role", "record_failed_login",
  "reset_failed_logins", "reserve_login", "release_login", "reserve_attempt",
  "otp_advance", "swap_text", "create_session", "delete_session",
  "delete_user_sessions", "set_user_fields",
  "set_webauthn_user_handle", "create_webauthn", "webauthn_used", "delete_webauthn",
  "webauthn_reset",
}

_M.FIND_KEYS = { id = true, email = true, username = true,
                 fs_uniquifier = true, fs_token_uniquifier = true,
                 us_phone_number = true }

_M.CREATE_FIELDS = { email = "string", password = "string", username = "string",
                     active = "boolean", confirmed_at = "number",
                     roles = "table", fs_uniquifier = "string",
                     fs_token_uniquifier = "string", fields = "table" }

_M.TEXT_FIELDS = { tf_primary_method = true, tf_totp_secret = true,
                   tf_phone_number = true, us_totp_secrets = true,
                   us_phone_number = true, mf_recovery_codes = true }


--- Raise a type error at the datastore method's caller.
function _M.argerror(fname, what, want, got)
  error(("bad %s to '%s' (%s expected, got %s)")
    :format(what, fname, want, type(got)), 4)
end


--- Check that `ds` has every interface method: true, or nil and a
-- message naming the first one missing (it does not raise).
function _M.check(ds)
  if type(ds) ~= "table" and type(ds) ~= "userdata" then
    return nil, "datastore must be a table, got " .. type(ds)
  end
  for _, m in ipairs(_M.METHODS) do
    if type(ds[m]) ~= "function" then
      return nil, "datastore lacks method '" .. m .. "'"
    end
  end
  return true
end


--- The single key and value of a find_user query.
function _M.one_key(query, fname)
  if type(query) ~= "table" then _M.argerror(fname, "argument #1", "table", query) end
  local key, value, n = nil, nil, 0
  for k, v in pairs(query) do
    n = n + 1
    key, value = k, v
  end
  if n ~= 1 or not _M.FIND_KEYS[key] then
    error("bad argument #1 to '" .. fname .. "' (exactly one of id, email, "
      .. "username, fs_uniquifier, fs_token_uniquifier, us_phone_number expected)", 3)
  end
  local t = type(value)
  if key == "id" then
    if t ~= "number" and t ~= "string" then
      _M.argerror(fname, "field 'id'", "number", value)
    end
  elseif t ~= "string" then
    _M.argerror(fname, "field '" .. key .. "'", "string", value)
  end
  return key, value
end


--- Check create_user's fields: known names, right types.
function _M.check_create(fields, fname)
  if type(fields) ~= "table" then _M.argerror(fname, "argument #1", "table", fields) end
  for k, v in pairs(fields) do
    local want = _M.CREATE_FIELDS[k]
    if not want then
      error("bad field '" .. tostring(k) .. "' to '" .. fname .. "' (unknown field)", 3)
    end
    if type(v) ~= want then _M.argerror(fname, "field '" .. k .. "'", want, v) end
    if want == "number" then _M.whole(v, fname, "field '" .. k .. "'") end
  end
  if fields.email == nil then _M.argerror(fname, "field 'email'", "string", nil) end
end


--- The application's fields as stored: JSON text of an object (keys
-- sorted, so equal fields are equal text), or nil when there are none.
-- Names are strings of [a-z0-9_] (at most 64 bytes); values strings,
-- whole numbers or booleans. Anything else raises at fname's caller:
-- the datastore is no place to validate a form (fsec.regfields does).
function _M.encode_fields(fields, fname)
  if fields == nil then return nil end
  if type(fields) ~= "table" then _M.argerror(fname, "fields", "table", fields) end
  local names = {}
  for k, v in pairs(fields) do
    if type(k) ~= "string" or #k > 64 or not k:match("^[a-z][a-z0-9_]*$") then
      error("bad fields to '" .. fname .. "' (names of [a-z0-9_] expected, got " .. tostring(k) .. ")", 3)
    end
    local t = type(v)
    if t == "number" then
      if v ~= math.floor(v) or v >= 2^53 or v <= -2^53 then
        error("bad field '" .. k .. "' to '" .. fname .. "' (whole number expected)", 3)
      end
    elseif t ~= "string" and t ~= "boolean" then
      _M.argerror(fname, "field '" .. k .. "'", "string, integer or boolean", v)
    end
    names[#names + 1] = k
  end
  if #names == 0 then return nil end
  table.sort(names)
  local parts = {}
  for i, k in ipairs(names) do
    local v = fields[k]
    if type(v) == "number" then v = ("%d"):format(v) else v = json.encode(v) end
    parts[i] = json.encode(k) .. ":" .. v
  end
  return "{" .. concat(parts, ",") .. "}"
end


--- Role names from a list of names or Role objects.
function _M.role_names(roles, fname)
  local names = {}
  for i, r in ipairs(roles or {}) do
    local name = type(r) == "table" and r.name or r
    if type(name) ~= "string" then _M.argerror(fname, "role #" .. i, "string", name) end
    names[i] = name
  end
  return names
end


--- A role name from a name or a Role.
function _M.role_name(role, fname)
  local name = type(role) == "table" and role.name or role
  if type(name) ~= "string" then _M.argerror(fname, "role", "string or Role", role) end
  return name
end


--- Permissions as a list: from a list, a set, or a comma-separated string
-- (Flask-Security accepts all three).
function _M.permission_list(perms, fname)
  local list = {}
  if perms == nil then return list end
  if type(perms) == "string" then
    for p in perms:gmatch("[^,]+") do
      p = p:match("^%s*(.-)%s*$")
      if p ~= "" then list[#list + 1] = p end
    end
    return list
  end
  if type(perms) ~= "table" then _M.argerror(fname, "permissions", "list or string", perms) end
  if #perms > 0 then
    for i, p in ipairs(perms) do
      if type(p) ~= "string" then _M.argerror(fname, "permission #" .. i, "string", p) end
      list[#list + 1] = p
    end
  else
    for p, on in pairs(perms) do
      if type(p) ~= "string" then _M.argerror(fname, "permission", "string", p) end
      if on then list[#list + 1] = p end
    end
    table.sort(list)
  end
  for _, p in ipairs(list) do
    if p == "" or p:find(",", 1, true) then
      error("bad permission '" .. p .. "' to '" .. fname .. "' (empty or has a comma)", 3)
    end
  end
  return list
end


--- Union (add = true) or difference of two permission lists, order kept.
function _M.merge_permissions(current, change, add)
  local out, seen, drop = {}, {}, {}
  if not add then
    for _, p in ipairs(change) do drop[p] = true end
  end
  for _, p in ipairs(current) do
    if not drop[p] and not seen[p] then
      out[#out + 1] = p
      seen[p] = true
    end
  end
  if add then
    for _, p in ipairs(change) do
      if not seen[p] then
        out[#out + 1] = p
        seen[p] = true
      end
    end
  end
  return out
end


function _M.csv(list) return concat(list, ",") end


--- pcall that keeps every result: ok, n, results (table).
function _M.pack_pcall(fn, ...)
  local function pack(ok, ...)
    return ok, select("#", ...), { ... }
  end
  return pack(pcall(fn, ...))
end


function _M.check_user(u, fname)
  if not userlib.is_user(u) then _M.argerror(fname, "argument #1", "User", u) end
end


--- A time or a count given as a number (a timestamp may come from
-- ngx.now(), with a fraction): whole seconds. Raises on anything that is
-- not a finite number within what both stores keep (SQLite's integers
-- as Lua numbers hold them exactly: 2^53).
function _M.whole(v, fname, what, nilable)
  if v == nil and nilable then return nil end
  if type(v) ~= "number" then _M.argerror(fname, what, "number", v) end
  if v ~= v or v >= 2^53 or v <= -2^53 then
    error(("bad %s to '%s' (finite number expected, got %s)"):format(what, fname, tostring(v)), 3)
  end
  return math.floor(v)
end


--- A counter (otp_advance): a whole number, no fraction dropped (a time
-- step computed wrong must not silently become another one).
function _M.counter(v, fname, what)
  if type(v) ~= "number" then _M.argerror(fname, what, "number", v) end
  if v ~= v or v >= 2^53 or v <= -2^53 or v ~= math.floor(v) then
    error(("bad %s to '%s' (integer expected, got %s)"):format(what, fname, tostring(v)), 3)
  end
  return math.floor(v)
end


function _M.check_string(v, fname, what, nilable)
  if type(v) ~= "string" and not (nilable and v == nil) then
    _M.argerror(fname, what, "string", v)
  end
end


--- End every session, remember cookie and token of user u: new
-- uniquifiers (a session or token names the uniquifier it was made
-- under, so every one made before no longer signs in) and u's server-side
-- sessions deleted, but keep (a session id, optional; rotate its cookie,
-- as Security:end_other_sessions does). Over any datastore of the
-- interface. Not a transaction of its own: run it inside ds:transaction
-- with the change it belongs to (every caller in fsec does), so that the
-- two commit together or not at all.
-- @return true, or nil, "ECODE: message", code
function _M.revoke_all(ds, u, keep)
  local ok, err, code = ds:set_uniquifier(u)
  if ok == nil then return nil, err, code end
  ok, err, code = ds:set_token_uniquifier(u)
  if ok == nil then return nil, err, code end
  ok, err, code = ds:delete_user_sessions(u, keep)
  if ok == nil then return nil, err, code end
  return true
end


--- The user-field methods every datastore shares, written over one
-- primitive of the implementation:
-- set(self, user, column, value, fname) -> changed | nil, err, code
-- (which also updates the caller's user object).
function _M.field_methods(Class, set)
  local check_string = _M.check_string

  -- Deactivation also ends every session, remember cookie and token of
  -- the account (new uniquifiers, its sessions deleted), in one
  -- transaction: an account disabled because it was taken over must not
  -- come back with the intruder's sessions when it is enabled again.
  local function deactivate(self, u, fname)
    return _M.all_or_nothing(self, function()
      local changed = _M.must(set(self, u, "active", false, fname))
      _M.must(_M.revoke_all(self, u))
      return changed
    end)
  end

  function Class:activate_user(u) return set(self, u, "active", true, "activate_user") end
  function Class:deactivate_user(u)
    _M.check_user(u, "deactivate_user")
    if not u.active then return set(self, u, "active", false, "deactivate_user") end -- unchanged: false
    return deactivate(self, u, "deactivate_user")
  end

  function Class:toggle_active(u)
    _M.check_user(u, "toggle_active")
    local ok, err, code
    if u.active then
      ok, err, code = deactivate(self, u, "toggle_active")
    else
      ok, err, code = set(self, u, "active", true, "toggle_active")
    end
    if ok == nil then return nil, err, code end
    return true
  end

  function Class:set_password(u, hash)
    check_string(hash, "set_password", "argument #2", true)
    return set(self, u, "password", hash, "set_password")
  end

  function Class:set_email(u, email)
    check_string(email, "set_email", "argument #2")
    return set(self, u, "email", email, "set_email")
  end

  function Class:set_username(u, name)
    check_string(name, "set_username", "argument #2", true)
    return set(self, u, "username", name, "set_username")
  end

  function Class:set_user_fields(u, fields)
    _M.check_user(u, "set_user_fields")
    local text = _M.encode_fields(fields, "set_user_fields")
    local changed, err, code = set(self, u, "fields", text, "set_user_fields")
    if changed == nil then return nil, err, code end
    u.fields = userlib.decode_fields(text)
    return changed
  end

  function Class:set_confirmed_at(u, t)
    return set(self, u, "confirmed_at", _M.whole(t, "set_confirmed_at", "argument #2", true), "set_confirmed_at")
  end

  function Class:set_field(u, name, value)
    if not _M.TEXT_FIELDS[name] then
      error("bad argument #2 to 'set_field' (unknown field '" .. tostring(name) .. "')", 2)
    end
    check_string(value, "set_field", "argument #3", true)
    return set(self, u, name, value, "set_field")
  end

  local function set_id(self, u, column, uq, fname)
    check_string(uq, fname, "argument #2", true)
    -- none given, or an empty one: a new one (Flask-Security takes any
    -- false value so); storing "" would end nothing and look rotated
    if uq == "" then uq = nil end
    local ok, err, code = set(self, u, column, uq or _M.random_id(), fname)
    if ok == nil then return nil, err, code end
    return true
  end

  function Class:set_uniquifier(u, uq) return set_id(self, u, "fs_uniquifier", uq, "set_uniquifier") end
  function Class:set_token_uniquifier(u, uq)
    return set_id(self, u, "fs_token_uniquifier", uq, "set_token_uniquifier")
  end

  --- Every session and token ended (revoke_all) and cleared two-factor,
  -- unified sign-in and recovery data; the password stays.
  function Class:reset_user_access(u)
    _M.check_user(u, "reset_user_access")
    return _M.all_or_nothing(self, function()
      _M.must(_M.revoke_all(self, u))
      for name in pairs(_M.TEXT_FIELDS) do _M.must(self:set_field(u, name, nil)) end
      -- passkeys too, as Flask-Security-Too's webauthn_reset
      if self.webauthn_reset then _M.must(self:webauthn_reset(u)) end
      return true
    end)
  end
end


--- Raise the error of a failed call (nil, msg), pass anything else.
function _M.must(ok, err)
  if ok == nil then error(err, 0) end
  return ok
end


--- nil, "ENUL: <field> contains a NUL byte", "ENUL" for the first string
-- field, or role name in fields.roles, holding a NUL byte (the C store
-- takes C strings: "admin\0x" would be read as "admin").
function _M.nul_field(fields)
  for k, v in pairs(fields) do
    if type(v) == "string" and v:find("\0", 1, true) then
      return nil, "ENUL: " .. k .. " contains a NUL byte", "ENUL"
    end
  end
  for _, r in ipairs(type(fields.roles) == "table" and fields.roles or {}) do
    local ok, err, code = _M.nul_role(type(r) == "table" and r.name or r)
    if not ok then return nil, err, code end
  end
  return true
end


--- nil, "ENUL: role contains a NUL byte", "ENUL" for such a role name.
function _M.nul_role(name)
  if type(name) == "string" and name:find("\0", 1, true) then
    return nil, "ENUL: role contains a NUL byte", "ENUL"
  end
  return true
end


--- Run fn inside ds:transaction; an error becomes nil, message, code
-- (the code is the ECODE prefix of the message, when there is one).
function _M.all_or_nothing(ds, fn)
  local ok, res = pcall(ds.transaction, ds, fn)
  if ok then return res end
  local msg = tostring(res)
  return nil, msg, msg:match("(E%u+):") or "EDB"
end


require("fsec.datastore.webauthn").install(_M)


_M.random_id = core.random_id


return _M
