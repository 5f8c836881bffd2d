--- CSRF tokens: signed ("csrf" purpose), time-limited, and bound to the
-- client: to the session id when the client is signed in with a session,
-- else to a random value in an HttpOnly cookie (set on first use). A
-- token from another session, a stale one, or none: refused.
-- Which authenticated requests need one is csrf_protect_mechanisms
-- (default session and Basic: what a browser resends by itself; a token
-- in a header is no ambient credential).
-- As Flask-Security-Too, a token may come in a cookie scripts can read
-- (csrf_cookie_name, e.g. XSRF-TOKEN): set at sign-in, refreshed when
-- stale, cleared at sign-out. It holds a token like any other, bound to
-- the session, which the script sends back in csrf_header (X-XSRF-Token):
-- another site can neither read it nor set that header.
-- A client signed in by the Flask app's session or remember cookie
-- (fsec.flask) gets tokens bound to its user; one signed in by a Flask
-- session cookie may instead send Flask-WTF's token, checked against
-- that session's csrf_token as Flask-WTF does (fsec.flask.wtf_csrf), so
-- the Flask app's own forms post through fsec at the edge.
-- @module fsec.csrf

local core = require "fsec.core"
local http = require "fsec.http"
local i18n = require "fsec.i18n"
local auth = require "fsec.auth"
local flask = require "fsec.flask"

local type = type
local ipairs = ipairs
local tostring = tostring


local _M = { _VERSION = "0.1.0" }

-- Flask-WTF's WTF_CSRF_HEADERS; csrf_header (Too's CSRF_HEADER) besides
local HEADERS = { "x-csrf-token", "x-csrftoken" }


-- The value a token is bound to for a signed-in client (auth.authenticate's
-- answer for the session mechanism), or nil.
local function signed_in_binding(user, via, data)
  if not (via and type(data) == "table") then return nil end
  if data.s then return "s:" .. data.s end
  -- a Flask session or remember cookie (fsec.flask) carries no id fsec
  -- can see: bound to the user, whose new uniquifier (password change,
  -- reset_user_access) ends the token as it ends the cookie
  if data.flask and user then
    return "f:" .. core.digest("flask\0" .. tostring(user.fs_uniquifier or user.id))
  end
  return nil
end

-- The value a token is bound to for this client (creating the anonymous
-- cookie on res when needed and allowed).
local function binding(sec, req, res, create)
  local b = signed_in_binding(auth.authenticate(sec, req, { "session" }))
  if b then return b end
  -- over TLS the __Host- prefix: a sibling subdomain cannot plant its own
  -- value (cookie tossing) and so choose the binding of a login form
  local name = sec._cfg.csrf_binding_cookie_name
  if req.scheme == "https" then name = "__Host-" .. name end
  local v = req._fsec_csrf or http.request_cookie(req, name, 64)
  if v and #v >= 22 and v:find("^[%w_-]+$") then return "a:" .. v end
  if not create then return nil end
  v = core.random_id(16)
  req._fsec_csrf = v
  if res then
    res:set_cookie(name, v, { path = "/", secure = req.scheme == "https",
                              http_only = true, same_site = "Lax" })
  end
  return "a:" .. v
end


--- A CSRF token for this client (sets the binding cookie on res if needed).
function _M.token(sec, req, res)
  return sec:generate_token("csrf", { b = binding(sec, req, res, true) })
end


-- Flask-WTF's WTF_CSRF_METHODS: what a form or fetch can forge to change state.
local STATE_CHANGING = { POST = true, PUT = true, PATCH = true, DELETE = true }


--- Does a request authenticated by `via` (nil: anonymous) need a CSRF
-- token? As Flask-Security's handle_csrf: a state-changing method, CSRF
-- on, and the mechanism in csrf_protect_mechanisms; an anonymous one
-- unless csrf_ignore_unauth_endpoints (and not `strict`).
function _M.needed(sec, req, via, strict)
  local cfg = sec._cfg
  if not cfg.csrf_enabled or not STATE_CHANGING[req.method] then return false end
  if not via then return strict or not cfg.csrf_ignore_unauth_endpoints end
  for _, m in ipairs(cfg.csrf_protect_mechanisms) do
    if m == via then return true end
  end
  return false
end


--- Does this request need a CSRF token? (It authenticates the request
-- with auth_mechanisms to learn how it is signed in: see needed.)
-- strict: an anonymous one too, whatever csrf_ignore_unauth_endpoints.
function _M.required(sec, req, strict)
  if not sec._cfg.csrf_enabled or not STATE_CHANGING[req.method] then return false end
  local user, via = auth.authenticate(sec, req, sec._cfg.auth_mechanisms)
  return _M.needed(sec, req, user and via or nil, strict)
end


--- Does the browser say this request comes from another site? Fetch
-- Metadata (Sec-Fetch-Site other than same-origin or none) or an Origin
-- whose host[:port] is not the request's Host ("null" included). A
-- client that sends neither (curl, an old browser) is not marked: an old
-- browser still sends no SameSite=Lax session cookie with another site's
-- POST.
function _M.cross_site(req)
  local site = http.header(req, "sec-fetch-site", 64)
  if site and site ~= "same-origin" and site ~= "none" then return true end
  local origin = http.header(req, "origin", 2048)
  if not origin then return false end
  local authority = origin:match("^[hH][tT][tT][pP][sS]?://([^/?#]+)$")
  return not (authority and type(req.host) == "string" and authority:lower() == req.host:lower())
