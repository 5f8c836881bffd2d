--- CSRF tokens: signed ("csrf" purpose), time-limited, and bound to the
-- client: to the session id when the client is signed in with a session,
-- else to a random value in an HttpOnly cookie (set on first use). A
-- token from another session, a stale one, or none: refused.
-- Token-authenticated requests need none (no ambient credential).
-- @module fsec.csrf

local core = require "fsec.core"
local http = require "fsec.http"
local auth = require "fsec.auth"

local type = type


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


--- Does this request need a CSRF token? (POST, enabled, not token- or
-- Basic-authenticated, and not anonymous when unauthenticated endpoints
-- are ignored.)
function _M.required(sec, req)
  if not sec._cfg.csrf_enabled or req.method ~= "POST" then return false end
  local user, via = auth.authenticate(sec, req, sec._cfg.auth_mechanisms)
  if via == "token" or via == "basic" then return false end
  if not user and sec._cfg.csrf_ignore_unauth_endpoints then return false end
  return true
end


--- Check the request's CSRF token (header or `csrf_token` field).
-- @return true, or nil and the message key (CSRF_MISSING / CSRF_INVALID)
function _M.check(sec, req, fields)
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
  return true
end


return _M
