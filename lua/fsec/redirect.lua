--- Safe redirects: a `next` is used only when it is a path on this site
-- ("/x", not "//x") or an http(s) URL of this very host and port (the
-- request's Host, as Flask-Security compares netlocs: another port on the
-- same name is another service), with no control
-- characters, spaces, backslashes, non-ASCII bytes or user information
-- anywhere. Anything else is refused (catalogue §7.6, R-01..R-03).
-- @module fsec.redirect

local type = type


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


return _M
