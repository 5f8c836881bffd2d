--- Safe redirects: a `next` is used only when it is a path on this site
-- ("/x", not "//x") or an http(s) URL of this very host and port (the
-- request's Host, as Flask-Security compares netlocs: another port on the
-- same name is another service), with no control
-- characters, spaces, backslashes, non-ASCII bytes or user information
-- anywhere. Anything else is refused (catalogue §7.6, R-01..R-03).
-- @module fsec.redirect

local type = type
local ipairs = ipairs
local tostring = tostring


local _M = { _VERSION = "0.1.0" }


--- The `next` to redirect to, or nil when it is not safe.
function _M.safe(req, next)
  if type(next) ~= "string" or next == "" or #next > 2048 then return nil end
  -- C0 controls, space, DEL, backslash, and any non-ASCII byte (browsers
  -- strip or rewrite these, turning "/\t/evil" or "\\evil" into hosts).
  if next:find("[%z\1-\32\127\\\128-\255]") then return nil end
  if next:sub(1, 1) == "/" then
    if next:sub(2, 2) == "/" then return nil end -- "//host": a network path
    return next
  end
  local scheme, authority = next:match("^(https?)://([^/?#]*)")
  if not scheme then return nil end -- javascript:, data:, "https:host", ...
  if authority:find("@", 1, true) then return nil end
  if type(req.host) ~= "string" or authority:lower() ~= req.host:lower() then return nil end
  return next
end


--- Is redirect_behavior "spa" and the view given (a view left unset
-- keeps fsec's own page for that answer)?
function _M.spa(sec, view)
  return sec._cfg.redirect_behavior == "spa" and type(view) == "string"
end


-- Python's quote_plus (urlencode): spaces as "+", everything but
-- letters, digits and "_.-~" %-escaped.
local function quote_plus(s)
  return (s:gsub("[^%w_.~-]", function(c)
    if c == " " then return "+" end
    return ("%%%02X"):format(c:byte())
  end))
end

local function unquote_plus(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The view's own query pairs (blank values dropped, as parse_qsl does),
-- then params, each key once: a later value replaces an earlier one in
-- its place (a dict's update).
local function merged_query(query, params)
  local keys, vals = {}, {}
  local function put(k, v)
    if vals[k] == nil then keys[#keys + 1] = k end
    vals[k] = v
  end
  for pair in query:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=(.*)$")
    if k and v ~= "" then put(unquote_plus(k), unquote_plus(v)) end
  end
  for _, kv in ipairs(params) do put(kv[1], kv[2]) end
  local out = {}
  for i, k in ipairs(keys) do out[i] = quote_plus(k) .. "=" .. quote_plus(vals[k]) end
  return table.concat(out, "&")
end

--- The URL of an SPA view with query params ({ {key, value}, ... }), as
-- Flask-Security-Too's get_url builds it: the view's query merged with
-- params, and redirect_host (host[:port]) for the view's host when set
-- (a path then becomes "//host[:port]/path", scheme-relative, as Too's).
function _M.spa_url(sec, view, params)
  local rest, fragment = view:match("^([^#]*)#(.*)$")
  rest = rest or view
  local base, query = rest:match("^([^?]*)%?(.*)$")
  base, query = base or rest, query or ""
  local host = sec._cfg.redirect_host
  if host then
    local scheme, path = base:match("^(%a[%w+.-]*:)//[^/]*(.*)$")
    base = (scheme or "") .. "//" .. host .. (scheme and path or base)
  end
  local q = (params and #params > 0) and merged_query(query, params) or query -- none: kept as written
  return base .. (q ~= "" and ("?" .. q) or "") .. (fragment and ("#" .. fragment) or "")
end

--- The params Too adds about a user (get_redirect_qparams): first, then
-- email, then identity (the first identity attribute the user has).
function _M.user_params(sec, user, first)
  local out = {}
  for _, kv in ipairs(first or {}) do out[#out + 1] = kv end
  if user then
    out[#out + 1] = { "email", tostring(user.email or "") }
    local id = ""
    for _, a in ipairs(sec._cfg.identity_attributes) do
      local v = user[a]
      if v ~= nil and tostring(v) ~= "" then id = tostring(v) break end
    end
    out[#out + 1] = { "identity", id }
  end
  return out
end

--- Redirect res to an SPA view with params (see spa_url).
function _M.to_spa(sec, res, view, params)
  return res:redirect(_M.spa_url(sec, view, params))
end


return _M
