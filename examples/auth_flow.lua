-- A custom auth flow in plain Lua (no web server): users and roles in the
-- embedded SQLite store, a login, session and token authentication,
-- access checks, a policy hook and signals. Requests are plain tables, as
-- an adapter (OpenResty, or any Lua HTTP server) would build them. Only
-- the API docs/lua.md and docs/datastore.md document is used; each step prints one line.
-- Run (after a build):
--   LUA_PATH="lua/?.lua;;" LUA_CPATH="build/lua54/?.so;;" lua5.4 examples/auth_flow.lua
local fsec = require "fsec"

local db = os.tmpname()
local sec = fsec.new{
  secret_key = os.getenv("FSEC_SECRET_KEY") or "change-me-change-me-change-me-change-me",
  password_salt = os.getenv("FSEC_PASSWORD_SALT") or "change-me-salt",
  database = db, trackable = true,
}
local ds = sec.datastore

local step = 0
local function say(what, result)
  step = step + 1
  print(("%d. %s: %s"):format(step, what, result))
end

-- Users and roles
ds:find_or_create_role("admin", { permissions = { "user-read", "user-write" } })
local alice = assert(ds:create_user{ email = "alice@example.org",
  password = sec:hash_password("correct horse battery staple"), roles = { "admin" } })
assert(ds:create_user{ email = "bob@example.org", password = sec:hash_password("hunter2-hunter2") })
say("users", "alice@example.org (admin), bob@example.org")

-- Signals observe; policies decide
sec:connect("user_authenticated", function(ev)
  print(("   audit: %s signed in via %s"):format(ev.user.email, table.concat(ev.authn_via, ",")))
end)
local DENY = { ["203.0.113.7"] = true }
sec:policy("login", function(_user, req) -- _user: this rule looks at the address only
  return not DENY[req.remote_addr], "address on the deny list"
end)

local function request(t)
  return { method = t.method or "GET", path = t.path or "/", query = t.query or {},
           headers = t.headers or {}, cookies = t.cookies or {},
           remote_addr = t.remote_addr or "192.0.2.1", scheme = "http", host = "localhost" }
end

-- A login: find the user, check the password (a legacy hash is rewritten),
-- then sign in (the login policy may still refuse). fsec's own /login
-- endpoint (sec:handle) also spends a hash on unknown emails, so that its
-- timing does not tell which accounts exist.
local function login(email, password, addr)
  local user = ds:find_user{ email = email }
  if not user or not sec:verify_and_update_password(password, user) then
    return nil, "invalid email or password"
  end
  local res = sec:new_response()
  local ok, err = sec:login_user(request{ remote_addr = addr }, res, user, { remember = true })
  if not ok then return nil, err end
  local cookies, names = {}, {}
  for _, sc in ipairs(res.cookies) do -- Set-Cookie values: name=value; attributes
    local k, v = sc:match("^([^=]+)=([^;]*)")
    cookies[k] = v
    names[#names + 1] = k
  end
  return cookies, table.concat(names, ", ")
end

local function outcome(cookies, detail)
  return cookies and ("signed in (cookies " .. detail .. ")") or ("refused (" .. tostring(detail) .. ")")
end

say("alice signs in with a wrong password", outcome(login("alice@example.org", "nope")))
say("alice signs in from 203.0.113.7, on the deny list",
    outcome(login("alice@example.org", "correct horse battery staple", "203.0.113.7")))
local cookies, names = login("ALICE@example.org", "correct horse battery staple")
say("alice signs in (the email in any case)", outcome(cookies, names))

-- Protected handlers: (req, user) -> status, body; a denial answers
-- status, body, response (the headers to send)
local admin_area = sec:roles_required("admin")(function(_req, user)
  return 200, "welcome to the admin area, " .. user.email
end)
local api = sec:auth_required("token", "session")(function(_req, user)
  return 200, '{"user":"' .. user.email .. '"}'
end)

-- A denial answers a JSON client with fsec's JSON envelope (a browser
-- would get a page): print its message.
local cjson = require "cjson"
local JSON = { accept = "application/json" }
local function answer(status, body)
  local ok, j = pcall(cjson.decode, body)
  if ok and type(j) == "table" and j.response and j.response.errors then body = j.response.errors[1] end
  return status .. " " .. body
end
say("alice opens /admin with her session",
    answer(admin_area(request{ path = "/admin", cookies = cookies, headers = JSON })))
say("nobody signed in opens /admin", answer(admin_area(request{ path = "/admin", headers = JSON })))
local status, _, res = api(request{ path = "/api/me" })
say("a browser opens /api/me signed out", status .. " to " .. res.headers.Location)
local token = sec:get_auth_token(alice, { expires_in = 3600 })
say("a script opens /api/me with alice's token",
    answer(api(request{ path = "/api/me", headers = { ["authentication-token"] = token } })))

local me = ds:find_user{ email = "alice@example.org" }
say("alice's record", ("%d login(s), last from %s"):format(me.login_count, me.current_login_ip))

-- Logout ends the session server-side: the old cookies no longer work.
sec:logout_user(request{ cookies = cookies }, sec:new_response())
say("alice signs out, then her old cookies open /admin",
    answer(admin_area(request{ path = "/admin", cookies = cookies, headers = JSON })))
sec:close()
os.remove(db); os.remove(db .. "-wal"); os.remove(db .. "-shm")
