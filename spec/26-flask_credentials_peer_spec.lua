-- Issue 24 section 1, deployment (b): a Flask-Security app's database is
-- imported into fsec (`fsec import flask-security`, through fsec.import),
-- and the auth token, session cookie and remember cookie the real
-- Flask-Security (Debian's python3-flask-security 5.1.2) handed out
-- through its JSON /login keep signing the user in, through fsec's own
-- request authentication, until fsec revokes them. The other token forms
-- (3.0, Too 3.x, Too 5.4) are built by spec/peer/fs_creds.py with the
-- libraries those versions used. Also: Flask-Security accepts the token
-- sec:flask_auth_token mints.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local cjson = require "cjson"

local KEY = "flask-secret-key-of-the-app"
local OLD = "the-app-s-previous-secret-key"

-- The peer's database and credentials, made once per run.
local made
local function creds()
  if made then return made end
  local db = helpers.tmpfile("flask-creds.db")
  local out = peer.run("fs_creds.py", { db, KEY, OLD })
  local ok, t = pcall(cjson.decode, out)
  assert(ok and type(t) == "table", "fs_creds.py printed: " .. out)
  t.db = db
  made = t
  return t
end

-- fsec on a fresh store into which the peer's database was imported; its
-- clock at the time the credentials were made.
local function imported(extra)
  local c = creds()
  local path = helpers.tmpfile("fsec-imported.db")
  local ds = assert(require("fsec.datastore.sqlite").new{ path = path })
  local lines = {}
  local summary = require("fsec.import").flask_security(ds, c.db, { warn = false,
    say = function(l) lines[#lines + 1] = l end })
  assert.equals(1, summary.users, table.concat(lines, "\n"))
  ds:close()
  local t = { now = c.now + 5 }
  local cfg = { database = path, flask_secret_key = KEY, clock = function() return t.now end,
                log = function() end, changeable = true }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  local sec = helpers.new(cfg)
  return sec, sec.datastore:find_user{ email = "alice@example.com" }, t
end

local function who(sec, req)
  local u = sec:current_user(req)
  if not u.is_authenticated then return nil end
  return u.email, sec:authn_via(req)
end
local function token_req(tok) return helpers.request{ headers = { ["authentication-token"] = tok } } end
local function cookie_req(name, v) return helpers.request{ cookies = { [name] = v } } end

describe("Flask-Security 5.1.2's credentials after the import", function()
  if not peer.present(it, pending) then return end

  it("keep the user's fs_uniquifier and fs_token_uniquifier", function()
    local c = creds()
    local _, alice = imported()
    assert.equals(c.users.alice.fs_uniquifier, alice.fs_uniquifier)
    assert.equals(c.users.alice.fs_token_uniquifier, alice.fs_token_uniquifier)
  end)

  it("sign in: the token, session and remember cookie of its /login, and Too's other token forms", function()
    local c = creds()
    local sec = imported()
    assert.same({ "alice@example.com", "token" }, { who(sec, token_req(c.token)) })
    assert.same({ "alice@example.com", "token" }, { who(sec, helpers.request{ query = { auth_token = c.token } }) })
    assert.same({ "alice@example.com", "session" }, { who(sec, cookie_req("session", c.session)) })
    assert.same({ "alice@example.com", "session" }, { who(sec, cookie_req("remember_token", c.remember)) })
    assert.equals("alice@example.com", who(sec, token_req(c.token54)))
    assert.equals("alice@example.com", who(sec, token_req(c.token3x)))
    -- every tag of Flask's tagged JSON beside _user_id
    assert.equals("alice@example.com", who(sec, cookie_req("session", c.session_tagged)))
  end)

  it("read the session's fs_paa as the time of the sign-in", function()
    local c = creds()
    local sec, _, t = imported()
    local function fresh(within)
      return (sec:check(cookie_req("session", c.session_tagged), { auth = { "session" }, within = within }))
    end
    assert.is_true(fresh(60)) -- fs_paa is now - 30.25, the clock now + 5
    assert.is_false(fresh(30))
    t.now = c.now + 3600
    assert.is_false(fresh(60))
  end)

  it("are refused when expired, from the future, of another salt or key, or tampered with", function()
    local c = creds()
    local sec = imported{ token_max_age = 3600 }
    assert.equals("alice@example.com", who(sec, token_req(c.token)))
    assert.is_nil(who(sec, token_req(c.token_old)))      -- two hours old
    assert.is_nil(who(sec, token_req(c.token_future)))   -- issued in an hour
    assert.is_nil(who(sec, token_req(c.token54_expired)))
    assert.is_nil(who(sec, token_req(c.token_wrong_salt)))
    assert.is_nil(who(sec, token_req(c.token_old_key)))
    assert.is_nil(who(sec, cookie_req("session", c.session_old))) -- 32 days old
    assert.is_nil(who(sec, cookie_req("remember_token", c.remember_upper)))
    for _, v in ipairs{ c.token, c.session } do
      local i = #v - 30
      local t = v:sub(1, i - 1) .. (v:sub(i, i) == "A" and "B" or "A") .. v:sub(i + 1)
      assert.is_nil(who(sec, token_req(t)))
      assert.is_nil(who(sec, cookie_req("session", t)))
    end
    -- the old key verifies once it is a fallback; no age limit without token_max_age
    sec = imported{ flask_secret_key_fallbacks = { OLD } }
    assert.equals("alice@example.com", who(sec, token_req(c.token_old_key)))
    assert.equals("alice@example.com", who(sec, token_req(c.token_old)))
    assert.equals("alice@example.com", who(sec, token_req(c.token_future)))
  end)

  for _, case in ipairs{
    { "/change", function(sec)
        local cl = helpers.api(sec)
        assert.equals(200, (cl:call("POST", "/login", { email = "alice@example.com",
                                                          password = "alice-password-1" })).status)
        assert.equals(200, (cl:call("POST", "/change", { password = "alice-password-1",
          new_password = "alice-new-password-2", new_password_confirm = "alice-new-password-2" })).status)
      end },
    { "reset_user_access", function(sec, alice) assert.truthy(sec.datastore:reset_user_access(alice)) end },
    { "deactivation", function(sec, alice) assert.truthy(sec.datastore:deactivate_user(alice)) end },
  } do
    it("are revoked by " .. case[1], function()
      local c = creds()
      local sec, alice = imported()
      assert.equals("alice@example.com", who(sec, token_req(c.token)))
      case[2](sec, alice)
      for _, tok in ipairs{ c.token, c.token54, c.token3x } do assert.is_nil(who(sec, token_req(tok))) end
      assert.is_nil(who(sec, cookie_req("session", c.session)))
      assert.is_nil(who(sec, cookie_req("remember_token", c.remember)))
    end)
  end
end)

describe("Flask-Security 3.0's forms (flask_user_id = 'id')", function()
  if not peer.present(it, pending) then return end

  it("sign in by the token's id and passlib hash_data; a new password ends the token", function()
    local c = creds()
    local sec, alice = imported{ flask_user_id = "id" }
    -- a fresh store gives alice the id she had; the hash pins her anyway
    assert.equals(c.users.alice.id, alice.id)
    assert.same({ "alice@example.com", "token" }, { who(sec, token_req(c.token30)) })
    assert.equals("alice@example.com", who(sec, token_req(c.token30_md5)))
    -- id-named cookies need the Flask app's own ids (flask_users): after
    -- an import the ids are fsec's, and one could name someone else
    assert.is_nil(who(sec, cookie_req("session", c.session30)))
    assert.is_nil(who(sec, cookie_req("remember_token", c.remember30)))
    -- the uniquifier is no id now
    assert.is_nil(who(sec, cookie_req("session", c.session)))
    assert.truthy(sec.datastore:set_password(alice, sec:hash_password("alice-new-password-3")))
    assert.is_nil(who(sec, token_req(c.token30)))
    assert.is_nil(who(sec, token_req(c.token30_md5)))
  end)
end)

describe("Flask-Security 3.0's token with a cache (set_cache)", function()
  if not peer.present(it, pending) then return end

  it("runs its hash_data check once, and again for a new stored hash", function()
    local c = creds()
    local sec, alice = imported{ flask_user_id = "id" }
    local store = { data = {} }
    function store.get(self, k) return self.data[k] end
    function store.set(self, k, v) self.data[k] = v end
    local gen = 0
    sec:set_cache{ tokens = store, users = { get = store.get, set = store.set, data = {} }, ttl = 3600,
                   generation = function() return gen end, invalidate = function() gen = gen + 1 end }
    local before = sec:hash_count()
    assert.equals("alice@example.com", who(sec, token_req(c.token30)))
    assert.equals(before + 1, sec:hash_count())
    assert.equals("alice@example.com", who(sec, token_req(c.token30)))
    assert.equals(before + 1, sec:hash_count())
    assert.truthy(sec.datastore:set_password(alice, sec:hash_password("alice-new-password-3")))
    before = sec:hash_count()
    assert.is_nil(who(sec, token_req(c.token30)))
    assert.equals(before + 1, sec:hash_count())
  end)
end)

describe("sec:flask_auth_token", function()
  if not peer.present(it, pending) then return end

  it("mints a token Flask-Security 5.1.2 itself accepts, and one it refuses once revoked", function()
    local c = creds()
    local sec, alice = imported()
    local tok = sec:flask_auth_token(alice)
    local function flask_says(t)
      return cjson.decode(peer.run("fs_creds.py", { c.db, KEY, OLD, "--check", t }))
    end
    assert.same({ status = 200, email = "alice@example.com" }, flask_says(tok))
    -- change a character inside the signature: the last one carries padding
    -- bits that base64 decoders ignore, so changing it may leave the MAC whole
    local c5 = tok:sub(-5, -5)
    assert.equals(401, flask_says(tok:sub(1, -6) .. (c5 == "A" and "B" or "A") .. tok:sub(-4)).status)
    -- fsec's token for another key is refused by Flask as well
    local other = helpers.new{ database = helpers.tmpfile("other.db"), flask_secret_key = OLD }
    assert.equals(401, flask_says(other:flask_auth_token(alice)).status)
  end)
end)
