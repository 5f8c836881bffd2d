-- A custom auth flow in plain Lua (no web server): users and roles in the
-- embedded SQLite store, a login, session and token authentication,
-- access checks, a policy hook and signals. Requests are plain tables, as
-- an adapter (OpenResty, or any Lua HTTP server) would build them.
-- Run: scripts/run.sh, or
--   LUA_PATH="lua/?.lua;;" LUA_CPATH="build/lua54/?.so;;" lua5.4 examples/auth_flow.lua
local fsec = require "fsec"

local db = os.tmpname()
local sec = fsec.new{
  secret_key = os.getenv("FSEC_SECRET_KEY") or "change-me-change-me-change-me-change-me",
  password_salt = os.getenv("FSEC_PASSWORD_SALT") or "change-me-salt",
  database = db, trackable = true,
}
local ds = sec.datastore

-- Users and roles
ds:find_or_create_role("admin", { permissions = { "user-read", "user-write" } })
local alice = assert(ds:create_user{ email = "alice@example.org",
  password = sec:hash_password("correct horse battery staple"), roles = { "admin" } })
assert(ds:create_user{ email = "bob@example.org", password = sec:hash_password("hunter2-hunter2") })

-- Signals observe; policies decide
sec:connect("user_authenticated", function(ev)
  print(("audit: %s signed in via %s"):format(ev.user.email, table.concat(ev.authn_via, ",")))
end)
local DENY = { ["203.0.113.7"] = true }
sec:policy("login", function(user, req)
  return not DENY[req.remote_addr], "address on the deny list"
end)

local function request(t)
  return { method = t.method or "GET", path = t.path or "/", query = t.query or {},
           headers = t.headers or {}, cookies = t.cookies or {},
           remote_addr = t.remote_addr or "192.0.2.1", scheme = "http", host = "localhost" }
end

-- A login: check the password (one hash, whoever asks), then sign in.
local function login(email, password, addr)
  local user = require("fsec.auth").check_password(sec, email, password)
  if not user then return nil, "invalid credentials" end
  local res = sec:new_response()
  local ok, err = sec:login_user(request{ remote_addr = addr }, res, user, { remember = true })
  if not ok then return nil, err end
  local cookies = {}
  for _, sc in ipairs(res.cookies) do
    local k, v = sc:match("^([^=]+)=([^;]*)")
    cookies[k] = v
  end
  return cookies
end

print("login with a wrong password:", login("alice@example.org", "nope"))
print("login from a denied address:", login("alice@example.org", "correct horse battery staple", "203.0.113.7"))
local cookies = assert(login("ALICE@example.org", "correct horse battery staple"))

-- Protected handlers
local admin_area = sec:roles_required("admin")(function(req, user)
  return 200, "welcome to the admin area, " .. user.email
end)
local api = sec:auth_required("token", "session")(function(req, user)
  return 200, '{"user":"' .. user.email .. '"}'
end)

print(admin_area(request{ path = "/admin", cookies = cookies }))
print(admin_area(request{ path = "/admin" }))                       -- anonymous: 403
local status, _, res = api(request{ path = "/api/me" })              -- browser: to the login page
print(status, res.headers.Location)
local token = sec:get_auth_token(alice, { expires_in = 3600 })
print(api(request{ path = "/api/me", headers = { ["authentication-token"] = token } }))

local me = ds:find_user{ email = "alice@example.org" }
print(("alice: %d login(s), last from %s"):format(me.login_count, me.current_login_ip))

-- Logout ends the session server-side: the old cookies no longer work.
sec:logout_user(request{ cookies = cookies }, sec:new_response())
print("after logout:", admin_area(request{ path = "/admin", cookies = cookies }))
sec:close()
os.remove(db); os.remove(db .. "-wal"); os.remove(db .. "-shm")
