--- fsec.openresty's request adapter: fsec's request table over nginx's
-- request (headers and cookies read through lua-nginx-module's FFI, every
-- field read when first asked for) and fsec's response sent through
-- nginx. A part of fsec.openresty, whose request, add_cookies and send
-- are these.
-- @module fsec.openresty.request

local core = require "fsec.core"
local http = require "fsec.http"

local ngx = ngx
local type = type
local pairs = pairs
local setmetatable = setmetatable
local next = next
local rawset = rawset
local tonumber = tonumber

-- Tables with room for the fields a request fills in (LuaJIT's
-- table.new): growing an empty table rehashes it at each power of two,
-- and those rehashes were a measurable part of a check.
local ok_new, new_tab = pcall(require, "table.new")
if not ok_new then new_tab = function() return {} end end


local _M = { _VERSION = "0.1.0" }


-- Request headers by name, each read when first asked for: fsec reads
-- one to three headers of a request, and ngx.req.get_headers() copies
-- them all (its loop and garbage were the largest cost of a token check).
-- For a header sent twice the first value counts, as in nginx's
-- $http_<name> (Cookie: all of them, joined with "; ").
local VAR_NAME = setmetatable({}, { __index = function(t, name)
  local v = "http_" .. name:lower():gsub("-", "_")
  t[name] = v
  return v
end })

