---@meta fsec.core
-- LuaLS type stubs for `require "fsec.core"`, the C binding
-- (bindings/*.c, its luaL_Reg tables). Applications use `fsec`; this
-- layer is for adapters and tools. Failures: `nil, "ECODE: message", "ECODE"`.

---The C module.
---@class fsec.core
---@field version string the C engine's version
---@field TOKEN_VALID integer status of `Engine:verify_token`
---@field TOKEN_EXPIRED integer
---@field TOKEN_INVALID integer
---@field SCHEMA_VERSION integer the store's schema version
---@field WAL_LIMIT integer WAL size (bytes) above which the syncer checkpoints
---@field LIMITS fsec.core.Limits the store's limits on values, from the C headers
---@field CONFIG fsec.core.Config the engine's defaults and ranges (engine.h)
---@field header_find_ptr lightuserdata for LuaJIT's FFI (fsec.openresty)
---@field cookie_find_ptr lightuserdata for LuaJIT's FFI
---@field header_cookie_ptr lightuserdata for LuaJIT's FFI (fsec.openresty: the Cookie header and one cookie in it)
---@field shared_counter_get_ptr lightuserdata for LuaJIT's FFI
local core = {}

---The store's limits on values, in bytes (`roles_per_user`: a count): what
---the C headers enforce (FSEC_<NAME>_MAX), for the Lua layers to reuse.
---@class fsec.core.Limits
---@field email integer 254
---@field username integer 64
---@field hash integer a stored password hash, 512
---@field ip integer 64
---@field uniquifier integer fs_uniquifier, fs_token_uniquifier and session ids, 64
---@field role_name integer 80
---@field description integer a role's, 255
---@field permissions integer a role's comma-separated list, 4096
---@field text integer other text columns, 4096
---@field roles_per_user integer 64
---@field attempt_key integer a login-attempt key, 128
---@field meta integer a store meta key or value, 1024
---@field otp_method integer a one-time code method name, 32
---@field session_data integer the data one session may keep (JSON), 1048576
---@field fields integer a user's own fields (register_fields, JSON), 65536
---@field outbox_message integer one queued mail as sent in DATA, 1048576
---@field outbox_address integer an outbox row's sender or recipient, 512
---@field outbox_kind integer an outbox row's kind of mail, 64
---@field outbox_owner integer a drainer's lease owner name, 64
---@field outbox_message_id integer a queued mail's Message-ID, 255
---@field webauthn_id integer a WebAuthn credential id (bytes), 1023
---@field webauthn_key integer a WebAuthn COSE public key (bytes), 2048
---@field webauthn_name integer a WebAuthn credential's name, 64
---@field webauthn_handle integer a WebAuthn user handle, 64
---@field webauthn_text integer a WebAuthn credential's transports or device type, 255
---@field webauthn_sign_count integer a WebAuthn sign count (not bytes), 4294967295
---@field wan_attestation integer a WebAuthn attestation object, 16384
---@field wan_authdata integer WebAuthn authenticator data, 4096
---@field wan_credential_id integer a WebAuthn credential id, 1023
---@field wan_public_key integer a credential's COSE_Key, 1024
---@field wan_signature integer an assertion's signature, 1024
---@field wan_certificate integer a packed attestation's x5c[0] (DER), 4096
---@field webauthn_id integer a WebAuthn credential id (bytes), 1023
---@field webauthn_key integer a WebAuthn COSE public key (bytes), 2048
---@field webauthn_name integer a WebAuthn credential's name, 64
---@field webauthn_handle integer a WebAuthn user handle, 64
---@field webauthn_text integer a WebAuthn credential's transports or device type, 255
---@field webauthn_sign_count integer a WebAuthn sign count (not bytes), 4294967295

---The engine's defaults (`fsec_config_init`) and the ranges
---`fsec_config_check` enforces, by `core.new`'s field names, so that
---`fsec.config` checks the same numbers.
---@class fsec.core.Config
---@field defaults { password_max_bytes: integer, argon2_time: integer, argon2_memory_kib: integer, token_skew: integer, token_max_length: integer, caps: table<string, number> }
---@field ranges table<string, integer[]> `{ lo, hi }` each: password_max_bytes, argon2_time, argon2_memory_kib, token_skew, token_max_length, verify_budget

---A new engine (keys in guarded memory) from `fsec.engine_config`'s table.
---@param cfg table
---@return fsec.Engine? engine
---@return string? err
---@return string? code
function core.new(cfg) end

---The calling thread's argon2 helper process id, or nil.
---@return integer?
function core.argon2_helper_pid() end

---The default argon2 helper's path (beside fsec.core), or nil.
---@return string?
function core.argon2_helper_path() end

---Open (create, migrate) a store: an SQLite file, or a PostgreSQL URI.
---@param cfg {path: string, busy_timeout?: integer, synchronous?: "FULL"|"NORMAL", cache_kib?: integer, mmap_bytes?: integer, max_pages?: integer, connect_timeout?: integer, statement_timeout?: integer}
---@return fsec.Store? store
---@return string? err
---@return string? code
function core.open_store(cfg) end

---Is v a PostgreSQL connection URI ("postgresql://" or "postgres://")?
---@param v any
---@return boolean
function core.is_database_uri(v) end

---fsync a WAL file (run in a thread pool by fsec.openresty).
---@param wal_path string
---@return true? ok
---@return integer|string size_or_err
---@return string? code
function core.sync_wal(wal_path) end

---base64url of `nbytes` random bytes.
---@param nbytes? integer 16..64 (default 16)
---@return string
function core.random_id(nbytes) end

---Give the calling thread a nice value (Linux: per thread).
---@param n? integer 0..19 (default 10)
---@return true? ok
---@return string? err "ENAME: thread_nice: reason"
---@return string? code setpriority's errno name (EACCES, EPERM, ESRCH, EINVAL, ENOSYS)
function core.thread_nice(n) end

---Create a new file of mode 0600 (never an existing one, never through a link).
---@param path string
---@param data string
---@return true? ok
---@return string? err
---@return string? code
function core.create_private_file(path, data) end

---mkdir -p with mode 0700.
---@param path string
---@return true? ok
---@return string? err
---@return string? code
function core.make_private_dir(path) end

---The name of a C error code ("EINVAL").
---@param rc integer
---@return string
function core.errname(rc) end

---The checked, folded form of an email the store uses as its key.
---@param email string
---@return string? folded
---@return string? err
---@return string? code
function core.fold_email(email) end

---The form of an email to store and mail to (NFC local part, U-label domain).
---@param email string
---@return string? display
---@return string? err
---@return string? code
function core.email_display(email) end

---The checked, folded form of a username (NFKC case-folded).
---@param username string
---@return string? folded
---@return string? err
---@return string? code
function core.fold_username(username) end

---Check a text field: valid UTF-8, no NUL, at most `max` bytes.
---@param s string
---@param max? integer
---@return true? ok
---@return string? err
---@return string? code
function core.check_text(s, max) end

---Strict standard Base64 (with padding) decoding; nil when malformed.
---@param s string
---@return string?
function core.base64_decode(s) end

---Standard Base64 with padding.
---@param s string
---@return string
function core.base64_encode(s) end

---32 hex characters of BLAKE2b-128(s); keyed (16..64 bytes) it is a MAC.
---@param s string
---@param key? string
---@return string
function core.digest(s, key) end

---40 upper-case hex characters of SHA-1(s) (breached-password lookups only).
---@param s string
---@return string
function core.sha1_hex(s) end

---SHA-256 of s: 32 raw bytes (the hash of a WebAuthn clientDataJSON).
---@param s string
---@return string
function core.sha256(s) end

---@class fsec.core.WanOpts
---@field require_uv? boolean the UV flag must be set (false)
---@field algs? integer[] allowed COSE algs at registration ({ -7, -8, -257 })

---What a WebAuthn registration that was accepted holds.
---@class fsec.core.WanRegistration
---@field fmt "none"|"packed"
---@field attestation "none"|"self"|"basic" basic: x5c, its chain not checked
---@field credential_id string raw bytes
---@field public_key string the COSE_Key CBOR exactly as in authData (store it)
---@field alg integer -7 (ES256), -8 (EdDSA) or -257 (RS256)
---@field sign_count integer
---@field flags integer the authenticator data flags byte
---@field uv boolean
---@field be boolean backup eligible
---@field bs boolean backed up
---@field aaguid string 16 bytes

---What a WebAuthn assertion that was accepted reports.
---@class fsec.core.WanAssertion
---@field sign_count integer (the clone rule is the caller's)
---@field flags integer
---@field uv boolean
---@field be boolean
---@field bs boolean

---Check a WebAuthn registration's attestation object (raw bytes): RP ID
---hash, UP, UV if required, the key and its alg, fmt none or packed.
---The client data JSON is the caller's to check; pass its SHA-256.
---Reasons: "malformed", "rp_id", "user_present", "user_verified",
---"algorithm", "format", "attestation", "key".
---@param attestation_object string
---@param client_data_hash string 32 bytes
---@param rp_id string
---@param opts? fsec.core.WanOpts
---@return fsec.core.WanRegistration|nil info
---@return string? reason
function core.wan_register(attestation_object, client_data_hash, rp_id, opts) end

---Check a WebAuthn assertion against the stored COSE key: RP ID hash, UP,
---UV if required, no attested data, the signature over
---authenticator_data .. client_data_hash. Reasons: "malformed", "rp_id",
---"user_present", "user_verified", "signature", "key" (the stored key).
---@param public_key string the COSE_Key stored at registration
---@param authenticator_data string
---@param client_data_hash string 32 bytes
---@param signature string
---@param rp_id string
---@param opts? fsec.core.WanOpts
---@return fsec.core.WanAssertion|nil info
---@return string? reason
function core.wan_assert(public_key, authenticator_data, client_data_hash, signature, rp_id, opts) end

---The COSE alg of a key (checks that an imported key parses and is usable).
---@param public_key string
---@return integer|nil alg
---@return string? reason "malformed" or "key"
function core.wan_key_alg(public_key) end

---Do a and b hold the same bytes? Compared in time that depends on the
---lengths only (a secret a client sends against the stored one).
---@param a string
---@param b string
---@return boolean
function core.equal(a, b) end

---Check an itsdangerous URLSafeTimedSerializer token (Flask-Security's
---auth token: kdf "django-concat"; Flask's session cookie: "hmac") against
---each key, newest first. max_age nil: no age check.
---@param keys string[]
---@param salt string
---@param kdf "django-concat"|"hmac"
---@param token string
---@param max_age? integer
---@param now? integer
---@return "valid"|"expired"|"invalid" status
---@return string? json the payload (valid and expired only)
---@return integer? ts issue time
---@return integer? key_index which key verified
function core.itsd_verify(keys, salt, kdf, token, max_age, now) end

---Sign json as itsdangerous does (compressed when that is shorter).
---@param key string
---@param salt string
---@param kdf "django-concat"|"hmac"
---@param json string
---@param now? integer
---@return string? token
---@return string? err
---@return string? code
function core.itsd_sign(key, salt, kdf, json, now) end

---The payload of a Flask-Login remember cookie signed by one of keys, or nil.
---@param keys string[]
---@param cookie string
---@return string?
function core.remember_verify(keys, cookie) end

---A Flask-Login remember cookie for payload.
---@param key string
---@param payload string
---@return string? cookie
---@return string? err
---@return string? code
function core.remember_sign(key, payload) end

---How many Lua states have loaded this module.
---@return integer
function core.open_count() end

---A counter shared with the processes forked after it was made.
---@return userdata counter
function core.shared_counter() end

---A shared counter's value.
---@param counter userdata
---@return integer
function core.shared_counter_get(counter) end

---Increment a shared counter.
---@param counter userdata
---@return integer value the new value
function core.shared_counter_bump(counter) end

---A new TOTP key: 20 random bytes (libsodium's CSPRNG).
---@return string key raw bytes
function core.otp_secret() end

---RFC 4648 Base32, upper-case, padding stripped (how passlib stores keys).
---@param s string
---@return string
function core.base32_encode(s) end

---Base32 read as passlib reads it: either case, 8 for B, 0 for O, spaces
---ignored, padding optional (but exact when present).
---@param s string
---@return string? bytes
---@return "EINVAL"? code
function core.base32_decode(s) end

---TOTP options (passlib's defaults; a 120 s window).
---@class fsec.core.TotpOpts
---@field step? integer seconds per step, 1..3600 (30)
---@field digits? integer 6..8 (6)
---@field window? integer steps on each side of now, 0..50 (4)
---@field alg? "sha1"|"sha256"|"sha512" ("sha1")
---@field after? integer only steps above it are accepted (the last one used)

---The TOTP code of time t (liboath).
---@param key string raw key bytes (1..128)
---@param t number unix time, seconds (fractions dropped)
---@param opts? fsec.core.TotpOpts
---@return string code `digits` ASCII digits
function core.totp_code(key, t, opts) end

---Check a typed code against every step of the window, in constant time.
---Whitespace, '-' and '=' are removed first (passlib). On a match, the
---matched step: keep it and pass it as `opts.after` next time.
---@param key string raw key bytes (1..128)
---@param code string as typed
---@param t number unix time, seconds
---@param opts? fsec.core.TotpOpts
---@return integer|false counter the matched step, or false
---@return "format"|"invalid"|"replayed"? why
function core.totp_match(key, code, t, opts) end

---A sealing keyring from Flask-Security's TOTP_SECRETS shape. Each secret
---(>= 16 bytes) is stretched once with argon2id here (about 10 ms each).
---@param map table<string|integer, string> { [tag] = secret }
---@return fsec.Keyring? keyring
---@return string? err names the tag, never the secret
---@return string? code "EINVAL"
function core.keyring(map) end

---passlib's enckey v1: PBKDF2-HMAC-SHA256(secret, salt, 2^cost, 48) then
---AES-256-CTR. No MAC: a wrong secret gives wrong bytes.
---@param secret string TOTP_SECRETS[tag]
---@param salt_raw string the Base32-decoded "s"
---@param ciphertext_raw string the Base32-decoded "k"
---@param cost integer "c", 1..20
---@return string? key raw key bytes
---@return "EINVAL"? code
function core.passlib_totp_decrypt(secret, salt_raw, ciphertext_raw, cost) end

---Decrypt a Fernet token (the MAC first, in constant time; then, with a
---ttl, its age).
---@param key_b64url string base64url of 32 bytes
---@param token string
---@param ttl? integer seconds; nil: no age limit
---@param now? number unix time; nil: the clock
---@return string? plaintext
---@return "EAUTH"|"EINVAL"|"EEXPIRED"? code
function core.fernet_decrypt(key_b64url, token, ttl, now) end

---The QR code of text (level M, 8-bit, case kept) as an SVG document: one
---<path>, viewBox in modules with a 4-module border, crispEdges.
---@param text string at most 1024 bytes
---@return string? svg
---@return "ETOOLONG"|"ENUL"|"EINVAL"? code
function core.qr_svg(text) end

---zxcvbn's estimate (libzxcvbn): score 0..4, its warning for a weak
---password (English, or nil), log2 of the guesses. inputs: the user's own
---strings (at most 16; non-strings skipped). nil, "ENUL: ...", "ENUL" for
---a NUL byte.
---@param password string
---@param inputs? string[]
---@return integer|nil score
---@return string|nil warning_or_error
---@return number|string|nil bits_or_code
function core.password_strength(password, inputs) end

---Map a breached-password list (HIBP text or fsec's binary form).
---@param path string
---@return fsec.BreachedList|nil
---@return string|nil error "EINVAL: why (line, offset)"
---@return string|nil code
function core.breached_open(path) end

---Build the binary form of a sorted HIBP text list.
---@param input string
---@param output string
---@return integer|nil entries
---@return string|nil error
---@return string|nil code
function core.breached_build(input, output) end

---The C engine: hashing and tokens, keys in guarded memory.
---@class fsec.Engine
local Engine = {}

---@param password string
---@return string? hash
---@return string? err
---@return string? code
function Engine:hash_password(password) end

---@param password string
---@param hash string
---@return boolean ok
---@return string? err
---@return string? code
function Engine:verify_password(password, hash) end

---Flask-Security 3.0's hash_data(data) check (its auth tokens' second element).
---@param data string
---@param hash string
---@return boolean ok
---@return string? err
---@return string? code
function Engine:verify_data(data, hash) end

---@param hash string
---@return boolean
function Engine:needs_update(hash) end

---What verifying a stored hash costs, in new hashes.
---@param hash string
---@return number? cost
---@return string? err
---@return string? code
function Engine:hash_cost(hash) end

---Would a verify run this stored hash (format, caps, budget)?
---@param hash string
---@return boolean ok
---@return string? err
---@return string? code
function Engine:check_stored_hash(hash) end

---@param purpose string
---@param payload string JSON
---@param now? integer seconds (default: the C clock)
---@return string? token
---@return string? err
---@return string? code
function Engine:issue_token(purpose, payload, now) end

---@param purpose string
---@param token string
---@param max_age? integer
---@param now? integer
---@return integer status core.TOKEN_VALID, TOKEN_EXPIRED or TOKEN_INVALID
---@return string? payload the payload, or the reason when invalid
---@return integer? issued_at
function Engine:verify_token(purpose, token, max_age, now) end

---@return number
function Engine:hash_count() end

---An argon2id hash at the current parameters that never verifies.
---@return string
function Engine:dummy_hash() end

---The normalized password (what is hashed before the pre-hash).
---@param password string
---@return string? normalized
---@return string? err
---@return string? code
function Engine:normalize_password(password) end

---Wipe the keys and free the engine (idempotent).
---@return nil
function Engine:close() end

---The C SQLite store (used by fsec.datastore.sqlite; users by id).
---@class fsec.Store
local Store = {}

---@param key "id"|"email"|"username"|"fs_uniquifier"|"fs_token_uniquifier"|"us_phone_number"|"fs_webauthn_user_handle"
---@param value string|integer
---@return table? row
---@return string? err
---@return string? code
function Store:find_user(key, value) end

---@param fields table email, username, password, active, confirmed_at, fs_uniquifier, fs_token_uniquifier, roles, now
---@return integer? id
---@return string? err
---@return string? code
function Store:create_user(fields) end

---@param id integer
---@param column string
---@param value any
---@param now integer
---@return boolean? changed
---@return string? err
---@return string? code
function Store:set(id, column, value, now) end

---Compare-and-set of a text column (`fsec_store_user_swap_text`).
---@param id integer
---@param column string
---@param expected? string nil: the column must be NULL
---@param value? string nil: set NULL
---@param now integer
---@return boolean? swapped
---@return string? err
---@return string? code
function Store:swap_text(id, column, expected, value, now) end

---The replay guard (`fsec_store_otp_advance`).
---@param id integer
---@param method string
---@param counter integer
---@return boolean? stored false: not greater than the stored counter
---@return string? err
---@return string? code
function Store:otp_advance(id, method, counter) end

---@param id integer
---@param ip? string
---@param now integer
---@return true? ok
---@return string? err
---@return string? code
function Store:track_login(id, ip, now) end

---The next user after an id (optionally with a role), or nil after the last.
---@param after integer
---@param role? string
---@return table? row
function Store:next_user(after, role) end

---The next role after an id, or nil after the last.
---@param after integer
---@return table? row
function Store:next_role(after) end

---The value recorded about the database under key (schema 7's meta
---table), or nil when none is.
---@param key string
---@return string? value
---@return string? err
---@return string? code
function Store:meta_get(key) end

---Record a value about the database unless one is there (the first
---writer wins).
---@param key string
---@param value string
---@return boolean? added false when a value was already recorded
---@return string? err
---@return string? code
function Store:meta_add(key, value) end

---@param id integer
---@return boolean deleted
function Store:delete_user(id) end

---@param id integer
---@param now integer
---@param window integer
---@return integer count failures in the window
function Store:failed_login(id, now, window) end

---@param id integer
---@return true
function Store:reset_failed_logins(id) end

---@param id integer
---@param now integer
---@param window integer
---@param threshold integer
---@return integer|false count
function Store:reserve_login(id, now, window, threshold) end

---@param key string
---@param now integer
---@param window integer
---@param threshold integer
---@return integer|false count
function Store:reserve_attempt(key, now, window, threshold) end

---@param id integer
---@return true
function Store:release_login(id) end

---@param id integer
---@param role string
---@return boolean? changed
---@return string? err
---@return string? code
function Store:add_role(id, role) end

---@param id integer
---@param role string
---@return boolean? changed
---@return string? err
---@return string? code
function Store:remove_role(id, role) end

---@param name string
---@param description? string
---@param permissions_csv? string
---@param now integer
---@return integer? id
---@return string? err
---@return string? code
function Store:create_role(name, description, permissions_csv, now) end

---@param name string
---@return table? role { id, name, description, permissions }
function Store:find_role(name) end

---@param name string
---@param csv? string
---@param now integer
---@return boolean changed
function Store:set_permissions(name, csv, now) end

---@param name string
---@return boolean deleted
function Store:delete_role(name) end

---@param sid string
---@param user_id integer
---@param now integer
---@param expires_at integer
---@return true? ok
---@return string? err
---@return string? code
function Store:create_session(sid, user_id, now, expires_at) end

---@param sid string
---@return boolean deleted
function Store:delete_session(sid) end

---@param user_id integer
---@param keep_sid? string
---@return integer count
function Store:delete_user_sessions(user_id, keep_sid) end

---A live session's data: text or false (none yet), and its version; nil
---when there is no such live session.
---@param sid string
---@param now integer
---@return string|false|nil data
---@return integer|string|nil version_or_err
---@return string? code
function Store:session_data(sid, now) end

---Compare-and-set of a live session's data (at most LIMITS.session_data bytes).
---@param sid string
---@param data? string nil: none
---@param version integer the version read
---@param now integer
---@return boolean? written false: another write came first, or no live session
---@return string? err
---@return string? code
function Store:set_session_data(sid, data, version, now) end

---Queue a whole message in the outbox (schema 12); its row id.
---@param message_id string unique
---@param sender string envelope MAIL FROM
---@param recipient string envelope RCPT TO
---@param kind string
---@param message string the message, as sent in DATA (at most LIMITS.outbox_message bytes)
---@param now integer
---@return integer? id
---@return string? err
---@return string? code
function Store:outbox_add(message_id, sender, recipient, kind, message, now) end

---Claim the oldest due message for owner until now + lease.
---@param owner string
---@param now integer
---@param lease integer seconds
---@return table|false|nil row { id, message_id, sender, recipient, kind, message, attempts, created_at }; false: none due
---@return string? err
---@return string? code
function Store:outbox_claim(owner, now, lease) end

---A claimed message was sent: its row is deleted.
---@param id integer
---@return boolean? deleted
---@return string? err
---@return string? code
function Store:outbox_sent(id) end

---A claim failed: the lease ends; the next attempt at next_at (nil: given up).
---@param id integer
---@param owner string
---@param next_at? integer
---@param error? string
---@return boolean? changed false: owner no longer holds the lease
---@return string? err
---@return string? code
function Store:outbox_retry(id, owner, next_at, error) end

---Rows queued (given up ones included) and given up.
---@return integer? queued
---@return integer|string|nil given_up_or_err
---@return string? code
function Store:outbox_counts() end

---Add a WebAuthn credential (schema 13); its row id. Fields:
---user_id, credential_id and public_key (bytes), sign_count, transports
---(comma list), name, usage ("first"|"secondary"), backup_state,
---device_type, user_handle, create_datetime, lastuse_datetime.
---@param cred table
---@return integer? id
---@return string? err EEXIST: the credential id or the user's name is taken
---@return string? code
function Store:webauthn_create(cred) end

---The credential of a credential id (bytes).
---@param credential_id string
---@return table? row
---@return string? err
---@return string? code ENOTFOUND when none
function Store:webauthn_find(credential_id) end

---The user's next credential after after_id (0: the first), in id order.
---@param user_id integer
---@param after_id integer
---@return table? row nil after the last
---@return string? err
---@return string? code
function Store:webauthn_next(user_id, after_id) end

---Compare-and-set of a credential's sign count (and its last use).
---@param id integer
---@param old_count integer the count the caller read
---@param new_count integer
---@param now integer
---@return boolean? changed false: another request moved it first
---@return string? err
---@return string? code
function Store:webauthn_used(id, old_count, new_count, now) end

---@param id integer
---@return boolean? deleted
---@return string? err
---@return string? code
function Store:webauthn_delete(id) end

---Delete every credential of the user and clear the user's handle.
---@param user_id integer
---@param now integer
---@return true?
---@return string? err
---@return string? code
function Store:webauthn_reset(user_id, now) end

---@param sid string
---@param uq string the user's fs_uniquifier
---@param now integer
---@return table? row
---@return string? err
---@return string? code
function Store:find_user_by_session(sid, uq, now) end

---@return true
function Store:begin() end

---A transaction whose commit's fsync may be left to a syncer.
---@return true
---@return boolean deferred
function Store:begin_deferred() end

---The WAL file's path, or nil (no deferring).
---@return string?
function Store:wal_path() end

---@return integer wal_pages
---@return integer copied
function Store:checkpoint() end

---@param pages integer
---@return true
function Store:set_autocheckpoint(pages) end

---@return true
function Store:commit() end

---@return true
function Store:rollback() end

---@return integer users
---@return integer roles
function Store:counts() end

---@return boolean ok
---@return string message "ok" or what is wrong
function Store:integrity_check() end

---@return {cache_bytes: integer, statement_bytes: integer, sqlite_heap_bytes: integer}
function Store:memory() end

---@return integer
function Store:schema_version() end

---The revocation epoch (moved by the database at every revoking write).
---@return integer? epoch
---@return string? err
---@return string? code
function Store:revocation_epoch() end

---@return "sqlite"|"postgresql"
function Store:backend() end

---Close the database (idempotent).
---@return nil
function Store:close() end

---A keyring that seals small secrets (TOTP keys) at rest: XChaCha20-
---Poly1305 under argon2id-stretched keys kept in C.
---A mapped breached-password list (core.breached_open).
---@class fsec.BreachedList
local BreachedList = {}

---Times the password (its SHA-1) was seen, 0 when not listed; nil and an
---error for a malformed text line on the search path (refuse).
---@param password string
---@return integer|nil count
---@return string|nil error
---@return string|nil code
function BreachedList:password(password) end

---Entries (binary) or bytes (text), and which form.
---@return integer
---@return "binary"|"text"
function BreachedList:size() end

---Unmap now (also done when collected).
---@return nil
function BreachedList:close() end

---@class fsec.Keyring
local Keyring = {}

---Seal under the current tag: "$fsec$1$<tag>$<base64url>".
---@param plaintext string at most 64 KiB
---@param aad? string data to bind (unsealing must repeat it)
---@return string sealed
function Keyring:seal(plaintext, aad) end

---Open a sealed value. The tag says which secret sealed it: when it is
---not :current(), reseal.
---@param sealed string
---@param aad? string
---@return string? plaintext
---@return string? tag_or_code the tag, or "EKEY" (tag not in the ring), "EINVAL" (malformed), "EAUTH" (forged, wrong key or aad)
function Keyring:unseal(sealed, aad) end

---The tag new values are sealed under.
---@return string
function Keyring:current() end

---Wipe the keys (idempotent; also on collection and <close>).
---@return nil
function Keyring:close() end

return core
