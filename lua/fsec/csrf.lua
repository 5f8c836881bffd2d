--- CSRF tokens: signed ("csrf" purpose), time-limited, and bound to the
-- client: to the session id when the client is signed in with a session,
-- else to a random value in an HttpOnly cookie (set on first use). A
-- token from another session, a stale one, or none: refused.
-- Which authenticated requests need one is csrf_protect_mechanisms
-- (default session and Basic: what a browser resends by itself; a token
-- in a header is no ambient credential).
-- @module fsec.csrf

local core = require "fsec.core"
local http = require "fsec.http"
local auth = require "fsec.auth"

local type = type
local ipairs = ipairs


local _M = { _VERSION = "0.1.0" }

local HEADERS = { "x-csrf-token", "x-csrftoken" }


-- The value a token is bound to for this client (creating the anonymous
-- cookie on res when needed and allowed).
local function binding(sec, req, res, create)
  local _, via, data = auth.authenticate(sec, req, { "session" })
  if via and type(data) == "table" then return "s:" .. data.s end
  -- over TLS the __Host- prefix: a sibling subdomain cannot plant its own
  -- value (cookie tossing) and so choose the binding of a login form
  local name = sec._cfg.csrf_cookie_name
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


--- Check the request's CSRF token (header or `csrf_token` field). A
-- token found valid is not checked again for the same request (an
-- endpoint that also runs an access check).
-- @return true, or nil and the message key (CSRF_MISSING / CSRF_INVALID)
function _M.check(sec, req, fields)
  if req._fsec_csrf_ok then return true end
  local tok
  for _, h in ipairs(HEADERS) do
    tok = tok or http.header(req, h, 8192)
  end
  if not tok and type(fields) == "table" and type(fields.csrf_token) == "string" then
    tok = fields.csrf_token
  end
  if not tok or tok == "" then return nil, "CSRF_MISSING" end
  local b = binding(sec, req, nil, false)
  if not b then return nil, "CSRF_INVALID" end
  local expired, invalid, data = sec:get_token_status(tok, "csrf", sec._cfg.csrf_time_limit)
  if expired or invalid or type(data) ~= "table" or data.b ~= b then
    return nil, "CSRF_INVALID"
  end
  req._fsec_csrf_ok = true
  return true
end


--- Answer a refused CSRF check on res: 400 with Flask-Security's message
-- (JSON: in errors, and under csrf_token in field_errors when asked).
function _M.deny(sec, req, res, key, field_errors)
  local msg = sec.msg(key)
  if http.wants_json(req) then
    res:json(400, { errors = { msg }, field_errors = field_errors and { csrf_token = { msg } } or nil })
  else
    res:text(400, msg)
  end
  return res
end


return _M
