--- Configuration: defaults, a declarative schema, validation, read-only result.
-- Keys are Flask-Security's settings in lower case without the `SECURITY_`
-- prefix; fsec-only keys are marked so in their description.
--
-- Over 600 lines on purpose: the schema is one table, the single source
-- on the Lua side of every key's name, type, default, range and one-line
-- description, side by side (README.md and types/fsec/config.lua follow
-- it; spec/80-types_spec.lua checks the stub against it), and the checks
-- that span keys follow it. Split, a key's range would sit away from its
-- default and its description.
-- @module fsec.config

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local setmetatable = setmetatable
local floor = math.floor
local concat = table.concat
local sort = table.sort


local OWASP_ARGON2_MIN_MEMORY_KIB = 19456 -- 19 MiB
local OWASP_ARGON2_MIN_TIME = 2
local SECRET_KEY_MIN = 32
-- The C engine's defaults and ranges (core/include/fsec/engine.h, exported
-- as core.CONFIG): the keys it enforces are checked here against the same
-- numbers, never against literals of this file.
local ENGINE = require("fsec.core").CONFIG
-- the parameters of new hashes when password_hash_options does not set
-- them (fsec.engine_config's)
local DEFAULT_ARGON2_TIME = ENGINE.defaults.argon2_time
local DEFAULT_ARGON2_MEMORY_KIB = ENGINE.defaults.argon2_memory_kib
-- the caps when password_hash_caps does not set them
local DEFAULT_CAPS = ENGINE.defaults.caps
-- C0 controls and DEL: never in a header (CR LF would start another one)
local CONTROL = "[%z\1-\31\127]"

local KNOWN_SCHEMES = {
  argon2 = true, bcrypt = true, sha512_crypt = true, sha256_crypt = true,
  pbkdf2_sha512 = true, pbkdf2_sha256 = true, plaintext = true,
}
local NORMALIZE_FORMS = { NFC = true, NFD = true, NFKC = true, NFKD = true }


local _M = { _VERSION = "0.1.0",
  -- OWASP's argon2id floor, for what must cost at least a password hash
  -- (fsec.saltcheck)
  OWASP_ARGON2_MIN_MEMORY_KIB = OWASP_ARGON2_MIN_MEMORY_KIB, OWASP_ARGON2_MIN_TIME = OWASP_ARGON2_MIN_TIME,
  -- new hashes' argon2 parameters when password_hash_options sets none
  -- (fsec.engine_config reads them here: one source on the Lua side)
  DEFAULT_ARGON2_TIME = DEFAULT_ARGON2_TIME, DEFAULT_ARGON2_MEMORY_KIB = DEFAULT_ARGON2_MEMORY_KIB }

-- Names that are not keys but were taken for one: the key's name. The C
-- engine called the token length cap token_max_chars before 0.1.0; the
-- key is token_max_length, in C too. An error, not an alias: one setting
-- keeps one name.
_M.RENAMED = { token_max_chars = "token_max_length" }


local function is_integer(v)
  return type(v) == "number" and v == floor(v) and v > -2^53 and v < 2^53
end


local function int_range(lo, hi)
  return function(v)
    if not is_integer(v) or v < lo or v > hi then
      return nil, "an integer from " .. lo .. " to " .. hi .. " expected"
    end
    return true
  end
end

-- The range the C engine enforces for its field name (core.CONFIG).
local function engine_range(name)
  local r = assert(ENGINE.ranges[name], name)
  return int_range(r[1], r[2])
end


-- The number of items of a list whose keys are exactly 1..n, or nil: a
-- hole ({ a, nil, c }) or another key would make # and ipairs drop or
-- miscount items (differently on LuaJIT and Lua 5.4), so it is refused.
local function list_length(v)
  local n, max = 0, 0
  for k in pairs(v) do
    if not is_integer(k) or k < 1 then return nil end
    n = n + 1
    if k > max then max = k end
  end
  if n ~= max then return nil end
  return n
end

local NOT_A_LIST = "a list expected (items at 1..n, no holes, no other keys)"


local function string_list(allowed)
  return function(v)
    local n = list_length(v)
    if not n then return nil, NOT_A_LIST end
    if n == 0 then return nil, "a non-empty list expected" end
    for i, s in ipairs(v) do
      if type(s) ~= "string" then
        return nil, "item " .. i .. " is not a string"
      end
      if allowed and not allowed[s] then
        return nil, "unknown value '" .. s .. "'"
      end
    end
    return true
  end
end


-- An endpoint URL: a path of this site. "//host" and "/\host" would make
-- the Location of the redirects to it name another site; '?' and '#'
-- would never match a request's path.
local function path(v)
  if v:sub(1, 1) ~= "/" or v:sub(2, 2) == "/" or v:find("[%s%c\\?#]") then
    return nil, "a path starting with exactly one / expected "
      .. "(no '?', '#', backslash, space or control character)"
  end
  return true
end


local function path_or_empty(v)
  if v == "" then return true end
  if v:sub(-1) == "/" then return nil, "must not end with /" end
  return path(v)
end


-- A redirect target (post_login_view, ...): a path on this site ("/x",
-- query allowed; never "//host", which browsers read as another site) or
-- an absolute http(s) URL, chosen on purpose. Backslashes, spaces and
-- control characters are refused anywhere: browsers turn "/\host" and
-- "/<TAB>/host" into "//host".
local function view(v)
  local bad = "a path on this site ('/...', not '//...') or an http(s) URL expected "
    .. "(no backslash, space or control character)"
  if v:find("[%s%c\\]") then return nil, bad end
  if v:sub(1, 1) == "/" then
    if v:sub(2, 2) == "/" then return nil, bad end
    return true
  end
  local authority = v:match("^[hH][tT][tT][pP][sS]?://([^/?#]*)")
  if not authority then return nil, bad end
  if not (authority:match("^[%w.-]+:?%d*$") or authority:match("^%[[%x:.]+%]:?%d*$")) then
    return nil, "the URL's host must be a host[:port] (no user information)"
  end
  return true
end


-- One of the given strings.
local function one_of(list)
  local ok = {}
  for _, v in ipairs(list) do ok[v] = true end
  return function(v)
    if ok[v] then return true end
    return nil, "expected " .. table.concat(list, " or ")
  end
end

-- A host with an optional port (no scheme, path or user information).
local function host_port(v)
  if v:match("^[%w.-]+:?%d*$") or v:match("^%[[%x:.]+%]:?%d*$") then
    local port = v:match(":(%d+)$")
    if v:sub(-1) == ":" or (port and (tonumber(port) < 1 or tonumber(port) > 65535)) then
      return nil, "a host[:port] expected (port 1..65535)"
    end
    return true
  end
  return nil, "a host[:port] expected (no scheme, path or user information)"
end


-- Text that goes into a header (a realm, a mail subject or sender).
local function header_text(v)
  if v:find(CONTROL) then return nil, "must not contain control characters (CR, LF, NUL, ...)" end
  return true
end


local function realm(v)
  if v:find(CONTROL) or v:find('["\\]') then
    return nil, "must not contain control characters, '\"' or '\\' (it is quoted in WWW-Authenticate)"
  end
  return true
end


-- Too's CSRF_COOKIE: Flask's set_cookie arguments, by their names there.
local CSRF_COOKIE_ATTRS = { samesite = "string", httponly = "boolean", secure = "boolean", path = "string",
                            domain = "string", key = "string" }
local function csrf_cookie(v)
  for k, val in pairs(v) do
    local want = CSRF_COOKIE_ATTRS[k]
    if not want then
      return nil, "unknown attribute " .. tostring(k) .. " (samesite, httponly, secure, path, domain, key)"
    end
    if type(val) ~= want then return nil, k .. ": a " .. want .. " expected" end
  end
  if v.samesite and not ({ Strict = true, Lax = true, None = true })[v.samesite] then
    return nil, "samesite: 'Strict', 'Lax' or 'None' expected"
  end
  if v.samesite == "None" and not v.secure then return nil, "samesite 'None' requires secure = true" end
  if v.path and not v.path:find("^/[%w/._~%%!$&'()*+,=:@-]*$") then return nil, "path: a URL path expected" end
  if v.domain and not v.domain:find("^%.?[%w-]+[%w.-]*$") then return nil, "domain: a host name expected" end
  if v.key and not v.key:find("^[%w!#$&'*+.^_`|~-]+$") then return nil, "key: not a valid cookie name" end
  return true
end


-- A header name: an HTTP token (RFC 9110).
local function header_name(v)
  if not v:find("^[%w!#$%%&'*+.^_`|~-]+$") then
    return nil, "not a valid header name (letters, digits and !#$%&'*+.^_`|~- only)"
  end
  return true
end


-- The Domain attribute of the cookies: a plain host name, nothing that
-- would end the attribute or the header (';', ',', spaces, controls).
local function cookie_domain(v)
  if not v:find("^[%w._-]+$") then
    return nil, "a plain domain name expected (letters, digits, '.', '-', '_'; "
      .. "no ';', ',', space or control character)"
  end
  return true
end


-- A file or folder name: "" would be the root or nothing, and a NUL byte
-- would cut the name C and the shell see.
local function non_empty_path(v)
  if v == "" then return nil, "must not be empty" end
  if v:find("\0", 1, true) then return nil, "must not contain a NUL byte" end
  return true
end


-- A file, ':memory:', or a libpq URI with no password in it (it would
-- sit in nginx.conf and the process's memory; a password file keeps it).
local function database_name(v)
  local ok, err = non_empty_path(v)
  if not ok then return nil, err end
  local rest = v:match("^postgresql://(.*)$") or v:match("^postgres://(.*)$")
  if rest then
    local userinfo = rest:match("^([^/?#]*)@")
    if (userinfo and userinfo:find(":", 1, true)) or rest:find("[?&]password=") then
      return nil, "holds a password: put it in a password file (PGPASSFILE or passfile=)"
    end
  end
  return true
end


local function readable_file(v)
  if v == "" or v:find("\0", 1, true) then return nil, "must name a file (not empty, no NUL byte)" end
  local f, err = io.open(v, "rb")
  if not f then return nil, "cannot be opened for reading: " .. tostring(err) end
  local ok, rerr = f:read(1)
  f:close()
  if ok == nil and rerr then return nil, "cannot be read: " .. tostring(rerr) end
  return true
end


local function cookie_name(v)
  if not v:find("^[%w!#$&'*+.^_`|~-]+$") then return nil, "not a valid cookie name" end
  return true
end


local function nonempty(v)
  if #v == 0 then return nil, "must not be empty" end
  return true
end


local function flask_fallbacks(v)
  local n = list_length(v)
  if not n then return nil, "a list of strings expected" end
  if n > 8 then return nil, "at most 8 keys" end
  for i = 1, n do
    if type(v[i]) ~= "string" or #v[i] == 0 then return nil, "key " .. i .. " is not a non-empty string" end
  end
  return true
end


-- The Flask users' source is fsec.flaskusers (examples/flask-edge): a
-- URI without the module would leave every Flask credential unmapped.
local function flask_users(v)
  if #v == 0 then return nil, "must not be empty" end
  local search = package.searchpath
  if search and not search("fsec.flaskusers", package.path) and not package.preload["fsec.flaskusers"] then
    return nil, "needs the module fsec.flaskusers, which is not installed"
  end
  -- a SQLite path or sqlite:/// URI, or a postgresql:// URI without password
  local kind, err = require("fsec.dburi").flask_source(v)
  if not kind then return nil, err end
  return true
end


local function check_secret_key(v)
  local keys = type(v) == "table" and v or { v }
  local n = list_length(keys)
  if not n then
    return nil, "a list of keys expected (at 1..n, no holes, no other keys): "
      .. "a hole would drop the keys after it"
  end
  if n == 0 then return nil, "at least one key expected" end
  if n > 8 then return nil, "at most 8 keys" end
  for i, k in ipairs(keys) do
    if type(k) ~= "string" then
      return nil, "key " .. i .. " is not a string"
    end
    if #k < SECRET_KEY_MIN then
      return nil, "must be at least " .. SECRET_KEY_MIN .. " bytes"
        .. (#keys > 1 and " (key " .. i .. ")" or "")
    end
  end
  return true
end


-- password_hash_options.argon2's numbers: the engine's argon2 fields
local ARGON2_RANGES = { time_cost = engine_range("argon2_time"),
                        memory_cost = engine_range("argon2_memory_kib") }

-- Languages (fsec.i18n): tags as BCP 47 writes them.
local function language_tag(v)
  if require("fsec.i18n").normal(v) then return true end
  return nil, "a language tag expected (en, fr, de-CH)"
end

local function language_list(v)
  if #v == 0 then return nil, "lists no language" end
  for k, tag in pairs(v) do
    if type(k) ~= "number" or not language_tag(tag) then return nil, "a list of language tags expected" end
  end
  return true
end

local function translation_table(v)
  for tag, texts in pairs(v) do
    if not language_tag(tag) or type(texts) ~= "table" then
      return nil, "{ [language tag] = { KEY = text } } expected"
    end
    for k, text in pairs(texts) do
      if type(k) ~= "string" or type(text) ~= "string" then return nil, tag .. ": KEY = text pairs expected" end
      if not require("fsec.lang.en")[k] then return nil, tag .. ": unknown catalogue key '" .. k .. "'" end
    end
  end
  return true
end

-- A template override: a built-in template's name (a typo would silently
-- do nothing), or a partial of the application's own ("security/_x.html").
local function template_table(v)
  local builtin = require "fsec.templates"
  for name, src in pairs(v) do
    if type(name) ~= "string" or not (builtin[name] or name:match("^[%w_/]*/_[%w_.]+$")) then
      return nil, "unknown template '" .. tostring(name) .. "' (docs/templates.md lists them)"
    end
    if type(src) == "table" then src = src.file end
    if type(src) ~= "string" then return nil, name .. ": a source string or { file = path } expected" end
  end
  return true
end

local function check_argon2_options(v)
  for k, x in pairs(v) do
    if k ~= "argon2" then
      return nil, "only argon2 options are supported, got '" .. tostring(k) .. "'"
    end
    if type(x) ~= "table" then return nil, "argon2 must be a table" end
    for opt, val in pairs(x) do
      local range = ARGON2_RANGES[opt]
      if range then
        local ok, err = range(val)
        if not ok then return nil, "argon2." .. opt .. ": " .. err end
      elseif opt == "parallelism" then
        if val ~= 1 then
          return nil, "argon2.parallelism must be 1 (libsodium hashes with one lane)"
        end
      else
        return nil, "unknown argon2 option '" .. tostring(opt) .. "'"
      end
    end
  end
  return true
end


local CAP_KEYS = {
  argon2_memory_kib = true, argon2_time = true, argon2_lanes = true,
  bcrypt_cost = true, crypt_rounds = true, pbkdf2_rounds = true,
}

local function check_caps(v)
  for k, x in pairs(v) do
    if not CAP_KEYS[k] then return nil, "unknown cap '" .. tostring(k) .. "'" end
    if not is_integer(x) or x < 1 or x > 4294967295 then
      return nil, k .. " must be a positive integer"
    end
  end
  return true
end


--- The schema: one entry per accepted key.
-- `type` is the Lua type (or a list of types), `default` the value when the
-- key is absent, `check` an extra validator returning `true` or `nil, msg`.
_M.schema = {
  secret_key = { type = { "string", "table" }, required = true,
    check = check_secret_key,
    description = "Token signing key (>= 32 bytes), or a list: the first signs, all verify" },
  password_salt = { type = "string", check = function(v)
      if #v == 0 then return nil, "must not be empty" end
      return true
    end,
    description = "HMAC key of Flask-Security's double hash" },
  password_single_hash = { type = "boolean", default = false,
    description = "Hash the bare password (no HMAC pre-hash, no salt needed)" },
  password_hash = { type = "string", default = "argon2",
    check = function(v)
      if v ~= "argon2" then
        return nil, "only 'argon2' is supported for new hashes (others verify)"
      end
      return true
    end },
  password_hash_options = { type = "table", default = {},
    check = check_argon2_options,
    description = "{ argon2 = { time_cost = 2, memory_cost = 65536 (KiB), parallelism = 1 } }" },
  password_schemes = { type = "table",
    default = { "argon2", "bcrypt", "pbkdf2_sha256", "pbkdf2_sha512",
                "sha256_crypt", "sha512_crypt" },
    check = string_list(KNOWN_SCHEMES),
    description = "Stored formats that verify; add 'plaintext' explicitly to allow it" },
  password_normalize_form = { type = { "string", "boolean" }, default = "NFKD",
    check = function(v)
      if v == false or NORMALIZE_FORMS[v] then return true end
      return nil, "NFC, NFD, NFKC, NFKD or false expected"
    end },
  password_max_bytes = { type = "number", default = ENGINE.defaults.password_max_bytes,
    check = engine_range("password_max_bytes"),
    description = "fsec: passwords longer than this are refused before hashing" },
  password_hash_caps = { type = "table", default = {}, check = check_caps,
    description = "fsec: most a stored hash may ask for (argon2_memory_kib, argon2_time, argon2_lanes, " ..
        "bcrypt_cost, crypt_rounds, pbkdf2_rounds)" },
  password_verify_budget = { type = { "number", "boolean" }, default = ENGINE.defaults.caps.verify_budget,
    check = function(v)
      -- below 1 fsec's own new hashes would be over it (the engine's range)
      local lo, hi = ENGINE.ranges.verify_budget[1], ENGINE.ranges.verify_budget[2]
      if v == false or (type(v) == "number" and v >= lo and v <= hi) then return true end
      return nil, ("a number %d..%d (times the cost of a new hash) or false expected"):format(lo, hi)
    end,
    description = "fsec: a stored hash whose verify would cost more than this many new hashes "
      .. "(estimated from its own parameters) is refused unrun, as a wrong password; false: none" },
  argon2_helper = { type = { "boolean", "string" }, default = false,
    description = "fsec: run argon2 in a helper process (true: fsec-argon2 beside fsec.core; or its path), "
      .. "so that its 64 MiB map and unmap never stall this process's other threads" },
  allow_weak_password_hash = { type = "boolean", default = false,
    description = "fsec: allow argon2 parameters below OWASP's minimum (tests only)" },
  token_max_length = { type = "number", default = ENGINE.defaults.token_max_length,
    check = engine_range("token_max_length"),
    description = "fsec: longer tokens are invalid without being decoded" },
  token_clock_skew = { type = "number", default = ENGINE.defaults.token_skew,
    check = engine_range("token_skew"),
    description = "fsec: seconds a token's issue time may lie in the future" },
  clock = { type = "function",
    description = "fsec: function returning the time in seconds (tests)" },
  database = { type = "string", check = database_name,
    description = "fsec: SQLite file of the embedded store (its folder must exist), ':memory:', "
      .. "or a PostgreSQL URI (postgresql://user@host:port/db; the password in a password file)" },
  datastore = { type = "table", by_reference = true,
    description = "fsec: an object implementing fsec.datastore's interface, instead of database" },
  database_busy_timeout = { type = "number", default = 5000,
    check = int_range(0, 600000),
    description = "fsec: ms a write waits for another writer before 'store busy'" },
  database_synchronous = { type = "string", default = "FULL",
    check = function(v)
      if v == "FULL" or v == "NORMAL" then return true end
      return nil, "FULL or NORMAL expected"
    end,
    description = "fsec: SQLite synchronous (NORMAL may lose the last commits on power loss)" },
  database_cache_kib = { type = "number", default = 8192,
    check = int_range(0, 16777216), description = "fsec: SQLite page cache" },
  database_mmap_bytes = { type = "number", default = 0,
    check = int_range(0, 2^40), description = "fsec: SQLite mmap_size" },
  database_max_pages = { type = "number", check = int_range(1, 2^31),
    description = "fsec: cap on the database size in pages (max_page_count)" },
  database_connect_timeout = { type = "number", default = 5000, check = int_range(1000, 600000),
    description = "fsec: PostgreSQL: ms a connection may take before 'store unreachable' (503)" },
  database_statement_timeout = { type = "number", default = 5000, check = int_range(0, 600000),
    description = "fsec: PostgreSQL: ms a statement or lock wait may take (0: no limit)" },
  revocation_interval = { type = "number", default = 0.5,
    check = function(v)
      if v > 0 and v <= 60 then return true end
      return nil, "seconds over 0, at most 60 expected"
    end,
    description = "fsec.openresty: seconds between two reads of the revocation epoch: a logout or "
      .. "password change on any node (or the fsec command) reaches every worker's cache within it" },
  trackable = { type = "boolean", default = false,
    description = "Record login times, addresses and counts" },

  -- URLs and views (relative to url_prefix where they are endpoints)
  url_prefix = { type = "string", default = "", check = path_or_empty },
  login_url = { type = "string", default = "/login", check = path },
  logout_url = { type = "string", default = "/logout", check = path },
  register_url = { type = "string", default = "/register", check = path },
  reset_url = { type = "string", default = "/reset", check = path },
  change_url = { type = "string", default = "/change", check = path },
  confirm_url = { type = "string", default = "/confirm", check = path },
  verify_url = { type = "string", default = "/verify", check = path },
  post_login_view = { type = "string", default = "/", check = view },
  post_logout_view = { type = "string", default = "/", check = view },
  unauthorized_view = { type = "string", check = view,
    description = "Where browsers are sent when forbidden; nil answers 403" },
  redirect_behavior = { type = "string", check = one_of{ "spa" },
    description = "\"spa\": mailed links (confirm, reset, passwordless, us-verify-link) redirect to the *_view " ..
        "keys with Too's query parameters; nil: fsec's pages" },
  redirect_host = { type = "string", check = host_port,
    description = "host[:port] put in the SPA views' URLs (Too's REDIRECT_HOST: the UI served elsewhere)" },
  login_error_view = { type = "string", check = view,
    description = "SPA: where a bad passwordless or unified sign-in link leads (?error=...)" },
  confirm_error_view = { type = "string", check = view,
    description = "SPA: where a bad, used or expired confirmation link leads (?error= or ?info=...)" },
  reset_view = { type = "string", check = view,
    description = "SPA: where a good reset link leads (?token=&email=&identity=)" },
  reset_error_view = { type = "string", check = view,
    description = "SPA: where a bad or expired reset link leads (?error=...)" },
  requires_confirmation_error_view = { type = "string", check = view,
    description = "Where a browser's login with the right password of an unconfirmed account leads (?email=...)" },
  post_verify_view = { type = "string", check = view,
    description = "Where a browser goes after /verify (default: post_login_view)" },

  -- tokens and mechanisms
  token_max_age = { type = "number", check = int_range(1, 2^31),
    description = "Seconds an auth token is valid (nil: until revoked)" },
  token_authentication_header = { type = "string", default = "Authentication-Token", check = header_name },
  token_authentication_key = { type = "string", default = "auth_token" },
  auth_mechanisms = { type = "table", default = { "session", "token" },
    check = string_list({ session = true, token = true, basic = true }),
    description = "fsec: how current_user recognises a user, in order" },
  identity_attributes = { type = "table", default = { "email" },
    check = string_list({ email = true, username = true, us_phone_number = true }),
    description = "Attributes a login identity is looked up by, in order (us_phone_number: unified " ..
        "sign-in's phone, written as people type it, read in phone_region_default)" },
  default_remember_me = { type = "boolean", default = false },
  default_http_auth_realm = { type = "string", default = "Login Required", check = realm },
  freshness = { type = "number", default = 86400, check = int_range(-1, 2^31),
    description = "Seconds a primary authentication counts as fresh (-1: always)" },
  freshness_grace_period = { type = "number", default = 3600, check = int_range(0, 2^31) },
  freshness_allow_auth_token = { type = "boolean", default = false,
    description = "An auth token minted within freshness counts as a fresh sign-in (Too's " ..
        "FRESHNESS_ALLOW_AUTH_TOKEN). Off: a stolen token cannot change the email, a second factor " ..
        "or the recovery codes" },

  -- cookies and sessions
  session_cookie_name = { type = "string", default = "session", check = cookie_name },
  remember_cookie_name = { type = "string", default = "remember_token", check = cookie_name },
  session_cookie_secure = { type = { "boolean", "string" }, default = "auto",
    check = function(v)
      if v == true or v == false or v == "auto" then return true end
      return nil, "true, false or 'auto' expected"
    end,
    description = "fsec: Secure (and __Host-) cookies; 'auto' follows the request scheme" },
  session_cookie_samesite = { type = "string", default = "Lax",
    check = function(v)
      if v == "Lax" or v == "Strict" or v == "None" then return true end
      return nil, "Lax, Strict or None expected"
    end },
  session_cookie_httponly = { type = "boolean", default = true },
  session_cookie_domain = { type = "string", check = cookie_domain },
  session_idle_timeout = { type = "number", default = 1800, check = int_range(60, 2^31),
    description = "fsec: seconds of inactivity that end a session" },
  session_lifetime = { type = "number", default = 43200, check = int_range(60, 2^31),
    description = "fsec: absolute seconds a session lasts" },
  remember_cookie_duration = { type = "number", default = 2592000, check = int_range(60, 2^31),
    description = "fsec: seconds a remember cookie lasts (30 days)" },
  session_data_max_bytes = { type = "number", default = 16384,
    check = int_range(0, require("fsec.core").LIMITS.session_data),
    description = "fsec: most bytes of a session's data (sec:set_session_data, JSON); 0: none may be kept" },
  -- Flask-Security's own credentials (fsec.flask, docs/migration.md)
  flask_secret_key = { type = "string", check = nonempty,
    description = "fsec: the Flask app's SECRET_KEY; when set, its auth tokens, session and remember "
      .. "cookies sign users in too" },
  flask_secret_key_fallbacks = { type = "table", check = flask_fallbacks,
    description = "fsec: the Flask app's SECRET_KEY_FALLBACKS (older keys that still verify)" },
  remember_salt = { type = "string", default = "remember-salt", check = nonempty,
    description = "Salt of Flask-Security's auth tokens" },
  flask_session_cookie_name = { type = "string", default = "session", check = cookie_name,
    description = "fsec: name of the Flask app's session cookie" },
  flask_session_lifetime = { type = "number", default = 2678400, check = int_range(1, 2^31),
    description = "fsec: the Flask app's PERMANENT_SESSION_LIFETIME in seconds" },
  flask_csrf_secret_key = { type = "string", check = nonempty,
    description = "fsec: the Flask app's WTF_CSRF_SECRET_KEY (nil: flask_secret_key), which signs "
      .. "Flask-WTF's CSRF tokens" },
  flask_csrf_time_limit = { type = { "number", "boolean" }, default = 3600, check = function(v)
      if v == false or (type(v) == "number" and v == floor(v) and v >= 1 and v <= 2^31) then return true end
      return nil, "seconds (1..2^31) or false (no limit, Flask-WTF's None) expected"
    end, description = "fsec: the Flask app's WTF_CSRF_TIME_LIMIT: seconds Flask-WTF's CSRF token "
      .. "is valid; false: no limit" },
  flask_remember_cookie_name = { type = "string", default = "remember_token", check = cookie_name,
    description = "fsec: name of Flask-Login's remember cookie" },
  flask_user_id = { type = "string", default = "fs_uniquifier", check = function(v)
      if v == "fs_uniquifier" or v == "id" then return true end
      return nil, "'fs_uniquifier' (Flask-Security-Too) or 'id' (3.0) expected"
    end, description = "fsec: what Flask-Login's _user_id names" },
  flask_users = { type = "string", check = flask_users,
    description = "fsec: URI of the Flask-Security database whose users Flask credentials name "
      .. "(fsec.flaskusers); nil: fsec's own store" },
  max_body_bytes = { type = "number", default = 65536, check = int_range(256, 2^30),
    description = "fsec: request bodies above this are refused" },

  -- messages and logging
  messages = { type = "table", default = {}, check = function(v)
      local m = require("fsec.messages").DEFAULT
      for k, text in pairs(v) do
        if not m[k] then return nil, "unknown message key '" .. tostring(k) .. "'" end
        if type(text) ~= "string" then return nil, k .. " must be a string" end
      end
      return true
    end, description = "Overrides of Flask-Security's message texts, by key" },
  log = { type = "function",
    description = "fsec: function(level, message); default ngx.log or stderr" },
  events = { type = { "boolean", "string", "table", "function" }, default = false,
    check = function(v)
      local err = require("fsec.events").check(v)
      if err then return nil, err end
      return true
    end,
    description = "fsec: where security events go (docs/events.md): false, \"ngx_log\", \"stderr\", "
      .. "{ sink = \"file\", path = }, { sink = \"syslog\", address = }, or function(line, event)" },

  -- languages and templates (fsec.i18n, fsec.template; docs/templates.md)
  languages = { type = "table", default = { "en" }, check = language_list,
    description = "fsec: the languages pages, messages and mail may be in (shipped: en, fr, de; others need "
      .. "translations); chosen per request from Accept-Language or the locale hook" },
  default_language = { type = "string", default = "en", check = language_tag,
    description = "fsec: the language when the request asks for none of `languages` (one of them)" },
  locale = { type = "function",
    description = "fsec: function(req) -> language tag or nil (nil: Accept-Language); an error or a " ..
        "non-string means default_language, logged" },
  translations = { type = "table", check = translation_table,
    description = "fsec: { [tag] = { KEY = text } }: texts of a language by catalogue key, over the shipped " ..
        "ones (a new language: its keys, the rest from default_language)" },
  templates = { type = "table", check = template_table,
    description = "fsec: { [name] = source or { file = path } }: templates by Flask-Security's name " ..
        "(security/login_user.html), overriding the built-in one" },
  template_dir = { type = "string", check = nonempty,
    description = "fsec: a folder whose files override the templates of the same name " ..
        "(template_dir/security/login_user.html)" },

  -- features (Flask-Security's, all off by default)
  registerable = { type = "boolean", default = false },
  confirmable = { type = "boolean", default = false },
  recoverable = { type = "boolean", default = false },
  changeable = { type = "boolean", default = false },
  passwordless = { type = "boolean", default = false },
  username_enable = { type = "boolean", default = false },
  username_required = { type = "boolean", default = false },
  register_fields = { type = "table", check = function(v) return require("fsec.regfields").check(v) end,
    description = "fsec: the application's own registration fields (Flask-Security's extended RegisterForm): "
      .. "a list of { name, type = string|integer|boolean|email|choice, required, max_length, min, max, "
      .. "choices, label, description, validate = function(value, inputs) -> ok | nil, message, "
      .. "payload = false to keep it out of the user JSON }; stored with the user (fsec.regfields)" },
  confirm_email_within = { type = "number", default = 432000, check = int_range(60, 2^31),
    description = "seconds (5 days)" },
  reset_password_within = { type = "number", default = 86400, check = int_range(60, 2^31),
    description = "seconds (1 day)" },
  login_within = { type = "number", default = 86400, check = int_range(60, 2^31),
    description = "seconds a passwordless link is valid (1 day)" },
  login_without_confirmation = { type = "boolean", default = false },
  auto_login_after_confirm = { type = "boolean", default = false },
  one_click_links = { type = "boolean", default = false,
    description = "fsec: passwordless and confirmation links act on GET (Flask-Security); false: a page asks first" },
  auto_login_after_reset = { type = "boolean", default = false },
  return_generic_responses = { type = "boolean", default = false },
  page_security_headers = { type = "boolean", default = true,
    description = "fsec: X-Frame-Options DENY, CSP frame-ancestors 'none', nosniff and Referrer-Policy" ..
        " no-referrer on the HTML pages; false: " ..
        "none (a page framed on purpose)" },
  cache_control = { type = { "string", "boolean" }, default = "private, no-store",
    check = function(v)
      if v == false then return true end
      if v == true or v == "" or v:find("[%c\128-\255]") or #v > 256 then
        return nil, "a Cache-Control value (printable ASCII) or false expected"
      end
      return true
    end,
    description = "Cache-Control of every answer of fsec's endpoints (Flask-Security-Too 5.8's CACHE_CONTROL); " ..
        "false: none" },
  post_register_view = { type = "string", check = view },
  post_confirm_view = { type = "string", check = view },
  post_reset_view = { type = "string", check = view },
  post_change_view = { type = "string", check = view },

  -- account changes (Flask-Security-Too 5.5/5.6; fsec.changeemail, fsec.username)
  change_email = { type = "boolean", default = false,
    description = "/change-email: a signed-in user changes their address, confirmed by a link to the new one" },
  change_email_url = { type = "string", default = "/change-email", check = path,
    description = "endpoint; its confirmation links are change_email_url/<token>" },
  change_email_within = { type = "number", default = 7200, check = int_range(60, 2^31),
    description = "seconds a change-email link is valid (2 hours)" },
  change_email_subject = { type = "string", default = "Confirm your new email address", check = header_text },
  email_subject_change_email_notice = { type = "string", default = "Your email address has been changed",
    check = header_text, description = "fsec: subject of the notice to the old address after a change" },
  post_change_email_view = { type = "string", check = view,
    description = "redirect after a confirmed change of email (nil: post_login_view)" },
  change_email_error_view = { type = "string", check = view,
    description = "redirect after a bad or expired change-email link (nil: change_email_url)" },
  username_recovery = { type = "boolean", default = false,
    description = "/recover-username: mail an account's username to its address (needs username_enable)" },
  username_recovery_url = { type = "string", default = "/recover-username", check = path },
  email_subject_username_recovery = { type = "string", default = "Your requested username", check = header_text },
  change_username = { type = "boolean", default = false,
    description = "/change-username: a signed-in user changes their username (needs username_enable)" },
  change_username_url = { type = "string", default = "/change-username", check = path },
  post_change_username_view = { type = "string", check = view,
    description = "redirect after a change of username (nil: post_login_view)" },
  send_username_change_email = { type = "boolean", default = true,
    description = "mail the user when their username changes" },
  email_subject_username_change_notice = { type = "string", default = "Your username has been changed",
    check = header_text },
  logout_methods = { type = "table", default = { "POST" },
    check = string_list({ GET = true, POST = true }),
    description = "GET is Flask-Security 5.8's default too; POST alone (5.9) resists logout CSRF" },
  security_payload = { type = "function",
    description = "function(user) -> table: the `user` object of JSON answers (default {})" },

  -- multi-factor: two-factor, recovery codes, unified sign-in (Flask-Security-Too's)
  two_factor = { type = "boolean", default = false },
  two_factor_enabled_methods = { type = "table", default = { "email", "authenticator", "sms" },
    check = string_list({ email = true, authenticator = true, sms = true }) },
  two_factor_required = { type = "boolean", default = false,
    description = "Every user must have a second factor (set up at the next sign-in)" },
  check_tf_required = { type = "function",
    description = "function(user) -> boolean: whether this user must use a second factor (Flask-Security-Too " ..
        "5.8's hook); an error denies the sign-in (fail closed)" },
  two_factor_always_validate = { type = "boolean", default = true,
    description = "false: 'remember' at sign-in sets the tf_validity cookie, which skips the second factor" },
  two_factor_login_validity = { type = "number", default = 2592000, check = int_range(60, 2^31),
    description = "seconds the tf_validity cookie skips the second factor (30 days)" },
  two_factor_validity_cookie_name = { type = "string", default = "tf_validity", check = cookie_name },
  two_factor_authenticator_validity = { type = "number", default = 120, check = int_range(30, 600),
    description = "seconds either side of now an authenticator code is accepted (window)" },
  two_factor_mail_validity = { type = "number", default = 300, check = int_range(30, 3600) },
  two_factor_sms_validity = { type = "number", default = 120, check = int_range(30, 3600) },
  two_factor_setup_within = { type = "number", default = 1800, check = int_range(60, 86400),
    description = "seconds a started setup may be completed" },
  two_factor_login_within = { type = "number", default = 600, check = int_range(60, 86400),
    description = "fsec: seconds between the password and the second factor (the half-signed-in state)" },
  two_factor_state_cookie_name = { type = "string", default = "fsec_tf", check = cookie_name,
    description = "fsec: the signed cookie of the half-signed-in state" },
  two_factor_rescue_email = { type = "boolean", default = true,
    description = "The rescue page may mail a one-time code" },
  two_factor_rescue_mail = { type = "string", check = header_text,
    description = "Administrator address the rescue page's 'help' mails (nil: no such option)" },
  two_factor_setup_url = { type = "string", default = "/tf-setup", check = path },
  two_factor_token_validation_url = { type = "string", default = "/tf-validate", check = path },
  two_factor_rescue_url = { type = "string", default = "/tf-rescue", check = path },
  two_factor_select_url = { type = "string", default = "/tf-select", check = path },
  two_factor_post_setup_view = { type = "string", check = view,
    description = "Where a browser goes after a setup (nil: the setup page)" },
  totp_secrets = { type = "table",
    description = "{ [tag] = secret }: keys that encrypt TOTP secrets at rest (Flask-Security's TOTP_SECRETS); " ..
        "the numerically (else lexically) largest tag encrypts, the others still decrypt" },
  totp_issuer = { type = "string", check = header_text,
    description = "The issuer authenticator apps show (required with two_factor or unified_signin)" },
  phone_region_default = { type = "string", default = "US",
    check = function(v)
      if v:match("^%u%u$") then return true end
      return nil, "a two-letter region code (ISO 3166) expected"
    end },
  send_sms = { type = "function",
    description = "function(message): message = { to (E.164), text, code, kind, user }; nil: the development " ..
        "sender writes it to the mailbox (mail_dir)" },
  multi_factor_recovery_codes = { type = "boolean", default = false },
  multi_factor_recovery_codes_n = { type = "number", default = 5, check = int_range(1, 32) },
  multi_factor_recovery_codes_keys = { type = "table",
    description = "List of keys (>= 16 bytes each, the first encrypts): codes are kept encrypted, so users " ..
        "can see them again; nil: only a salted hash of each is kept" },
  multi_factor_recovery_codes_url = { type = "string", default = "/mf-recovery-codes", check = path },
  multi_factor_recovery_url = { type = "string", default = "/mf-recovery", check = path },
  unified_signin = { type = "boolean", default = false },
  us_enabled_methods = { type = "table", default = { "password", "email", "authenticator", "sms" },
    check = string_list({ password = true, email = true, authenticator = true, sms = true }) },
  us_mfa_required = { type = "table", default = { "password", "email" },
    check = string_list({ password = true, email = true, authenticator = true, sms = true }),
    description = "First factors after which two-factor still applies" },
  us_token_validity = { type = "number", default = 120, check = int_range(30, 3600) },
  us_setup_within = { type = "number", default = 1800, check = int_range(60, 86400) },
  us_signin_replaces_login = { type = "boolean", default = false },
  us_email_subject = { type = "string", default = "Verification Code", check = header_text },
  us_signin_url = { type = "string", default = "/us-signin", check = path },
  us_signin_send_code_url = { type = "string", default = "/us-signin/send-code", check = path },
  us_setup_url = { type = "string", default = "/us-setup", check = path },
  us_verify_url = { type = "string", default = "/us-verify", check = path },
  us_verify_send_code_url = { type = "string", default = "/us-verify/send-code", check = path },
  us_verify_link_url = { type = "string", default = "/us-verify-link", check = path },
  us_post_setup_view = { type = "string", check = view },
  -- WebAuthn (passkeys, docs/webauthn.md)
  webauthn = { type = "boolean", default = false },
  wan_allow_as_first_factor = { type = "boolean", default = true },
  wan_allow_as_multi_factor = { type = "boolean", default = true,
    description = "A first-factor key that verified the user (UV) needs no second factor" },
  wan_allow_user_hints = { type = "boolean", default = true,
    description = "/wan-signin may take an identity (its keys are listed: it tells the account exists); " ..
        "false: discoverable keys (passkeys) only" },
  wan_allow_as_verify = { type = "table", default = { "first", "secondary" },
    check = function(v)
      if next(v) == nil then return true end -- {}: no /wan-verify
      return string_list({ first = true, secondary = true })(v)
    end,
    description = "Usages of keys /wan-verify takes ({}: no /wan-verify)" },
  wan_rp_name = { type = "string", default = "My Flask App", check = header_text },
  wan_rp_id = { type = "string", check = function(v)
      if v:match("^[%w.-]+$") then return true end
      return nil, "a domain name expected (no scheme, port or path)"
    end,
    description = "The relying party id (nil: the request's host without its port)" },
  wan_origins = { type = "table", check = string_list(),
    description = "The origins clientDataJSON may name, 'https://host[:port]' each (nil: the request's " ..
        "scheme://host, or external_url)" },
  wan_register_timeout = { type = "number", default = 60000, check = int_range(1000, 600000),
    description = "milliseconds" },
  wan_signin_timeout = { type = "number", default = 60000, check = int_range(1000, 600000),
    description = "milliseconds" },
  wan_register_within = { type = "number", default = 1800, check = int_range(10, 86400) },
  wan_signin_within = { type = "number", default = 60, check = int_range(10, 3600) },
  wan_challenge_bytes = { type = "number", default = 32, check = int_range(16, 64) },
  wan_register_url = { type = "string", default = "/wan-register", check = path },
  wan_signin_url = { type = "string", default = "/wan-signin", check = path },
  wan_delete_url = { type = "string", default = "/wan-delete", check = path },
  wan_verify_url = { type = "string", default = "/wan-verify", check = path },
  wan_script_url = { type = "string", default = "/fs-static/js/webauthn.js", check = path,
    description = "Where fsec serves the pages' script (no inline script: a strict CSP works)" },
  wan_post_register_view = { type = "string", check = view,
    description = "Where a browser goes after a registration (nil: the register page)" },
  email_subject_two_factor = { type = "string", default = "Two-factor Login", check = header_text },
  email_subject_two_factor_rescue = { type = "string", default = "Two-factor Rescue", check = header_text },

  -- passwords in forms
  password_length_min = { type = "number", default = 8, check = int_range(1, 1024) },
  password_length_max = { type = "number", default = 128, check = int_range(8, 4096),
    description = "fsec: code points, after normalization" },
  password_confirm_required = { type = "boolean", default = true },
  password_required = { type = "boolean", default = true,
    description = "false (with unified_signin): /register may leave the password out; the account signs in " ..
        "with email codes, set up at registration (Flask-Security's PASSWORD_REQUIRED)" },
  password_complexity_checker = { type = { "function", "string" }, check = function(v)
      if type(v) == "string" and v ~= "zxcvbn" then return nil, "a function, or \"zxcvbn\"" end
      return true
    end,
    description = "\"zxcvbn\" (libzxcvbn's score), or function(password, user_fields) -> nil or true when " ..
        "acceptable, else a message or a list of messages; anything else (false, a number, a table " ..
        "holding a non-string) or an error denies" },
  zxcvbn_minimum_score = { type = "number", default = 3, check = int_range(0, 4),
    description = "the zxcvbn score (0..4) a new password needs" },
  password_breached_file = { type = "string", check = readable_file,
    description = "fsec: breached-password list, mapped and shared: HIBP's text (SHA-1 hex[:count] a line, " ..
        "sorted) or its binary form (fsec breached build)" },
  password_breached_range = { type = "function",
    description = "fsec: function(prefix) -> the body of HIBP's range API for these 5 hex characters of the " ..
        "SHA-1 (SUFFIX:COUNT lines), or nil, error; fsec matches the suffix (k-anonymity)" },
  password_breached_range_strict = { type = "boolean", default = true,
    description = "fsec: a range hook that fails refuses the password (PASSWORD_BREACHED_SITE_ERROR); false: " ..
        "the password passes, logged (Too's PASSWORD_CHECK_BREACHED = True)" },
  password_breached_count = { type = "number", default = 1, check = int_range(1, 4294967295),
    description = "a listed password is refused when seen at least this many times (a line with no count " ..
        "always)" },

  -- protection
  csrf_enabled = { type = "boolean", default = true },
  csrf_ignore_unauth_endpoints = { type = "boolean", default = false },
  csrf_protect_mechanisms = { type = "table", default = { "session", "basic" },
    check = string_list({ session = true, token = true, basic = true }),
    description = "Mechanisms whose state-changing requests need a CSRF token (fsec leaves out token: no ambient " ..
        "credential)" },
  csrf_time_limit = { type = "number", default = 3600, check = int_range(60, 2^31) },
  csrf_binding_cookie_name = { type = "string", default = "fsec_csrf", check = cookie_name,
    description = "fsec: the HttpOnly cookie binding CSRF tokens of anonymous clients" },
  csrf_cookie_name = { type = "string", check = cookie_name,
    description = "A cookie scripts can read holding a CSRF token, set at sign-in and cleared at sign-out " ..
        "(Too's CSRF_COOKIE_NAME, e.g. XSRF-TOKEN; nil: none)" },
  csrf_cookie = { type = "table", default = { samesite = "Strict", httponly = false, secure = false, path = "/" },
    check = csrf_cookie,
    description = "Attributes of the csrf_cookie_name cookie: samesite, httponly, secure, path, domain " ..
        "(and Too's legacy key, the name)" },
  csrf_header = { type = "string", default = "X-XSRF-Token", check = header_name,
    description = "A header carrying the CSRF token, besides X-CSRF-Token and X-CSRFToken (Too's CSRF_HEADER)" },
  csrf_cookie_refresh_each_request = { type = "boolean", default = false,
    description = "Send the csrf_cookie_name cookie again on every answer to a signed-in client" },
  login_lockout_threshold = { type = "number", default = 10, check = int_range(0, 10000),
    description = "fsec: failed logins within the window that lock an account (0: off)" },
  login_lockout_window = { type = "number", default = 900, check = int_range(1, 2^31),
    description = "fsec: seconds" },
  throttle_client_limit = { type = "number", default = 30, check = int_range(0, 1000000),
    description = "fsec: credential and instruction POSTs (and HTTP Basic checks) a client address may make per " ..
        "throttle_window; more answer 429 with Retry-After, before any hashing (0: off)" },
  throttle_identity_limit = { type = "number", default = 20, check = int_range(0, 1000000),
    description = "fsec: password checks one account (identity) may get per throttle_window, from all clients " ..
        "together (0: off)" },
  throttle_window = { type = "number", default = 60, check = int_range(1, 86400),
    description = "fsec: seconds" },
  mail_address_limit = { type = "number", default = 5, check = int_range(0, 1000000),
    description = "fsec: instruction mails (reset, confirm, passwordless, registration of a taken address) one " ..
        "address may be sent per mail_limit_window (0: off)" },
  mail_client_limit = { type = "number", default = 20, check = int_range(0, 1000000),
    description = "fsec: instruction mails one client address may cause per mail_limit_window (0: off)" },
  mail_limit_window = { type = "number", default = 3600, check = int_range(1, 2^31),
    description = "fsec: seconds" },

  -- mail
  send_mail = { type = "function",
    description = "function(message): message = { to, subject, text, html, kind, link }" },
  mail_dir = { type = "string", default = "var/mail", check = non_empty_path,
    description = "fsec: where the development mailer writes messages when send_mail is not set" },
  email_sender = { type = "string", default = "no-reply@localhost", check = header_text },
  -- SMTP (Flask-Mail's names): with mail_server, mail goes through the
  -- store's outbox and a drainer (fsec.outbox, docs/mail.md)
  mail_server = { type = "string", check = function(v)
      if v:match("^[%w.-]+$") or v:match("^[%x:.]+$") then return true end
      return nil, "a host name or IP address expected (no port: mail_port)"
    end,
    description = "SMTP server; set: mail is queued in the store's outbox and sent by a drainer"
      .. " (nil: send_mail or mail_dir)" },
  mail_port = { type = "number", default = 25, check = int_range(1, 65535),
    description = "SMTP port (465 with mail_use_ssl, 587 with mail_use_tls, usually)" },
  mail_use_tls = { type = "boolean", default = false, description = "STARTTLS (RFC 3207), usually port 587" },
  mail_use_ssl = { type = "boolean", default = false, description = "TLS from the first byte, usually port 465" },
  mail_username = { type = "string", check = header_text,
    description = "AUTH PLAIN user (only over TLS: needs mail_use_tls or mail_use_ssl)" },
  mail_password = { type = "string", description = "AUTH password (or mail_password_file)" },
  mail_password_file = { type = "string", check = non_empty_path,
    description = "fsec: a file holding the AUTH password (mode 0600 or stricter), read at each drain" },
  mail_default_sender = { type = "string", check = header_text,
    description = "Flask-Mail's sender: used when email_sender is left at its default" },
  mail_timeout = { type = "number", default = 10, check = int_range(1, 600),
    description = "fsec: seconds each SMTP connect, read or write may take" },
  mail_tls_verify = { type = "boolean", default = true,
    description = "fsec: check the server's certificate and name (false: tests only)" },
  mail_tls_ca_file = { type = "string", check = non_empty_path,
    description = "fsec: CA certificates for the server's (nil: /etc/ssl/certs/ca-certificates.crt)" },
  mail_helo_name = { type = "string", default = "localhost", check = function(v)
      if v:match("^[%w.-]+$") or v:match("^%[[%x:.]+%]$") then return true end
      return nil, "a host name or [address literal] expected"
    end, description = "fsec: the name fsec gives in EHLO" },
  mail_max_attempts = { type = "number", default = 10, check = int_range(1, 1000),
    description = "fsec: attempts at a message before it is kept as given up" },
  mail_retry_base = { type = "number", default = 30, check = int_range(1, 86400),
    description = "fsec: seconds before the second attempt; doubled for each next one" },
  mail_retry_max = { type = "number", default = 3600, check = int_range(1, 604800),
    description = "fsec: the most seconds between two attempts" },
  mail_lease = { type = "number", default = 120, check = int_range(10, 86400),
    description = "fsec: seconds a drainer holds a claimed message before another may take it" },
  mail_drain_batch = { type = "number", default = 100, check = int_range(1, 100000),
    description = "fsec: the most messages one drain sends" },
  mail_drain_interval = { type = "number", default = 2, check = function(v)
      if v >= 0.1 and v <= 3600 then return true end
      return nil, "0.1 .. 3600 seconds expected"
    end, description = "fsec.openresty: seconds between a worker's drains of the outbox (0.1 .. 3600)" },
  send_register_email = { type = "boolean", default = true,
    description = "send the welcome mails (and the confirmation link they carry)" },
  send_password_change_email = { type = "boolean", default = true,
    description = "send the notice of a changed password" },
  send_password_reset_email = { type = "boolean", default = true,
    description = "send the reset link" },
  send_password_reset_notice_email = { type = "boolean", default = true,
    description = "send the notice of a reset password" },
  email_plaintext = { type = "boolean", default = true,
    description = "mail a text part (SMTP and send_mail; the mail_dir copy is text)" },
  email_html = { type = "boolean", default = true,
    description = "mail an HTML part (SMTP and send_mail)" },
  email_subject_register = { type = "string", default = "Welcome", check = header_text },
  email_subject_confirm = { type = "string", default = "Please confirm your email", check = header_text },
  email_subject_password_reset = { type = "string", default = "Password reset instructions",
    check = header_text },
  email_subject_password_notice = { type = "string", default = "Your password has been reset",
    check = header_text },
  email_subject_password_change_notice = { type = "string", default = "Your password has been changed",
    check = header_text },
  email_subject_passwordless = { type = "string", default = "Login instructions", check = header_text },
  external_url = { type = "string",
    check = function(v)
      if v:match("^https?://[%w.-]+:?%d*$") or v:match("^https?://%[[%x:.]+%]:?%d*$") then return true end
      return nil, "scheme://host[:port] expected (http or https, no path)"
    end,
    description = "fsec: scheme://host[:port] for links in mail; set it whenever mail is sent (unset: the " ..
        "request's Host, which any client chooses; fsec.new warns)" },
  render = { type = "function",
    description = "fsec: function(page, context) -> html or nil (nil: the page's template)" },
}


local function type_ok(spec, v)
  local t = type(v)
  if type(spec.type) == "table" then
    for _, want in ipairs(spec.type) do
      if t == want then return true end
    end
    return false
  end
  return t == spec.type
end


local function type_name(spec)
  return type(spec.type) == "table" and concat(spec.type, " or ") or spec.type
end


local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end


-- New hashes must verify: password_hash is one of password_schemes (as
-- Flask-Security's init_app requires) and the argon2 parameters are within
-- the caps a stored hash is checked against (core/src/password.c,
-- check_stored: a hash above them verifies as false without running).
local function hash_checks(c, a)
  local listed = false
  for _, s in ipairs(c.password_schemes) do
    if s == c.password_hash then listed = true end
  end
  if not listed then
    return nil, "password_hash '" .. c.password_hash .. "' is not in password_schemes: "
      .. "new hashes would never verify"
  end
  local caps = c.password_hash_caps
  local params = {
    { "time_cost", a.time_cost or DEFAULT_ARGON2_TIME, "argon2_time" },
    { "memory_cost", a.memory_cost or DEFAULT_ARGON2_MEMORY_KIB, "argon2_memory_kib" },
    { "parallelism", a.parallelism or 1, "argon2_lanes" },
  }
  for _, p in ipairs(params) do
    local opt, value, cap_key = p[1], p[2], p[3]
    local cap = caps[cap_key] or DEFAULT_CAPS[cap_key]
    if value > cap then
      return nil, "password_hash_options.argon2." .. opt .. " (" .. value .. (a[opt] and "" or ", the default")
        .. ") is above password_hash_caps." .. cap_key .. " (" .. cap .. (caps[cap_key] and "" or ", the default")
        .. "): new hashes would never verify"
    end
  end
  return true
end


-- Endpoint URLs, in the order of their keys in messages.
local ENDPOINT_KEYS = { "login_url", "logout_url", "register_url", "reset_url",
                        "change_url", "confirm_url", "verify_url", "two_factor_setup_url",
                        "two_factor_token_validation_url", "two_factor_rescue_url", "two_factor_select_url",
                        "multi_factor_recovery_codes_url", "multi_factor_recovery_url", "us_signin_url",
                        "us_signin_send_code_url", "us_setup_url", "us_verify_url", "us_verify_send_code_url",
                        "us_verify_link_url", "change_email_url", "username_recovery_url",
                        "change_username_url", "wan_register_url", "wan_signin_url", "wan_delete_url",
                        "wan_verify_url", "wan_script_url" }
-- Endpoints whose mailed links are URL/<token>, and the feature that routes them.
local TOKEN_ENDPOINTS = { { "login_url", "passwordless" }, { "reset_url", "recoverable" },
                          { "confirm_url", "confirmable" }, { "change_email_url", "change_email" } }

-- Each endpoint has its own URL: two equal ones would route one flow to
-- the other (confirm links read as reset tokens), and none may lie where
-- an enabled feature's token links are (URL/<token>).
local function url_checks(c)
  local seen = {}
  for _, k in ipairs(ENDPOINT_KEYS) do
    local u = c[k]
    if seen[u] then
      return nil, k .. " and " .. seen[u] .. " are both '" .. u .. "': each endpoint needs its own URL"
    end
    seen[u] = k
  end
  for _, t in ipairs(TOKEN_ENDPOINTS) do
    local base, feature = t[1], t[2]
    if c[feature] then
      local prefix = c[base] .. "/"
      for _, k in ipairs(ENDPOINT_KEYS) do
        local u = c[k]
        if u:sub(1, #prefix) == prefix and not u:find("/", #prefix + 1, true) then
          return nil, k .. " '" .. u .. "' is where " .. base .. "'s token links go (" .. base
            .. "/<token>, " .. feature .. "): each endpoint needs its own URL"
        end
      end
    end
  end
  return true
end


-- Cookie name options, and the names fsec sets of its own.
local COOKIE_KEYS = { "session_cookie_name", "remember_cookie_name", "csrf_binding_cookie_name", "csrf_cookie_name",
                      "two_factor_state_cookie_name", "two_factor_validity_cookie_name" }
local FIXED_COOKIES = { fsec_flash = "the flash cookie (fsec_flash)" }

-- fsec adds the __Host- prefix itself (over TLS): "__Host-x" and "x" can
-- be the same cookie, so names compare without it.
local function cookie_base(name)
  while name:sub(1, 7):lower() == "__host-" do name = name:sub(8) end
  return name
end

-- Every cookie fsec sets has its own name: a remember cookie named as the
-- session cookie would overwrite it.
local function cookie_checks(c)
  local seen = {}
  for base, what in pairs(FIXED_COOKIES) do seen[base] = what end
  for _, k in ipairs(COOKIE_KEYS) do
    local base = c[k] and cookie_base(c[k]) -- nil: an optional cookie, not set
    if base and seen[base] then
      return nil, k .. " '" .. c[k] .. "' names the same cookie as " .. seen[base]
        .. ": every cookie fsec sets needs its own name"
    end
    if base then seen[base] = k .. " ('" .. c[k] .. "')" end
  end
  return true
end


-- Checks that involve several keys.
-- A keyring map ({ [tag] = secret }) or a list of secrets: every
-- secret a string of at least 16 bytes (core.keyring checks the rest).
local function key_list(name, v, list)
  local n = 0
  for k, secret in pairs(v) do
    n = n + 1
    if list and type(k) ~= "number" then return nil, name .. " must be a list of keys" end
    if not list and type(k) ~= "string" then return nil, name .. " must map tags (strings) to secrets" end
    if type(secret) ~= "string" or #secret < 16 then
      return nil, name .. ": each key must be a string of at least 16 bytes (" .. tostring(k) .. " is not)"
    end
  end
  if n == 0 then return nil, name .. " is empty" end
  return true
end

-- Second factors: their secrets are encrypted at rest, so the keys and
-- the issuer authenticator apps show are required (as Flask-Security's
-- init_app requires TOTP_SECRETS and TOTP_ISSUER).
local function mf_checks(c)
  if c.two_factor or c.unified_signin then
    if not c.totp_secrets then return nil, "totp_secrets is required with two_factor or unified_signin" end
    if not c.totp_issuer then return nil, "totp_issuer is required with two_factor or unified_signin" end
    if c.two_factor and #c.two_factor_enabled_methods == 0 then
      return nil, "two_factor_enabled_methods is empty"
    end
  end
  if c.totp_secrets then
    local ok, msg = key_list("totp_secrets", c.totp_secrets, false)
    if not ok then return nil, msg end
  end
  if c.multi_factor_recovery_codes_keys then
    local ok, msg = key_list("multi_factor_recovery_codes_keys", c.multi_factor_recovery_codes_keys, true)
    if not ok then return nil, msg end
  end
  if c.totp_issuer and c.totp_issuer:find(":", 1, true) then
    return nil, "totp_issuer must not contain ':' (the otpauth:// label's separator)"
  end
  return true
end

local function mail_checks(c)
  if c.mail_use_tls and c.mail_use_ssl then
    return nil, "mail_use_tls (STARTTLS) and mail_use_ssl (implicit TLS) are exclusive: give one"
  end
  if c.mail_password and c.mail_password_file then
    return nil, "mail_password and mail_password_file are exclusive: give one"
  end
  if c.mail_username and not (c.mail_use_tls or c.mail_use_ssl) then
    return nil, "mail_username needs mail_use_tls or mail_use_ssl: the password never crosses in the clear"
  end
  if not c.email_plaintext and not c.email_html then
    return nil, "email_plaintext and email_html are both false: a mail needs one part"
  end
  return true
end

-- Each language needs texts (shipped or translations), the default is
-- one of them, and every template compiles now, not at a request.
local function language_checks(c)
  local i18n = require "fsec.i18n"
  local set = {}
  for _, tag in ipairs(c.languages) do
    local n = i18n.normal(tag)
    if not i18n.SHIPPED[n] and not (c.translations and c.translations[tag]) then
      return nil, "languages: fsec has no catalogue for '" .. tag .. "': give translations['" .. tag .. "']"
    end
    set[n] = true
  end
  if not set[i18n.normal(c.default_language)] then
    return nil, "default_language: '" .. c.default_language .. "' is not one of languages"
  end
  local templates = c.templates
  if templates then
    local resolved = {}
    for name, src in pairs(templates) do
      if type(src) == "table" then
        local file = src.file
        if c.template_dir and file:sub(1, 1) ~= "/" then file = c.template_dir .. "/" .. file end
        local f, err = io.open(file, "rb")
        if not f then return nil, "templates: " .. name .. ": " .. tostring(err) end
        src = f:read("*a")
        f:close()
      end
      resolved[name] = src
    end
    c.templates = resolved
  end
  local set_ok, err = pcall(function()
    require("fsec.template").set(require("fsec.templates"), c.templates, c.template_dir):check_all()
  end)
  if not set_ok then return nil, "templates: " .. tostring(err) end
  return true
end

local function entity_checks(c)
  if c.database and c.datastore then
    return nil, "database and datastore are exclusive: give one"
  end
  local mok, mmsg = mail_checks(c)
  if not mok then return nil, mmsg end
  local salt, single = c.password_salt, c.password_single_hash
  if single and salt then
    return nil, "password_salt is set but password_single_hash is true: "
      .. "the salt would be ignored"
  end
  if not single and not salt then
    return nil, "password_salt is required (or set password_single_hash = true)"
  end
  if c.flask_csrf_secret_key and not c.flask_secret_key then
    return nil, "flask_csrf_secret_key is set but flask_secret_key is not: no Flask session could be verified"
  end
  if c.flask_users and not c.flask_secret_key then
    return nil, "flask_users is set but flask_secret_key is not: no Flask credential could be verified"
  end
  if c.session_cookie_samesite == "None" and c.session_cookie_secure == false then
    return nil, "session_cookie_samesite 'None' requires secure cookies"
  end
  local a = c.password_hash_options.argon2 or {}
  if not c.allow_weak_password_hash and
     ((a.memory_cost and a.memory_cost < OWASP_ARGON2_MIN_MEMORY_KIB) or
      (a.time_cost and a.time_cost < OWASP_ARGON2_MIN_TIME)) then
    return nil, "password_hash_options.argon2 is below OWASP's minimum "
      .. "(memory_cost >= 19456 KiB, time_cost >= 2); "
      .. "set allow_weak_password_hash = true for tests"
  end
  local ok, msg = hash_checks(c, a)
  if not ok then return nil, msg end
  ok, msg = url_checks(c)
  if not ok then return nil, msg end
  ok, msg = cookie_checks(c)
  if not ok then return nil, msg end
  ok, msg = mf_checks(c)
  if not ok then return nil, msg end
  -- as Flask-Security-Too: the username features need usernames
  for _, k in ipairs{ "username_recovery", "change_username" } do
    if c[k] and not c.username_enable then return nil, k .. " needs username_enable" end
  end
  ok, msg = language_checks(c)
  if not ok then return nil, msg end
  if c.password_length_min > c.password_length_max then
    return nil, "password_length_min (" .. c.password_length_min .. ") is above password_length_max ("
      .. c.password_length_max .. "): no password could be set"
  end
  return true
end


--- A read-only view of a table: reads work (a nested table reads as a
-- fresh copy, so ipairs and # work on LuaJIT too and changing it changes
-- nothing), writes raise.
local function freeze(t)
  local store = copy(t)
  return setmetatable({}, {
    __index = function(_, k)
      local v = store[k]
      if type(v) == "table" then return copy(v) end
      return v
    end,
    __newindex = function(_, k)
      error("configuration is read-only (key '" .. tostring(k) .. "')", 2)
    end,
    __pairs = function() return next, copy(store), nil end,
    __metatable = false,
  })
end
_M.freeze = freeze


-- Whether a configuration has a key that is not fsec's: a Flask-Security
-- name, or fsec's spelling of one it refuses, for fsec.flaskconf to
-- translate or refuse. Without one, translate would answer the table as
-- given, and fsec.flaskconf (its table of Flask-Security's settings, 80
-- KiB of Lua heap) is not loaded: a worker keeps it for good otherwise.
local function flask_names(user)
  for k in pairs(user) do
    if type(k) == "string" and not _M.schema[k] then return true end
  end
  return false
end


--- Validate a user configuration.
-- @tparam table user the table given to `fsec.new`
-- @treturn table|nil the validated configuration (a plain, mutable copy)
-- @treturn string|nil message naming the offending key
function _M.validate(user)
  if type(user) ~= "table" then
    return nil, "configuration must be a table, got " .. type(user)
  end
  -- Flask-Security's names (SECURITY_LOGIN_URL, ...): fsec keys, or a
  -- refusal naming fsec's way (fsec.flaskconf); a bad value names the key
  -- as it was given
  local err, names
  if flask_names(user) then
    user, err, names = require("fsec.flaskconf").translate(user, _M.schema)
    if not user then return nil, err end
  end
  local c
  c, err = _M.check(user)
  if not c and names then
    local key = err:match("^([%w_]+):")
    if key and names[key] then err = names[key] .. " (fsec's " .. key .. ")" .. err:sub(#key + 1) end
  end
  return c, err
end


--- Validate a configuration in fsec's own names (what validate does
-- after translating Flask-Security's).
function _M.check(user)
  local unknown = {}
  for k in pairs(user) do
    if _M.RENAMED[k] then
      return nil, k .. " is not a configuration key: its name is " .. _M.RENAMED[k]
    end
    if type(k) ~= "string" or not _M.schema[k] then
      unknown[#unknown + 1] = tostring(k)
    end
  end
  if #unknown > 0 then
    sort(unknown)
    return nil, "unknown configuration key(s): " .. concat(unknown, ", ")
  end
  local c = {}
  for k, spec in pairs(_M.schema) do
    local v = user[k]
    if v == nil then
      if spec.required then return nil, k .. " is required" end
      v = copy(spec.default)
    else
      if not type_ok(spec, v) then
        return nil, k .. ": " .. type_name(spec) .. " expected, got " .. type(v)
      end
      if spec.check then
        local ok, msg = spec.check(v)
        if not ok then return nil, k .. ": " .. msg end
      end
      if not spec.by_reference then v = copy(v) end
    end
    c[k] = v
  end
  local ok, msg = entity_checks(c)
  if not ok then return nil, msg end
  return c
end


return _M
