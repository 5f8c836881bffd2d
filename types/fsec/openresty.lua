---@meta fsec.openresty
-- LuaLS type stubs for `require "fsec.openresty"`, the adapter for nginx
-- with lua-nginx-module (lua/fsec/openresty.lua):
--
--   init_by_lua_block        { require("fsec.openresty").init(config, opts) }
--   init_worker_by_lua_block { require("fsec.openresty").init_worker() }
--   content_by_lua_block     { require("fsec.openresty").serve() }
--   access_by_lua_block      { require("fsec.openresty").protect{ auth = { "session" } } }

---The options of `init` (every one optional). An unknown name or a value
---of the wrong type or range makes `init` raise, naming it.
---@class fsec.openresty.Options
---@field thread_pool? string|false nginx thread pool that hashes (default "fsec"; false: inline)
---@field sync_thread_pool? string|false thread pool for the WAL fsync (default "fsec_sync"; false: in the event loop)
---@field mail_thread_pool? string thread pool the mail outbox is drained in, with mail_server (default "fsec_mail")
---@field shared_dict? boolean cache authentication lookups (default true)
---@field cache_dict? string|false lua_shared_dict the workers' lookup caches share (default "fsec_cache", when declared)
---@field cache_l1_size? integer with cache_dict: entries of each worker's own caches before it, 1..100000000 (default 512)
---@field cache_size? integer without cache_dict: entries of each worker's lookup caches, 1..100000000 (default 10000)
---@field cache_ttl? number seconds a cached lookup lives, over 0 (default 2)
---@field setup? fun(sec: fsec.Security) run in every worker (signals, policies); if it raises, the worker serves no fsec request
---@field thread_nice? integer|false nice value of the hashing threads, 0..19 (default 19)
---@field argon2_process? boolean|string run argon2 in a helper process (default true; or its path)
---@field user_header? string request header that carries the user id to upstreams (the client's own is always removed)
---@field guards? table<string, fsec.AccessSpec> named specs, checked once: `protect("name")`
---@field gc_pause? number the worker's LuaJIT GC pause, 100..1000
---@field gc_stepmul? number the worker's LuaJIT GC step multiplier, 100..10000
---@field jit_opt? string[]|false parameters for jit.opt.start (default: longer traces; false: LuaJIT's)
---@field thread_jobs? integer hashing jobs posted at once per worker, 1..1024 (default 2)
---@field thread_wait? number seconds a request waits for a hashing slot before 503 (default 10)
---@field thread_queue? integer requests that may wait for a slot per worker, 0..100000 (default 32)
---@field limit_dict? string|false lua_shared_dict of the throttling counters (default "fsec_limits")
---@field metrics_dict? string|false lua_shared_dict the workers add their metrics to (default "fsec_metrics")
---@field metrics_flush? number seconds between a worker's flushes of its counts to metrics_dict, 0.05..60 (default 1)
---@field db_thread_pool? string PostgreSQL: the thread pool every datastore call runs in (default "fsec_db")
---@field db_jobs? integer PostgreSQL: datastore jobs posted at once per worker, 1..1024 (default 4)
---@field db_queue? integer PostgreSQL: requests that may wait for a datastore job per worker, 0..100000 (default 256)

---What a worker holds in memory (`memory()`).
---@class fsec.openresty.Memory
---@field lua_heap_bytes integer
---@field token_cache_entries integer
---@field user_cache_entries integer
---@field cache_slot_bytes integer
---@field shared_cache_bytes? integer bytes of cache_dict in use (whole pages); nil without it
---@field shared_cache_capacity? integer cache_dict's size
---@field shared_cache_records? integer records in cache_dict
---@field sqlite? {cache_bytes: integer, statement_bytes: integer, sqlite_heap_bytes: integer}
---@field lua_states integer

---The module.
---@class fsec.openresty
---@field _VERSION string
local openresty = {}

---init_by_lua: validate and keep the configuration and options (raises on
---a bad one, naming it; the configuration in force then stays).
---@param cfg fsec.Config
---@param opts? fsec.openresty.Options
function openresty.init(cfg, opts) end

---init_worker_by_lua: open this worker's store and engine. Raises on a
---failure; the worker then answers 500 to every fsec request.
---@return fsec.Security
function openresty.init_worker() end

---This worker's Security object (raises before init_worker completed).
---@return fsec.Security
function openresty.security() end

---What this worker holds in memory.
---@param full_gc? boolean collect garbage first
---@return fsec.openresty.Memory
function openresty.memory(full_gc) end

---fsec's request table for the current nginx request.
---@param ctx? table default ngx.ctx
---@return fsec.Request? req nil when the body is over max_body_bytes
---@return integer? status 413
function openresty.request(ctx) end

---Add Set-Cookie lines to the response's own.
---@param list? string[]
function openresty.add_cookies(list) end

---Send an fsec response: status, headers, Set-Cookie, body (ngx.exit).
---@param res fsec.Response
function openresty.send(res) end

---content_by_lua: answer fsec's endpoints (404 for anything else); ends
---the request (ngx.exit).
---@return nil
function openresty.serve() end

---access_by_lua: check the request against a spec, or a guard's name
---given to init. Returns the user and how ("token", "session", ...), or
---sends the denial and does not return. Before the content phase the
---user is also handed on in ngx.ctx.fsec_user (and fsec_via); inside a
---content handler ngx.ctx is left alone.
---@param spec fsec.AccessSpec|string
---@param user_header? string default: init's opts.user_header
---@return fsec.User user
---@return string via
function openresty.protect(spec, user_header) end

---access_by_lua before content that is not Lua (proxy_pass, files):
---protect's check and answers, the user id upstream in user_header, and
---nothing in ngx.ctx (a Lua handler after it finds no fsec_user there;
---current_user() checks the request again).
---@param spec fsec.AccessSpec|string
---@param user_header? string default: init's opts.user_header
---@return fsec.User user
---@return string via
function openresty.admit(spec, user_header) end

---fsec's metrics in Prometheus's text format (content_by_lua): 403 to
---an address not in o.allow (default: 127.0.0.1 and ::1; false: any).
---@param o? {allow: string[]|false}
function openresty.metrics(o) end

---The current user (anonymous when nobody), for content handlers.
---@return fsec.User|fsec.AnonymousUser
function openresty.current_user() end

---The current request's session data (sec:session_data): a new table,
---empty without a signed-in session.
---@return table
function openresty.session_data() end

---Set one key of the current request's session data (sec:set_session_data).
---@param key string
---@param value any a JSON value; nil removes the key
---@return true? ok
---@return string? err
---@return string? code
function openresty.set_session_data(key, value) end

return openresty
