--- Flash messages: shown once on the next HTML page, as Flask's flash().
-- They travel in a signed cookie (purpose "flash", an hour at most) that
-- the next page reads and clears; nothing is kept on the server.
-- @module fsec.flash

local http = require "fsec.http"
local i18n = require "fsec.i18n"

local type = type
local ipairs = ipairs

local _M = { _VERSION = "0.1.0" }


-- over TLS with the __Host- prefix, as the session cookie
local function cookie_name(req)
  return req.scheme == "https" and "__Host-fsec_flash" or "fsec_flash"
end


--- Add a message (Flask-Security's message KEY with VARS) to the ones this
-- response sets; CATEGORY as Flask's: "success", "info", "error".
function _M.add(sec, req, res, category, key, vars)
  local list = req._fsec_flash_out or {}
  list[#list + 1] = { category, i18n.msg_for(sec, req, key, vars) }
  req._fsec_flash_out = list
  res:set_cookie(cookie_name(req), assert(sec:generate_token("flash", list)),
                 { path = "/", http_only = true, same_site = "Lax", secure = req.scheme == "https" })
end


--- The messages waiting for this client ({ category, message } pairs),
-- cleared on res. A cookie that is forged, old or malformed gives none.
function _M.take(sec, req, res)
  local name = cookie_name(req)
  local v = http.request_cookie(req, name, 4096)
  if not v then return {} end
  res:delete_cookie(name, { path = "/", same_site = "Lax", secure = req.scheme == "https" })
  local expired, invalid, list = sec:get_token_status(v, "flash", 3600)
  if expired or invalid or type(list) ~= "table" then return {} end
  local out = {}
  for _, f in ipairs(list) do
    if type(f) == "table" and type(f[1]) == "string" and type(f[2]) == "string" then out[#out + 1] = f end
  end
  return out
end


return _M
