-- Per-session data the application reads and writes (Flask's
-- session[...], issue 24 §3): server-side in the session's row, bounded
-- by session_data_max_bytes, JSON, compare-and-set between writers, and
-- ended with the session (logout, password change, reset_user_access,
-- deactivation, expiry). Never in the cookie.
local fsec = require "fsec"
local helpers = require "spec.helpers"

local PW = "password-1"

local function app(store, extra)
  return helpers.app{ datastore = store, clock = true, endpoints = true, extra = extra, log = "quiet",
                      users = { { email = "u@x.org", password = PW } } }
end

local function login(sec, user, client)
  local c = client or helpers.client()
  local res = sec:new_response()
  assert(sec:login_user(c:req(), res, user))
  c:take(res)
  return c, res
end

-- The server-side session id a client's session cookie names.
local function sid_of(sec, c)
  local _, _, data = sec:get_token_status(c.jar.session, "session")
  return data.s
end

for _, store in ipairs{ "sqlite", "memory" } do
  describe("session data (" .. store .. ") #quick", function()
    it("keeps values per session, across requests, and not in the cookie", function()
      local a = app(store)
      local sec = a.sec
      local c, res = login(sec, a.user)
      local cookie_before = c.jar.session
      assert.same({}, sec:session_data(c:req()))
      assert.is_true(sec:set_session_data(c:req(), "cart", { 1, 2, 3 }))
      assert.is_true(sec:set_session_data(c:req(), "theme", "dark"))
      assert.same({ cart = { 1, 2, 3 }, theme = "dark" }, sec:session_data(c:req()))
      -- integers come back integers (Lua 5.4), not 1.0
      if math.type then assert.equals("integer", math.type(sec:session_data(c:req()).cart[1])) end
      -- a copy: changing it stores nothing
      sec:session_data(c:req()).theme = "light"
      assert.equals("dark", sec:session_data(c:req()).theme)
      assert.is_true(sec:set_session_data(c:req(), "theme", nil))
      assert.same({ cart = { 1, 2, 3 } }, sec:session_data(c:req()))
      -- nothing of it travels in a cookie
      assert.equals(cookie_before, c.jar.session)
      for _, sc in ipairs(res.cookies) do assert.is_nil(sc:find("cart", 1, true)) end
      -- a second session of the same user has its own
      local c2 = login(sec, a.user)
      assert.same({}, sec:session_data(c2:req()))
      assert.is_true(sec:set_session_data(c2:req(), "theme", "blue"))
      assert.is_nil(sec:session_data(c:req()).theme)
    end)

    it("exists only with a signed-in session: anonymous and token requests have none", function()
      local a = app(store)
      local sec = a.sec
      assert.same({}, sec:session_data(helpers.request{}))
      local ok, err, code = sec:set_session_data(helpers.request{}, "k", 1)
      assert.is_nil(ok)
      assert.equals("ENOSESSION", code)
      assert.matches("^ENOSESSION: ", err)
      local tok = sec:get_auth_token(a.user)
      local treq = helpers.request{ headers = { ["authentication-token"] = tok } }
      assert.is_true(sec:current_user(treq).is_authenticated)
      assert.equals("ENOSESSION", select(3, sec:set_session_data(treq, "k", 1)))
      -- a forged or foreign cookie is no session
      assert.equals("ENOSESSION", select(3, sec:set_session_data(helpers.request{
        cookies = { session = "forged.cookie.value" } }, "k", 1)))
      -- the key must be a non-empty string
      local c = login(sec, a.user)
      assert.has_error(function() sec:set_session_data(c:req(), 1, "x") end)
      assert.has_error(function() sec:set_session_data(c:req(), "", "x") end)
      assert.has_error(function() sec:set_session_data(c:req(), nil, "x") end)
    end)

    it("is bounded by session_data_max_bytes, refused whole beyond it", function()
      local a = app(store, { session_data_max_bytes = 64 })
      local sec = a.sec
      local c = login(sec, a.user)
      assert.is_true(sec:set_session_data(c:req(), "a", ("x"):rep(40)))
      local ok, err, code = sec:set_session_data(c:req(), "b", ("y"):rep(40))
      assert.is_nil(ok)
      assert.equals("ETOOLONG", code)
      assert.matches("over session_data_max_bytes %(64%)", err)
      assert.same({ a = ("x"):rep(40) }, sec:session_data(c:req()))
      -- 0: nothing may be kept
      local b = app(store, { session_data_max_bytes = 0 })
      local c0 = login(b.sec, b.user)
      assert.equals("ETOOLONG", select(3, b.sec:set_session_data(c0:req(), "k", true)))
      assert.has_error(function() helpers.new{ session_data_max_bytes = -1 } end)
      assert.has_error(function() helpers.new{ session_data_max_bytes = 2 ^ 21 } end)
      assert.has_error(function() helpers.new{ session_data_max_bytes = "64" } end)
    end)

    it("refuses hostile values with a clear code and keeps the data as it was", function()
      local a = app(store)
      local sec = a.sec
      local c = login(sec, a.user)
      assert.is_true(sec:set_session_data(c:req(), "keep", "me"))
      local deep = {}
      local t = deep
      for _ = 1, 40 do t.x = {}; t = t.x end
      local cyclic = {}
      cyclic.self = cyclic
      local bad = {
        { print, "EINVAL" }, { coroutine.create(print), "EINVAL" }, { deep, "EINVAL" },
        { cyclic, "EINVAL" }, { 0 / 0, "EINVAL" }, { math.huge, "EINVAL" },
        { 2 ^ 53 + 1, "EINVAL" }, { { [1] = 1, [1000] = 2 }, "EINVAL" }, { "\255\254", "EUTF8" },
        -- would come back changed: number keys as strings, a hole as null
        { { 1, 2, x = 3 }, "EINVAL" }, { { list = { 1, 2 }, [7] = "seven" }, "EINVAL" },
        { { [1] = "a", [3] = "c" }, "EINVAL" },
      }
      for i, case in ipairs(bad) do
        local ok, err, code = sec:set_session_data(c:req(), "bad", case[1])
        assert.is_nil(ok, "case " .. i)
        assert.equals(case[2], code, "case " .. i .. ": " .. tostring(err))
      end
      assert.same({ keep = "me" }, sec:session_data(c:req()))
      -- what JSON can carry comes back as it was given
      local odd = { q = "\"'</script><!--", nul = "a\0b", uni = "\u{1F600}\u{202E}", n = -0.5,
                    big = 2 ^ 40, list = { true, false, "x" }, map = { ["a.b"] = { c = 1 } } }
      for k, v in pairs(odd) do assert.is_true(sec:set_session_data(c:req(), k, v)) end
      local got = sec:session_data(c:req())
      for k, v in pairs(odd) do assert.same(v, got[k], k) end
      -- a row holding something that is not JSON (written by another
      -- program) reads as empty and is written over
      assert.is_true(a.sec.datastore:set_session_data(sid_of(sec, c), "not json {", select(2,
        a.sec.datastore:get_session_data(sid_of(sec, c)))))
      assert.same({}, sec:session_data(c:req()))
      assert.is_true(sec:set_session_data(c:req(), "k", 1))
      assert.same({ k = 1 }, sec:session_data(c:req()))
    end)

    it("ends with the session: logout, expiry", function()
      local a = app(store)
      local sec, ds = a.sec, a.sec.datastore
      local c = login(sec, a.user)
      assert.is_true(sec:set_session_data(c:req(), "k", "v"))
      local sid = sid_of(sec, c)
      local old = {}
      for k, v in pairs(c.jar) do old[k] = v end
      c:take(sec:new_response()) -- nothing
      local res = sec:new_response()
      sec:logout_user(c:req(), res)
      assert.is_nil(ds:get_session_data(sid))
      -- the old cookie, replayed, reads nothing and writes nothing
      assert.same({}, sec:session_data(helpers.request{ cookies = old }))
      assert.equals("ENOSESSION", select(3, sec:set_session_data(helpers.request{ cookies = old }, "k", 1)))
      -- a new sign-in starts empty
      local c2 = login(sec, a.user)
      assert.same({}, sec:session_data(c2:req()))
      assert.is_true(sec:set_session_data(c2:req(), "k", "v"))
      a.clock.now = a.clock.now + sec.config.session_lifetime + 1
      assert.same({}, sec:session_data(c2:req()))
    end)

    it("ends with the sessions a password change, reset_user_access or deactivation ends", function()
      local a = app(store)
      local sec, ds = a.sec, a.sec.datastore
      local mine = helpers.api(sec)
      assert.equals(200, (mine:call("POST", "/login", { email = "u@x.org", password = PW })).status)
      local other = login(sec, a.user)
      assert.is_true(sec:set_session_data(mine:req(), "k", "mine"))
      assert.is_true(sec:set_session_data(other:req(), "k", "other"))
      local other_sid = sid_of(sec, other)
      local res = mine:call("POST", "/change", { password = PW, new_password = "password-2",
                                                 new_password_confirm = "password-2" })
      assert.equals(200, res.status)
      -- the other session and its data are gone; this one goes on
      assert.is_nil(ds:get_session_data(other_sid))
      assert.same({}, sec:session_data(other:req()))
      assert.equals("mine", sec:session_data(mine:req()).k)
      local mine_sid = sid_of(sec, mine)
      assert.is_true(ds:reset_user_access(ds:find_user{ id = a.user.id }))
      assert.is_nil(ds:get_session_data(mine_sid))
      assert.same({}, sec:session_data(mine:req()))
      local c3 = login(sec, ds:find_user{ id = a.user.id })
      assert.is_true(sec:set_session_data(c3:req(), "k", 1))
      local sid3 = sid_of(sec, c3)
      assert.is_true(ds:deactivate_user(ds:find_user{ id = a.user.id }))
      assert.is_nil(ds:get_session_data(sid3))
      assert.same({}, sec:session_data(c3:req()))
    end)

    it("goes on with the new session of a re-authentication (mark_fresh)", function()
      local a = app(store)
      local sec = a.sec
      local c = login(sec, a.user)
      assert.is_true(sec:set_session_data(c:req(), "k", { n = 1 }))
      local sid = sid_of(sec, c)
      local res = sec:new_response()
      assert.is_true(sec:mark_fresh(c:req(), res))
      c:take(res)
      assert.are_not.equal(sid, sid_of(sec, c))
      assert.same({ k = { n = 1 } }, sec:session_data(c:req()))
      assert.is_nil(sec.datastore:get_session_data(sid))
    end)

    it("racing writers: different keys both land, the same key keeps the last", function()
      local a = app(store)
      local sec, ds = a.sec, a.sec.datastore
      local c = login(sec, a.user)
      assert.is_true(sec:set_session_data(c:req(), "base", 0))
      local sid = sid_of(sec, c)
      -- another worker writes between this write's read and its set
      local real = ds.get_session_data
      local raced = 0
      ds.get_session_data = function(self, s)
        local data, v = real(self, s)
        if raced == 0 and data then
          raced = 1
          local t = require("cjson").decode(data)
          t.other = "theirs"
          t.same = "theirs"
          assert.is_true(self:set_session_data(s, require("cjson").encode(t), v))
        end
        return data, v
      end
      assert.is_true(sec:set_session_data(c:req(), "same", "mine"))
      ds.get_session_data = nil -- the method again
      assert.equals(1, raced)
      assert.same({ base = 0, other = "theirs", same = "mine" }, sec:session_data(c:req()))
      -- a writer that always loses gives up: EBUSY, nothing half written
      local rounds = 0
      ds.get_session_data = function(self, s)
        local data, v = real(self, s)
        rounds = rounds + 1
        assert.is_true(self:set_session_data(s, data or nil, v))
        return data, v
      end
      local ok, _, code = sec:set_session_data(c:req(), "never", 1)
      ds.get_session_data = nil
      assert.is_nil(ok)
      assert.equals("EBUSY", code)
      assert.equals(8, rounds)
      assert.is_nil(sec:session_data(c:req()).never)
      assert.truthy(ds:get_session_data(sid))
    end)
  end)
