---@meta fsec.datastore
-- LuaLS type stubs for the datastore interface (`sec.datastore`; the
-- contract at the top of lua/fsec/datastore.lua) and the two stores fsec
-- ships: fsec.datastore.sqlite and fsec.datastore.memory.
-- Conventions: "not found" is nil; failures are `nil, "ECODE: message",
-- "ECODE"` with nothing written; wrong argument types raise. Every call
-- commits on its own unless inside `ds:transaction(fn)`.

---Fields of `Datastore:create_user`.
---@class fsec.NewUser
---@field email string
---@field password? string already hashed (`sec:hash_password`)
---@field username? string
---@field active? boolean default true
---@field confirmed_at? integer
---@field roles? (string|fsec.Role)[]
---@field fs_uniquifier? string
---@field fs_token_uniquifier? string
---@field fields? table<string, string|integer|boolean> the application's own fields (register_fields), kept as one JSON object

---The datastore interface: what fsec calls on `sec.datastore`. Pass your
---own object as `datastore = obj` to `fsec.new`.
---@class fsec.Datastore
local Datastore = {}

---Find one user by exactly one key (email and username case-insensitive).
---@param query {id?: integer, email?: string, username?: string, fs_uniquifier?: string, fs_token_uniquifier?: string, us_phone_number?: string}
---@return fsec.User? user
---@return string? err
---@return string? code
function Datastore:find_user(query) end

---Create a user ("EIDENTITY", "EEXIST", "ENOTFOUND" for an unknown role, ...).
---@param fields fsec.NewUser
---@return fsec.User? user
---@return string? err
---@return string? code
function Datastore:create_user(fields) end

---@param user fsec.User
---@return boolean? deleted
---@return string? err
---@return string? code
function Datastore:delete_user(user) end

---@param user fsec.User
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:activate_user(user) end

---Deactivate a user: every session and token of the user ends too.
---@param user fsec.User
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:deactivate_user(user) end

---@param user fsec.User
---@return true? ok
---@return string? err
---@return string? code
function Datastore:toggle_active(user) end

---@param user fsec.User
---@param hash string an already hashed password
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:set_password(user, hash) end

---@param user fsec.User
---@param email string
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:set_email(user, email) end

---@param user fsec.User
---@param username? string
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:set_username(user, username) end

---@param user fsec.User
---@param t? integer seconds; nil: unconfirmed
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:set_confirmed_at(user, t) end

---Set one of the text fields kept for Flask-Security imports.
---@param user fsec.User
---@param name "tf_primary_method"|"tf_totp_secret"|"tf_phone_number"|"us_totp_secrets"|"us_phone_number"|"mf_recovery_codes"
---@param value? string
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:set_field(user, name, value) end

---A new fs_uniquifier (random unless given): sessions end.
---@param user fsec.User
---@param u? string
---@return true? ok
---@return string? err
---@return string? code
function Datastore:set_uniquifier(user, u) end

---A new fs_token_uniquifier: auth tokens end.
---@param user fsec.User
---@param u? string
---@return true? ok
---@return string? err
---@return string? code
function Datastore:set_token_uniquifier(user, u) end

---New uniquifiers and no sessions: everything of the user stops working.
---@param user fsec.User
---@return true? ok
---@return string? err
---@return string? code
function Datastore:reset_user_access(user) end

---One atomic update: last_* from current_*, count + 1.
---@param user fsec.User
---@param ip? string
---@return true? ok
---@return string? err
---@return string? code
function Datastore:track_login(user, ip) end

---@param fields {name: string, description?: string, permissions?: string[]}
---@return fsec.Role? role
---@return string? err
---@return string? code
function Datastore:create_role(fields) end

---@param name string
---@return fsec.Role?
function Datastore:find_role(name) end

---@param name string
---@param fields? {description?: string, permissions?: string[]}
---@return fsec.Role? role
---@return string? err
---@return string? code
function Datastore:find_or_create_role(name, fields) end

---@param role string|fsec.Role
---@return boolean? deleted
---@return string? err
---@return string? code
function Datastore:delete_role(role) end

---@param user fsec.User
---@param role string|fsec.Role
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:add_role_to_user(user, role) end

---@param user fsec.User
---@param role string|fsec.Role
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:remove_role_from_user(user, role) end

---@param role string|fsec.Role
---@param perms string|string[]
---@return boolean? ok false: no such role
---@return string? err
---@return string? code
function Datastore:add_permissions_to_role(role, perms) end

---@param role string|fsec.Role
---@param perms string|string[]
---@return boolean? ok false: no such role
---@return string? err
---@return string? code
function Datastore:remove_permissions_from_role(role, perms) end

---Count a failed login (atomic); a window older than `window` starts again at 1.
---@param user fsec.User
---@param window integer seconds
---@return integer? failures in the current window
---@return string? err
---@return string? code
function Datastore:record_failed_login(user, window) end

---@param user fsec.User
---@return true? ok
---@return string? err
---@return string? code
function Datastore:reset_failed_logins(user) end

