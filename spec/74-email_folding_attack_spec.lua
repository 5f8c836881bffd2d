-- Issue 19 item 11, attacked through the real nginx example: email
-- identities fold as mail systems do. A squatter must not be able to take
-- (or block) bob@strasse.de by registering bob@straße.de, nor register
-- admin@example.org under another spelling of the same domain (ideographic
-- full stop, fullwidth dots, a root dot, punycode); and a database written
-- by the previous folding code is re-folded at start, refusing by name
-- the rows that would merge.
local helpers = require "spec.helpers"
local core = require "fsec.core"
local example = require "spec.tools.example_app"

local PW = "battery staple 19"
local SS = "\u{DF}"      -- ß
local IDEO = "\u{3002}"  -- ideographic full stop
local FULL = "\u{FF0E}"  -- fullwidth full stop
local HALF = "\u{FF61}"  -- halfwidth ideographic full stop

local function register(email, password)
  return { "POST", "/register", { email = email, password = password, password_confirm = password } }
end

-- Each group is one identity (spellings, and a password of its own): of
-- all its spellings sent at once, twice each, from separate clients,
-- exactly one registration succeeds; the others are told the address is
-- taken.
local function assert_one_per_identity(app, groups)
  local reqs, group_of = {}, {}
  for g, group in ipairs(groups) do
    for _ = 1, 2 do
      for _, email in ipairs(group.spellings) do
        reqs[#reqs + 1] = register(email, group.password)
        group_of[#reqs] = g
      end
    end
  end
  local won = {}
  for i, r in ipairs(example.answered(app, reqs)) do
    local g = group_of[i]
    if r.status == 200 then
      won[g] = (won[g] or 0) + 1
    else
      assert.equals(400, r.status, reqs[i][3].email)
      assert.matches("already associated", r.response.field_errors.email[1], 1, true)
    end
  end
  for g, group in ipairs(groups) do
    assert.equals(1, won[g], "accounts for " .. group.spellings[1])
  end
end

-- What /login answers for an email and password: "in" (signed in, with
-- the account's stored email), "unconfirmed" (the password is this
-- account's, which is not confirmed yet), "wrong password", "unknown".
local function login_as(app, email, password)
  local a = example.answered(app, { { "POST", "/login", { email = email, password = password } } })[1]
  local s, r = a.status, a.response
  if s == 200 then return "in", r.user.email end
  local fe = r and r.field_errors or {}
  if fe.email and fe.email[1] == "Email requires confirmation." then return "unconfirmed" end
  if fe.password and fe.password[1] == "Invalid password" then return "wrong password" end
  if fe.email and fe.email[1]:find("does not exist", 1, true) then return "unknown" end
  error(("login %s: %s %s"):format(email, tostring(s), require("cjson").encode(r or {})))
end

-- A database as fsec left it before this change: schema 4 (the SQL of
-- migrations 1-4) and email_norm keys from NFKC + full case folding.
local OLD_SCHEMA = [[
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL,
  email_norm TEXT NOT NULL UNIQUE, username TEXT, username_norm TEXT UNIQUE,
  password TEXT, active INTEGER NOT NULL DEFAULT 1, confirmed_at INTEGER,
  fs_uniquifier TEXT NOT NULL UNIQUE, fs_token_uniquifier TEXT UNIQUE,
  last_login_at INTEGER, current_login_at INTEGER, last_login_ip TEXT,
  current_login_ip TEXT, login_count INTEGER NOT NULL DEFAULT 0,
  tf_primary_method TEXT, tf_totp_secret TEXT, tf_phone_number TEXT,
  us_totp_secrets TEXT, us_phone_number TEXT UNIQUE,
  fs_webauthn_user_handle TEXT UNIQUE, mf_recovery_codes TEXT,
  create_datetime INTEGER NOT NULL, update_datetime INTEGER NOT NULL);
CREATE TABLE roles (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  description TEXT, permissions TEXT NOT NULL DEFAULT '',
  update_datetime INTEGER NOT NULL);
CREATE TABLE roles_users (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, role_id)) WITHOUT ROWID;
CREATE INDEX roles_users_role ON roles_users(role_id);
ALTER TABLE users ADD COLUMN failed_login_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN failed_login_window INTEGER;
CREATE TABLE sessions (id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX sessions_user_expiry ON sessions(user_id, expires_at);
]]

-- rows: { {id, email, old key}, ... } -> the app folder holding the file
local function old_database(rows)
  local dir = example.dir()
  local sql = { OLD_SCHEMA }
  for _, r in ipairs(rows) do
    sql[#sql + 1] = ("INSERT INTO users (id, email, email_norm, fs_uniquifier, confirmed_at,"
      .. " create_datetime, update_datetime) VALUES (%d, '%s', '%s', 'uq%d', 1, 1, 1);")
      :format(r[1], r[2], r[3], r[1])
  end
  sql[#sql + 1] = "PRAGMA user_version = 4;"
  local f = assert(io.open(dir .. "/old.sql", "w"))
  f:write(table.concat(sql, "\n"))
  f:close()
  assert(helpers.sh(("sqlite3 %s/var/auth.db < %s/old.sql"):format(dir, dir)))
  return dir
end

local function sql1(db, query)
  local p = io.popen(("sqlite3 %s %q"):format(db, query))
  local out = p:read("*a")
  p:close()
  return out
end

-- Many registrations from one address at once: the example's throttle
-- (per address, W19-04) would answer most with 429; this spec is about
-- folding, so its apps run without it.
local NO_THROTTLE = "FSEC_THROTTLE=off"

local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

describe_or_pending("W19-11 email identity folding, attacked through nginx", function()
  it("W19-11: bob@straße.de and bob@strasse.de register as two accounts; every other spelling of each collides, sent at once", function()
    example.with_app({ workers = 2, env = NO_THROTTLE }, function(app)
      local SZ, SS_PW, L1, L2 = "ß-domain pass", "ss-domain pass", "ß-local pass", "ss-local pass"
      assert_one_per_identity(app, {
        { password = SZ, spellings = { "bob@stra" .. SS .. "e.de", "BOB@STRA" .. SS .. "E.DE", "bob@xn--strae-oqa.de",
                                       "Bob@XN--STRAE-OQA.de.", "bob@stra" .. SS .. "e" .. IDEO .. "de" } },
        { password = SS_PW, spellings = { "bob@strasse.de", "BOB@STRASSE.DE", "bob@strasse.de.",
                                          "bob@strasse" .. FULL .. "de" } },
        -- the same pair in the local part: two mailboxes for mail systems
        { password = L1, spellings = { "stra" .. SS .. "e@example.org", "STRA" .. SS .. "E@EXAMPLE.ORG" } },
        { password = L2, spellings = { "strasse@example.org", "Strasse@Example.org" } },
      })
      -- each spelling reaches its own account, told apart by its password
      assert.equals("unconfirmed", login_as(app, "bob@xn--strae-oqa.de", SZ))
      assert.equals("wrong password", login_as(app, "bob@xn--strae-oqa.de", SS_PW))
      assert.equals("unconfirmed", login_as(app, "bob@strasse.de", SS_PW))
      assert.equals("wrong password", login_as(app, "bob@strasse.de", SZ))
      assert.equals("unconfirmed", login_as(app, "STRA" .. SS .. "E@example.org", L1))
      assert.equals("wrong password", login_as(app, "stra" .. SS .. "e@example.org", L2))
      assert.equals("unconfirmed", login_as(app, "strasse@example.org", L2))
      -- one confirmation mail per account, each to a spelling of its own
      local keys = {}
      for _, m in ipairs(example.mails(app)) do keys[#keys + 1] = assert(core.fold_email(m.to)) end
      table.sort(keys)
      assert.same({ "bob@strasse.de", "bob@xn--strae-oqa.de", "strasse@example.org", "stra" .. SS .. "e@example.org" }, keys)
      -- whatever spelling won, the address stored and mailed to is the
      -- normalized one (no odd dots, no root dot, the domain's U-labels)
      for _, m in ipairs(example.mails(app)) do
        local domain = m.to:match("@(.*)$")
        assert.is_true(domain == "stra" .. SS .. "e.de" or domain == "strasse.de" or domain == "example.org", m.to)
      end
      local r = example.answered(app, { register("Carol@Example" .. FULL .. "COM" .. IDEO, PW) })[1]
      assert.equals(200, r.status)
      local to = {}
      for _, m in ipairs(example.mails(app)) do to[m.to] = true end
      assert.is_true(to["Carol@example.com"])
    end)
  end)

  it("W19-11: admin@example.org。 (and other dots, a root dot, capitals) signs in as the admin and cannot be registered", function()
    example.with_app({ workers = 2, env = NO_THROTTLE }, function(app)
      local pw = example.admin_password(app)
      for _, email in ipairs{ "admin@example.org" .. IDEO, "admin@example" .. IDEO .. "org",
                              "ADMIN@EXAMPLE" .. HALF .. "ORG", "admin@example" .. FULL .. "org", "admin@example.org." } do
        local state, stored = login_as(app, email, pw)
        assert.equals("in", state, email)
        assert.equals("admin@example.org", stored)
      end
      local reqs = {}
      for _, email in ipairs{ "admin@example.org" .. IDEO, "Admin@Example" .. IDEO .. "org", "admin@example.org.",
                              "admin@EXAMPLE" .. HALF .. "org" .. IDEO } do
        for _ = 1, 3 do reqs[#reqs + 1] = register(email, PW) end
      end
      for i, r in ipairs(example.answered(app, reqs)) do
        assert.equals(400, r.status, reqs[i][3].email)
        assert.matches("already associated", r.response.field_errors.email[1], 1, true)
      end
      assert.equals(0, #example.mails(app))
    end)
  end)

  it("W19-11: domains IDNA refuses get a clear error, not an account", function()
    example.with_app({ env = NO_THROTTLE }, function(app)
      local reqs = {}
      for _, email in ipairs{ "a@\u{1F4A9}.la", "a@xn--zz.de", "a@a\u{200D}b.com", "a@" .. ("x"):rep(64) .. ".com",
                              "a@example.org..", "a@under_score.com" } do
        reqs[#reqs + 1] = register(email, PW)
      end
      for i, r in ipairs(example.answered(app, reqs)) do
        assert.equals(400, r.status, reqs[i][3].email)
        assert.same({ "Invalid email address" }, r.response.field_errors.email, reqs[i][3].email)
      end
      assert.equals(0, #example.mails(app))
    end)
  end)

  it("W19-11: a database of the previous folding is re-folded at start: the ß account no longer squats strasse", function()
    local dir = old_database{ { 1, "Bob@Stra" .. SS .. "e.de", "bob@strasse.de" },
                              { 2, "stra" .. SS .. "e@example.org", "strasse@example.org" } }
    example.with_app({ dir = dir, env = NO_THROTTLE }, function(app)
      local db = app.dir .. "/var/auth.db"
      assert.equals("bob@xn--strae-oqa.de\nstra" .. SS .. "e@example.org\n",
                    sql1(db, "SELECT email_norm FROM users WHERE id IN (1, 2) ORDER BY id"))
      local res = example.answered(app, { register("bob@strasse.de", PW), register("strasse@example.org", PW),
                                         register("bob@xn--strae-oqa.de", PW), register("STRA" .. SS .. "E@example.org", PW) })
      assert.same({ 200, 200, 400, 400 }, { res[1].status, res[2].status, res[3].status, res[4].status })
    end)
  end)

  it("W19-11: rows the new folding would merge stop the start, named, and the database is left as it was", function()
    local dir = old_database{ { 1, "admin@example.org", "admin@example.org" },
                              { 2, "Admin@Example.org" .. IDEO, "admin@example.org" .. IDEO } }
    local db = dir .. "/var/auth.db"
    local before = sql1(db, "SELECT id, email, email_norm FROM users ORDER BY id; PRAGMA user_version;")
    -- bounded: a start that wrongly succeeds runs nginx in the foreground
    local port = example.free_port()
    local ok = helpers.sh(("timeout -k 5 20 sh scripts/serve-example.sh %s %d 1 > %s.out 2>&1"):format(dir, port, dir))
    local out = helpers.read(dir .. ".out")
    assert.is_false(ok, out)
    assert.matches("users 1 <admin@example.org> and 2 <Admin@Example.org" .. IDEO .. "> are one email", out, 1, true)
    assert.equals(before, sql1(db, "SELECT id, email, email_norm FROM users ORDER BY id; PRAGMA user_version;"))
    assert.matches("\n4\n$", before)
  end)
end)
