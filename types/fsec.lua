---@meta fsec
-- LuaLS type stubs for `require "fsec"` (never loaded at run time: the
-- code is lua/fsec.lua). `.luarc.json` points the language server here.
-- spec/80-types_spec.lua checks that every public function has a stub
-- and every stub names a real function.
--
-- Return conventions, everywhere: wrong argument types raise; expected
-- failures return `nil` (or `false`), a message "ECODE: text" and the
-- code ("ETOOLONG", "ENUL", "EUTF8", "EHASHFMT", "EHASHCAP", "ESCHEME",
-- "EINVAL", "EEXIST", "ENOTFOUND", "EBUSY", ...); "not found" is `nil`.

---The module `require "fsec"` gives.
---@class fsec
---@field _VERSION string
---@field core_version string version of the C engine
---@field Security fsec.Security the method table of Security objects
---@field anonymous fsec.AnonymousUser what `current_user` is when nobody is signed in
local fsec = {}

---Create a Security instance. Raises on a bad configuration, naming the
---key (`fsec.new: secret_key: must be at least 32 bytes`).
---@param cfg fsec.Config
---@return fsec.Security
function fsec.new(cfg) end

---A random identifier: base64url of `nbytes` random bytes.
---@param nbytes? integer 16..64 (default 16: 22 characters, 128 bits)
---@return string
function fsec.random_id(nbytes) end

---The C engine's settings for a validated configuration (for adapters
---that hash in worker threads: fsec.openresty.thread).
---@param c table a configuration as `fsec.config.validate` returns it
---@return table
function fsec.engine_config(c) end

---A request: a plain table an adapter fills in. Anything repeated or
---malformed counts as absent.
---@class fsec.Request
---@field method string "GET", "POST", ...
---@field path string
---@field query? table<string, string|string[]>
---@field headers? table<string, string|string[]> lower-case names
---@field cookies? table<string, string|string[]>
---@field body? string
---@field json? table the decoded body, when the adapter decoded it
---@field remote_addr? string
---@field scheme? "http"|"https"
---@field host? string
---@field uri? string raw path and query
---@field read_header? fun(name: string): string? instead of `headers`: read one header by lower-case name
---@field read_cookie? fun(name: string): string? instead of `cookies`: read one cookie by name

---Options of `Response:set_cookie`.
---@class fsec.CookieOptions
---@field max_age? integer seconds; 0 or less expires the cookie
---@field path? string default "/"
---@field domain? string
---@field secure? boolean
---@field http_only? boolean default true
---@field same_site? "Lax"|"Strict"|"None"

---A response: what fsec answers; an adapter applies it.
---@class fsec.Response
---@field status integer
---@field headers table<string, string>
---@field cookies string[] Set-Cookie values
---@field body? string
local Response = {}

---Set a header.
---@param name string
---@param value string
---@return fsec.Response self
function Response:set_header(name, value) end

---Add a Set-Cookie (one per name: a later one replaces an earlier one).
---@param name string
---@param value string
---@param opts? fsec.CookieOptions
---@return fsec.Response self
function Response:set_cookie(name, value, opts) end

---Add a Set-Cookie that expires the cookie.
---@param name string
---@param opts? fsec.CookieOptions
---@return fsec.Response self
function Response:delete_cookie(name, opts) end

---Flask-Security's JSON envelope: `{"meta":{"code":N},"response":{...}}`.
---@param status integer
---@param payload? table
---@return fsec.Response self
function Response:json(status, payload) end

---A redirect.
---@param location string
---@param status? integer default 302
---@return fsec.Response self
function Response:redirect(location, status) end

---A plain-text answer.
---@param status integer
---@param text string
---@return fsec.Response self
function Response:text(status, text) end

---What `Security:check` decides against (see fsec.authz): lists of
---names, never a bare string or a set (those raise).
---@class fsec.AccessSpec
---@field auth? ("session"|"token"|"basic")[] mechanisms that may authenticate, in order
---@field within? integer seconds since the primary authentication (freshness)
---@field grace? integer seconds of grace after a reauthentication
---@field realm? string HTTP Basic realm
---@field roles_required? string[] every one
---@field roles_accepted? string[] any one
---@field permissions_required? string[] every one
---@field permissions_accepted? string[] any one
---@field anonymous? boolean only signed-out users

