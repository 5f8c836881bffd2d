--- nginx's side of examples/flask-edge: fsec's configuration and options
-- for fsec.openresty.init, and edge(), run on every request before it is
-- passed to the Flask app (nginx.conf.in's rewrite_by_lua).
local _M = {}

local USER_HEADER = "X-Fsec-User-Id"
local EDGE_HEADER = "X-Fsec-Edge"
local edge_secret -- read in init_by_lua (the master), kept by every worker

local function read(path)
  local f = assert(io.open(path))
  local v = f:read("*l")
  f:close()
  assert(v and v ~= "", path .. " is empty")
  return v
end

--- fsec's configuration: the Flask app's SECRET_KEY verifies its
-- credentials, and their users are read from its own database.
function _M.config(prefix)
  local var = prefix .. "/var"
  edge_secret = read(var .. "/edge_secret")
  return {
    secret_key = read(var .. "/fsec_secret_key"),   -- fsec's own (it signs nothing here)
    password_salt = read(var .. "/password_salt"),  -- the Flask app's
    flask_secret_key = read(var .. "/flask_secret_key"),
    flask_users = var .. "/app.db",                 -- read only; answers kept 2 s
    token_max_age = 3600,                           -- the app's SECURITY_TOKEN_MAX_AGE
    flask_csrf_time_limit = 3600,                   -- the app's WTF_CSRF_TIME_LIMIT (its forms' tokens)
    auth_mechanisms = { "token", "session" },
  }
end

--- fsec.openresty.init's options: the guards of nginx.conf.in, and the
-- header that carries the user's id to Flask. fsec hashes no password
-- here (Flask signs users in), so no hashing pool or helper.
function _M.options()
  return {
    user_header = USER_HEADER,
    thread_pool = false, sync_thread_pool = false, argon2_process = false,
    guards = {
      api = { auth = { "token", "session" } },
      admin = { auth = { "token", "session" }, roles_required = { "admin" } },
      browser = { auth = { "session" } },
    },
  }
end

--- Every request (rewrite phase): what a client says it is goes
-- (X-Fsec-User-Id: only fsec's protect sets it, on protected locations),
-- and the edge's secret comes, which the Flask app requires of every
-- request.
function _M.edge()
  ngx.req.clear_header(USER_HEADER)
  ngx.req.set_header(EDGE_HEADER, edge_secret)
end

return _M
