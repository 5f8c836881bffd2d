--- Web-server-independent request and response helpers.
--
-- A request is a plain table: `method`, `path`, `query` (table; a repeated
-- parameter may be a list), `headers` (lower-case names; a repeated header
-- may be a list), `cookies` (table; a repeated cookie may be a list),
-- `body` (string), `json` (decoded body, optional), `remote_addr`,
-- `scheme`, `host`, and optionally `uri` (raw path and query).
-- Anything repeated or malformed counts as absent. An adapter may also
-- give `read_header` (a function of a lower-case name) and `read_cookie`
-- (of a cookie's name): fsec then reads through them until something
-- builds `headers` or `cookies` (nginx's request builds those tables only
-- when asked for them, see fsec.openresty).
--
-- A response (`new_response`) collects `status`, `headers`, `cookies`
-- (Set-Cookie values) and `body`; adapters apply it.
-- @module fsec.http

local cjson = require "cjson.safe"

local type = type
local pairs = pairs
local ipairs = ipairs
local rawget = rawget
local tostring = tostring
local concat = table.concat
local sort = table.sort
local setmetatable = setmetatable
local format = string.format
local byte = string.byte
local find = string.find
local sub = string.sub


local json = cjson.new()
json.encode_sparse_array(false)
json.decode_max_depth(32)

local _M = { _VERSION = "0.1.0", json = json }

-- An empty JSON array. Debian's lua-cjson 2.1.0 has no empty_array and
-- encodes every empty table as {}, which a client looping over a list
-- (registered_credentials, transports) cannot loop over. A payload puts
-- this value where an empty list goes; Response:json writes [] for it.
-- The value is random per process: no string a client sends can equal
-- it (read here, not from fsec.core: this module loads without the C
-- binding, as the cookie fuzzer runs it; were a client to guess it, a
-- string it sent would come back as [], nothing more).
local function random_hex()
  local f = io.open("/dev/urandom", "rb")
  local s = f and f:read(16) or (tostring({}) .. os.time() .. os.clock())
  if f then f:close() end
  return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end
_M.EMPTY_ARRAY = "fsec-empty-array-" .. random_hex()
local EMPTY_QUOTED = '"' .. _M.EMPTY_ARRAY .. '"'


--- A single string value from a table of request values, or nil when it
-- is missing, not a string, repeated, or longer than max.
function _M.single(t, k, max)
  local v = type(t) == "table" and t[k] or nil
  if type(v) ~= "string" then return nil end
  if max and #v > max then return nil end
  return v
end


-- One value of a request's `tbl` table ("headers", "cookies"), through
-- the adapter's reader while no such table was built: nil when absent,
-- repeated or over max bytes.
local function request_value(req, tbl, reader, name, max)
  local read = rawget(req, tbl) == nil and req[reader]
  if read then
    local v = read(name)
    if type(v) ~= "string" or (max and #v > max) then return nil end
    return v
  end
  return _M.single(req[tbl], name, max)
end


function _M.header(req, name, max)
  -- no headers table yet: ask the adapter for the one header (a table
  -- per request for one or two headers was a measurable part of a check)
  return request_value(req, "headers", "read_header", name, max or 8192)
end


--- One cookie of a request (nil when absent, repeated or over max bytes),
-- through the adapter's `read_cookie` while no `cookies` table was built
-- (as header does with read_header).
function _M.request_cookie(req, name, max)
  return request_value(req, "cookies", "read_cookie", name, max)
end


--- Add a value under a key; a key seen twice maps to a list of values
-- (and so reads as absent through `single`).
function _M.add_value(out, k, v)
  local prev = out[k]
  if prev == nil then
    out[k] = v
  elseif type(prev) == "table" then
    prev[#prev + 1] = v
  else
    out[k] = { prev, v }
  end
end


-- Is byte b whitespace (%s: space, \t \n \v \f \r)?
local function blank(b) return b == 32 or (b >= 9 and b <= 13) end

--- Parse a Cookie header (repeated names read as absent): pairs split on
-- ";", a name is a non-empty run without "=" or blanks, a value is the
-- rest of the pair with blanks trimmed. A scan with plain finds (no
-- backtracking patterns): this runs on every authenticated request.
function _M.parse_cookies(header)
  local out = {}
  if type(header) ~= "string" then return out end
  local pos, n = 1, #header
  while pos <= n do
    local stop = find(header, ";", pos, true) or (n + 1)
    local eq = find(header, "=", pos, true)
    if eq and eq < stop then
      local ks, ke = pos, eq - 1
      while ks <= ke and blank(byte(header, ks)) do ks = ks + 1 end
      while ke >= ks and blank(byte(header, ke)) do ke = ke - 1 end
      local vs, ve = eq + 1, stop - 1
      while vs <= ve and blank(byte(header, vs)) do vs = vs + 1 end
      while ve >= vs and blank(byte(header, ve)) do ve = ve - 1 end
      local k = sub(header, ks, ke)
      if ks <= ke and not find(k, "[%s=]") then _M.add_value(out, k, sub(header, vs, ve)) end
    end
    pos = stop + 1
  end
  return out
end


-- Cookie names already checked (fsec reads a handful; kept for the first
-- 64, so that an application asking for arbitrary names does not grow it).
local VALID_NAME, n_valid = {}, 0

local function valid_cookie_name(name)
  local v = VALID_NAME[name]
  if v ~= nil then return v end
  v = name ~= "" and not find(name, "[%s=;]")
  if n_valid < 64 then VALID_NAME[name], n_valid = v, n_valid + 1 end
  return v
end


-- The pair whose name is the occurrence of `name` at s, or the first
-- pair of a later occurrence (parse_cookies' rules: a pair starts at the
-- header's start or after ";", blanks around name and value are
-- trimmed): value start, value end, and where the pair ends (its ";",
-- or #header + 1); nil when there is none.
local function pair_from(header, name, s)
  local n, len = #name, #header
  while s do
    local b = s - 1
    while b >= 1 and blank(byte(header, b)) do b = b - 1 end
    if b == 0 or byte(header, b) == 59 then        -- ";"
      local e = s + n
      while e <= len and blank(byte(header, e)) do e = e + 1 end
      if byte(header, e) == 61 then                 -- "="
        local stop = find(header, ";", e + 1, true) or (len + 1)
        local vs, ve = e + 1, stop - 1
        while vs <= ve and blank(byte(header, vs)) do vs = vs + 1 end
        while ve >= vs and blank(byte(header, ve)) do ve = ve - 1 end
        return vs, ve, stop
      end
    end
    s = find(header, name, s + 1, true)
  end
  return nil
end


-- The same for the pair a browser writes ("; name=value", or the name at
-- the start; no blanks but the one after ";"), with no loop, so that
-- LuaJIT compiles the request path around it (a loop entered inside a
-- root trace stops the trace). nil: not that form, ask pair_from.
local function plain_pair(header, name, s)
  if s > 1 and not (byte(header, s - 1) == 32 and byte(header, s - 2) == 59) then return nil end
  local e = s + #name
  if byte(header, e) ~= 61 then return nil end
  local stop = find(header, ";", e + 1, true) or (#header + 1)
  local vs, ve = e + 1, stop - 1
  if vs <= ve and (blank(byte(header, vs)) or blank(byte(header, ve))) then return nil end
  return vs, ve, stop
end


--- The value of one cookie, read as parse_cookies would (blanks around the
-- name and value trimmed): nil when absent, false when the name is
-- repeated. Plain finds, no pattern: the session check reads its cookie
-- on every request, and pattern matching over the header was most of it.
function _M.cookie(header, name)
  if type(header) ~= "string" or type(name) ~= "string" or not valid_cookie_name(name) then
    return nil
  end
  local s = find(header, name, 1, true)
  if not s then return nil end
  local vs, ve, stop = plain_pair(header, name, s)
  if not vs then
    vs, ve, stop = pair_from(header, name, s)
    if not vs then return nil end
  end
  local again = find(header, name, stop, true)
  if again and pair_from(header, name, again) then return false end -- repeated: absent
  return sub(header, vs, ve)
end


-- Accept, read as Werkzeug 2.2 reads it for Flask-Security's _want_json
-- (learnt from its answers, spec/33-flask_security_wire): media ranges in the order given,
-- each with the parameters written after it (a "q" weight ends them);
-- the best is the most specific range (more parts that are not "*",
-- parameters counting as parts), then the highest weight, then the first
-- written. Returns the best range as written (parameters included), or nil.
local WS = "[ \t]*"

-- The weight after a media range at i (";" q=...), or nil and i.
local function weight_at(s, i)
  local _, e = s:find("^" .. WS .. ";" .. WS .. "q=", i)
  if not e then return nil, i end
  local num = s:match("^%d*%.%d+", e + 1) or s:match("^%d*", e + 1)
  local stop = s:find(",", e + 1, true) or #s + 1
  local q = tonumber(num) or 1 -- "q=" with no number: full weight
  if q > 1 then q = 1 end
  return q, stop
end

-- A media range with its parameters from i: value, next position.
local function range_at(s, i)
  local _, e = s:find("^[^%s;,]+", i)
  while true do
    local _, pe = s:find("^" .. WS .. ";" .. WS, e + 1)
    if not pe then break end
    local c, c2 = s:sub(pe + 1, pe + 1), s:sub(pe + 2, pe + 2)
    if c == "" or c:find("[%s;,]") then break end
    if c == "q" and (c2 == "" or c2:find("[%s;,=]")) then break end -- the weight (or a bare q)
    local _, te = s:find("^[^%s;,]+", pe + 1)
    e = te
  end
  return s:sub(i, e), e + 1
end

local function specificity(v)
  local parts = {}
  for p in (v .. ";"):gmatch("(.-)%s*[/;]%s*") do parts[#parts + 1] = p ~= "*" end
  return parts
end

-- a before b: more specific (tuple order), then heavier, then written first
local function before(a, b)
  local sa, sb = a.spec, b.spec
  for k = 1, math.max(#sa, #sb) do
    local x, y = sa[k], sb[k]
    if x == nil then return false end
    if y == nil then return true end
    if x ~= y then return x end
  end
  if a.q ~= b.q then return a.q > b.q end
  return a.n < b.n
end

-- The media ranges of Accept, best first (nil without a header).
local function accepted(req)
  local accept = _M.header(req, "accept", 8192)
  if not accept or accept == "" then return nil end
  local items, i, n = {}, 1, 0
  while n < 256 do -- a longer list is no client's: the rest is ignored
    local s = accept:find("[^%s;,]", i)
    if not s then break end
    local v, nxt = range_at(accept, s)
    local q, after = weight_at(accept, nxt)
    n = n + 1
    items[n] = { v = v, q = q or 1, n = n, spec = specificity(v) }
    i = after
  end
  table.sort(items, before)
  return items
end

local function best_accepted(req)
  local items = accepted(req)
  return items and items[1] and items[1].v
end

-- The body's media type (Werkzeug's mimetype: no parameters, lower case).
local function body_type(req)
  local ct = _M.header(req, "content-type") or ""
  return (ct:match("^[^;]*"):gsub("^%s+", ""):gsub("%s+$", ""):lower())
end

--- Does the client want JSON? As Flask-Security-Too's _want_json: a JSON
-- body (application/json or any application/...+json), or exactly
-- "application/json" as the best range of Accept (so a browser's
-- "text/html, application/json" gets HTML, and "application/json, text/html"
-- JSON).
-- Flask's request.is_json: the body's type is application/json or any
-- application/...+json (application/vnd.api+json).
local function json_type(req)
  local mt = body_type(req)
  return mt == "application/json" or (mt:sub(1, 12) == "application/" and mt:sub(-5) == "+json")
end

_M.is_json = json_type

function _M.wants_json(req)
  return json_type(req) or best_accepted(req) == "application/json"
end

--- Does the client want a page (a browser: Accept names text/html or
-- application/xhtml+xml with a weight above 0, no JSON wanted)? Other
-- clients (curl's */*, scripts) get text. Not Werkzeug's best match:
-- Chromium's Accept ends in application/signed-exchange;v=b3;q=0.7, whose
-- parameter makes it the "best" range there, and Flask answers it a page.
function _M.wants_html(req)
  if _M.wants_json(req) then return false end
  for _, it in ipairs(accepted(req) or {}) do
    local mt = it.v:match("^[^;%s]*"):lower()
    if it.q > 0 and (mt == "text/html" or mt == "application/xhtml+xml") then return true end
  end
  return false
end


--- The request's JSON body as a table (cached), or nil.
function _M.json_body(req, max)
  if req.json ~= nil then return type(req.json) == "table" and req.json or nil end
  -- no body (every GET): answered without reading a header
  local body = req.body
  if type(body) ~= "string" or #body > (max or 65536) then return nil end
  if not json_type(req) then return nil end
  local t = json.decode(body)
  req.json = type(t) == "table" and t or false
  return req.json or nil
end


local function quote_char(c)
  return format("%%%02X", byte(c))
end

--- Percent-encode everything but unreserved characters and "/".
function _M.quote(s)
  return (tostring(s):gsub("[^%w%-%._~/]", quote_char))
end

local HTML_ENTITIES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

--- Escape text for HTML (an element's text or a quoted attribute's
-- value): & < > " ' become entities. The pages and the mails' HTML part
-- use it.
function _M.html_escape(s)
  return (s:gsub("[&<>\"']", HTML_ENTITIES))
end


--- Percent-encode for a query value (also "/" and "?").
function _M.quote_value(s)
  return (tostring(s):gsub("[^%w%-%._~]", quote_char))
end

--- Encode a table as a query string, keys sorted (stable URLs).
function _M.encode_query(params)
  local keys, parts = {}, {}
  for k in pairs(params or {}) do keys[#keys + 1] = k end
  sort(keys)
  for _, k in ipairs(keys) do
    parts[#parts + 1] = _M.quote_value(k) .. "=" .. _M.quote_value(params[k])
  end
  return concat(parts, "&")
end

--- The request's path with its query, as `next` and a form's action
-- carry it: always a path a browser resolves on this site. The raw URI
-- is used only when it starts with one "/" and holds no "\\", space or
-- control character: "//evil.example/..%2flogin" reaches /login in nginx
-- but, written into <form action>, posts to evil.example.
function _M.full_path(req)
  local uri = req.uri
  if type(uri) == "string" and (uri == "/" or uri:find("^/[^/\\]")) and not uri:find("[%c \\]") then
    return uri
  end
  local q = type(req.query) == "table" and _M.encode_query(req.query) or ""
  local path = type(req.path) == "string" and req.path or "/"
  path = path:gsub("^[/\\%c ]+", "/") -- one leading "/", whatever the path held
  if path:sub(1, 1) ~= "/" then path = "/" .. path end
  return path .. (q ~= "" and "?" .. q or "")
end


------------------------------------------------------------------------
-- Responses
------------------------------------------------------------------------

local Response = {}
Response.__index = Response

function _M.new_response()
  return setmetatable({ status = 200, headers = {}, cookies = {}, body = nil }, Response)
end

function Response:set_header(name, value)
  self.headers[name] = value
  return self
end

--- Add a Set-Cookie. opts: max_age, path, domain, secure, http_only, same_site.
function Response:set_cookie(name, value, opts)
  opts = opts or {}
  local parts = { name .. "=" .. value, "Path=" .. (opts.path or "/") }
  if opts.domain then parts[#parts + 1] = "Domain=" .. opts.domain end
  if opts.max_age then
    parts[#parts + 1] = "Max-Age=" .. opts.max_age
    if opts.max_age <= 0 then
      parts[#parts + 1] = "Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    end
  end
  if opts.secure then parts[#parts + 1] = "Secure" end
  if opts.http_only ~= false then parts[#parts + 1] = "HttpOnly" end
  if opts.same_site then parts[#parts + 1] = "SameSite=" .. opts.same_site end
  -- one cookie per name: a later set replaces an earlier one
  for i = #self.cookies, 1, -1 do
    if self.cookies[i]:sub(1, #name + 1) == name .. "=" then table.remove(self.cookies, i) end
  end
  self.cookies[#self.cookies + 1] = concat(parts, "; ")
  return self
end

function Response:delete_cookie(name, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.max_age = 0
  return self:set_cookie(name, "", o)
end

--- Flask-Security's JSON envelope: {"meta":{"code":N},"response":{...}}.
function Response:json(status, payload)
  self.status = status
  self.headers["Content-Type"] = "application/json"
  local body = json.encode({ meta = { code = status }, response = payload or json.empty_object or {} })
  if find(body, EMPTY_QUOTED, 1, true) then body = body:gsub(EMPTY_QUOTED:gsub("%-", "%%-"), "[]") end
  self.body = body
  return self
end

function Response:redirect(location, status)
  self.status = status or 302
  self.headers["Location"] = location
  self.body = ""
  return self
end

function Response:text(status, text)
  self.status = status
  self.headers["Content-Type"] = "text/plain; charset=utf-8"
  self.body = text
  return self
end

_M.Response = Response


return _M