---A guard: call it with a handler to get the guarded handler,
---`function(req, res, ...)` that returns the handler's results or the
---denial (status, body, res). Guards stack.
---@class fsec.Guard
---@field spec fsec.AccessSpec
---@overload fun(handler: fun(req: fsec.Request, user: fsec.User, res?: fsec.Response, ...): ...): fun(req: fsec.Request, res?: fsec.Response, ...): ...
local Guard = {}

---Check a request against this guard's spec (as `Security:check`).
---@param req fsec.Request
---@param res? fsec.Response
---@return boolean ok
---@return fsec.User|integer user_or_status
---@return string|nil via_or_body
---@return fsec.Response? res
function Guard.check(req, res) end

---Flask-Security's signals (every Flask-Security-Too signal name).
---@class fsec.Signals
local Signals = {}

---Connect a receiver; it runs under pcall (an error is logged).
---@param name string a signal name, e.g. "user_authenticated"
---@param fn fun(payload: table)
---@return function fn
function Signals:connect(name, fn) end

---Disconnect a receiver.
---@param name string
---@param fn function
---@return boolean removed
function Signals:disconnect(name, fn) end

---Send a signal to its receivers.
---@param name string
---@param payload? table
function Signals:send(name, payload) end

---Where hashing runs (`Security:set_hasher`): the return conventions of
---`hash_password` and `verify_password`.
---@class fsec.Hasher
---@field hash fun(password: string): string?, string?, string?
---@field verify fun(password: string, hash: string): boolean, string?, string?

---A store of cache entries (resty.lrucache has this interface).
---@class fsec.CacheStore
---@field get fun(self: fsec.CacheStore, key: string): any
---@field set fun(self: fsec.CacheStore, key: string, value: any, ttl?: number)

---What `Security:set_cache` takes (docs/cache.md); every field optional,
---but `users` needs `generation` and `invalidate`, and `invalidate`
---needs `generation`.
---@class fsec.Cache
---@field tokens? fsec.CacheStore token checks, kept until the token would expire
---@field users? fsec.CacheStore users of sessions and tokens, kept while the generation stays
---@field ttl? number seconds a cached user is kept at most (default 2)
---@field generation? fun(): any moves whenever cached users may be stale
---@field invalidate? fun() called around every datastore write that may make a cached user stale; moves the generation

---A Security instance: `fsec.new{...}`.
---@class fsec.Security
---@field config table the validated configuration, read-only, without secrets
---@field datastore fsec.Datastore? the user store (nil without `database` or `datastore`)
---@field signals fsec.Signals
---@field msg fun(key: string, vars?: table): string a message text by Flask-Security's key, in the language of the request being answered (with `messages` and `translations` overrides)
local Security = {}

