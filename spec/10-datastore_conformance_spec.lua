-- The datastore contract: the same behaviour from the SQLite store and
-- the pure-Lua one. A third-party datastore can run this file too.
local helpers = require "spec.helpers"

local IMPLEMENTATIONS = {
  sqlite = function(clock)
    return assert(require("fsec.datastore.sqlite").new{
      path = helpers.tmpfile("conformance.db"), clock = clock })
  end,
  -- the same store with its commits made durable by a WAL syncer, as
  -- under nginx: every write outside a transaction is its own deferred one
  ["sqlite, synced by a WAL syncer"] = function(clock)
    local ds = assert(require("fsec.datastore.sqlite").new{
      path = helpers.tmpfile("conformance-synced.db"), clock = clock })
    assert.is_true(ds:set_wal_syncer(require("fsec.core").sync_wal))
    return ds
  end,
  memory = function(clock)
    return require("fsec.datastore.memory").new{ clock = clock }
  end,
}

describe("datastore interface lists #quick", function()
  it("names only interface methods (required or optional) as writes", function()
    local base = require "fsec.datastore"
    local known = {}
    for _, m in ipairs(base.METHODS) do known[m] = true end
    for _, m in ipairs(base.OPTIONAL) do known[m] = true end
    for _, w in ipairs(base.WRITES) do assert.is_true(known[w], w) end
    assert.is_nil(known.set_tracking) -- SQLite's own (imports); it defers too
  end)
end)

describe("the cache's view of WebAuthn writes #quick", function()
  it("drops cached users for the handle's writes, not for a credential's (a passkey sign-in)", function()
    local ds = require("fsec.datastore.memory").new()
    local n = 0
    local view = require("fsec.cache").observed(ds, function() n = n + 1 end, function() return 0 end)
    local u = assert(view:create_user{ email = "cache@x.org" })
    n = 0
    assert(view:set_webauthn_user_handle(u))
    assert.is_true(n > 0)
    n = 0
    local c = assert(view:create_webauthn(u, { credential_id = "c", public_key = "k", name = "n", usage = "first" }))
    assert.is_true(view:webauthn_used(c, 1))
    assert.is_true(view:delete_webauthn(c))
    assert.equals(0, n)
    assert.is_true(view:webauthn_reset(u))
    assert.is_true(n > 0)
  end)
end)

