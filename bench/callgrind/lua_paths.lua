-- The Lua hot paths of an authenticated request, for the instruction
-- guard (bench/callgrind/check.sh given this file): the cache-hit checks
-- that fsec.openresty's protect() asks first (fsec.hit: a token; a
-- session cookie and a required role), and the whole check's
-- authentication on a cache hit (fsec.auth's authenticate, what a
-- request pays that fsec.hit cannot answer).
--
-- Counted in LuaJIT's interpreter: the bytecodes fsec runs, which a
-- change to fsec's Lua makes more or fewer, counted the same in every
-- run (within 2 %). The compiled traces are what nginx runs, but their
-- count moved between 150 and 460 instructions for the same token check
-- from one process to the next: LuaJIT places its memory at random
-- addresses, and which traces form follows from them.
-- FSEC_LUA_PATHS_JIT=1 runs them compiled (loop optimisation off, so
-- that each iteration runs the whole trace, as each request does): a
-- look, not a guard.
--
-- Usage: luajit bench/callgrind/lua_paths.lua BUILD_DIR PATH N
--   PATH: hit_token, hit_session or check_token; N iterations.
--   FSEC_CALLGRIND_INFLATE=PATH: that path runs twice per iteration.
-- check.sh runs it under callgrind with N and 2N iterations: the
-- difference over N is the instructions of one iteration, without the
-- set-up (loading fsec, the database, the first whole checks).
local build, path, n = arg[1], arg[2], tonumber(arg[3])
assert(build and path and n, "usage: luajit lua_paths.lua BUILD_DIR PATH N")
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/luajit/?.so;" .. package.cpath

-- (with loop optimisation LuaJIT would hoist the lookups out of the
-- loop, the same token every time, and count next to nothing)
if os.getenv("FSEC_LUA_PATHS_JIT") == "1" then require("jit.opt").start("-loop") else jit.off() end
local fsec = require "fsec"
local hit = require "fsec.hit"
local auth = require "fsec.auth"

local db = os.tmpname()
local sec = fsec.new{
  secret_key = "0123456789abcdef0123456789abcdef-bench-key",
  password_salt = "bench-salt",
  password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
  allow_weak_password_hash = true,
  database = db,
  clock = function() return 1800000000 end, -- the same time in every run
}
local ds = sec.datastore
assert(ds:create_role{ name = "admin" })
local user = assert(ds:create_user{ email = "bench@example.org", password = sec:hash_password("bench password 1") })
assert(ds:add_role_to_user(user, "admin"))

-- The caches as nginx's workers have them in front of the shared dict:
-- a table per cache (what resty.lrucache answers on a hit), and the
-- shared generation (one number: no write during the runs).
local function store()
  local s = { data = {} }
  function s.get(self, k) return self.data[k] end
  function s.set(self, k, v) self.data[k] = v end
  return s
end
sec:set_cache{ tokens = store(), users = store(), ttl = 3600,
               generation = function() return 0 end, invalidate = function() end }

-- the token's guard checks nothing more; the session's needs a role
local TOKEN = { auth = { "token" } }
local SESSION = { auth = { "session" }, roles_required = { "admin" } }
require("fsec.authz").prepare(TOKEN)
require("fsec.authz").prepare(SESSION)

-- a token and a session cookie, each checked once by the whole check
-- (the caches then hold them, as after a worker's first request)
local tok = assert(sec:get_auth_token(user))
-- requests as fsec.http describes them: plain tables
local function request(headers, cookies)
  return { method = "GET", path = "/app", query = {}, headers = headers or {}, cookies = cookies or {},
           remote_addr = "127.0.0.1", scheme = "http", host = "localhost" }
end
local function token_req() return request{ ["authentication-token"] = tok } end
assert(auth.authenticate(sec, token_req(), TOKEN.auth))
local res = sec:new_response()
assert(sec:login_user(request(), res, user))
local cookie = assert(res.cookies[1]):match("^[^=]+=([^;]+)")
local function session_req() return request(nil, { [sec.config.session_cookie_name] = cookie }) end
assert(auth.authenticate(sec, session_req(), SESSION.auth))

local run = {
  hit_token = function()
    local u = hit.token(sec, tok)
    return u and hit.allowed(u, TOKEN)
  end,
  hit_session = function()
    local u = hit.session(sec, cookie)
    return u and hit.allowed(u, SESSION)
  end,
  -- a request table each time, as each nginx request has (fsec keeps
  -- what it found in the request: the same table would answer at once)
  check_token = function() return auth.authenticate(sec, token_req(), TOKEN.auth) end,
}
local f = assert(run[path], "unknown path " .. path)
-- the guard's own test: this path does its work twice (check.sh must
-- then report it, and only it, as a regression)
if os.getenv("FSEC_CALLGRIND_INFLATE") == path then
  local once = f
  f = function() return once() and once() end
end
assert(f(), path .. " answered nobody") -- a miss would measure the wrong path
-- The collector is stopped for the loop: where its cycles fall moved
-- check_token's count by 5 % from run to run. What a path allocates is
-- still counted (the allocations); what collecting it costs is not.
collectgarbage("collect")
collectgarbage("stop")
for _ = 1, n do
  if not f() then error(path .. ": a miss during the run") end
end
sec:close()
os.remove(db)
for _, s in ipairs{ "-wal", "-shm" } do os.remove(db .. s) end
print(path, n)
