-- fsec.hit, the cache-hit check fsec.openresty's protect() asks before
-- the whole check: on a hit it must give the user the whole check gives,
-- and nil (never a user) whenever anything is not cached, stale or would
-- need more than a read: a revoked, expired, re-signed, deactivated or
-- forged credential must never be a hit.
local helpers = require "spec.helpers"
local hit = require "fsec.hit"
local auth = require "fsec.auth"

-- a cache as resty.lrucache's interface has it (get, set), in a table
local function table_store()
  local s = { data = {} }
  function s.get(self, k) return self.data[k] end
  function s.set(self, k, v) self.data[k] = v end
  return s
end

local function setup()
  local app = helpers.app{ db = "hit.db", clock = true,
    roles = { { name = "admin" } },
    users = { { email = "a@x.org", password = "password", roles = { "admin" } },
              { email = "b@x.org", password = "password" } } }
  local sec, clock = app.sec, app.clock
  local state = { gen = 0 }
  local c = { tokens = table_store(), users = table_store(), ttl = 3600,
              generation = function() return state.gen end,
              invalidate = function() state.gen = state.gen + 1 end }
  sec:set_cache(c)
  return sec, app.users[1], app.users[2], clock, c, state
end

local TOKEN = { auth = { "token" } }
local SESSION = { auth = { "session" } }

local function token_req(tok)
  return helpers.client():req{ path = "/app", headers = { ["authentication-token"] = tok } }
end

-- the whole check's user for a token (warms the caches as a request does)
local function whole_token(sec, tok) return auth.authenticate(sec, token_req(tok), TOKEN.auth) end

local function session_of(sec, user)
  local c = helpers.client()
  local res = sec:new_response()
  assert(sec:login_user(c:req(), res, user))
  c:take(res)
  return c, c.jar[sec.config.session_cookie_name]
end

local function whole_session(sec, c) return auth.authenticate(sec, c:req{ path = "/app" }, SESSION.auth) end

describe("fsec.hit: an auth token from the caches", function()
  it("answers nothing before the whole check ran, then the same user", function()
    local sec, a = setup()
    local tok = assert(sec:get_auth_token(a))
    assert.is_nil(hit.token(sec, tok))            -- nothing cached yet
    assert.equals(a.id, assert(whole_token(sec, tok)).id) -- a miss: the row
    local user = assert(whole_token(sec, tok))      -- a hit: the cached (thin) user
    local u, data = hit.token(sec, tok)
    assert.equals(user, u)                         -- the very object the whole check gives
    assert.equals(a.id, u.id)
    assert.equals("table", type(data))
  end)

  it("is never a hit after a revocation, for another purpose, or for a forged token", function()
    local sec, a, _, _, _, state = setup()
    local tok = assert(sec:get_auth_token(a))
    assert(whole_token(sec, tok))
    assert.truthy(hit.token(sec, tok))
    state.gen = state.gen + 1                      -- a write anywhere: every cached user stale
    assert.is_nil(hit.token(sec, tok))
    assert(whole_token(sec, tok))                  -- the whole check reloads
    assert.truthy(hit.token(sec, tok))
    -- a logout elsewhere (revoke_all moves the generation through the store)
    assert(require("fsec.datastore").revoke_all(sec.datastore, a))
    assert.is_nil(hit.token(sec, tok))
    assert.is_nil(whole_token(sec, tok))
    -- forged and wrong-purpose values are never entries
    assert.is_nil(hit.token(sec, tok .. "x"))
    local c2, cookie = session_of(sec, a)
    assert(whole_session(sec, c2))
    assert.is_nil(hit.token(sec, cookie))          -- a session cookie in the token header
    assert.is_nil(hit.token(sec, nil))
    assert.is_nil(hit.token(sec, string.rep("A", 9000)))
  end)

  it("is never a hit past the token's expiry or for a deactivated user", function()
    local sec, a, _, clock = setup()
    local tok = assert(sec:get_auth_token(a, { expires_in = 30 }))
    assert(whole_token(sec, tok))
    assert.truthy(hit.token(sec, tok))
    clock.now = clock.now + 31
    assert.is_nil(hit.token(sec, tok))
    assert.is_nil(whole_token(sec, tok))
    local tok2 = assert(sec:get_auth_token(a))
    assert(whole_token(sec, tok2))
    assert(sec.datastore:deactivate_user(a))
    assert.is_nil(hit.token(sec, tok2))
    assert.is_nil(whole_token(sec, tok2))
  end)

  it("does not take another cache value (fsec.flask's) for an entry", function()
    local sec, _, _, _, c = setup()
    c.tokens.data["x.y.z"] = true
    assert.is_nil(hit.token(sec, "x.y.z"))
  end)
end)

