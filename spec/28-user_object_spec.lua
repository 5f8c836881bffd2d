-- The user object as Flask-Security documents it (issue 24 §3):
-- user:get_auth_token(), user:verify_and_update_password(pw) (metered by
-- the lockout, rehashing an outdated hash), and Flask-Login's
-- is_authenticated / is_anonymous / is_active as boolean properties.
local fsec = require "fsec"
local helpers = require "spec.helpers"

-- A bcrypt hash made by passlib, double-hashed with helpers.SALT.
local LEGACY_PW = "correct horse battery staple"
local LEGACY = "$2b$05$Jj6yD2x/1.couOZYgNnlRu6NM4YMbW90tutbRlUhozjn21RWOC9Ki"

local function app(store, extra)
  return helpers.app{ datastore = store, clock = true, extra = extra,
                      users = { { email = "u@x.org", password = "password-1" } } }
end

describe("user properties #quick", function()
  for _, store in ipairs{ "sqlite", "memory" } do
    it("is_active, is_authenticated, is_anonymous are booleans (" .. store .. ")", function()
      local a = app(store)
      local u = a.user
      assert.is_true(u.is_active)
      assert.is_true(u.is_authenticated)
      assert.is_false(u.is_anonymous)
      assert.is_true(a.sec.datastore:deactivate_user(u))
      -- read from `active` each time: the change shows on the same object
      assert.is_false(u.is_active)
      assert.is_false(a.sec.datastore:find_user{ id = u.id }.is_active)
      -- never a stored field: copies and signals carry `active` only
      assert.is_nil(rawget(u, "is_active"))
    end)
  end

  it("the anonymous user: not authenticated, anonymous, not active", function()
    local anon = fsec.anonymous
    assert.is_false(anon.is_authenticated)
    assert.is_true(anon.is_anonymous)
    assert.is_false(anon.is_active)
    local sec = app("memory").sec
    assert.equals(anon, sec:current_user(helpers.request{}))
  end)

  it("a revived user (a thread hop) and a row with active = false", function()
    local userlib = require "fsec.user"
    local u = userlib.revive({ id = 1, email = "a@b.c", fs_uniquifier = "q", active = false })
    assert.is_true(userlib.is_user(u))
    assert.is_false(u.is_active)
    assert.is_true(userlib.user({ active = true }).is_active)
    -- anything but true is inactive (a store's 1, a string)
    assert.is_false(userlib.user({ active = 1 }).is_active)
  end)
end)

describe("user:get_auth_token() #quick", function()
  for _, store in ipairs{ "sqlite", "memory" } do
    it("makes a token that authenticates the user (" .. store .. ")", function()
      local a = app(store)
      local u = a.sec.datastore:find_user{ email = "u@x.org" }
      local tok = u:get_auth_token()
      local me = a.sec:current_user(helpers.request{ headers = { ["authentication-token"] = tok } })
      assert.equals(u.id, me.id)
      -- the user current_user gives answers too
      local tok2 = me:get_auth_token{ expires_in = 60 }
      assert.equals(u.id, a.sec:current_user(helpers.request{ headers = { ["authentication-token"] = tok2 } }).id)
      a.clock.now = a.clock.now + 61
      assert.is_false(a.sec:current_user(helpers.request{ headers = { ["authentication-token"] = tok2 } })
                      .is_authenticated)
    end)
  end

  it("uses the Security the user came from, not another one", function()
    local a, b = app("memory"), app("memory")
    local ua = a.sec.datastore:find_user{ email = "u@x.org" }
    local tok = ua:get_auth_token()
    assert.is_true(a.sec:current_user(helpers.request{ headers = { ["authentication-token"] = tok } })
                   .is_authenticated)
    -- b has another user row with another uniquifier: a's token is nothing there
    assert.is_false(b.sec:current_user(helpers.request{ headers = { ["authentication-token"] = tok } })
                    .is_authenticated)
  end)

  it("a user of no Security raises, naming the way out", function()
    local u = require("fsec.user").user({ id = 1, email = "x@y.z", fs_uniquifier = "abc" })
    assert.has_error(function() u:get_auth_token() end)
    local ok, err = pcall(u.get_auth_token, u)
    assert.is_false(ok)
    assert.matches("sec:get_auth_token%(user", err)
  end)
end)

describe("user:verify_and_update_password(pw) #quick", function()
  for _, store in ipairs{ "sqlite", "memory" } do
    it("verifies, and rewrites a legacy hash as argon2id (" .. store .. ")", function()
      local a = app(store)
      local ds = a.sec.datastore
      local u = assert(ds:create_user{ email = "old@x.org", password = LEGACY })
      assert.is_false(u:verify_and_update_password("wrong password"))
      assert.equals(LEGACY, ds:find_user{ id = u.id }.password)
      assert.is_true(u:verify_and_update_password(LEGACY_PW))
      local stored = ds:find_user{ id = u.id }.password
      assert.matches("^%$argon2id%$v=19%$m=1024,t=1,p=1%$", stored)
      assert.equals(stored, u.password)
      local before = a.sec:hash_count()
      assert.is_true(u:verify_and_update_password(LEGACY_PW))
      assert.equals(before + 1, a.sec:hash_count()) -- verified, not rehashed again
    end)
  end

  it("rehashes an argon2 hash of older (weaker) parameters", function()
    local db = helpers.tmpfile("rehash.db")
    local weak = fsec.new(helpers.config{ database = db })
    local u = assert(weak.datastore:create_user{ email = "w@x.org", password = weak:hash_password("password-1") })
    weak:close()
    local strong = fsec.new(helpers.config{ database = db,
      password_hash_options = { argon2 = { time_cost = 2, memory_cost = 2048 } } })
    u = strong.datastore:find_user{ id = u.id }
    assert.is_true(u:verify_and_update_password("password-1"))
    assert.matches("^%$argon2id%$v=19%$m=2048,t=2,p=1%$", strong.datastore:find_user{ id = u.id }.password)
    strong:close()
  end)

  it("is metered by the lockout: wrong ones count, a locked account is refused", function()
    local a = app("sqlite", { login_lockout_threshold = 3, login_lockout_window = 900 })
    local ds = a.sec.datastore
    local u = ds:find_user{ email = "u@x.org" }
    for _ = 1, 3 do assert.is_false(u:verify_and_update_password("wrong password")) end
    assert.equals(3, ds:find_user{ id = u.id }.failed_login_count)
    -- locked: the right password too is refused, and /login agrees
    assert.is_false(u:verify_and_update_password("password-1"))
    local c = helpers.api(a.sec)
    local res = c:call("POST", "/login", { email = "u@x.org", password = "password-1" })
    assert.equals(400, res.status)
    a.clock.now = a.clock.now + 901
    u = ds:find_user{ id = u.id }
    assert.is_true(u:verify_and_update_password("password-1"))
    -- a success gives the reservations back
    assert.equals(0, ds:find_user{ id = u.id }.failed_login_count)
  end)

  it("hostile input: not a string raises; a hopeless one counts for nothing", function()
    local a = app("sqlite", { login_lockout_threshold = 2 })
    local u = a.sec.datastore:find_user{ email = "u@x.org" }
    assert.has_error(function() u:verify_and_update_password(nil) end)
    assert.has_error(function() u:verify_and_update_password({}) end)
    for _ = 1, 5 do assert.is_false(u:verify_and_update_password(("x"):rep(5000))) end
    assert.is_false(u:verify_and_update_password("pass\0word-1"))
    assert.equals(0, a.sec.datastore:find_user{ id = u.id }.failed_login_count)
    assert.is_true(u:verify_and_update_password("password-1"))
  end)
end)
