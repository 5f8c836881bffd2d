-- Issue 21's reshaping, held to what it promised: Security's cache seam
-- (set_cache) used and invalidated by a real Security object, no code
-- outside Security touching its cache fields or patching a datastore,
-- docs/cache.md's examples running as written, and one home for each
-- rule (revoke_all, the lockout's unlock, http.html_escape, config's
-- ranges).
local helpers = require "spec.helpers"

local PW = "correct horse battery"

-- A cache store as an application writes one: a plain table with get and
-- set (resty.lrucache's interface), counting its calls.
local function table_store()
  local s = { data = {}, gets = 0, sets = 0 }
  function s.get(self, k)
    self.gets = self.gets + 1
    return self.data[k]
  end
  function s.set(self, k, v)
    self.sets = self.sets + 1
    self.data[k] = v
  end
  return s
end

-- A cache for set_cache, and its generation as a counter the test reads.
local function custom_cache()
  local state = { gen = 0 }
  local c = {
    tokens = table_store(), users = table_store(), ttl = 3600,
    generation = function() return state.gen end,
    invalidate = function() state.gen = state.gen + 1 end,
  }
  return c, state
end

-- A Security object with a real SQLite store, a user, and a signed-in
-- JSON client of its endpoints.
local function app()
  local sec = helpers.new{ database = helpers.tmpfile("seam.db"), freshness = 3600, changeable = true }
  local user = assert(sec.datastore:create_user{ email = "seam@example.org", password = sec:hash_password(PW) })
  assert(sec.datastore:create_role{ name = "admin" })
  local function login()
    local c = helpers.api(sec)
    local res = c:call("POST", "/login", { email = "seam@example.org", password = PW })
    assert.equals(200, res.status)
    return c
  end
  return sec, user, login
end

local SESSION = { auth = { "session" } }
local ADMIN = { auth = { "session" }, roles_required = { "admin" } }
local ADMIN_TOKEN = { auth = { "token" }, roles_required = { "admin" } }

local function allowed(sec, client, spec)
  return (sec:check(client:req{ path = "/app" }, spec or SESSION)) == true
end


-- Lua files of the project, by path
local function lua_files()
  local p = assert(io.popen("find lua bin examples -type f \\( -name '*.lua' -o -name fsec \\) | LC_ALL=C sort"))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end


describe("doc comments that say what the code does #quick", function()
  local datastore = require "fsec.datastore"

  it("datastore.check answers nil and a message, as its doc says (it does not raise)", function()
    local ok, err = datastore.check({ find_user = function() end })
    assert.is_nil(ok)
    assert.matches("datastore lacks method", err, 1, true)
  end)
end)


describe("revoke_all, the one way to end a user's sessions and tokens #quick", function()
  local datastore = require "fsec.datastore"

  it("revoke_all ends every session, remember cookie and token of a user, on both stores", function()
    for _, kind in ipairs{ "sqlite", "memory" } do
      local sec = kind == "sqlite" and helpers.new{ database = ":memory:" }
        or helpers.new{ datastore = require("fsec.datastore.memory").new() }
      local ds = sec.datastore
      local u = assert(ds:create_user{ email = "r@example.org", password = sec:hash_password(PW) })
      local uq, tuq = u.fs_uniquifier, u.fs_token_uniquifier
      assert(ds:create_session(u, "keep-me", 2e9))
      assert(ds:create_session(u, "end-me", 2e9))
      assert.is_true(datastore.revoke_all(ds, u, "keep-me"))
      assert.are_not.equal(uq, u.fs_uniquifier, kind)
      assert.are_not.equal(tuq, u.fs_token_uniquifier, kind)
      assert.is_nil(ds:find_user_by_session("end-me", u.fs_uniquifier), kind)
      assert.truthy(ds:find_user_by_session("keep-me", u.fs_uniquifier), kind)
      -- the stored user has them: every token and cookie made before is dead
      local stored = ds:find_user{ id = u.id }
      assert.equals(u.fs_uniquifier, stored.fs_uniquifier, kind)
      assert.equals(u.fs_token_uniquifier, stored.fs_token_uniquifier, kind)
    end
  end)

  it("is written once: no file but datastore.lua rotates both uniquifiers itself", function()
    local found = {}
    for _, path in ipairs(lua_files()) do
      local src = assert(helpers.read(path))
      if path ~= "lua/fsec/datastore.lua" and src:find(":set_token_uniquifier%(") then
        found[#found + 1] = path
      end
    end
    assert.are.same({}, found)
  end)
end)


describe("the lockout's bookkeeping #quick", function()
  it("the lockout's bookkeeping is auth's: views reset the count through auth.unlock", function()
    local src = assert(helpers.read("lua/fsec/views.lua"))
    for _, call in ipairs{ "reset_failed_logins", "record_failed_login", "reserve_login", "release_login" } do
      assert.is_nil(src:find(call, 1, true), "views.lua calls " .. call)
    end
    -- and unlock really unlocks
    local sec = helpers.new{ database = ":memory:", login_lockout_threshold = 2 }
    local u = assert(sec.datastore:create_user{ email = "l@example.org", password = sec:hash_password(PW) })
    local auth = require "fsec.auth"
    for _ = 1, 2 do assert.is_nil((auth.check_user_password(sec, u, "wrong password"))) end
    u = sec.datastore:find_user{ id = u.id }
    assert.is_true(auth.lockout_active(sec, u))
    assert.truthy(auth.unlock(sec, u))
    u = sec.datastore:find_user{ id = u.id }
    assert.is_false(auth.lockout_active(sec, u))
    assert.truthy(auth.check_user_password(sec, u, PW))
  end)
end)


describe("html_escape #quick", function()
  it("html_escape lives in fsec.http; fsec.mail's name still works", function()
    local http, mail = require "fsec.http", require "fsec.mail"
    assert.equals("&lt;a href=&quot;x&quot;&gt;&amp;&#39;", http.html_escape([[<a href="x">&']]))
    assert.equals(http.html_escape, mail.html_escape)
    assert.is_nil(assert(helpers.read("lua/fsec/mail.lua")):find("gsub(\"[&<>", 1, true))
  end)
end)


describe("configuration names #quick", function()
  it("config.lua names each key once: the old name token_max_chars is refused, naming the key", function()
    local fsec = require "fsec"
    local ok, err = pcall(fsec.new, helpers.config{ token_max_chars = 8192 })
    assert.is_false(ok)
    assert.matches("token_max_chars is not a configuration key: its name is token_max_length", err, 1, true)
    local sec = helpers.new{ token_max_length = 8192 }
    assert.equals(8192, sec.config.token_max_length)
    -- the argon2 defaults of new hashes come from config.lua
    local config = require "fsec.config"
    local c = assert(config.validate(helpers.config{ password_hash_options = "nil" }))
    local e = fsec.engine_config(c)
    assert.equals(config.DEFAULT_ARGON2_TIME, e.argon2_time)
    assert.equals(config.DEFAULT_ARGON2_MEMORY_KIB, e.argon2_memory_kib)
  end)
end)


describe("Security:set_cache, the cache seam #quick", function()
  it("is used by a real Security object: a session check reads the user once, then from the cache", function()
    local sec, _, login = app()
    local c = custom_cache()
    sec:set_cache(c)
    local client = login()
    local sets = c.users.sets
    assert.is_true(allowed(sec, client))
    assert.equals(sets + 1, c.users.sets) -- looked up once, kept
    assert.is_true(c.tokens.sets >= 1)    -- the cookie's token check kept too
    local gets, tgets = c.users.gets, c.tokens.gets
    for _ = 1, 3 do assert.is_true(allowed(sec, client)) end
    assert.equals(sets + 1, c.users.sets) -- every later check: a hit
    -- of the cookie's own entry, which holds the user (fsec.auth's
    -- session_user): the users cache is not read again
    assert.equals(gets, c.users.gets)
    assert.is_true(c.tokens.gets >= tgets + 3)
  end)

  it("invalidates on a role change: the cached user without the role is not served", function()
    local sec, user, login = app()
    local c, state = custom_cache()
    sec:set_cache(c)
    local client = login()
    assert.is_false(allowed(sec, client, ADMIN)) -- cached, without admin
    local g = state.gen
    assert(sec.datastore:add_role_to_user(user, "admin"))
    assert.is_true(state.gen > g, "the write did not invalidate")
    assert.is_true(allowed(sec, client, ADMIN))
    assert(sec.datastore:remove_role_from_user(user, "admin"))
    assert.is_false(allowed(sec, client, ADMIN))
  end)

  it("invalidates on a password change: the other sessions end at once", function()
    local sec, _, login = app()
    local c, state = custom_cache()
    sec:set_cache(c)
    local other, mine = login(), login()
    assert.is_true(allowed(sec, other)) -- cached
    local g = state.gen
    local res = mine:call("POST", "/change", { password = PW, new_password = "another long passphrase",
                                               new_password_confirm = "another long passphrase" })
    assert.equals(200, res.status)
    assert.is_true(state.gen > g)
    assert.is_false(allowed(sec, other))
    assert.is_true(allowed(sec, mine)) -- re-signed with the new uniquifier
  end)

  it("invalidates on a logout of every session (revoke_all, deactivation)", function()
    local sec, user, login = app()
    local c, state = custom_cache()
    sec:set_cache(c)
    local a = login()
    assert.is_true(allowed(sec, a))
    local g = state.gen
    assert(require("fsec.datastore").revoke_all(sec.datastore, user))
    assert.is_true(state.gen > g)
    assert.is_false(allowed(sec, a))
    local b = login()
    assert.is_true(allowed(sec, b))
    g = state.gen
    assert(sec.datastore:deactivate_user(user))
    assert.is_true(state.gen > g)
    assert.is_false(allowed(sec, b))
  end)

  it("invalidates once more after a transaction's COMMIT, and leaves the store object as it was", function()
    local sec, user = app()
    local store = sec.datastore
    -- its methods: the store's own fields and those of its class
    local function methods()
      local out = {}
      for k, v in pairs(store) do if type(v) == "function" then out[k] = v end end
      for k, v in pairs(getmetatable(store).__index) do if out[k] == nil then out[k] = v end end
      return out
    end
    local before = methods()
    local mt = getmetatable(store)
    local c, state = custom_cache()
    sec:set_cache(c)
    assert.are_not.equal(store, sec.datastore) -- a view of it
    local inside
    sec.datastore:transaction(function()
      assert(sec.datastore:set_confirmed_at(user, 1000))
      inside = state.gen
    end)
    assert.equals(inside + 1, state.gen)
    -- writes that keep the caches: a new session, the failed-login count
    local g = state.gen
    assert(sec.datastore:create_session(user, "sid-x", 2e9))
    assert(sec.datastore:record_failed_login(user, 60))
    assert.equals(g, state.gen)
    -- nothing was patched on the store: same fields, same metatable
    local after = methods()
    assert.is_true(next(after) ~= nil)
    for k, v in pairs(before) do assert.equals(v, after[k], k) end
    for k, v in pairs(after) do assert.equals(before[k], v, k) end
    assert.equals(mt, getmetatable(store))
    sec:set_cache(nil)
    assert.equals(store, sec.datastore)
    assert.is_nil(sec:get_cache())
  end)

  it("keeps a thin user: no password hash, its own role lists, the rest read from the store once", function()
    local sec, user, login = app()
    assert(sec.datastore:add_role_to_user(user, "admin"))
    local c = custom_cache()
    sec:set_cache(c)
    local client = login()
    assert.is_true(allowed(sec, client, ADMIN)) -- the miss: cached now
    local entry
    for _, v in pairs(c.users.data) do entry = v end
    local thin = entry[1]
    -- what a check needs, nothing else: no hash, no email, no fields
    assert.is_nil(rawget(thin, "password"))
    assert.is_nil(rawget(thin, "email"))
    assert.is_nil(rawget(thin, "fields"))
    assert.equals(user.id, rawget(thin, "id"))
    local n = 0
    for _ in pairs(thin) do n = n + 1 end
    assert.equals(4, n)
    -- the hit answers from it, and it is a User as the API documents
    local ok, got = sec:check(client:req{ path = "/app" }, ADMIN)
    assert.is_true(ok)
    assert.equals(thin, got)
    assert.is_true(require("fsec.user").is_user(got))
    assert.is_true(got:has_role("admin") and got.is_active and got.is_authenticated)
    assert.is_true(require("fsec.user").is_thin(got))
    -- a second user with the same roles has lists of its own: an
    -- application that edits one user's roles grants no other user a role
    local other = assert(sec.datastore:create_user{ email = "two@example.org", roles = { "admin" } })
    local t2 = require("fsec.user").thin(other, function() end)
    assert.are_not.equal(rawget(thin, "roles"), rawget(t2, "roles"))
    assert.are_not.equal(rawget(thin, "permissions"), rawget(t2, "permissions"))
    local roles2 = rawget(t2, "roles")
    roles2[#roles2 + 1] = "root"
    assert.same({ "admin" }, rawget(thin, "roles"))
    roles2[#roles2] = nil
    -- another field loads the row, once, into the object itself
    local before = c.users.sets
    assert.equals("seam@example.org", got.email)
    assert.equals(user.password, rawget(got, "password"))
    assert.equals(user.fs_uniquifier, got.fs_uniquifier)
    assert.equals(before, c.users.sets)
    assert.same({ "admin" }, got.roles)
    -- its Security, through the row's datastore: the user's own methods
    local ok2, got2 = sec:check(client:req{ path = "/app" }, ADMIN)
    assert.is_true(ok2)
    local t3 = require("fsec.user").thin(got2, function(id) return sec.datastore:find_user{ id = id } end)
    assert.is_string(t3:get_auth_token())
    -- a copy for signals has every field but the private ones
    local pub = require("fsec.auth").public_user(t2)
    assert.is_nil(pub.email) -- t2's loader found nothing: it stays thin
    assert.equals("two@example.org", require("fsec.auth").public_user(
      require("fsec.user").thin(other, function(id) return sec.datastore:find_user{ id = id } end)).email)
  end)

  it("keeps an auth token's user in the token's own entry, read again when the generation moves", function()
    local sec, user = app()
    local c, state = custom_cache()
    c.ttl = 3600
    sec:set_cache(c)
    local tok = sec:get_auth_token(user)
    local TOKEN = { auth = { "token" } }
    local function check(spec)
      return (sec:check(helpers.request{ headers = { ["authentication-token"] = tok } }, spec or TOKEN))
    end
    local reads = 0
    local find = sec.datastore.find_user
    sec.datastore.find_user = function(...) reads = reads + 1; return find(...) end
    assert.is_true(check())
    assert.equals(1, reads)
    local entry = c.tokens.data[tok]
    assert.equals(user.id, rawget(entry[6], "id"))
    assert.is_nil(rawget(entry[6], "password"))
    assert.equals(0, c.users.sets) -- no second entry for the user
    for _ = 1, 3 do assert.is_true(check()) end
    assert.equals(1, reads) -- hits
    -- a role given: the generation moves, the user is read again
    assert.is_false(check(ADMIN_TOKEN))
    local g = state.gen
    assert(sec.datastore:add_role_to_user(user, "admin"))
    assert.is_true(state.gen > g)
    assert.is_true(check(ADMIN_TOKEN))
    assert.equals(2, reads)
    -- for writes by another program (the generation stays): read again
    -- once ttl is over
    local t = os.time()
    entry = c.tokens.data[tok]
    assert.is_true(entry[8] > t and entry[8] <= t + 3600 + 1)
    entry[8] = t -- its ttl is over
    assert.is_true(check())
    assert.equals(3, reads)
    -- a deactivation: refused at once
    assert(sec.datastore:deactivate_user(user))
    assert.is_false(check())
  end)

  it("a thin user whose store fails raises, and stays thin for the next read", function()
    local sec, user = app()
    local calls = 0
    local t = require("fsec.user").thin(user, function()
      calls = calls + 1
      if calls == 1 then error("EIO: down", 0) end
      return sec.datastore:find_user{ id = user.id }
    end)
    assert.has_error(function() return t.email end, "EIO: down")
    assert.is_true(require("fsec.user").is_thin(t))
    assert.equals("seam@example.org", t.email)
    assert.is_false(require("fsec.user").is_thin(t))
  end)

  it("refuses a bad cache, naming the field, and keeps the one in force", function()
    local sec = app()
    local c = custom_cache()
    sec:set_cache(c)
    local view = sec.datastore
    local cases = {
      { "x", "a table expected" },
      { { colour = 1 }, "unknown field 'colour'" },
      { { tokens = {} }, "tokens must have get and set methods" },
      { { users = table_store() }, "users needs generation" },
      { { users = table_store(), generation = function() end }, "users needs invalidate" },
      { { invalidate = function() end }, "invalidate needs generation" },
      { { ttl = 0 }, "ttl must be a number of seconds over 0" },
      { { ttl = 0 / 0 }, "ttl must be" },
      { { generation = 5 }, "generation must be a function" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(sec.set_cache, sec, case[1])
      assert.is_false(ok)
      assert.matches("set_cache: " .. case[2], err, 1, true)
    end
    assert.equals(c, sec:get_cache())
    assert.equals(view, sec.datastore)
  end)
end)


describe("Security's cache fields #quick", function()
  -- Security lives in lua/fsec.lua; lua/fsec/auth.lua holds its methods
  -- that read the cache (the hot path of every check), lua/fsec/hit.lua
  -- the cache-hit check that reads the same entries.
  local SECURITY = { ["lua/fsec.lua"] = true, ["lua/fsec/auth.lua"] = true, ["lua/fsec/hit.lua"] = true }

  it("are touched by no file outside Security, and no file patches a datastore's methods", function()
    local files = lua_files()
    assert.is_true(#files > 20)
    local found = {}
    for _, path in ipairs(files) do
      local src = assert(helpers.read(path))
      if not SECURITY[path] then
        for _, field in ipairs{ "_cache", "_generation", "_cache_ttl", "_users" } do
          for owner in src:gmatch("([%w_]+)%." .. field .. "%f[^%w_]") do
            -- the memory store's own table of users is its own field (in
            -- memory.lua and the files that add its methods: memory_*.lua)
            if not (field == "_users" and owner == "self"
                    and path:find("^lua/fsec/datastore/memory[%w_]*%.lua$")) then
              found[#found + 1] = path .. ": " .. owner .. "." .. field
            end
          end
        end
      end
      -- ds[name] = function ...: a store's method replaced
      if src:find("ds%[[%w_]+%]%s*=%s*function") then found[#found + 1] = path .. ": patches ds[...]" end
    end
    assert.are.same({}, found)
  end)
end)


describe("docs/cache.md #quick", function()
  it("runs every ```lua block as written", function()
    local doc = assert(helpers.read("docs/cache.md"))
    local n = 0
    for code in doc:gmatch("```lua\n(.-)```") do
      n = n + 1
      local chunk = assert((loadstring or load)(code, "=docs/cache.md block " .. n))
      local ok, err = pcall(chunk)
      assert(ok, "docs/cache.md block " .. n .. ": " .. tostring(err))
    end
    assert.is_true(n >= 1)
  end)
end)


describe("Lua files under lua/ #quick", function()
  it("are at most 600 lines, or say at their top why not", function()
    local p = assert(io.popen("find lua -name '*.lua' | LC_ALL=C sort"))
    local bad = {}
    for path in p:lines() do
      local src = assert(helpers.read(path))
      local _, lines = src:gsub("\n", "")
      local top = src:sub(1, 2000)
      if lines > 600 and not top:find("Over 600 lines on purpose:", 1, true) then
        bad[#bad + 1] = path .. " (" .. lines .. " lines)"
      end
    end
    p:close()
    assert.are.same({}, bad)
  end)
end)