-- The key nginx keeps for a header name (lower case; "_" reads as "-", as
-- nginx's variables do: nginx drops headers with "_" by default).
local HEADER_KEY = setmetatable({}, { __index = function(t, name)
  local v = name:lower():gsub("_", "-")
  t[name] = v
  return v
end })

-- Headers and cookies found in nginx's own header list, through
-- lua-nginx-module's FFI (the calls ngx.req.get_headers makes) and fsec's
-- fsec_header_find and fsec_header_cookie (the Cookie header and the
-- cookie in it in one call): no copy of the list, and no Lua string but
-- the value. $http_<name> cost about 1,400 instructions a
-- request here (the variable name hashed and matched against every prefix
-- variable, then every header compared), and a session check interned the
-- whole Cookie header to read one cookie. ffi_header and ffi_cookie answer
-- value, true; or nil, false when nginx's variables must answer instead
-- (no FFI: plain Lua; more than BUF_MAX headers; Cookie sent twice, which
-- nginx's $http_cookie joins).
local ffi_header, ffi_cookie
do
  local ok_ffi, ffi = pcall(require, "ffi")
  local ok_base, base = pcall(require, "resty.core.base")
  if ok_ffi and ok_base and pcall(require, "resty.core.request") and core.header_find_ptr
     and core.header_cookie_ptr and pcall(ffi.typeof, "ngx_http_lua_ffi_table_elt_t") then
    local C, get_request, ffi_str = ffi.C, base.get_request, ffi.string
    local find = ffi.cast("int (*)(const ngx_http_lua_ffi_table_elt_t *, int, const char *, size_t)",
                          core.header_find_ptr)
    local header_cookie = ffi.cast("int (*)(const ngx_http_lua_ffi_table_elt_t *, int, const char *, size_t, "
                                   .. "const char *, size_t, int *, size_t *, size_t *)", core.header_cookie_ptr)
    local BUF_MAX = 256 -- more headers (rare): nginx's variable answers
    local cap = 64
    local buf = ffi.new("ngx_http_lua_ffi_table_elt_t[?]", cap)
    local truncated = ffi.new("int[1]")
    local idx, voff, vlen = ffi.new("int[1]"), ffi.new("size_t[1]"), ffi.new("size_t[1]")

    -- The count of the request's headers, copied into buf; 0: none; nil:
    -- ask nginx's variable.
    local function fill()
      local r = get_request()
      if not r then return nil end
      local n = C.ngx_http_lua_ffi_req_get_headers_count(r, 0, truncated)
      if n == 0 then return 0 end
      if n < 0 or n > BUF_MAX then return nil end
      if n > cap then
        cap = n
        buf = ffi.new("ngx_http_lua_ffi_table_elt_t[?]", cap)
      end
      if C.ngx_http_lua_ffi_req_get_headers(r, buf, n, 0) ~= 0 then return nil end
      return n
    end

    ffi_header = function(name)
      local n = fill()
      if not n then return nil, false end
      local key = HEADER_KEY[name]
      local i = find(buf, n, key, #key)
      if i < 0 then return nil, true end
      local v = buf[i].value
      return ffi_str(v.data, v.len), true
    end

    -- nil when absent, false when the name is repeated (http.cookie's
    -- answers); the Cookie header sent twice: nginx's variable answers
    -- (it joins them). One C call finds the header and the cookie in it.
    ffi_cookie = function(name)
      local n = fill()
      if not n then return nil, false end
      local rc = header_cookie(buf, n, "cookie", 6, name, #name, idx, voff, vlen)
      if rc == 1 then return ffi_str(buf[idx[0]].value.data + voff[0], vlen[0]), true end
      if rc == 2 then return false, true end
      if rc == 3 then return nil, false end
      return nil, true
    end
  end
end

-- For init_worker's warning: the fast path is there.
_M._ffi_headers = ffi_header ~= nil

-- A reader of one header or cookie by name: fast(name) answers value,
-- true, or nil, false to leave the answer to slow(name); fast may be nil.
local function reader(fast, slow)
  return function(name)
    if type(name) ~= "string" then return nil end
    if fast then
      local v, answered = fast(name)
      if answered then return v end
    end
    return slow(name)
  end
end

-- One header of the current request (fsec.http's read_header): what
-- fsec itself reads, without a headers table per request.
local read_header = reader(ffi_header, function(name) return ngx.var[VAR_NAME[name]] end)

local Headers = {
  __index = function(h, name)
    local v = read_header(name)
    if v ~= nil then rawset(h, name, v) end
    return v
  end,
}

-- One cookie of the current request (fsec.http's read_cookie); false
-- when the name is repeated.
local read_cookie = reader(ffi_cookie, function(name) return http.cookie(ngx.var.http_cookie, name) end)

local Cookies = {
  __index = function(c, name)
    local v = read_cookie(name)
    if v ~= nil then rawset(c, name, v) end -- false (repeated) stays absent
    return v
  end,
}

-- Is there a query string? The length from lua-nginx-module's own FFI
-- call (resty.core declares it): ngx.var.args would hash and look up a
-- variable name on every request.
local query_len
do
  local ok_base, base = pcall(require, "resty.core.base")
  local ok_ffi, ffi = pcall(require, "ffi")
  if ok_base and ok_ffi and pcall(function() return ffi.C.ngx_http_lua_ffi_req_get_querystring_len end) then
    local C, get_request = ffi.C, base.get_request
    query_len = function() return tonumber(C.ngx_http_lua_ffi_req_get_querystring_len(get_request())) end
  else
    query_len = function() local a = ngx.var.args; return a and #a or 0 end
  end
end

-- "https" when the request came over TLS, else "http" (nginx's $scheme
-- says the same: it asks whether the connection has TLS). Through
-- lua-nginx-module's FFI (ngx.ssl's get_tls1_version fails exactly when
-- there is no TLS): ngx.var.scheme hashed and looked up a variable name,
-- and a session check asks for the scheme (the cookie's name depends on
-- it when session_cookie_secure is "auto").
local scheme_of
do
  local ok_ffi, ffi = pcall(require, "ffi")
  local ok_base, base = pcall(require, "resty.core.base")
  if ok_ffi and ok_base then
    pcall(ffi.cdef, "int ngx_http_lua_ffi_ssl_get_tls1_version(ngx_http_request_t *r, char **err);")
    pcall(ffi.cdef, "int strcmp(const char *a, const char *b);")
    local C = ffi.C
    if pcall(function() return C.ngx_http_lua_ffi_ssl_get_tls1_version, C.strcmp end) then
      local get_request = base.get_request
      local err = ffi.new("char *[1]")
      -- lua-nginx-module's "bad request" is one string constant: its
      -- address, once strcmp has found it, is compared instead (a strcmp
      -- and its FFI call on every plain-HTTP session check)
      local no_tls = false -- (not nil: a NULL pointer equals nil)
      scheme_of = function()
        local r = get_request()
        if r then
          if C.ngx_http_lua_ffi_ssl_get_tls1_version(r, err) >= 0 then return "https" end
          local e = err[0]
          if e == no_tls then return "http" end
          if C.strcmp(e, "bad request") == 0 then -- no TLS
            no_tls = e
            return "http"
          end
        end
        return ngx.var.scheme -- TLS without its SSL object yet: nginx decides
      end
    end
  end
  scheme_of = scheme_of or function() return ngx.var.scheme end
end

-- The query of every request that has none: shared, so read-only.
local NO_ARGS = setmetatable({}, {
  __newindex = function() error("fsec.openresty: a request's query table is read-only", 2) end,
})

-- Request fields read from nginx only when fsec asks for them: a token
-- check needs one header, a session check one cookie, and building every
-- field up front (all headers, the query, every cookie) cost more than
-- the check itself.
local LAZY = {
  -- lower-case names, as fsec asks for them
  headers = function() return setmetatable(new_tab(0, 2), Headers) end,
  -- no query string (most requests): no parsing, no new table, and
  -- nothing kept in the request (VOLATILE)
  query = function()
    if query_len() > 0 then return ngx.req.get_uri_args(100) end
    return NO_ARGS, true
  end,
  -- nginx joins repeated Cookie headers with "; "; each name is read
  -- when asked for (a repeated name reads as absent, as in parse_cookies)
  cookies = function() return setmetatable(new_tab(0, 2), Cookies) end,
  path = function() return ngx.var.uri end, -- normalized by nginx (decoded, dots resolved)
  uri = function() return ngx.var.request_uri end,
  remote_addr = function() return ngx.var.remote_addr end,
  scheme = function() return scheme_of(), true end, -- VOLATILE: asked again
  host = function() return ngx.var.http_host or ngx.var.host end,
}

-- fsec.http's readers: the same for every request, found through the
-- metatable (no slot in each request).
local READERS = { read_header = read_header, read_cookie = read_cookie }

local Request = {
  __index = function(req, k)
    local read = READERS[k]
    if read then return read end
    local load = LAZY[k]
    if not load then return nil end
    -- volatile: cheap to ask again, so not kept (a slot less in the
    -- request, see get)
    local v, volatile = load()
    if not volatile then rawset(req, k, v) end
    return v
  end,
}


--- fsec's request table for the current nginx request (kept in ctx), or
-- nil and 413 when the body is over max_body bytes.
function _M.get(ctx, max_body)
  local req = ctx.fsec_req
  if req then return req end
  local method = ngx.req.get_method()
  -- method and auth.lua's three results of one mechanism: 4 slots. A
  -- token or session check then fills exactly these (the empty query and
  -- the scheme are not kept: see LAZY), so the request is a table of 160
  -- bytes, not 256: it is most of a check's garbage, and the collector's
  -- work per request grows with the garbage. A second mechanism or a
  -- field read (headers, path) grows it as any table.
  req = new_tab(0, 4)
  req.method = method
  setmetatable(req, Request)
  if method ~= "GET" and method ~= "HEAD" then
    local len = tonumber(ngx.var.content_length)
    if len and len > max_body then return nil, 413 end
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body and ngx.req.get_body_file() then return nil, 413 end -- over the buffer
    if body and #body > max_body then return nil, 413 end
    req.body = body
  end
  ctx.fsec_req = req
  return req
end

-- one header of the current request by name (protect's user_header)
_M.read_header = read_header

--- Remove every copy of header `name` the client sent, under every
-- spelling an upstream reads as it: any case, '-' or '_' (with
-- underscores_in_headers on, nginx keeps X_User_Id, and CGI, FastCGI,
-- uwsgi and WSGI servers read it as X-User-Id; an attack review had a
-- forged id reach gunicorn so). lua-nginx-module's clear_header removes
-- one name (in any case): each spelling is cleared by its own. Called
-- only when read_header found one (read_header matches every spelling).
function _M.strip_header(name)
  local key = HEADER_KEY[name]
  for k in pairs(ngx.req.get_headers(0, true)) do
    if type(k) == "string" and (k:lower():gsub("_", "-")) == key then ngx.req.clear_header(k) end
  end
end
-- for protect()'s cache-hit check: one cookie by name, the query
-- string's length, the scheme
_M.read_cookie = read_cookie
_M.query_len = query_len
_M.scheme = scheme_of

--- Add Set-Cookie lines to the response's own: those an earlier phase
-- set (protect() in access_by_lua re-signing the session) or the
-- application did are kept.
function _M.add_cookies(list)
  if not list or list[1] == nil then return end
  local have = ngx.header["Set-Cookie"]
  if have == nil then
    ngx.header["Set-Cookie"] = list
    return
  end
  local all = type(have) == "table" and have or { have }
  for i = 1, #list do all[#all + 1] = list[i] end
  ngx.header["Set-Cookie"] = all
end


--- Send an fsec response: status, headers, Set-Cookie, body.
function _M.send(res)
  ngx.status = res.status
  for k, v in pairs(res.headers) do ngx.header[k] = v end
  _M.add_cookies(res.cookies)
  if res.body and res.body ~= "" then ngx.print(res.body) end
  return ngx.exit(res.status)
end


-- One response table that no request holds: protect() borrows it for the
-- check and takes it back when the check wrote nothing into it (a token
-- or session that verifies), so the common case allocates no response
-- (three tables less garbage per request). A check that yields (HTTP
-- Basic hashes in the thread pool) holds it meanwhile; a concurrent
-- request then makes its own.
local spare

function _M.lend_response()
  local r = spare
  if r then
    spare = nil
    return r
  end
  return http.new_response()
end

function _M.take_back(r)
  if r.status == 200 and r.body == nil and next(r.headers) == nil and r.cookies[1] == nil then
    spare = r
  end
end


return _M