local function conformance(name, make, tags)
  describe("datastore conformance (" .. name .. ")" .. tags, function()
    local ds, clock
    before_each(function()
      clock = helpers.clock()
      ds = make(clock.fn)
    end)
    after_each(function() ds:close() end)

    it("keeps the application's own fields with the user (register_fields)", function()
      local u = assert(ds:create_user{ email = "f@example.com",
        fields = { display_name = "Ann \u{00D6}", age = 42, newsletter = false } })
      local want = { display_name = "Ann \u{00D6}", age = 42, newsletter = false }
      assert.same(want, u.fields)
      local found = ds:find_user{ email = "f@example.com" }
      assert.same(want, found.fields)
      assert.equals("Ann \u{00D6}", found.display_name)
      assert.is_false(found.newsletter)
      assert.same({}, assert(ds:create_user{ email = "g@example.com" }).fields)
      -- calls that re-read the user keep them as a table
      assert.is_true(ds:track_login(found, "192.0.2.1"))
      assert.same(want, found.fields)
      assert.truthy(ds:create_role{ name = "fielded" })
      assert.is_true(ds:add_role_to_user(found, "fielded"))
      assert.same(want, found.fields)
      -- a change replaces them all, ends no session and moves no epoch
      assert.is_true(ds:set_user_fields(found, { display_name = "Bo" }))
      assert.is_false(ds:set_user_fields(found, { display_name = "Bo" }))
      assert.same({ display_name = "Bo" }, found.fields)
      assert.same({ display_name = "Bo" }, ds:find_user{ id = found.id }.fields)
      assert.is_true(ds:set_user_fields(found, nil))
      assert.same({}, ds:find_user{ id = found.id }.fields)
      -- what a form must never reach: wrong types raise, nothing is written
      for _, bad in ipairs{ { nested = { 1 } }, { [1] = "x" }, { Bad = "x" }, { f = 1.5 },
                            { f = function() end } } do
        assert.has_error(function() ds:create_user{ email = "h@example.com", fields = bad } end)
      end
      assert.has_error(function() ds:create_user{ email = "h@example.com", fields = "{}" } end)
      -- over the store's bound or not UTF-8: refused, nothing stored
      local big = string.rep("x", require("fsec.core").LIMITS.fields)
      local ok, _, code = ds:create_user{ email = "h@example.com", fields = { f = big } }
      assert.is_nil(ok); assert.equals("ETOOLONG", code)
      ok, _, code = ds:create_user{ email = "h@example.com", fields = { f = "\255" } }
      assert.is_nil(ok); assert.equals("EUTF8", code)
      assert.is_nil(ds:find_user{ email = "h@example.com" })
    end)

    it("passes the issue's example", function()
      local admin = assert(ds:find_or_create_role("admin", {
        description = "Administrators", permissions = { "user-read", "user-write" } }))
      assert.equals("admin", admin.name)
      assert.same({ "user-read", "user-write" }, admin.permissions)
      local u = assert(ds:create_user{ email = "Matt@Example.com", password = "$hash$", roles = { "admin" } })
      local found = ds:find_user{ email = "matt@example.com" }
      assert.equals(u.id, found.id)
      assert.equals("Matt@Example.com", found.email)
      assert.is_true(u:has_role("admin"))
      assert.is_true(u:has_role(admin))
      assert.is_true(u:has_permission("user-write"))
      assert.is_false(u:has_permission("user-delete"))
      assert.is_true(u.is_active)
      assert.is_true(ds:deactivate_user(u))
      assert.is_false(ds:deactivate_user(u))
      assert.is_false(u.is_active)
      assert.is_false(ds:find_user{ id = u.id }.is_active)
      assert.truthy(ds:create_role{ name = "editor" })
      assert.is_true(ds:add_role_to_user(u, "editor"))
      assert.is_true(ds:remove_role_from_user(u, "admin"))
      assert.same({ "editor" }, u.roles)
      assert.is_false(u:has_permission("user-read"))
      local old = u.fs_uniquifier
      assert.is_true(ds:reset_user_access(u))
      assert.not_equals(old, u.fs_uniquifier)
      assert.is_nil(ds:find_user{ fs_uniquifier = old })
      assert.equals(u.id, ds:find_user{ fs_uniquifier = u.fs_uniquifier }.id)
    end)

    it("finds by every key, and nothing for an unknown one", function()
      local u = assert(ds:create_user{ email = "a@x.org", username = "Alice",
        password = "h", fs_uniquifier = "uq-a", fs_token_uniquifier = "tuq-a" })
      for _, q in ipairs{ { id = u.id }, { email = "A@X.ORG" }, { username = "alice" },
                          { fs_uniquifier = "uq-a" }, { fs_token_uniquifier = "tuq-a" } } do
        local f = ds:find_user(q)
        assert.equals(u.id, f and f.id)
      end
      assert.is_nil(ds:find_user{ email = "b@x.org" })
      assert.is_nil(ds:find_user{ id = 999 })
      assert.is_nil(ds:find_user{ fs_uniquifier = "nope" })
    end)

    it("sets defaults like Flask-Security", function()
      local u = assert(ds:create_user{ email = "d@x.org" })
      assert.is_true(u.active)
      assert.is_nil(u.password)
      assert.is_nil(u.confirmed_at)
      assert.equals(0, u.login_count)
      assert.matches("^[%w_-]+$", u.fs_uniquifier)
      assert.is_true(#u.fs_uniquifier >= 22)
      assert.not_equals(u.fs_uniquifier, u.fs_token_uniquifier)
      assert.same({}, u.roles)
      local v = assert(ds:create_user{ email = "e@x.org", active = false, confirmed_at = 123 })
      assert.is_false(v.active)
      assert.equals(123, v.confirmed_at)
    end)

    it("keeps emails unique case-insensitively", function()
      assert(ds:create_user{ email = "Same@X.org" })
      local u, err, code = ds:create_user{ email = "same@x.ORG" }
      assert.is_nil(u); assert.equals("EEXIST", code); assert.matches("email already exists", err)
      assert.equals(1, (ds:counts()))
    end)

    it("refuses bad identities with a clear error, writing nothing", function()
      for _, bad in ipairs{ { "not an email", "EIDENTITY" }, { "a\0b@x.org", "ENUL" },
                            { "\255@x.org", "EUTF8" }, { string.rep("a", 300) .. "@x.org", "ETOOLONG" },
                            { "' OR '1'='1", "EIDENTITY" } } do
        local u, err, code = ds:create_user{ email = bad[1] }
        assert.is_nil(u); assert.equals(bad[2], code, bad[1]); assert.is_string(err)
      end
      local u, _, code = ds:create_user{ email = "ok@x.org", username = "has space" }
      assert.is_nil(u); assert.equals("EIDENTITY", code)
      u, _, code = ds:create_user{ email = "ok@x.org", password = "a\0b" }
      assert.is_nil(u); assert.equals("ENUL", code)
      u, _, code = ds:create_user{ email = "ok@x.org", password = string.rep("x", 600) }
      assert.is_nil(u); assert.equals("ETOOLONG", code)
      assert.equals(0, (ds:counts()))
    end)

    it("raises on wrong Lua types, naming the field", function()
      assert.has_error(function() ds:create_user{ email = { "x" } } end,
        "bad field 'email' to 'create_user' (string expected, got table)")
      assert.has_error(function() ds:create_user{ email = "a@x.org", active = "yes" } end,
        "bad field 'active' to 'create_user' (boolean expected, got string)")
      assert.has_error(function() ds:create_user{ email = "a@x.org", colour = 1 } end,
        "bad field 'colour' to 'create_user' (unknown field)")
      assert.has_error(function() ds:find_user{ email = 42 } end,
        "bad field 'email' to 'find_user' (string expected, got number)")
      assert.has_error(function() ds:find_user{ email = "a@x.org", id = 1 } end)
      assert.has_error(function() ds:deactivate_user({ id = 1 }) end)
      assert.equals(0, (ds:counts()))
    end)

    it("stores SQL-injection text literally", function()
      local evil = "a'--@x.org"
      assert(ds:create_user{ email = evil, username = "x'OR'1'='1" })
      assert(ds:create_user{ email = "b@x.org" })
      assert.equals(evil, ds:find_user{ email = evil }.email)
      assert.is_nil(ds:find_user{ username = "x'or'1'='2" })
      assert.equals(2, (ds:counts()))
    end)

    it("finds a user by an integral float id (1.0) on both runtimes, and by no fraction", function()
      local u = assert(ds:create_user{ email = "f@x.org" })
      assert.equals(u.id, ds:find_user{ id = u.id + 0.0 }.id)
      assert.is_nil(ds:find_user{ id = u.id + 0.5 })
    end)

    it("refuses unknown roles without writing", function()
      local u, err, code = ds:create_user{ email = "r@x.org", roles = { "ghost" } }
      assert.is_nil(u); assert.equals("ENOTFOUND", code); assert.matches("ghost", err)
      assert.equals(0, (ds:counts()))
      u = assert(ds:create_user{ email = "r@x.org" })
      local ok
      ok, err, code = ds:add_role_to_user(u, "ghost")
      assert.is_nil(ok); assert.equals("ENOTFOUND", code); assert.matches("ghost", err)
    end)

    it("refuses a role name holding a NUL byte, granting no role (not the name before it)", function()
      assert(ds:create_role{ name = "admin" }); assert(ds:create_role{ name = "member" })
      for _, bad in ipairs{ "admin\0member", "admin\0" } do
        local u, err, code = ds:create_user{ email = "n@x.org", roles = { "member", bad } }
        assert.is_nil(u); assert.equals("ENUL", code); assert.equals("ENUL: role contains a NUL byte", err)
        assert.is_nil(ds:find_user{ email = "n@x.org" })
      end
      local u = assert(ds:create_user{ email = "n@x.org" })
      local ok, err, code = ds:add_role_to_user(u, "admin\0member")
      assert.is_nil(ok); assert.equals("ENUL", code); assert.matches("NUL", err, 1, true)
      assert.same({}, ds:find_user{ email = "n@x.org" }.roles)
    end)

    it("reports whether role links changed", function()
      assert(ds:create_role{ name = "admin" })
      local u = assert(ds:create_user{ email = "l@x.org" })
      assert.is_true(ds:add_role_to_user(u, "admin"))
      assert.is_false(ds:add_role_to_user(u, "admin"))
      assert.is_true(ds:remove_role_from_user(u, "admin"))
      assert.is_false(ds:remove_role_from_user(u, "admin"))
    end)

    it("manages role permissions as sets", function()
      local r = assert(ds:create_role{ name = "ed", permissions = "post-read, post-write" })
      assert.same({ "post-read", "post-write" }, r.permissions)
      local u = assert(ds:create_user{ email = "p@x.org", roles = { r } })
      assert.is_true(ds:add_permissions_to_role(r, { "post-delete", "post-read" }))
      assert.same({ "post-read", "post-write", "post-delete" }, ds:find_role("ed").permissions)
      assert.is_true(ds:remove_permissions_from_role("ed", "post-write"))
      assert.same({ "post-read", "post-delete" }, ds:find_role("ed").permissions)
      assert.is_false(ds:add_permissions_to_role("ghost", { "x" }))
      assert.is_true(ds:find_user{ id = u.id }:has_permission("post-delete"))
      assert.is_false(ds:find_user{ id = u.id }:has_permission("post-write"))
      local _, _, code = ds:create_role{ name = "ed" }
      assert.equals("EEXIST", code)
    end)

    it("deletes roles and users with their links", function()
      assert(ds:create_role{ name = "gone" })
      local u = assert(ds:create_user{ email = "g@x.org", roles = { "gone" } })
      assert.is_true(ds:delete_role("gone"))
      assert.is_false(ds:delete_role("gone"))
      assert.same({}, ds:find_user{ id = u.id }.roles)
      assert.is_true(ds:delete_user(u))
      assert.is_false(ds:delete_user(u))
      assert.is_nil(ds:find_user{ email = "g@x.org" })
    end)

    it("toggles, sets fields and uniquifiers", function()
      local u = assert(ds:create_user{ email = "t@x.org" })
      assert.is_true(ds:toggle_active(u)); assert.is_false(u.active)
      assert.is_true(ds:toggle_active(u)); assert.is_true(u.active)
      assert.is_true(ds:set_password(u, "$new$"))
      assert.is_false(ds:set_password(u, "$new$"))
      assert.is_true(ds:set_confirmed_at(u, 1700000000))
      assert.is_true(ds:set_field(u, "tf_primary_method", "authenticator"))
      assert.is_true(ds:set_uniquifier(u, "fixed-uq"))
      assert.is_true(ds:set_email(u, "T2@x.org"))
      local f = ds:find_user{ email = "t2@X.org" }
      assert.equals("$new$", f.password)
      assert.equals(1700000000, f.confirmed_at)
      assert.equals("fixed-uq", f.fs_uniquifier)
      assert.equals("authenticator", f.tf_primary_method) -- read back, as every field is
      for _, field in ipairs{ "tf_totp_secret", "tf_phone_number", "us_totp_secrets",
                              "us_phone_number", "mf_recovery_codes" } do
        assert.is_nil(f[field], field)
        assert.is_true(ds:set_field(u, field, field .. "-value"))
        assert.equals(field .. "-value", ds:find_user{ id = u.id }[field], field)
      end
      assert.is_true(ds:reset_user_access(u))
      for field in pairs(require("fsec.datastore").TEXT_FIELDS) do
        assert.is_nil(ds:find_user{ id = u.id }[field], field)
      end
      assert.is_nil(ds:find_user{ id = u.id }.tf_primary_method)
      assert.equals("$new$", ds:find_user{ id = u.id }.password)
      local v = assert(ds:create_user{ email = "v@x.org" })
      local ok, _, code = ds:set_email(v, "t2@x.org")
      assert.is_nil(ok); assert.equals("EEXIST", code)
      ok, _, code = ds:set_email(v, "bad")
      assert.is_nil(ok); assert.equals("EIDENTITY", code)
      assert.equals("v@x.org", ds:find_user{ id = v.id }.email)
    end)

    -- /change-username leaves a race to this key (fsec.username)
    it("renames: another account's username in any case is EEXIST and changes nothing", function()
      local a = assert(ds:create_user{ email = "ren-a@x.org", username = "Alpha" })
      local b = assert(ds:create_user{ email = "ren-b@x.org", username = "beta" })
      local ok, _, code = ds:set_username(b, "ALPHA")
      assert.is_nil(ok); assert.equals("EEXIST", code)
      assert.equals("beta", ds:find_user{ id = b.id }.username)
      assert.equals(a.id, ds:find_user{ username = "alpha" }.id)
      ok, _, code = ds:set_username(b, "no@at")
      assert.is_nil(ok); assert.equals("EIDENTITY", code)
      -- its own name in another case is a rename; nil leaves none
      assert.is_true(ds:set_username(a, "ALPHA"))
      assert.equals("ALPHA", ds:find_user{ username = "alpha" }.username)
      assert.is_true(ds:set_username(a, nil))
      assert.is_nil(ds:find_user{ username = "alpha" })
      assert.is_true(ds:set_username(b, "Alpha"))
      assert.equals(b.id, ds:find_user{ username = "ALPHA" }.id)
    end)

    it("finds a user by us_phone_number, exactly as stored, one account a number", function()
      local u = assert(ds:create_user{ email = "ph@x.org" })
      local w = assert(ds:create_user{ email = "ph2@x.org" })
      assert.is_nil(ds:find_user{ us_phone_number = "+16505551212" })
      assert.is_true(ds:set_field(u, "us_phone_number", "+16505551212"))
      assert.equals(u.id, ds:find_user{ us_phone_number = "+16505551212" }.id)
      assert.is_nil(ds:find_user{ us_phone_number = "6505551212" }) -- no folding: callers canonicalize
      assert.is_nil(ds:find_user{ us_phone_number = "+1650555121%" }) -- no pattern either
      local ok, _, code = ds:set_field(w, "us_phone_number", "+16505551212")
      assert.is_nil(ok); assert.equals("EEXIST", code)
      ok, _, code = ds:find_user{ us_phone_number = string.rep("1", 65) }
      assert.is_nil(ok); assert.equals("ETOOLONG", code)
      assert.has_error(function() ds:find_user{ us_phone_number = 16505551212 } end)
    end)

    it("tracks logins as Flask-Security does", function()
      local u = assert(ds:create_user{ email = "k@x.org" })
      assert.is_true(ds:track_login(u, "192.0.2.1"))
      assert.equals(1, u.login_count)
      assert.equals(clock.now, u.last_login_at)
      assert.equals("192.0.2.1", u.last_login_ip)
      clock.now = clock.now + 100
      assert.is_true(ds:track_login(u, "192.0.2.2"))
      local f = ds:find_user{ id = u.id }
      assert.equals(2, f.login_count)
      assert.equals(clock.now - 100, f.last_login_at)
      assert.equals("192.0.2.1", f.last_login_ip)
      assert.equals(clock.now, f.current_login_at)
      assert.equals("192.0.2.2", f.current_login_ip)
      local ok, _, code = ds:track_login(u, string.rep("9", 65))
      assert.is_nil(ok); assert.equals("ETOOLONG", code)
    end)

    it("keeps sessions alive until expiry, logout or a new uniquifier", function()
      local u = assert(ds:create_user{ email = "s@x.org" })
      assert.is_true(ds:create_session(u, "sid-1", clock.now + 100))
      assert.is_true(ds:create_session(u, "sid-2", clock.now + 100))
      local _, _, code = ds:create_session(u, "sid-1", clock.now + 100)
      assert.equals("EEXIST", code)
      assert.equals(u.id, ds:find_user_by_session("sid-1", u.fs_uniquifier).id)
      assert.is_nil(ds:find_user_by_session("sid-1", "another-uniquifier"))
      assert.is_nil(ds:find_user_by_session("nope", u.fs_uniquifier))
      clock.now = clock.now + 100
      assert.is_nil(ds:find_user_by_session("sid-1", u.fs_uniquifier))
      clock.now = clock.now - 100
      assert.is_true(ds:delete_session("sid-1"))
      assert.is_false(ds:delete_session("sid-1"))
      assert.is_true(ds:create_session(u, "sid-3", clock.now + 100))
      assert.equals(1, ds:delete_user_sessions(u, "sid-3"))
      assert.is_nil(ds:find_user_by_session("sid-2", u.fs_uniquifier))
      assert.truthy(ds:find_user_by_session("sid-3", u.fs_uniquifier))
      local uq = u.fs_uniquifier
      ds:set_uniquifier(u)
      assert.is_nil(ds:find_user_by_session("sid-3", uq))
      -- the row stays: a cookie carrying the new uniquifier still finds it
      assert.truthy(ds:find_user_by_session("sid-3", u.fs_uniquifier))
      ds:delete_user(u)
      assert.is_nil(ds:find_user_by_session("sid-3", u.fs_uniquifier))
    end)

    it("keeps a session's data by compare-and-set, ended with the session", function()
      local u = assert(ds:create_user{ email = "d@x.org" })
      assert.is_true(ds:create_session(u, "sid-d", clock.now + 100))
      local data, v = ds:get_session_data("sid-d")
      assert.is_false(data)
      assert.equals(0, v)
      assert.is_true(ds:set_session_data("sid-d", '{"a":1}', 0))
      -- a writer that read version 0 too lost: nothing written
      assert.is_false(ds:set_session_data("sid-d", '{"b":2}', 0))
      data, v = ds:get_session_data("sid-d")
      assert.equals('{"a":1}', data)
      assert.equals(1, v)
      assert.is_true(ds:set_session_data("sid-d", nil, 1))
      data, v = ds:get_session_data("sid-d")
      assert.is_false(data)
      assert.equals(2, v)
      -- text only, within the bound, UTF-8, no NUL; SQL text literally
      local max = require("fsec.core").LIMITS.session_data
      local _, _, code = ds:set_session_data("sid-d", ("x"):rep(max + 1), 2)
      assert.equals("ETOOLONG", code)
      _, _, code = ds:set_session_data("sid-d", "\255\254", 2)
      assert.equals("EUTF8", code)
      _, _, code = ds:set_session_data("sid-d", "a\0b", 2)
      assert.equals("ENUL", code)
      assert.is_true(ds:set_session_data("sid-d", "'); DROP TABLE sessions; --", 2))
      assert.equals("'); DROP TABLE sessions; --", (ds:get_session_data("sid-d")))
      assert.is_true(ds:set_session_data("sid-d", ("y"):rep(max), 3))
      assert.equals(max, #(ds:get_session_data("sid-d")))
      -- no live session: nothing to read, nothing written
      assert.is_nil(ds:get_session_data("nope"))
      assert.is_false(ds:set_session_data("nope", "{}", 0))
      clock.now = clock.now + 100
      assert.is_nil(ds:get_session_data("sid-d"))
      assert.is_false(ds:set_session_data("sid-d", "{}", 4))
      clock.now = clock.now - 100
      assert.is_true(ds:delete_session("sid-d"))
      assert.is_nil(ds:get_session_data("sid-d"))
      -- a new session of the same id starts empty
      assert.is_true(ds:create_session(u, "sid-d", clock.now + 100))
      data, v = ds:get_session_data("sid-d")
      assert.is_false(data)
      assert.equals(0, v)
      assert.has_error(function() ds:get_session_data(nil) end)
      assert.has_error(function() ds:set_session_data("sid-d", {}, 0) end)
      assert.has_error(function() ds:set_session_data("sid-d", "{}", "0") end)
    end)

    it("keeps a mail outbox: claims leased, retried, given up, sent; queued inside a transaction", function()
      local function row(i) return { message_id = "<m" .. i .. "@x.org>", sender = "s@x.org",
                                     recipient = "r" .. i .. "@x.org", kind = "reset", message = "m" .. i .. "\r\n" } end
      local id1 = assert(ds:outbox_add(row(1)))
      clock.now = clock.now + 1
      local id2 = assert(ds:outbox_add(row(2)))
      local _, err, code = ds:outbox_add(row(1))
      assert.equals("EEXIST", code, err)
      local a = assert(ds:outbox_claim("w1", 60))
      assert.same({ id1, "<m1@x.org>", "s@x.org", "r1@x.org", "reset", "m1\r\n", 1 },
                  { a.id, a.message_id, a.sender, a.recipient, a.kind, a.message, a.attempts })
      assert.equals(id2, assert(ds:outbox_claim("w2", 60)).id) -- the leased one is not taken again
      assert.is_false(ds:outbox_claim("w3", 60))
      assert.is_false(ds:outbox_retry(id1, "w2", clock.now + 5, "not its lease"))
      assert.is_true(ds:outbox_retry(id1, "w1", clock.now + 5, "451 later"))
      assert.is_false(ds:outbox_claim("w3", 60)) -- not due yet
      clock.now = clock.now + 5
      local again = assert(ds:outbox_claim("w3", 60))
      assert.same({ id1, 2 }, { again.id, again.attempts })
      assert.is_true(ds:outbox_retry(id1, "w3", nil, "550 no")) -- given up
      clock.now = clock.now + 61 -- w2's lease on id2 ran out (a crashed drainer)
      local freed = assert(ds:outbox_claim("w4", 60))
      assert.equals(id2, freed.id)
      assert.is_true(ds:outbox_sent(id2))
      assert.is_false(ds:outbox_sent(id2))
      assert.is_false(ds:outbox_claim("w5", 60)) -- the given-up one never comes back
      local queued, given_up = ds:outbox_counts()
      assert.same({ 1, 1 }, { queued, given_up })
      -- queued with a transaction's other writes, or not at all
      assert.has_error(function()
        ds:transaction(function()
          assert(ds:create_user{ email = "tx@x.org" })
          assert(ds:outbox_add(row(3)))
          error("rolled back")
        end)
      end)
      assert.same({ 1, 1 }, { ds:outbox_counts() })
      ds:transaction(function() assert(ds:outbox_add(row(4))) end)
      assert.equals(2, (ds:outbox_counts()))
      -- hostile values are values, never SQL; NUL and bad UTF-8 refused
      local evil = row(5)
      evil.recipient = "'); DROP TABLE outbox; --"
      assert(ds:outbox_add(evil))
      assert.equals(3, (ds:outbox_counts()))
      local bad = row(6)
      bad.message = "a\0b"
      _, _, code = ds:outbox_add(bad)
      assert.equals("ENUL", code)
      bad.message = "\255"
      _, _, code = ds:outbox_add(bad)
      assert.equals("EUTF8", code)
      assert.has_error(function() ds:outbox_add{ message_id = "x" } end)
    end)

    it("counts failed logins in a window and resets them", function()
      local u = assert(ds:create_user{ email = "f@x.org" })
      assert.equals(0, u.failed_login_count)
      for i = 1, 3 do assert.equals(i, ds:record_failed_login(u, 600)) end
      assert.equals(3, ds:find_user{ id = u.id }.failed_login_count)
      clock.now = clock.now + 600
      assert.equals(1, ds:record_failed_login(u, 600))
      assert.is_true(ds:reset_failed_logins(u))
      assert.equals(0, ds:find_user{ id = u.id }.failed_login_count)
      assert.is_nil(ds:find_user{ id = u.id }.failed_login_window)
    end)

    it("reserves password checks up to a threshold per window, gives one back, and refuses past it", function()
      local u = assert(ds:create_user{ email = "r@x.org" })
      for i = 1, 3 do assert.equals(i, ds:reserve_login(u, 3, 600)) end
      assert.is_false(ds:reserve_login(u, 3, 600)) -- locked: nothing written
      assert.equals(3, ds:find_user{ id = u.id }.failed_login_count)
      assert.is_true(ds:release_login(u)) -- a check that never ran
      assert.equals(3, ds:reserve_login(u, 3, 600))
      assert.is_false(ds:reserve_login(u, 3, 600))
      clock.now = clock.now + 600 -- a new window
      assert.equals(1, ds:reserve_login(u, 3, 600))
      assert.is_true(ds:reset_failed_logins(u))
      assert.is_true(ds:release_login(u)) -- never below 0
      assert.equals(0, ds:find_user{ id = u.id }.failed_login_count)
      assert.equals(1, ds:reserve_login(u, 3, 600))
      local ok, _, code = ds:reserve_login(u, 0, 600)
      assert.is_nil(ok); assert.equals("EINVAL", code)
      assert.has_error(function() ds:reserve_login(u, 3, 0 / 0) end)
    end)

    it("reserves checks for identities without an account by key, and prunes past windows", function()
      for i = 1, 2 do assert.equals(i, ds:reserve_attempt("key-a", 2, 600)) end
      assert.is_false(ds:reserve_attempt("key-a", 2, 600))
      assert.equals(1, ds:reserve_attempt("key-b", 2, 600)) -- each key on its own
      clock.now = clock.now + 600
      assert.equals(1, ds:reserve_attempt("key-a", 2, 600))
      local ok, _, code = ds:reserve_attempt("key-c", 2, -1)
      assert.is_nil(ok); assert.equals("EINVAL", code)
      assert.has_error(function() ds:reserve_attempt(nil, 2, 600) end)
    end)

    it("keeps a key's row for its own window, whatever window the next caller prunes by", function()
      -- a WebAuthn challenge marked used (one try, 1800 s), then an unknown
      -- email's meter (60 s): pruning by the caller's window deleted the
      -- first row, and the challenge was taken again (attack review)
      assert.equals(1, ds:reserve_attempt("wan:used", 1, 1800))
      clock.now = clock.now + 1000
      assert.equals(1, ds:reserve_attempt("unknown-email", 5, 60))
      assert.is_false(ds:reserve_attempt("wan:used", 1, 1800))
      clock.now = clock.now + 800 -- its own window has passed
      assert.equals(1, ds:reserve_attempt("unknown-email-2", 5, 60))
      assert.equals(1, ds:reserve_attempt("wan:used", 1, 1800))
    end)

    it("accepts a one-time code's counter once: forward only, per user and method", function()
      local a = assert(ds:create_user{ email = "otp-a@x.org" })
      local b = assert(ds:create_user{ email = "otp-b@x.org" })
      local before = ds.revocation_epoch and ds:revocation_epoch()
      assert.is_true(ds:otp_advance(a, "totp", 59000000))   -- first use
      assert.is_false(ds:otp_advance(a, "totp", 59000000))  -- the same code again
      assert.is_false(ds:otp_advance(a, "totp", 58999999))  -- an older one
      assert.is_true(ds:otp_advance(a, "totp", 59000001))   -- the next step
      assert.is_false(ds:otp_advance(a, "totp", 59000000))
      assert.is_true(ds:otp_advance(a, "us_totp", 59000000)) -- another method
      assert.is_true(ds:otp_advance(b, "totp", 59000000))    -- another user
      assert.is_false(ds:otp_advance(b, "totp", 59000000))
      assert.is_true(ds:otp_advance(b, "sms", 0))            -- 0 is a counter
      assert.is_true(ds:otp_advance(b, "sms", 1.0))          -- an integral float
      if before then assert.equals(before, ds:revocation_epoch()) end -- nothing revoked
      -- hostile or wrong input: refused, nothing stored
      for _, m in ipairs{ "", "totp x", "totp'; DROP TABLE users; --", "tötp", ("m"):rep(33), "totp\0x" } do
        local ok, _, code = ds:otp_advance(a, m, 59000009)
        assert.is_nil(ok, m); assert.equals("EINVAL", code, m)
      end
      assert.is_true(ds:otp_advance(a, ("m"):rep(32), 1))
      local ok, _, code = ds:otp_advance(a, "totp", -1)
      assert.is_nil(ok); assert.equals("EINVAL", code)
      assert.has_error(function() ds:otp_advance(a, "totp", 1.5) end)
      assert.has_error(function() ds:otp_advance(a, "totp", 0 / 0) end)
      assert.has_error(function() ds:otp_advance(a, 1, 1) end)
      assert.has_error(function() ds:otp_advance({ id = a.id }, "totp", 1) end)
      assert.is_false(ds:otp_advance(a, "totp", 59000001)) -- still where it was
      -- a rolled-back transaction leaves the counter where it was
      assert.has_error(function()
        ds:transaction(function()
          assert.is_true(ds:otp_advance(b, "totp", 59000005))
          error("boom")
        end)
      end)
      assert.is_true(ds:otp_advance(b, "totp", 59000005))
      -- a deleted user's counters go with it, and a gone user is refused
      local ghost = assert(ds:create_user{ email = "otp-c@x.org" })
      assert.is_true(ds:otp_advance(ghost, "totp", 7))
      assert.is_true(ds:delete_user(ghost))
      ok, _, code = ds:otp_advance(ghost, "totp", 8)
      assert.is_nil(ok); assert.equals("ENOTFOUND", code)
      local again = assert(ds:create_user{ email = "otp-c@x.org" }) -- a new id: no old rows
      assert.is_true(ds:otp_advance(again, "totp", 7))
    end)

    it("swaps the email only from the expected address (folded), once", function()
      local u = assert(ds:create_user{ email = "move@x.org" })
      local other = ds:find_user{ id = u.id } -- another request's copy, another link
      assert(ds:create_user{ email = "taken@x.org" })
      assert.is_true(ds:swap_text(u, "email", "MOVE@x.org", "Moved@x.org"))
      assert.equals("Moved@x.org", u.email)
      assert.is_false(ds:swap_text(other, "email", "move@x.org", "elsewhere@x.org"))
      assert.equals("move@x.org", other.email) -- untouched on failure
      assert.equals(u.id, ds:find_user{ email = "moved@X.org" }.id)
      assert.is_nil(ds:find_user{ email = "move@x.org" })
      local ok, _, code = ds:swap_text(u, "email", "moved@x.org", "TAKEN@x.org")
      assert.is_nil(ok); assert.equals("EEXIST", code)
      ok, _, code = ds:swap_text(u, "email", "moved@x.org", nil)
      assert.is_nil(ok); assert.equals("EINVAL", code)
      ok, _, code = ds:swap_text(u, "email", "moved@x.org", "not an address")
      assert.is_nil(ok); assert.equals("EIDENTITY", code)
      assert.equals("Moved@x.org", ds:find_user{ id = u.id }.email)
    end)

    it("swaps a text field only from the expected value, once", function()
      local u = assert(ds:create_user{ email = "swap@x.org" })
      local other = ds:find_user{ id = u.id } -- another request's copy
      assert.is_false(ds:swap_text(u, "mf_recovery_codes", "a,b", "b"))  -- it is nil
      assert.is_nil(u.mf_recovery_codes)
      assert.is_true(ds:swap_text(u, "mf_recovery_codes", nil, "c1,c2,c3"))
      assert.equals("c1,c2,c3", u.mf_recovery_codes)                     -- set on the object
      assert.is_false(ds:swap_text(other, "mf_recovery_codes", nil, "x")) -- not nil any more
      assert.is_nil(other.mf_recovery_codes)                              -- untouched on failure
      -- two requests spending c1 from what they both read: one wins
      assert.is_true(ds:swap_text(u, "mf_recovery_codes", "c1,c2,c3", "c2,c3"))
      assert.is_false(ds:swap_text(other, "mf_recovery_codes", "c1,c2,c3", "c2,c3"))
      assert.is_false(ds:swap_text(u, "mf_recovery_codes", "C2,C3", "c3"))  -- bytes, not case
      assert.is_false(ds:swap_text(u, "mf_recovery_codes", "c2", "c3"))     -- not a prefix
      assert.is_false(ds:swap_text(u, "mf_recovery_codes", "", "c3"))       -- "" is not nil
      assert.is_true(ds:swap_text(u, "mf_recovery_codes", "c2,c3", nil))
      assert.is_nil(u.mf_recovery_codes)
      assert.is_true(ds:swap_text(u, "tf_primary_method", nil, "authenticator"))
      assert.is_true(ds:swap_text(u, "tf_primary_method", "authenticator", "authenticator")) -- same
      -- what another request reads: the stored values
      local f = ds:find_user{ id = u.id }
      assert.equals("authenticator", f.tf_primary_method)
      assert.is_nil(f.mf_recovery_codes)
      -- wrong or hostile input
      assert.has_error(function() ds:swap_text(u, "username", nil, "sam") end)
      assert.has_error(function() ds:swap_text(u, "password", nil, "h") end)
      assert.has_error(function() ds:swap_text(u, "mf_recovery_codes", 1, "h") end)
      assert.has_error(function() ds:swap_text({ id = u.id }, "mf_recovery_codes", nil, "h") end)
      local ok, _, code = ds:swap_text(u, "tf_totp_secret", nil, "a\0b")
      assert.is_nil(ok); assert.equals("ENUL", code)
      ok, _, code = ds:swap_text(u, "tf_totp_secret", nil, ("x"):rep(4097))
      assert.is_nil(ok); assert.equals("ETOOLONG", code)
      ok, _, code = ds:swap_text(u, "tf_totp_secret", "\255", "x")
      assert.is_nil(ok); assert.equals("EUTF8", code)
      assert.is_nil(u.tf_totp_secret)
      assert.is_true(ds:delete_user(u))
      assert.is_false(ds:swap_text(u, "mf_recovery_codes", nil, "x")) -- gone: no swap
    end)

    it("moves the revocation epoch when a swap changes a field, as a set does", function()
      if not ds.revocation_epoch then return end -- the C store's (memory has none)
      local u = assert(ds:create_user{ email = "swap-epoch@x.org" })
      local e0 = ds:revocation_epoch()
      assert.is_false(ds:swap_text(u, "mf_recovery_codes", "x", "y"))
      assert.equals(e0, ds:revocation_epoch())
      assert.is_true(ds:swap_text(u, "mf_recovery_codes", nil, "y"))
      assert.equals(e0 + 1, ds:revocation_epoch())
    end)

    it("groups changes in a transaction, all or nothing", function()
      local a, b = ds:transaction(function()
        local x = assert(ds:create_user{ email = "x1@x.org" })
        local y = assert(ds:create_user{ email = "x2@x.org" })
        return x.id, y.id
      end)
      assert.truthy(a and b)
      assert.has_error(function()
        ds:transaction(function()
          assert(ds:create_user{ email = "x3@x.org" })
          error("boom")
        end)
      end, "boom")
      assert.is_nil(ds:find_user{ email = "x3@x.org" })
      assert.equals(2, (ds:counts()))
      -- nested transactions join the outer one
      assert.has_error(function()
        ds:transaction(function()
          ds:transaction(function() assert(ds:create_user{ email = "x4@x.org" }) end)
          error("outer")
        end)
      end)
      assert.is_nil(ds:find_user{ email = "x4@x.org" })
    end)

    it("ends every session and token on deactivation, so enabling the account again revives none", function()
      local u = assert(ds:create_user{ email = "d@x.org", password = "$hash$" })
      local uq, tq = u.fs_uniquifier, u.fs_token_uniquifier
      assert.truthy(ds:create_session(u, "sid-a", clock.now + 3600))
      assert.truthy(ds:create_session(u, "sid-b", clock.now + 3600))
      assert.is_true(ds:deactivate_user(u))
      assert.is_true(ds:activate_user(u))
      assert.is_nil(ds:find_user_by_session("sid-a", uq)); assert.is_nil(ds:find_user_by_session("sid-b", uq))
      local again = ds:find_user{ id = u.id }
      assert.not_equals(uq, again.fs_uniquifier)
      assert.not_equals(tq or uq, again.fs_token_uniquifier or again.fs_uniquifier)
      -- toggle_active to inactive does the same
      assert.truthy(ds:create_session(again, "sid-c", clock.now + 3600))
      assert.is_true(ds:toggle_active(again))
      assert.is_false(again.active)
      assert.is_true(ds:toggle_active(again))
      assert.is_nil(ds:find_user_by_session("sid-c", again.fs_uniquifier))
    end)

    -- WebAuthn credentials (issue 26): bytes kept exactly (NUL, 0xFF),
    -- credential ids unique across users, names unique per user.
    local CID = "\0\1\255cred" .. string.rep("x", 60) .. "\0"
    local KEY = "\165\1\2\3\38\32\1\33\88\32" .. string.rep("\0", 32) .. "\255"
    local function wan(extra)
      local f = { credential_id = CID, public_key = KEY, sign_count = 5, transports = { "usb", "nfc" },
                  name = "Yubi", usage = "secondary", backup_state = false, device_type = "single_device" }
      for k, v in pairs(extra or {}) do f[k] = v end
      return f
    end

    it("keeps a user's WebAuthn handle: set once, found by it, unique", function()
      local u = assert(ds:create_user{ email = "wh@x.org" })
      local v = assert(ds:create_user{ email = "wh2@x.org" })
      assert.is_nil(u.fs_webauthn_user_handle)
      local h = assert(ds:set_webauthn_user_handle(u))
      assert.is_string(h); assert.truthy(#h >= 16 and #h <= 64)
      assert.equals(h, u.fs_webauthn_user_handle)
      -- only set when the user has none: a second call keeps it
      local stale = ds:find_user{ id = u.id }
      assert.equals(h, ds:set_webauthn_user_handle(stale))
      assert.equals(h, ds:set_webauthn_user_handle(u, "other-handle"))
      assert.equals(h, ds:find_user{ email = "wh@x.org" }.fs_webauthn_user_handle)
      assert.equals(u.id, ds:find_user_by_webauthn_handle(h).id)
      assert.is_nil(ds:find_user_by_webauthn_handle("no-such-handle"))
      assert.is_nil(ds:find_user_by_webauthn_handle(""))
      -- a browser's userHandle is any bytes: hostile ones find no one
      for _, bad in ipairs{ string.rep("h", 65), "\255\254", "a\0b", h .. "\0" } do
        local none, err = ds:find_user_by_webauthn_handle(bad)
        assert.is_nil(none); assert.is_nil(err)
      end
      -- an import's handle: taken by another user is refused
      local ok, _, code = ds:set_webauthn_user_handle(v, h)
      assert.is_nil(ok); assert.equals("EEXIST", code)
      ok, _, code = ds:set_webauthn_user_handle(v, string.rep("h", 65))
      assert.is_nil(ok); assert.equals("ETOOLONG", code)
      assert.is_nil(ds:find_user{ id = v.id }.fs_webauthn_user_handle)
      assert.equals("imported-handle", ds:set_webauthn_user_handle(v, "imported-handle"))
      assert.equals(v.id, ds:find_user_by_webauthn_handle("imported-handle").id)
      assert.has_error(function() ds:find_user_by_webauthn_handle(nil) end)
    end)

    it("keeps WebAuthn credentials: bytes exact, ids unique, names unique per user", function()
      local u = assert(ds:create_user{ email = "wc@x.org" })
      local v = assert(ds:create_user{ email = "wc2@x.org" })
      local h = assert(ds:set_webauthn_user_handle(u))
      local c = assert(ds:create_webauthn(u, wan{ user_handle = h }))
      assert.is_number(c.id)
      assert.equals(u.id, c.user_id)
      assert.equals(CID, c.credential_id)
      assert.equals(KEY, c.public_key)
      assert.equals(5, c.sign_count)
      assert.same({ "usb", "nfc" }, c.transports)
      assert.equals("Yubi", c.name)
      assert.equals("secondary", c.usage)
      assert.is_false(c.backup_state)
      assert.equals("single_device", c.device_type)
      assert.equals(h, c.user_handle)
      assert.equals(clock.now, c.create_datetime)
      assert.equals(clock.now, c.lastuse_datetime)
      assert.same(c, ds:find_webauthn(CID))
      assert.is_nil(ds:find_webauthn(CID:sub(1, -2))) -- a prefix is another id
      assert.is_nil(ds:find_webauthn("nope"))
      assert.is_nil(ds:find_webauthn(string.rep("x", 2000)))
      assert.is_nil(ds:find_webauthn(""))
      assert.is_nil(ds:find_webauthn(CID .. "\255"))
      -- one credential id, one credential, whoever registers it again
      local ok, reason, code = ds:create_webauthn(v, wan{ name = "Other" })
      assert.is_nil(ok); assert.equals("credential_id_in_use", reason); assert.equals("EEXIST", code)
      ok, reason, code = ds:create_webauthn(u, wan{ credential_id = "cid-2" })
      assert.is_nil(ok); assert.equals("name_in_use", reason); assert.equals("EEXIST", code)
      -- the same name for another user is fine
      clock.now = clock.now + 10
      local d = assert(ds:create_webauthn(v, wan{ credential_id = "cid-3", transports = {},
                                                  usage = "first", backup_state = true,
                                                  device_type = "multi_device" }))
      assert.same({}, d.transports)
      assert.is_true(d.backup_state)
      assert.equals("first", d.usage)
      local f = wan{ credential_id = "cid-4", name = "Phone" }
      f.transports, f.sign_count, f.backup_state, f.device_type = nil, nil, nil, nil -- optional
      local c2 = assert(ds:create_webauthn(u, f))
      assert.equals(0, c2.sign_count)
      assert.same({}, c2.transports)
      assert.is_false(c2.backup_state)
      assert.is_nil(c2.device_type)
      local list = assert(ds:webauthn_credentials(u))
      assert.equals(2, #list)
      assert.equals(c.id, list[1].id); assert.equals(c2.id, list[2].id) -- creation order
      assert.same(c, list[1])
      assert.same({}, ds:webauthn_credentials(assert(ds:create_user{ email = "wc3@x.org" })))
      assert.equals(u.id, ds:find_user_from_webauthn(c).id)
      assert.equals(v.id, ds:find_user_from_webauthn(d).id)
      -- an import keeps the source's dates
      local old = assert(ds:create_webauthn(u, wan{ credential_id = "cid-5", name = "Old",
                                                    create_datetime = 1000, lastuse_datetime = 2000 }))
      assert.equals(1000, old.create_datetime); assert.equals(2000, old.lastuse_datetime)
      local ok2, _, code2 = ds:create_webauthn(u, wan{ credential_id = "cid-6", name = "Frac", create_datetime = 1.5 })
      assert.is_nil(ok2); assert.equals("EINVAL", code2)
      assert.is_true(ds:delete_webauthn(c2))
      assert.is_false(ds:delete_webauthn(c2))
      assert.is_nil(ds:find_webauthn("cid-4"))
    end)

    it("refuses hostile WebAuthn fields and writes nothing", function()
      local u = assert(ds:create_user{ email = "wx@x.org" })
      for _, case in ipairs{
        { { usage = "primary" }, "EINVAL" },
        { { name = "" }, "EINVAL" },
        { { name = string.rep("n", 65) }, "ETOOLONG" },
        { { name = "a\nb" }, "EINVAL" },
        { { name = "\255" }, "EUTF8" },
        { { credential_id = "" }, "EINVAL" },
        { { credential_id = string.rep("c", 1024) }, "ETOOLONG" },
        { { public_key = "" }, "EINVAL" },
        { { public_key = string.rep("k", 2049) }, "ETOOLONG" },
        { { sign_count = 2 ^ 32 }, "EINVAL" },
        { { sign_count = -1 }, "EINVAL" },
        { { transports = { "usb,nfc" } }, "EINVAL" },
        { { transports = { "" } }, "EINVAL" },
        { { device_type = string.rep("d", 256) }, "ETOOLONG" },
        { { user_handle = string.rep("h", 65) }, "ETOOLONG" },
      } do
        local ok, _, code = ds:create_webauthn(u, wan(case[1]))
        assert.is_nil(ok, next(case[1]))
        assert.equals(case[2], code, next(case[1]))
      end
      assert.same({}, ds:webauthn_credentials(u))
      assert.has_error(function() ds:create_webauthn(u, wan{ credential_id = 5 }) end)
      assert.has_error(function() ds:create_webauthn(u, wan{ extensions = "{}" }) end)
      assert.has_error(function() ds:create_webauthn(u, "x") end)
      assert.has_error(function() ds:find_webauthn(nil) end)
      local gone = assert(ds:create_user{ email = "wgone@x.org" })
      assert.is_true(ds:delete_user(gone))
      local ok, _, code = ds:create_webauthn(gone, wan())
      assert.is_nil(ok); assert.equals("ENOTFOUND", code)
    end)

    it("records a WebAuthn use as a compare-and-set on the sign count read", function()
      local u = assert(ds:create_user{ email = "wu@x.org" })
      assert(ds:create_webauthn(u, wan()))
      -- two requests read the credential at count 5
      local a, b = assert(ds:find_webauthn(CID)), assert(ds:find_webauthn(CID))
      clock.now = clock.now + 30
      assert.is_true(ds:webauthn_used(a, 6))
      assert.equals(6, a.sign_count); assert.equals(clock.now, a.lastuse_datetime)
      -- the second, with the same count, finds it moved: no write
      assert.is_false(ds:webauthn_used(b, 6))
      assert.is_false(ds:webauthn_used(b, 7))
      assert.equals(5, b.sign_count)
      local now = assert(ds:find_webauthn(CID))
      assert.equals(6, now.sign_count); assert.equals(clock.now, now.lastuse_datetime)
      -- re-read, it goes on; an explicit time is kept
      assert.is_true(ds:webauthn_used(now, 9, clock.now + 5))
      assert.equals(clock.now + 5, ds:find_webauthn(CID).lastuse_datetime)
      local ok, _, code = ds:webauthn_used(now, 2 ^ 32)
      assert.is_nil(ok); assert.equals("EINVAL", code)
      assert.has_error(function() ds:webauthn_used(now, 1.5) end)
      assert.has_error(function() ds:webauthn_used({}, 10) end)
      assert.equals(9, ds:find_webauthn(CID).sign_count)
      -- a deleted credential is never used again
      assert.is_true(ds:delete_webauthn(now))
      assert.is_false(ds:webauthn_used(now, 10))
    end)

    it("drops WebAuthn keys at reset_user_access and user deletion, keeps them when deactivated", function()
      local u = assert(ds:create_user{ email = "wr@x.org" })
      local v = assert(ds:create_user{ email = "wr2@x.org" })
      local h = assert(ds:set_webauthn_user_handle(u))
      assert(ds:create_webauthn(u, wan()))
      assert(ds:create_webauthn(u, wan{ credential_id = "cid-r2", name = "Two" }))
      assert(ds:create_webauthn(v, wan{ credential_id = "cid-v" }))
      assert.is_true(ds:deactivate_user(u))
      assert.equals(2, #ds:webauthn_credentials(u))
      assert.equals(h, ds:find_user{ id = u.id }.fs_webauthn_user_handle)
      assert.is_true(ds:reset_user_access(u))
      assert.same({}, ds:webauthn_credentials(u))
      assert.is_nil(ds:find_webauthn(CID))
      assert.is_nil(u.fs_webauthn_user_handle)
      assert.is_nil(ds:find_user{ id = u.id }.fs_webauthn_user_handle)
      assert.is_nil(ds:find_user_by_webauthn_handle(h))
      assert.equals(1, #ds:webauthn_credentials(v)) -- another user's stay
      local h2 = assert(ds:set_webauthn_user_handle(u))
      assert.not_equals(h, h2)
      assert.is_true(ds:delete_user(v))
      assert.is_nil(ds:find_webauthn("cid-v"))
      -- a transaction that fails takes its credential back
      assert.has_error(function()
        ds:transaction(function()
          assert(ds:create_webauthn(u, wan{ credential_id = "cid-t" }))
          error("boom")
        end)
      end)
      assert.is_nil(ds:find_webauthn("cid-t"))
      assert.is_true(ds:webauthn_reset(u))
      assert.is_nil(ds:find_user{ id = u.id }.fs_webauthn_user_handle)
    end)

    it("rotates a uniquifier given as \"\" (Flask-Security takes any false value so)", function()
      local u = assert(ds:create_user{ email = "q@x.org" })
      local before = u.fs_uniquifier
      assert.is_true(ds:set_uniquifier(u, ""))
      assert.is_string(u.fs_uniquifier); assert.truthy(#u.fs_uniquifier > 10)
      assert.not_equals(before, u.fs_uniquifier)
      assert.is_true(ds:set_token_uniquifier(u, ""))
      assert.truthy(#u.fs_token_uniquifier > 10)
    end)

    it("takes times with a fraction as whole seconds and refuses NaN and infinities", function()
      local u = assert(ds:create_user{ email = "t@x.org", confirmed_at = 1000.9 })
      assert.equals(1000, ds:find_user{ id = u.id }.confirmed_at)
      assert.truthy(ds:create_session(u, "sid-f", clock.now + 60.5))
      for _, bad in ipairs{ 0 / 0, math.huge, -math.huge } do
        assert.has_error(function() ds:set_confirmed_at(u, bad) end)
        assert.has_error(function() ds:create_user{ email = "t2@x.org", confirmed_at = bad } end)
        assert.has_error(function() ds:create_session(u, "sid-g", bad) end)
        assert.has_error(function() ds:record_failed_login(u, bad) end)
      end
      assert.is_nil(ds:find_user{ email = "t2@x.org" })
      local ok, _, code = ds:create_session(u, "", clock.now + 60)
      assert.is_nil(ok); assert.equals("EINVAL", code)
      ok, _, code = ds:record_failed_login(u, -5)
      assert.is_nil(ok); assert.equals("EINVAL", code)
    end)
  end)
end

for name, make in pairs(IMPLEMENTATIONS) do conformance(name, make, " #quick") end

-- The same contract from the C store on a real PostgreSQL (issue 22),
-- started for this file; each test gets an empty database.
describe("datastore conformance on a real PostgreSQL", function()
  local postgres = require "spec.tools.postgres"
  if not postgres.present(it, pending) then return end
  local pg
  setup(function() pg = postgres.new() end)
  teardown(function() if pg then postgres.remove(pg) end end)
  conformance("postgresql", function(clock)
    assert(postgres.psql(pg, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    local ds = assert(require("fsec.datastore.sqlite").new{ path = pg.uri, clock = clock })
    assert.equals("postgresql", ds:backend())
    return ds
  end, "")
end)

-- The store now reads the second-factor fields back into users: what
-- signals and hooks get (auth.public_user) leaves their secrets out, as
-- it leaves the password hash out.
describe("the user that signals carry #quick", function()
  it("holds no password hash and no second-factor secret", function()
    local ds = assert(require("fsec.datastore.sqlite").new{ path = helpers.tmpfile("public-user.db") })
    local u = assert(ds:create_user{ email = "pub@x.org", password = "$hash$" })
    for _, f in ipairs{ "tf_primary_method", "tf_totp_secret", "us_totp_secrets", "mf_recovery_codes",
                        "tf_phone_number" } do
      assert.is_true(ds:set_field(u, f, f .. "-value"))
    end
    u = ds:find_user{ id = u.id }
    assert.equals("tf_totp_secret-value", u.tf_totp_secret)
    local p = require("fsec.auth").public_user(u)
    assert.equals(u.id, p.id)
    assert.equals("pub@x.org", p.email)
    assert.equals("tf_primary_method-value", p.tf_primary_method)
    assert.equals("tf_phone_number-value", p.tf_phone_number)
    for _, f in ipairs{ "password", "tf_totp_secret", "us_totp_secrets", "mf_recovery_codes" } do
      assert.is_nil(p[f], f)
    end
    ds:close()
  end)
end)
