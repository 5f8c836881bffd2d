--- The example's development mailbox: the page at /mail that lists the
-- messages fsec's development mailer wrote (reset, confirmation and
-- sign-in links). Whoever reads it can take over any account, the
-- admin's included, so it is:
--   * off unless FSEC_DEV_MAILBOX=1 is in nginx's environment at start
--     (scripts/run.sh, the demo, sets it; scripts/serve-example.sh alone
--     does not);
--   * refused at start when external_url does not name a loopback host
--     (a public site has no use for it, and behind a proxy every client
--     would look like 127.0.0.1);
--   * answered only to a loopback client on a loopback server address;
--   * answered only when the Host header is external_url's host and
--     port: a DNS-rebinding page (evil.example resolving to 127.0.0.1)
--     sends Host: evil.example and gets 421;
--   * announced at start: a warning in error.log (and a banner printed
--     by scripts/serve-example.sh).
-- The folder is read with lua-filesystem (Debian's lua-filesystem, the
-- same package for Lua 5.4 and LuaJIT): a readdir in the worker, no
-- shell forked from the event loop, as io.popen("ls ...") did. It lives
-- here, not in fsec.core: reading a folder is this example page's need,
-- not the auth engine's.
local _M = {}

_M.PER_PAGE = 50

local state = { enabled = false } -- set once in init (the master), inherited by workers


-- host and port of an authority ("127.0.0.1:8080", "[::1]", "Example.org"),
-- lower-cased, the port defaulted from the scheme.
local DEFAULT_PORT = { http = "80", https = "443" }

local function split_authority(authority, scheme)
  if type(authority) ~= "string" then return nil end
  authority = authority:lower()
  local host, port = authority:match("^(%[[%x:.]+%]):?(%d*)$")
  if not host then host, port = authority:match("^([^:/?#@%[%]]+):?(%d*)$") end
  if not host then return nil end
  if port == "" then port = DEFAULT_PORT[scheme] end
  return host, port
end

local function loopback_host(host)
  return host == "localhost" or host == "[::1]" or (host:match("^127%.%d+%.%d+%.%d+$") ~= nil)
end

--- Is this address (nginx's $remote_addr or $server_addr) a loopback one?
function _M.loopback_addr(addr)
  if type(addr) ~= "string" then return false end
  addr = addr:lower()
  return addr == "::1" or addr:match("^127%.%d+%.%d+%.%d+$") ~= nil
    or addr:match("^::ffff:127%.%d+%.%d+%.%d+$") ~= nil
end


--- Decide at start from the environment value and the site's
-- external_url. Returns the state; raises (nginx does not start) when
-- asked for on a site that is not loopback, or without lua-filesystem.
function _M.configure(env_value, external_url)
  state = { enabled = false }
  if env_value == nil or env_value == "" or env_value == "0" then return state end
  if env_value ~= "1" then
    error(("fsec example: FSEC_DEV_MAILBOX must be 1 or 0, not %q"):format(env_value), 0)
  end
  local scheme, authority = tostring(external_url or ""):match("^(https?)://([^/?#]+)/?$")
  local host, port = split_authority(authority, scheme)
  if not host or not loopback_host(host) then
    error("fsec example: FSEC_DEV_MAILBOX=1 needs FSEC_EXTERNAL_URL on a loopback host"
      .. " (http://127.0.0.1:PORT), not " .. tostring(external_url)
      .. ": the mailbox holds every account's reset links", 0)
  end
  local ok, lfs = pcall(require, "lfs")
  if not ok then
    error("fsec example: FSEC_DEV_MAILBOX=1 needs lua-filesystem (Debian: apt-get install lua-filesystem)", 0)
  end
  state = { enabled = true, scheme = scheme, host = host, port = port, lfs = lfs }
  return state
end

function _M.enabled() return state.enabled end


--- Why this request may not read the mailbox: nil when it may, else an
-- HTTP status and a reason. vars: server_addr, remote_addr, http_host
-- (nginx's names).
function _M.refusal(vars)
  if not state.enabled then return 404, "the development mailbox is off" end
  if not _M.loopback_addr(vars.server_addr) or not _M.loopback_addr(vars.remote_addr) then
    return 403, "the development mailbox answers on loopback only"
  end
  local host, port = split_authority(vars.http_host, state.scheme)
  if host ~= state.host or port ~= state.port then
    return 421, "the development mailbox answers for " .. state.host .. ":" .. state.port .. " only"
  end
  return nil
end


-- "TIME-COUNT-..." names, newest first: by time, then count (numbers,
-- not text: a count past 99999 has six digits), then name.
local function newer(a, b)
  local ta, ca = a:match("^(%d+)%-(%d+)")
  local tb, cb = b:match("^(%d+)%-(%d+)")
  ta, ca, tb, cb = tonumber(ta) or 0, tonumber(ca) or 0, tonumber(tb) or 0, tonumber(cb) or 0
  if ta ~= tb then return ta > tb end
  if ca ~= cb then return ca > cb end
  return a > b
end

--- The messages' file names in dir, newest first (a missing folder: none).
function _M.list(dir)
  local names = {}
  local ok, iter, obj = pcall(state.lfs.dir, dir)
  if not ok then return names end
  for name in iter, obj do
    if name:match("^[%w_-][%w._-]*%.eml$") then names[#names + 1] = name end
  end
  table.sort(names, newer)
  return names
end

--- The page number a ?page= value asks for: 1 when absent, nil when it
-- is not a positive integer of a sane size.
function _M.page_number(arg)
  if arg == nil then return 1 end
  if type(arg) ~= "string" or not arg:match("^%d%d?%d?%d?%d?%d?$") then return nil end
  local n = tonumber(arg)
  return n >= 1 and n or nil
end

--- Page n of names: the slice, the number of pages (at least 1).
function _M.page(names, n)
  local pages = math.max(1, math.ceil(#names / _M.PER_PAGE))
  local out = {}
  for i = (n - 1) * _M.PER_PAGE + 1, math.min(#names, n * _M.PER_PAGE) do out[#out + 1] = names[i] end
  return out, pages
end

return _M