end

describe("session data between two workers on one database #quick", function()
  it("is one session's data whichever process reads or writes it", function()
    local db = helpers.tmpfile("two-workers.db")
    local clock = helpers.clock()
    local w1 = fsec.new(helpers.config{ database = db, clock = clock.fn })
    local w2 = fsec.new(helpers.config{ database = db, clock = clock.fn })
    local u = assert(w1.datastore:create_user{ email = "w@x.org", password = w1:hash_password(PW) })
    local c = login(w1, u)
    assert.is_true(w1:set_session_data(c:req(), "a", 1))
    assert.is_true(w2:set_session_data(c:req(), "b", 2))
    assert.same({ a = 1, b = 2 }, w1:session_data(c:req()))
    assert.same({ a = 1, b = 2 }, w2:session_data(c:req()))
    w2:logout_user(c:req(), w2:new_response())
    assert.same({}, w1:session_data(c:req()))
    w1:close()
    w2:close()
  end)

  it("a datastore without the optional methods has none, and says so", function()
    local ds = require("fsec.datastore.memory").new()
    local plain = setmetatable({ get_session_data = false, set_session_data = false }, { __index = ds })
    -- the interface's methods, bound to the real store
    for _, m in ipairs(require("fsec.datastore").METHODS) do
      plain[m] = function(_, ...) return ds[m](ds, ...) end
    end
    plain.get_session_data, plain.set_session_data = nil, nil
    local sec = fsec.new(helpers.config{ datastore = setmetatable(plain, nil) })
    local u = assert(sec.datastore:create_user{ email = "p@x.org", password = sec:hash_password(PW) })
    local c = login(sec, u)
    assert.same({}, sec:session_data(c:req()))
    assert.equals("ENOSESSION", select(3, sec:set_session_data(c:req(), "k", 1)))
  end)
end)