---Reserve one password check before its hash runs, counted as a failure
---at once; false while `threshold` failures stand in the window. Atomic
---across connections and processes.
---@param user fsec.User
---@param threshold integer
---@param window integer seconds
---@return integer|false|nil count failures now counted, or false
---@return string? err
---@return string? code
function Datastore:reserve_login(user, threshold, window) end

---Give back a reservation whose check never ran.
---@param user fsec.User
---@return true? ok
---@return string? err
---@return string? code
function Datastore:release_login(user) end

---`reserve_login` for an identity that names no account, by key.
---@param key string a keyed hash of the identity, at most 128 bytes
---@param threshold integer
---@param window integer
---@return integer|false|nil count
---@return string? err
---@return string? code
function Datastore:reserve_attempt(key, threshold, window) end

---The replay guard of one-time codes (RFC 6238 5.2): store counter as the
---last accepted for user and method when none is yet or it is greater.
---Atomic across connections and nodes.
---@param user fsec.User
---@param method string 1..32 bytes of [A-Za-z0-9_.:-]
---@param counter integer >= 0 (a TOTP time step)
---@return boolean? stored false: a replay (not greater than the stored one)
---@return string? err
---@return string? code
function Datastore:otp_advance(user, method, counter) end

---Compare-and-set of one of set_field's fields: value is stored (and set
---on user) only while the field holds expected (nil: none). Atomic.
---@param user fsec.User
---@param name "tf_primary_method"|"tf_totp_secret"|"tf_phone_number"|"us_totp_secrets"|"us_phone_number"|"mf_recovery_codes"
---@param expected? string
---@param value? string
---@return boolean? swapped
---@return string? err
---@return string? code
function Datastore:swap_text(user, name, expected, value) end

---@param user fsec.User
---@param sid string
---@param expires_at integer
---@return true? ok
---@return string? err
---@return string? code
function Datastore:create_session(user, sid, expires_at) end

---The user of an unexpired session whose uniquifier matches.
---@param sid string
---@param fs_uniquifier string
---@return fsec.User? user
---@return string? err
---@return string? code
function Datastore:find_user_by_session(sid, fs_uniquifier) end

---@param sid string
---@return boolean? deleted
---@return string? err
---@return string? code
function Datastore:delete_session(sid) end

---Optional: a live session's data (text, or false when none was
---written) and its version; nil when there is no such live session.
---@param sid string
---@return string|false|nil data
---@return integer|string|nil version_or_err
---@return string? code
function Datastore:get_session_data(sid) end

---Optional: compare-and-set of a live session's data.
---@param sid string
---@param data? string JSON text (nil: none)
---@param version integer the version get_session_data gave
---@return boolean? written false: another write came first, or the session is gone
---@return string? err
---@return string? code
function Datastore:set_session_data(sid, data, version) end

---Optional: replace the application's own fields of a user (as
---create_user's `fields`; nil or {}: none). Ends no session.
---@param user fsec.User
---@param fields? table<string, string|integer|boolean>
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:set_user_fields(user, fields) end

---Optional: queue a whole message in the outbox (fsec.outbox), in the
---caller's transaction when there is one.
---@param m { message_id: string, sender: string, recipient: string, kind: string, message: string }
---@return integer? id
---@return string? err
---@return string? code
function Datastore:outbox_add(m) end

---Optional: claim the oldest due message for lease seconds.
---@param owner string
---@param lease integer
---@return table|false|nil row false: none due
---@return string? err
---@return string? code
function Datastore:outbox_claim(owner, lease) end

---Optional: a claimed message was sent (its row is deleted).
---@param id integer
---@return boolean? deleted
---@return string? err
---@return string? code
function Datastore:outbox_sent(id) end

---Optional: a claim failed; next attempt at next_at (nil: given up).
---@param id integer
---@param owner string
---@param next_at? integer
---@param err? string
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:outbox_retry(id, owner, next_at, err) end

---Optional: rows queued and rows given up.
---@return integer? queued
---@return integer|string|nil given_up_or_err
---@return string? code
function Datastore:outbox_counts() end

---A WebAuthn credential (passkey), as the datastore keeps it.
---@class fsec.WebAuthnCredential
---@field id integer
---@field user_id integer
---@field credential_id string bytes
---@field public_key string bytes: the COSE_Key
---@field sign_count integer
---@field transports string[]
---@field name string unique per user
---@field usage "first"|"secondary"
---@field backup_state boolean
---@field device_type? string
---@field user_handle? string
---@field create_datetime integer
---@field lastuse_datetime integer

---Optional: the user's WebAuthn user handle, stored (a new random one, or
---handle) only when the user has none; the stored one otherwise.
---@param user fsec.User
---@param handle? string at most 64 bytes (imports)
---@return string? handle
---@return string? err
---@return string? code
function Datastore:set_webauthn_user_handle(user, handle) end

---Optional: the user of a WebAuthn user handle.
---@param handle string
---@return fsec.User? user nil when none
---@return string? err
---@return string? code
function Datastore:find_user_by_webauthn_handle(handle) end