describe("fsec.hit: a session cookie from the caches", function()
  it("gives the whole check's user, and nothing once the cookie is due to be re-signed", function()
    local sec, a, _, clock = setup()
    local c, cookie = session_of(sec, a)
    assert.is_nil(hit.session(sec, cookie))
    assert.equals(a.id, assert(whole_session(sec, c)).id)
    local user = assert(whole_session(sec, c))
    assert.equals(user, (hit.session(sec, cookie)))
    clock.now = clock.now + hit.REFRESH_AFTER               -- the whole check re-signs it now
    assert.is_nil(hit.session(sec, cookie))
  end)

  it("is never a hit after logout, a role change or for another user's session", function()
    local sec, a, b = setup()
    local ca, cookie_a = session_of(sec, a)
    local cb, cookie_b = session_of(sec, b)
    assert(whole_session(sec, ca)); assert(whole_session(sec, cb))
    assert.equals(a.id, hit.session(sec, cookie_a).id)
    assert.equals(b.id, hit.session(sec, cookie_b).id)
    assert(sec.datastore:remove_role_from_user(a, "admin"))
    assert.is_nil(hit.session(sec, cookie_a))      -- the write moved the generation
    assert.is_nil(hit.session(sec, cookie_b))
    assert(whole_session(sec, ca))
    local res = sec:new_response()
    assert(sec:logout_user(ca:req{ path = "/logout", method = "POST" }, res))
    assert.is_nil(hit.session(sec, cookie_a))
    assert.is_nil(whole_session(sec, ca))
  end)

  it("reads the user from the cookie's own entry, no longer than the users cache keeps it", function()
    local sec, a, _, clock, c = setup()
    local ca, cookie = session_of(sec, a)
    assert(whole_session(sec, ca))
    local e = c.tokens.data[cookie]
    assert.equals(a.id, e[6].id)                     -- the user went into the cookie's entry
    local u = c.users.data[e[1].s]
    assert.equals(u[4], e[8])                        -- until the users entry's until
    c.users.data = {}                                -- a hit reads one entry: no users cache needed
    assert.equals(a.id, hit.session(sec, cookie).id)
    clock.now = e[8]                                 -- the users cache's ttl is over: no hit
    assert.is_nil(hit.session(sec, cookie))
  end)

  it("reloads a users entry past its until that the cache still gives, so hits go on", function()
    local sec, a, _, clock, c = setup()
    sec._cache_ttl = 30                              -- users kept 30 s: within the cookie's minute
    local ca, cookie = session_of(sec, a)
    assert(whole_session(sec, ca))
    clock.now = c.tokens.data[cookie][8]            -- the until passed; the store still has the entry
    assert.is_nil(hit.session(sec, cookie))
    assert.equals(a.id, assert(whole_session(sec, ca)).id)
    local e = c.tokens.data[cookie]
    assert.is_true(e[8] > clock.now)                 -- a fresh until, not the stale one copied
    assert.equals(a.id, hit.session(sec, cookie).id) -- the next request is a hit again
  end)

  it("gives a re-signed cookie its user from the users cache, without a store read", function()
    local sec, a, _, clock, c = setup()
    local ca = session_of(sec, a)
    assert(whole_session(sec, ca))
    local reads, find = 0, sec.datastore.find_user_by_session
    sec.datastore.find_user_by_session = function(...) reads = reads + 1; return find(...) end
    clock.now = clock.now + hit.REFRESH_AFTER
    local res = sec:new_response()
    assert(auth.authenticate(sec, ca:req{ path = "/app" }, SESSION.auth, res))
    ca:take(res)                                     -- the re-signed cookie
    local cookie2 = ca.jar[sec.config.session_cookie_name]
    assert.is_nil(c.tokens.data[cookie2])
    assert.equals(a.id, assert(whole_session(sec, ca)).id)
    assert.equals(a.id, hit.session(sec, cookie2).id)
    assert.equals(0, reads)
    sec.datastore.find_user_by_session = find
  end)

  it("names the session cookie as fsec.auth does (__Host- when Secure and host-only)", function()
    local sec = setup()
    local base = sec.config.session_cookie_name
    local function http() return "http" end
    local function https() return "https" end
    sec._cfg.session_cookie_secure = "auto"
    assert.equals(base, hit.session_cookie_name(sec, http))
    assert.equals("__Host-" .. base, hit.session_cookie_name(sec, https))
    sec._cfg.session_cookie_domain = "example.org"
    assert.equals(base, hit.session_cookie_name(sec, https))
  end)
end)


describe("fsec.hit: which specs the cache-hit check answers", function()
  local authz = require "fsec.authz"
  local P = authz.prepare

  it("a prepared one-mechanism spec, with whether it names roles or permissions", function()
    local sec = setup()
    assert.same({ "token", false }, { hit.kind(sec, P{ auth = { "token" } }) })
    assert.same({ "session", false }, { hit.kind(sec, P{ auth = { "session" } }) })
    -- an empty list is no constraint (as roles_ok reads it)
    assert.same({ "token", false }, { hit.kind(sec, P{ auth = { "token" }, roles_required = {},
                                                       permissions_accepted = {} }) })
    for _, k in ipairs{ "roles_required", "roles_accepted", "permissions_required", "permissions_accepted" } do
      assert.same({ "session", true }, { hit.kind(sec, P{ auth = { "session" }, [k] = { "admin" } }) }, k)
    end
  end)

  it("no spec the whole check does more for", function()
    local sec = setup()
    assert.is_nil(hit.kind(sec, { auth = { "token" } })) -- not prepared
    assert.is_nil(hit.kind(sec, P{ auth = { "token", "session" } }))
    assert.is_nil(hit.kind(sec, P{ auth = { "basic" } }))
    assert.is_nil(hit.kind(sec, P{ auth = { "token" }, within = 60 }))
    assert.is_nil(hit.kind(sec, P{ auth = { "token" }, anonymous = true }))
    assert.is_nil(hit.kind(sec, P{ roles_required = { "admin" } }))
  end)

  it("nothing once an authenticate or access hook is there, even for a spec it answered", function()
    for _, point in ipairs{ "authenticate", "access" } do
      local sec = setup()
      local spec = P{ auth = { "token" } }
      assert.equals("token", hit.kind(sec, spec))
      sec:policy("login", function() return true end)
      assert.equals("token", hit.kind(sec, spec)) -- a login hook runs at login only
      sec:policy(point, function() return true end)
      assert.is_nil(hit.kind(sec, spec), point)
    end
  end)
end)
