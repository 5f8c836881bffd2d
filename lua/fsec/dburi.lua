--- PostgreSQL connection URIs as the `fsec` command takes them (issue 22):
-- `postgresql://user@host:port/db?passfile=FILE`, libpq's URI syntax.
-- A password written in the URI is refused, before anything connects:
-- a command line shows in `ps`, in /proc to every local user, and in the
-- shell's history. Passwords come from a password file (the URI's
-- `passfile`, or PGPASSFILE, or ~/.pgpass), a service file or
-- the environment (PGPASSWORD), as libpq reads them.
-- @module fsec.dburi

local _M = { _VERSION = "0.1.0" }


--- Is `s` a PostgreSQL connection URI (libpq's two schemes)?
function _M.is_uri(s)
  return type(s) == "string" and (s:find("^postgresql://") or s:find("^postgres://")) ~= nil
end


-- %XX decoded, as libpq decodes a URI's parts before reading them.
local function decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Does the URI carry a password? Where libpq would find one: the user
-- part (what precedes the first '@' met before the first '/', as libpq
-- scans it) holding a ':', or a `password` query parameter (its name
-- %-decoded; any case, to be safe).
local function has_password(uri)
  local rest = uri:gsub("^[^:]*://", "", 1)
  local upto = rest:match("^[^@/]*@")
  if upto and upto:find(":", 1, true) then return true end
  local query = rest:match("%?(.*)$")
  if query then
    for pair in query:gmatch("[^&]+") do
      local key = decode(pair:match("^[^=]*")):lower()
      if key == "password" then return true end
    end
  end
  return false
end
_M.has_password = has_password


--- The URI, checked: raises, without echoing it, when it holds a
-- password. `what` names it in the message ("--db", "the source").
function _M.check(uri, what)
  if uri:find("\0", 1, true) then error(what .. ": the URI contains a NUL byte", 0) end
  if has_password(uri) then
    error(what .. ": a password in the URI is refused (a command line shows in ps and in the shell's"
      .. " history): give it in a password file (?passfile=FILE or PGPASSFILE) or PGPASSWORD", 0)
  end
  return uri
end


--- The URI with `key=value` added when it has no such parameter (for
-- defaults such as connect_timeout; a value given in the URI wins).
function _M.with_default(uri, key, value)
  local query = uri:match("%?(.*)$") or ""
  for pair in query:gmatch("[^&]+") do
    if decode(pair:match("^[^=]*")) == key then return uri end
  end
  return uri .. (uri:find("?", 1, true) and "&" or "?") .. key .. "=" .. value
end


--- Where a Flask-Security app's database is (the `flask_users` key,
-- fsec.flaskusers): "sqlite", path for a path or SQLAlchemy's
-- `sqlite:///path` (relative) / `sqlite:////path` (absolute);
-- "postgres", uri for a PostgreSQL URI; or nil and why (another scheme,
-- an empty string, a NUL byte, a password in the URI).
function _M.flask_source(v)
  if type(v) ~= "string" or v == "" then return nil, "a path or a URI expected" end
  if v:find("\0", 1, true) then return nil, "contains a NUL byte" end
  if _M.is_uri(v) then
    if has_password(v) then
      return nil, "a password in the URI is refused: give it in a password file (?passfile=FILE or PGPASSFILE)"
    end
    return "postgres", v
  end
  local path = v:match("^sqlite:///(.+)$")
  if path then return "sqlite", path end
  if v:find("^%a[%w+.-]*://") then return nil, "only a SQLite path or sqlite:/// URI, or a postgresql:// URI" end
  return "sqlite", v
end


return _M