---Optional: add a WebAuthn credential; nil, "credential_id_in_use" or
---"name_in_use", "EEXIST" when taken.
---@param user fsec.User
---@param fields { credential_id: string, public_key: string, sign_count?: integer, transports?: string[], name: string, usage: "first"|"secondary", backup_state?: boolean, device_type?: string, user_handle?: string, create_datetime?: integer, lastuse_datetime?: integer }
---@return fsec.WebAuthnCredential? cred
---@return string? err
---@return string? code
function Datastore:create_webauthn(user, fields) end

---Optional: the credential of a credential id (bytes).
---@param credential_id string
---@return fsec.WebAuthnCredential? cred nil when none
---@return string? err
---@return string? code
function Datastore:find_webauthn(credential_id) end

---Optional: the user's credentials, in creation order.
---@param user fsec.User
---@return fsec.WebAuthnCredential[]? creds
---@return string? err
---@return string? code
function Datastore:webauthn_credentials(user) end

---Optional: the user a credential belongs to.
---@param cred fsec.WebAuthnCredential
---@return fsec.User? user
---@return string? err
---@return string? code
function Datastore:find_user_from_webauthn(cred) end

---Optional: compare-and-set of the sign count read into cred (and its
---last use); false when another request moved it first.
---@param cred fsec.WebAuthnCredential
---@param new_sign_count integer
---@param now? integer default: the store's clock
---@return boolean? changed
---@return string? err
---@return string? code
function Datastore:webauthn_used(cred, new_sign_count, now) end

---Optional: delete one credential.
---@param cred fsec.WebAuthnCredential
---@return boolean? deleted
---@return string? err
---@return string? code
function Datastore:delete_webauthn(cred) end

---Optional: delete every credential of the user and clear the handle.
---@param user fsec.User
---@return true?
---@return string? err
---@return string? code
function Datastore:webauthn_reset(user) end

---@param user fsec.User
---@param keep_sid? string
---@return integer? count removed
---@return string? err
---@return string? code
function Datastore:delete_user_sessions(user, keep_sid) end

---Run fn in one write transaction; an error in fn rolls everything back
---and is raised again.
---@generic R
---@param fn fun(...): R
---@param ... any passed to fn
---@return R ...
function Datastore:transaction(fn, ...) end

---@return integer users
---@return integer roles
function Datastore:counts() end

---Close the store.
---@return nil
function Datastore:close() end

---fsec's embedded store (`database = "file.db"`), over the C store.
---@class fsec.datastore.SQLite: fsec.Datastore
local SQLite = {}

---`transaction` with the commit's fsync left to the syncer (optional in
---the interface).
---@generic R
---@param fn fun(...): R
---@param ... any
---@return R ...
function SQLite:transaction_deferred(fn, ...) end

---Give the function that makes commits durable: syncer(wal_path) -> true,
---or nil and a message; nil removes it.
---@param syncer? fun(wal_path: string): true?, string?
---@return boolean ok false when this database cannot defer
function SQLite:set_wal_syncer(syncer) end

---Iterate over users in id order, optionally only those with a role.
---@param role? string
---@return fun(): fsec.User?
function SQLite:each_user(role) end

---Iterate over roles in id order (fsec's own store: the command line).
---@return fun(): fsec.Role?
function SQLite:each_role() end

---A fact about the database itself (fsec.saltcheck): the value recorded
---under key, or nil.
---@param key string
---@return string? value
---@return string? err
---@return string? code
function SQLite:get_meta(key) end

---Record a fact about the database unless one is there (the first
---writer wins).
---@param key string
---@param value string
---@return boolean? added
---@return string? err
---@return string? code
function SQLite:add_meta(key, value) end

---Set login-tracking fields (imports).
---@param user fsec.User
---@param fields {last_login_at?: integer, current_login_at?: integer, last_login_ip?: string, current_login_ip?: string, login_count?: integer}
---@return true? ok
---@return string? err
---@return string? code
function SQLite:set_tracking(user, fields) end

---SQLite's integrity check.
---@return boolean ok
---@return string message
function SQLite:integrity_check() end

---@return integer
function SQLite:schema_version() end

---The revocation epoch: a number the database moves at every write that
---ends a session or token or changes what a user may do.
---@return integer? epoch
---@return string? err
---@return string? code
function SQLite:revocation_epoch() end

---Which database this is.
---@return "sqlite"|"postgresql"
function SQLite:backend() end

---SQLite's memory use.
---@return {cache_bytes: integer, statement_bytes: integer, sqlite_heap_bytes: integer}
function SQLite:memory() end

---A pure-Lua store (`fsec.datastore.memory`): a complete implementation
---to start your own from.
---@class fsec.datastore.Memory: fsec.Datastore

---The module `require "fsec.datastore"`: the interface's lists and the
---helpers implementations share.
---@class fsec.datastore
---@field METHODS string[] every interface method
---@field WRITES string[] the methods that write
---@field FIND_KEYS table<string, true> the keys find_user takes
local datastore = {}

---Check that ds has every interface method.
---@param ds any
---@return true? ok
---@return string? err names the first missing method
function datastore.check(ds) end

return datastore
