-- The example app in nginx on a real PostgreSQL (issue 22): every
-- datastore call in the thread pool (fsec.openresty.remote), the
-- revocation epoch read before the caches are used, and the faults:
-- PostgreSQL stopped under nginx answers 503 with Retry-After (never a
-- wrong answer), and service comes back with the server, nginx untouched.
-- LuaJIT pass with nginx only, as spec/40.
local cjson = require "cjson"
local example = require "spec.tools.example_app"
local postgres = require "spec.tools.postgres"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

describe_or_pending("the example app on PostgreSQL", function()
  if not postgres.present(it, pending) then return end
  local pg, app

  setup(function()
    pg = postgres.new()
    local dir = example.dir()
    -- the workers (nobody, when root) read their own copy of the password file
    local uri = postgres.uri_with_passfile(pg, dir .. "/var/pgpass")
    app = example.start{ dir = dir, workers = 2, env = "FSEC_EXAMPLE_CONFIG=" .. q(cjson.encode{ database = uri }) }
  end)
  teardown(function()
    if app then example.stop(app) end
    if pg then postgres.remove(pg) end
  end)

  local function token_status(token)
    return example.request(app, { path = "/bench/token-inline",
                                  headers = { Accept = "application/json", ["Authentication-Token"] = token } })
  end

  local function login()
    local c = example.api(app)
    local s, r = c.call("POST", "/login?include_auth_token",
                        { email = "admin@example.org", password = example.admin_password(app) })
    assert.equals(200, s)
    return r.user.authentication_token, c
  end

  it("keeps its users in PostgreSQL and signs in through the thread pool", function()
    local ok, out = postgres.psql(pg, "select count(*) from users where email = 'admin@example.org'")
    assert.is_true(ok, out)
    assert.equals("1", out:match("%d+"))
    local token = login()
    for _ = 1, 5 do assert.equals(200, token_status(token).status) end -- cache hits and misses
    local c = example.api(app)
    local s = c.call("POST", "/register", { email = "pg-new@example.org", password = "battery staple",
                                            password_confirm = "battery staple" })
    assert.equals(200, s)
    ok, out = postgres.psql(pg, "select count(*) from users where email = 'pg-new@example.org'")
    assert.is_true(ok, out)
    assert.equals("1", out:match("%d+"))
  end)

  it("sees a revocation made outside nginx within revocation_interval", function()
    local token = login()
    assert.equals(200, token_status(token).status) -- cached now, in one worker or both
    assert(postgres.psql(pg, "update users set fs_token_uniquifier = 'rotated-by-hand'"
                             .. " where email = 'admin@example.org'"))
    local refused = example.poll(5, function() return token_status(token).status == 401 end)
    assert.is_truthy(refused, "the token still works 5 s after its uniquifier was rotated in the database")
    -- and stays refused on every worker (several requests: both workers)
    for _ = 1, 6 do assert.equals(401, token_status(token).status) end
  end)

  it("changes a password in one transaction: old tokens end, this session goes on", function()
    local c = example.api(app)
    local s = c.call("POST", "/register", { email = "pg-change@example.org", password = "battery staple",
                                               password_confirm = "battery staple" })
    assert.equals(200, s)
    assert(postgres.psql(pg, "update users set confirmed_at = 1 where email = 'pg-change@example.org'"))
    local r
    s, r = c.call("POST", "/login?include_auth_token", { email = "pg-change@example.org", password = "battery staple" })
    assert.equals(200, s)
    local token = r.user.authentication_token
    assert.equals(200, token_status(token).status)
    s = c.call("POST", "/change", { password = "battery staple", new_password = "correct horse",
                                    new_password_confirm = "correct horse" })
    assert.equals(200, s)
    assert.equals(401, token_status(token).status) -- the token ended with the old password
    -- the session that changed it stays signed in: its cookie was made
    -- with the new uniquifier inside the same transaction
    local r2 = example.request(app, { path = "/bench/session", jar = c.jar, headers = { Accept = "application/json" } })
    assert.equals(200, r2.status)
  end)

  it("answers 503 with Retry-After while PostgreSQL is down, then serves again", function()
    local token = login()
    assert.equals(200, token_status(token).status)
    postgres.stop(pg)
    local ok, err = pcall(function()
      -- never a wrong answer: a 503 (with Retry-After), never a 200 or 401
      local seen503 = example.poll(5, function() return token_status(token).status == 503 end)
      assert.is_truthy(seen503, "no 503 while PostgreSQL is down")
      for _ = 1, 4 do
        local r = token_status(token)
        assert.equals(503, r.status)
        assert.equals("1", r.headers["retry-after"])
      end
      local c = example.api(app)
      local s = c.call("POST", "/login", { email = "admin@example.org", password = "whatever" })
      assert.equals(503, s)
    end)
    postgres.start(pg)
    assert(ok, err)
    local back = example.poll(15, function() return token_status(token).status == 200 end)
    assert.is_truthy(back, "service did not come back after PostgreSQL restarted")
  end)
end)