end


--- Check the request's CSRF token (header or `csrf_token` field). A
-- token found valid is not checked again for the same request (an
-- endpoint that also runs an access check).
-- @return true, or nil and the message key (CSRF_MISSING / CSRF_INVALID / CSRF_EXPIRED)
function _M.check(sec, req, fields)
  if req._fsec_csrf_ok then return true end
  -- csrf_header is read with the readable cookie on, as Too adds its
  -- CSRF_HEADER to Flask-WTF's headers only with CSRF_COOKIE_NAME
  local tok = sec._cfg.csrf_cookie_name and http.header(req, sec._cfg.csrf_header:lower(), 8192) or nil
  for _, h in ipairs(HEADERS) do
    tok = tok or http.header(req, h, 8192)
  end
  if not tok and type(fields) == "table" and type(fields.csrf_token) == "string" then
    tok = fields.csrf_token
  end
  if not tok or tok == "" then return nil, "CSRF_MISSING" end
  local user, via, sdata = auth.authenticate(sec, req, { "session" })
  -- Flask-WTF's token (itsdangerous: it holds a '.', fsec's never does),
  -- only for a user signed in by a Flask session cookie (sdata.wtf set)
  if via and type(sdata) == "table" and sdata.wtf ~= nil and tok:find(".", 1, true) then
    local ok, key = flask.wtf_csrf(sec, sdata, tok)
    if not ok then return nil, key end
    req._fsec_csrf_ok = true
    return true
  end
  local b = signed_in_binding(user, via, sdata) or binding(sec, req, nil, false)
  if not b then return nil, "CSRF_INVALID" end
  local expired, invalid, data = sec:get_token_status(tok, "csrf", sec._cfg.csrf_time_limit)
  if invalid or type(data) ~= "table" or data.b ~= b then return nil, "CSRF_INVALID" end
  if expired then return nil, "CSRF_EXPIRED" end -- Flask-WTF's word for a stale one
  req._fsec_csrf_ok = true
  return true
end


-- The name of the cookie scripts read (nil: none). Too's legacy
-- CSRF_COOKIE["key"] names it too.
local function cookie_name(cfg)
  return cfg.csrf_cookie_name or cfg.csrf_cookie.key
end

local function cookie_opts(cfg, req)
  local o = cfg.csrf_cookie
  -- Flask's set_cookie defaults for what the table leaves out; Secure
  -- over TLS whatever it says (as fsec's other cookies: the token must
  -- not travel over plain HTTP once the site has TLS)
  return { path = o.path or "/", domain = o.domain, secure = o.secure == true or req.scheme == "https",
           http_only = o.httponly == true, same_site = o.samesite }
end

--- After a sign-in on res: the readable CSRF cookie with a token of the
-- new session (when csrf_cookie_name is set).
function _M.signed_in(sec, req, res)
  local cfg = sec._cfg
  local name = cookie_name(cfg)
  if not (name and cfg.csrf_enabled and res) then return end
  res:set_cookie(name, _M.token(sec, req, nil), cookie_opts(cfg, req))
end

--- After a sign-out on res: the readable CSRF cookie cleared.
function _M.signed_out(sec, req, res)
  local cfg = sec._cfg
  local name = cookie_name(cfg)
  if not (name and cfg.csrf_enabled and res) then return end
  if http.request_cookie(req, name, 8192) then res:delete_cookie(name, cookie_opts(cfg, req)) end
end

--- On an answer to a client signed in with a session: send the readable
-- cookie again when it is missing, stale or of another session (or on
-- every answer with csrf_cookie_refresh_each_request), so a script never
-- holds a token that fails. Too sends it only at sign-in and when stale.
function _M.refresh(sec, req, res)
  local cfg = sec._cfg
  local name = cookie_name(cfg)
  if not (name and cfg.csrf_enabled and res) then return end
  for _, sc in ipairs(res.cookies) do -- this answer already sets or clears it
    if sc:sub(1, #name + 1) == name .. "=" then return end
  end
  local b = binding(sec, req, nil, false)
  if not b or b:sub(1, 2) == "a:" then return end -- signed in (fsec's or Flask's) only
  if not cfg.csrf_cookie_refresh_each_request then
    local cur = http.request_cookie(req, name, 8192)
    if cur then
      local expired, invalid, data = sec:get_token_status(cur, "csrf", cfg.csrf_time_limit)
      if not (expired or invalid) and type(data) == "table" and data.b == b then return end
    end
  end
  res:set_cookie(name, _M.token(sec, req, nil), cookie_opts(cfg, req))
end


--- Answer a refused CSRF check on res: 400 with Flask-Security's message
-- (JSON: in errors, and under csrf_token in field_errors when asked;
-- otherwise an HTML page saying it).
function _M.deny(sec, req, res, key, field_errors)
  local msg = i18n.msg_for(sec, req, key)
  if http.wants_json(req) then
    res:json(400, { errors = { msg }, field_errors = field_errors and { csrf_token = { msg } } or nil })
  else
    -- a page, as Flask-WTF's 400 (Werkzeug's Bad Request page) is one
    require("fsec.pages").respond(sec, res, 400, "message",
                                  { title = "Bad Request", title_key = "TITLE_BAD_REQUEST", message = msg }, req)
  end
  return res
end


return _M