---Hash a password with argon2id (after normalization and, with a password
---salt, Flask-Security's HMAC pre-hash).
---@param password string
---@return string? hash PHC string, or nil
---@return string? err "ETOOLONG: ...", "ENUL: ...", "EUTF8: ..."
---@return string? code
function Security:hash_password(password) end

---Verify a password against a stored hash of any enabled format.
---@param password string
---@param hash string
---@return boolean ok
---@return string? err why it could not be checked (malformed hash, ...)
---@return string? code
function Security:verify_password(password, hash) end

---True when a stored hash is not argon2id with the configured parameters.
---@param hash string
---@return boolean
function Security:needs_update(hash) end

---Verify a user's password and rewrite a legacy or weaker hash with the
---current scheme (Flask-Security's verify_and_update_password).
---@param password string
---@param user fsec.User
---@return boolean ok
---@return string? err why it could not be checked or updated
---@return string? code
function Security:verify_and_update_password(password, user) end

---Mint a signed token carrying `data` (JSON; numbers of at most 14
---significant digits).
---@param purpose string e.g. "confirm", "reset", "login", "auth"
---@param data any
---@return string? token
---@return string? err "EINVAL: ..."
---@return string? code
function Security:generate_token(purpose, data) end

---Check a token, as Flask-Security's get_token_status.
---@param token any anything but a string is simply invalid
---@param purpose string
---@param max_age? integer seconds; nil means no limit; negative raises
---@return boolean expired the signature is valid but the token is too old
---@return boolean invalid malformed, forged, other purpose or from the future
---@return any data when the signature is valid (also when expired)
---@return integer? issued_at
function Security:get_token_status(token, purpose, max_age) end

---How many expensive hash functions this instance has run (for tests).
---@return number
function Security:hash_count() end

---A random identifier (as `fsec.random_id`).
---@param nbytes? integer
---@return string
function Security:random_id(nbytes) end

---Send the mail outbox's due messages over SMTP (mail_server); blocks on
---the server: cron or a loop of the application's own, never an event loop.
---@return { sent: integer, retried: integer, given_up: integer }? stats
---@return string? err
function Security:drain_mail() end

---Wipe the keys, release the engine, close the datastore.
---@return nil
function Security:close() end

---Connect a receiver to a Flask-Security signal.
---@param name string
---@param fn fun(payload: table)
---@return function fn
function Security:connect(name, fn) end

---Emit a security event (docs/events.md) for the application's own action
---(role added or removed, unlock, access reset).
---@param name string one of fsec.events.NAMES
---@param fields? table outcome, reason, user, method, via, role, kind
---@param req? table the request
function Security:emit_event(name, fields, req) end

---Register a policy hook; only a `true` return allows (an error, nil or
---anything else denies, the second return value being the reason).
---@param point "login"|"authenticate"|"access"|"throttle"
---@param fn fun(...): boolean?, string?
---@return function fn
function Security:policy(point, fn) end

---A new, empty response (status 200).
---@return fsec.Response
function Security:new_response() end

---Where mail is sent from: fn(job) runs job() later (an adapter's timer);
---nil sends in the request.
---@param fn? fun(job: function)
function Security:set_deferrer(fn) end

---Where the throttling counters live (a backend of fsec.ratelimit, shared
---by every process that serves the site).
---@param backend table { incr, get }
---@param clock? fun(): number
function Security:set_limit_backend(backend, clock) end

---Where the expensive hashing runs (fsec.openresty: nginx's thread pool);
---nil: inline again.
---@param hasher? fsec.Hasher
function Security:set_hasher(hasher) end

---Cache authentication lookups through `c` (docs/cache.md), or stop
---caching (nil). With `invalidate`, `sec.datastore` becomes a view of the
---store whose writes call it. Raises on a bad `c`, naming the field.
---@param c? fsec.Cache
function Security:set_cache(c) end

---What `set_cache` was last given (nil: no cache).
---@return fsec.Cache?
function Security:get_cache() end

---URL of a security endpoint with query parameters (url_for_security).
---@param endpoint "login"|"logout"|"register"|"reset_password"|"forgot_password"|"change_password"|"confirm_email"|"send_confirmation"|"verify"
---@param params? table<string, string>
---@return string
function Security:url_for_security(endpoint, params) end

---The identity attributes logins are looked up by (a copy).
---@return string[]
function Security:get_identity_attributes() end

---The signed-in user, or the anonymous user (never nil).
---@param req fsec.Request
---@param res? fsec.Response to refresh the session cookie on
---@return fsec.User|fsec.AnonymousUser
function Security:current_user(req, res) end

---How the current user was authenticated, or nil.
---@param req fsec.Request
---@return "session"|"remember"|"token"|"basic"|nil
function Security:authn_via(req) end

---Sign a user in: a new server-side session and cookie (and a remember
---cookie), login tracking, the user_authenticated signal.
---@param req fsec.Request
---@param res fsec.Response
---@param user fsec.User
---@param opts? {remember?: boolean, authn_via?: string[]}
---@return true|nil ok
---@return string? err "EINACTIVE: ...", "EPOLICY: ...", a store error
---@return string? code
function Security:login_user(req, res, user, opts) end

---Sign out: the session ends server-side and both cookies expire.
---@param req fsec.Request
---@param res fsec.Response
---@return true
function Security:logout_user(req, res) end

---End every other session of a user, keeping this request's; with
---rotate, new uniquifiers too (tokens and remember cookies stop working).
---@param req fsec.Request
---@param res? fsec.Response
---@param user fsec.User
---@param rotate? boolean
---@return true|nil ok
---@return string? err
---@return string? code
function Security:end_other_sessions(req, res, user, rotate) end

---Mark the request's session as freshly authenticated (a new session).
---@param req fsec.Request
---@param res fsec.Response
---@return boolean|nil ok false: no session; nil: store error
---@return string? err
---@return string? code
function Security:mark_fresh(req, res) end

---The application's data of the request's signed-in session (Flask's
---`session`), as a new table; empty without a signed-in session.
---@param req fsec.Request
---@return table
function Security:session_data(req) end

---Set one key of the session's data (value nil removes it): stored
---server-side with the session, ended with it; compare-and-set, so that
---racing writes to different keys both land.
---@param req fsec.Request
---@param key string
---@param value any a JSON value
---@return true? ok
---@return string? err ENOSESSION, ETOOLONG (session_data_max_bytes), EINVAL, EUTF8, EBUSY
---@return string? code
function Security:set_session_data(req, key, value) end

---An auth token in Flask-Security-Too's format ([fs_token_uniquifier]),
---signed with flask_secret_key, for a Flask-Security app sharing that key;
---nil when flask_secret_key is not set.
---@param user fsec.User
---@return string? token
function Security:flask_auth_token(user) end

---An auth token for a user (Flask-Security's user.get_auth_token()).
---@param user fsec.User
---@param opts? {expires_in?: integer}
---@return string? token
---@return string? err
---@return string? code
function Security:get_auth_token(user, opts) end

---Decide a request against a spec (503 when the store cannot answer).
---@param req fsec.Request
---@param spec fsec.AccessSpec
---@param res? fsec.Response
---@return boolean ok
---@return fsec.User|integer user_or_status the user, or the denial's status
---@return string|nil via_or_body how the user signed in, or the denial's body
---@return fsec.Response? res the response to send, on a denial
function Security:check(req, spec, res) end

---A guard: authentication by the given mechanisms (default
---`auth_mechanisms`), optionally fresh: `auth_required("session", {within = 300, grace = 60})`.
---@param ... string|string[]|{within?: integer, grace?: integer}
---@return fsec.Guard
function Security:auth_required(...) end

---A guard: any of `auth_mechanisms`.
---@return fsec.Guard
function Security:login_required() end

---A guard: an auth token.
---@return fsec.Guard
function Security:auth_token_required() end

---A guard: HTTP Basic.
---@param realm? string
---@return fsec.Guard
function Security:http_auth_required(realm) end

---A guard: every one of the roles.
---@param ... string
---@return fsec.Guard
function Security:roles_required(...) end

---A guard: any one of the roles.
---@param ... string
---@return fsec.Guard
function Security:roles_accepted(...) end

---A guard: every one of the permissions.
---@param ... string
---@return fsec.Guard
function Security:permissions_required(...) end

---A guard: any one of the permissions.
---@param ... string
---@return fsec.Guard
function Security:permissions_accepted(...) end

---A guard: signed-out users only.
---@return fsec.Guard
function Security:anonymous_user_required() end

---Answer a request for one of fsec's endpoints under url_prefix.
---@param req fsec.Request
---@return fsec.Response? res nil when the request is not for an endpoint
function Security:handle(req) end

---Check a request's CSRF token, for the application's own endpoints.
---@param req fsec.Request
---@param res? fsec.Response
---@return boolean ok
---@return integer? status 400
---@return string? body
---@return fsec.Response? res
function Security:csrf_protect(req, res) end

---A CSRF token for the application's own pages.
---@param req fsec.Request
---@param res fsec.Response may get the anonymous CSRF cookie
---@return string
function Security:csrf_token(req, res) end

---The flash messages waiting for this client, cleared on res.
---@param req fsec.Request
---@param res fsec.Response
---@return string[][] pairs: { category, message }
function Security:take_flashes(req, res) end

return fsec
