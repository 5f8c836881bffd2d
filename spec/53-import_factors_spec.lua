-- Issue 23: `fsec import flask-security` keeps second factors. Sources
-- made by the real library (Debian's python3-flask-security 5.1.2,
-- spec/peer/fs_make_db.py --factors: users set up through its tf_set,
-- us_set, Totp factory and recovery-code calls); the user's ORIGINAL key
-- and a code computed from it with pyotp come from the peer, and the
-- imported secret is checked against that code with fsec.core.totp_match.
-- The command runs for real (bin/fsec, Lua 5.4); fsec.import.factors (the
-- parsing and decryption) is checked in both runtimes.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local cli_tool = require "spec.tools.fsec_cli"
local cjson = require "cjson"
local core = require "fsec.core"
local factors = require "fsec.import.factors"

local q = cli_tool.q

-- fsec's own keys for second factors (not the source's).
local FSEC_TOTP = { ["1"] = "fsec-own-totp-secret-for-spec-53" }

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

local function write(path, text, mode)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  assert(helpers.sh(("chmod %s %s"):format(mode or "600", q(path))))
  return path
end

-- fsec's configuration for the command (--config): the spec's salt, cheap
-- hashing, two-factor on with its totp_secrets (two_factor: false, off).
local function config_file(two_factor)
  return write(helpers.tmpfile("fsec-config.lua"), ([[
return { secret_key = %q, password_salt = "salty", totp_secrets = { ["1"] = %q },
         two_factor = %s, totp_issuer = "fsec-test", multi_factor_recovery_codes = true,
         password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
         allow_weak_password_hash = true }]]):format(cli_tool.KEY, FSEC_TOTP["1"], tostring(two_factor ~= false)))
end

-- The imported store, opened with the same configuration.
local function open(db)
  return helpers.new{ database = db, password_salt = "salty", secret_key = cli_tool.KEY, totp_secrets = FSEC_TOTP }
end

-- What fsec made of a sealed value: the raw key (fsec.otp).
local function unseal(sec, stored)
  return require("fsec.otp").unseal(sec.config, stored)
end

-- fsec's two-factor endpoints on the imported store, its clock at t.
local function tf_app(db, t)
  local clock = helpers.clock(t)
  local sec = helpers.new{ database = db, password_salt = "salty", secret_key = cli_tool.KEY, totp_secrets = FSEC_TOTP,
                           two_factor = true, totp_issuer = "fsec-test", multi_factor_recovery_codes = true,
                           clock = clock.fn, log = function() end }
  return sec, clock
end

-- The password step of a sign-in (the peer's users' passwords): the
-- client, and the answer.
local function password_step(sec, email)
  local c = helpers.api(sec)
  local res, r = c:call("POST", "/login", { email = email, password = email:match("^[^@]+") .. "-password" })
  assert.equals(200, res.status, res.body)
  return c, r
end

-- Does the stored secret give `code` at `t` (the peer's pyotp code)?
local function code_matches(sec, stored, code, t)
  local key = assert(unseal(sec, stored))
  return (core.totp_match(key, code, t)) ~= false
end

-- One SQL statement on a source database (Python's sqlite3 module).
local function sql(db, stmt)
  assert.is_true(helpers.sh(("%s -c %s %s %s"):format(peer.PY,
    q("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()"), q(db), q(stmt))))
end

local function fsec(db, args)
  return cli_tool.run(db, args)
end

-- The Flask-Security source with second factors, and what the peer says
-- of it (keys, each user's original key and a code).
local function make_source()
  local path = helpers.tmpfile("fs-factors.db")
  local out = peer.run("fs_make_db.py", { path, "salty", "--factors" })
  local ok, info = pcall(cjson.decode, out)
  assert(ok and type(info) == "table", "python3-flask-security could not make the database: " .. out)
  return path, info
end

local function key_files(info)
  local secrets = write(helpers.tmpfile("totp-secrets.json"), cjson.encode(info.totp_secrets))
  local keys = write(helpers.tmpfile("recovery-keys"), table.concat(info.recovery_keys, "\n") .. "\n")
  return secrets, keys
end

-- The attacker's check, whatever the options: no user who had a second
-- factor in the source is password-only here.
local function none_password_only(src, db)
  local p = assert(io.popen(("%s -c %s"):format(peer.PY, q(([[
import sqlite3
for (e,) in sqlite3.connect(%q).execute("SELECT email FROM user WHERE coalesce(tf_primary_method, '') != ''"):
    print(e)]]):format(src)))))
  local n = 0
  local ds = open(db).datastore
  for email in p:lines() do
    local u = ds:find_user{ email = email }
    if u then
      n = n + 1
      assert.is_string(u.tf_primary_method, email .. " imported without a second factor")
      assert.is_string(u.tf_totp_secret, email .. " imported without a secret")
    end
  end
  p:close()
  return n
end


describe("fsec.import.factors (passlib's TOTP JSON, Fernet recovery codes, the source's keys)", function()
  -- wave2.md §2.4, made by passlib with TOTP_SECRETS {"1": "my-totp-secret"}
  local WORKED = '{"enckey":{"c":14,"k":"JBIH4DMLLWL7GZTDQJN47CCTHBUTYEQJ","s":"IGUDKJUESDZP477P7XPQ","t":"1","v":1},'
    .. '"type":"totp","v":1}'

  it("decrypts passlib's encrypted form with the right tag's secret, and reads the plain form", function()
    local key, p = factors.totp_key(WORKED, { ["1"] = "my-totp-secret", ["2"] = "another" })
    assert.equals("4228656c6dadb5766eadf51e03a014624c8991b2", hex(key))
    assert.same({ alg = "sha1", digits = 6, period = 30 }, p)
    assert.equals("984129", core.totp_code(key, 1700000000))
    key = factors.totp_key('{"key":"IIUGK3DNVW2XM3VN6UPAHIAUMJGITENS","type":"totp","v":1}')
    assert.equals("4228656c6dadb5766eadf51e03a014624c8991b2", hex(key))
    key, p = factors.totp_key('{"alg":"sha256","digits":8,"key":"IIUGK3DNVW2XM3VN6UPAHIAUMJGITENS","type":"totp","v":1}')
    assert.equals(20, #key)
    assert.same({ alg = "sha256", digits = 8, period = 30 }, p)
    -- what fsec checks codes with: anything else is not kept
    local kind
    key, kind = factors.totp_key('{"alg":"sha256","key":"IIUGK3DNVW2XM3VN6UPAHIAUMJGITENS","type":"totp","v":1}', nil,
                                 { alg = "sha1", digits = 6, period = 30 })
    assert.is_nil(key); assert.equals("unsupported", kind)
  end)

  it("says why it cannot: no key for the tag, settings fsec lacks, or a malformed value", function()
    assert.same({ nil, "nokey", "encrypted, and no --totp-secrets given" }, { factors.totp_key(WORKED) })
    assert.equals("nokey", select(2, factors.totp_key(WORKED, { ["2"] = "my-totp-secret" })))
    for _, extra in ipairs{ '"digits":9,', '"digits":5,', '"period":60,', '"alg":"md5",' } do
      assert.equals("unsupported", select(2, factors.totp_key("{" .. extra .. WORKED:sub(2), { ["1"] = "x" })), extra)
    end
    for _, bad in ipairs{ "", "{", "[]", "null", '{"type":"totp","v":2}', '{"type":"hotp","v":1,"key":"AAAA"}',
                          '{"type":"totp","v":1}', '{"type":"totp","v":1,"key":"!!!"}',
                          '{"type":"totp","v":1,"key":"AAAA"}', -- 2 bytes: too short a key
                          '{"type":"totp","v":1,"digits":"6","key":"IIUGK3DNVW2XM3VN6UPAHIAUMJGITENS"}',
                          WORKED:gsub('"v":1}', '"v":2}', 1), WORKED:gsub('"t":"1"', '"t":"../x"'),
                          WORKED:gsub('"c":14', '"c":"14"'), WORKED:gsub('"c":14', '"c":0'),
                          string.rep(" ", factors.FIELD_MAX + 1) } do
      assert.equals("malformed", select(2, factors.totp_key(bad, { ["1"] = "my-totp-secret" })), bad:sub(1, 80))
    end
  end)

  it("never runs the PBKDF2 cost a hostile value asks for", function()
    local t0 = os.clock()
    local key, kind, why = factors.totp_key(WORKED:gsub('"c":14', '"c":40'), { ["1"] = "my-totp-secret" })
    assert.is_nil(key); assert.equals("malformed", kind)
    assert.matches("cost 40 is out of range", why, 1, true)
    assert.is_true(os.clock() - t0 < 1)
  end)

  it("opens Fernet recovery codes with the keys given, keeps plain ones, drops what no key opens", function()
    -- wave2.md §2.8's worked token: key bytes 00..1f, plaintext 3f9a-1c2b-77d0
    local token = "gAAAAABlU_EAAAAAAAAAAAAAAAAAAAAAAK7xDuuhadwkHbDBzbj97JVAFVk-gBSr7R1Mv2kp78XVg0rQSTdUnshcBSVHzAPP2w=="
    local key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    local other = "HxgZGhscHR4fEBESExQVFhcICQoLDA0ODwABAgMEBQY="
    local codes, dropped = factors.recovery_codes(token .. ",abcd-1234-ef00", { other, key })
    assert.same({ "3f9a-1c2b-77d0", "abcd-1234-ef00" }, codes); assert.equals(0, dropped)
    codes, dropped = factors.recovery_codes(token .. ",abcd-1234-ef00")
    assert.same({ "abcd-1234-ef00" }, codes); assert.equals(1, dropped)
    codes, dropped = factors.recovery_codes(token:sub(1, -5) .. "AAA=", { key }) -- forged: dropped, not kept
    assert.same({}, codes); assert.equals(1, dropped)
    assert.is_nil((factors.recovery_codes("abcd-1234-ef00,<script>", { key })))
    assert.is_nil((factors.recovery_codes(string.rep("a", factors.FIELD_MAX + 1))))
  end)

  it("reads the source's TOTP_SECRETS and recovery keys as passlib and Flask-Security take them", function()
    assert.same({ ["1"] = "old", ["2"] = "new" }, factors.parse_totp_secrets('{"1": "old", "2": "new"}'))
    assert.same({ ["1"] = "old", v2 = "new: with colon" },
                factors.parse_totp_secrets("# the app's keys\n1: old\n\n v2 :  new: with colon \n"))
    for _, bad in ipairs{ "", "\n# only a comment\n", "1 old", '{"a b": "x"}', '{"1": ""}', '{"1": 5}', "1: a\n1: b" } do
      local map, err = factors.parse_totp_secrets(bad)
      assert.is_nil(map, bad)
      assert.is_nil(err:find("old", 1, true))
    end
    local k = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    assert.same({ k, k }, factors.parse_recovery_keys(k .. "\n# rotated\n" .. k .. "\n"))
    assert.same({ k }, factors.parse_recovery_keys('["' .. k .. '"]'))
    local list, err = factors.parse_recovery_keys("not-a-key")
    assert.is_nil(list); assert.matches("key 1 is not a Fernet key", err, 1, true)
  end)
end)


local d = (not jit) and describe or function(name) pending(name .. " (Lua 5.4 pass)") end

d("fsec import flask-security with second factors (issue 23)", function()
  if not peer.present(it, pending) then return end

  it("keeps every second factor with the source's keys: codes from the original secrets match", function()
    local src, info = make_source()
    local secrets, keys = key_files(info)
    local db = helpers.tmpfile("factors.db")
    local rc, out = fsec(db, ("--config %s import flask-security --json --totp-secrets %s --recovery-keys %s %s")
      :format(q(config_file()), q(secrets), q(keys), q(src)))
    assert.equals(0, rc, out)
    local summary = cjson.decode(out:match("(%b{})%s*$"))
    assert.equals(8, summary.users)
    assert.same({ tf_kept = 4, tf_fresh = 0, tf_fallback = 0, tf_refused = 0, us_kept = 2, us_fresh = 0,
                  us_dropped = 0, us_refused = 0, codes_kept = 15, codes_dropped = 0, webauthn = 0,
                  webauthn_keys = 0 },
                summary.factors)
    local sec = open(db)
    local ds = sec.datastore
    for email, want in pairs(info.users) do
      local u = ds:find_user{ email = email }
      if want.method then
        assert.equals(want.method, u.tf_primary_method, email)
        -- sealed with fsec's keys: not the source's JSON, and the key is not in it
        assert.is_nil(u.tf_totp_secret:find("enckey", 1, true), email)
        assert.is_true(code_matches(sec, u.tf_totp_secret, want.code, want.now), email)
        assert.equals(want.key, core.base32_encode(unseal(sec, u.tf_totp_secret)), email)
        -- a code of another time step does not match at that time
        assert.is_false(code_matches(sec, u.tf_totp_secret, want.code, want.now + 3600), email)
      end
      assert.equals(want.phone, u.tf_phone_number, email)
    end
    assert.is_nil(ds:find_user{ email = "alice@example.com" }.tf_primary_method)
    -- and they sign in: the password, then the code of their own app (or
    -- a recovery code the source gave them, plain or Fernet-encrypted)
    local app = tf_app(db, info.users["erin@example.com"].now)
    for _, who in ipairs{ "erin", "ivan" } do
      local want = info.users[who .. "@example.com"]
      local c, r = password_step(app, who .. "@example.com")
      assert.is_true(r.tf_required, who)
      assert.is_false(app:current_user(c:req()).is_authenticated, who)
      local res = c:call("POST", "/tf-validate", { code = want.code })
      assert.equals(200, res.status, res.body)
      assert.is_true(app:current_user(c:req()).is_authenticated, who)
      c = password_step(app, who .. "@example.com")
      res = c:call("POST", "/mf-recovery", { code = want.codes[3] })
      assert.equals(200, res.status, res.body)
      assert.is_true(app:current_user(c:req()).is_authenticated, who)
    end
    assert.is_string(ds:find_user{ email = "heidi@example.com" }.us_totp_secrets)
    assert.equals(4, none_password_only(src, db))
  end)

  it("refuses the whole import without the source's keys, and names the remedy", function()
    local src, info = make_source()
    local db = helpers.tmpfile("nokeys.db")
    local rc, out = fsec(db, ("--config %s import flask-security --quiet %s"):format(q(config_file()), q(src)))
    assert.equals(1, rc, out)
    -- erin and ivan (two-factor authenticator), heidi (unified sign-in authenticator)
    assert.matches("3 users have an authenticator whose secret cannot be carried over (3 without the source's key",
                   out, 1, true)
    assert.matches("--tf-fallback email", out, 1, true)
    assert.matches("erin@example.com: the authenticator cannot be kept", out, 1, true)
    assert.is_nil(out:find(info.totp_secrets["1"], 1, true))
    assert.equals(0, (open(db).datastore:counts()))
    -- a key file without the old tag: ivan's secret (tag 1) is the one refused
    local only2 = write(helpers.tmpfile("only2.txt"), "2: " .. info.totp_secrets["2"] .. "\n")
    rc, out = fsec(db, ("--config %s import flask-security --quiet --totp-secrets %s %s"):format(
      q(config_file()), q(only2), q(src)))
    assert.equals(1, rc, out)
    assert.matches("1 users have an authenticator", out, 1, true)
    assert.matches("ivan@example.com: the authenticator cannot be kept: no key for its tag 1", out, 1, true)
    assert.equals(0, (open(db).datastore:counts()))
    -- and fsec's own keys are needed to seal anything
    rc, out = fsec(db, ("import flask-security --quiet --tf-fallback email %s"):format(q(src)))
    assert.equals(1, rc, out)
    assert.matches("needs fsec's own totp_secrets", out, 1, true)
    assert.equals(0, (open(db).datastore:counts()))
    -- and two-factor on here: off, fsec would never ask them for the second factor
    rc, out = fsec(db, ("--config %s import flask-security --quiet --tf-fallback email %s"):format(
      q(config_file(false)), q(src)))
    assert.equals(1, rc, out)
    assert.matches("this configuration has two_factor off: they would sign in with their password alone", out, 1, true)
    assert.equals(0, (open(db).datastore:counts()))
  end)

  it("with --tf-fallback email: codes by email instead, never password-only", function()
    local src, info = make_source()
    local db = helpers.tmpfile("fallback.db")
    local rc, out = fsec(db, ("--config %s import flask-security --quiet --tf-fallback email %s"):format(
      q(config_file()), q(src)))
    assert.equals(0, rc, out)
    assert.matches("two-factor: 0 users keep their method and secret, 2 keep their method with a fresh secret"
      .. " (codes by email or SMS: the secret never left the server), 2 moved to codes by email", out, 1, true)
    assert.matches("unified sign-in: 0 methods kept with their secret, 1 with a fresh secret (email, SMS),"
      .. " 1 authenticators dropped", out, 1, true)
    assert.matches("recovery codes: 5 kept (stored hashed or sealed), 10 dropped", out, 1, true)
    local sec = open(db)
    local ds = sec.datastore
    for _, who in ipairs{ "erin", "ivan", "frank" } do
      local u = ds:find_user{ email = who .. "@example.com" }
      assert.equals("email", u.tf_primary_method, who)
      assert.equals(20, #unseal(sec, u.tf_totp_secret), who)
    end
    local grace = ds:find_user{ email = "grace@example.com" }
    assert.equals("sms", grace.tf_primary_method); assert.equals("+15555550100", grace.tf_phone_number)
    assert.is_nil(grace.mf_recovery_codes) -- encrypted, no key given: dropped
    assert.equals(4, none_password_only(src, db))
    -- none of them signs in with the password alone; erin's old app no longer works
    local app = tf_app(db, info.users["erin@example.com"].now)
    for _, who in ipairs{ "erin", "ivan", "frank", "grace" } do
      local c, r = password_step(app, who .. "@example.com")
      assert.is_true(r.tf_required, who)
      assert.is_false(app:current_user(c:req()).is_authenticated, who)
    end
    local c = password_step(app, "erin@example.com")
    local res = c:call("POST", "/tf-validate", { code = info.users["erin@example.com"].code })
    assert.equals(400, res.status)
  end)

  it("refuses a hostile source clearly, writing nothing: malformed JSON, an absurd cost, a huge value", function()
    local src, info = make_source()
    local secrets, keys = key_files(info)
    local cases = {
      { "UPDATE user SET tf_totp_secret = '{\"enckey\":' WHERE email = 'erin@example.com'",
        "user erin@example.com: tf_totp_secret: not passlib's TOTP JSON" },
      { "UPDATE user SET tf_totp_secret = replace(tf_totp_secret, '\"c\":14', '\"c\":40')"
        .. " WHERE email = 'erin@example.com'", "enckey's cost 40 is out of range" },
      { "UPDATE user SET tf_totp_secret = replace(tf_totp_secret, '\"c\":14', '\"c\":40')"
        .. " WHERE email = 'frank@example.com'", "enckey's cost 40 is out of range" }, -- email: not silently fresh
      { "UPDATE user SET mf_recovery_codes = replace(hex(zeroblob(50000)), '0', 'a') WHERE email = 'erin@example.com'",
        "a value of the user table's mf_recovery_codes is 100000 bytes, over 65536" },
      { "UPDATE user SET us_totp_secrets = '[1,2]' WHERE email = 'heidi@example.com'",
        "user heidi@example.com: us_totp_secrets: not a JSON object" },
      { "UPDATE user SET tf_phone_number = '+1' || char(27) || '[2J' WHERE email = 'grace@example.com'",
        "user grace@example.com: tf_phone_number: not a phone number" },
    }
    for i, case in ipairs(cases) do
      local copy = helpers.tmpfile("hostile" .. i .. ".db")
      assert.is_true(helpers.sh(("cp %s %s"):format(q(src), q(copy))))
      sql(copy, case[1])
      local db = helpers.tmpfile("from-hostile" .. i .. ".db")
      local rc, out, secs = fsec(db, ("--config %s import flask-security --quiet --totp-secrets %s --recovery-keys %s %s")
        :format(q(config_file()), q(secrets), q(keys), q(copy)))
      assert.equals(1, rc, out)
      assert.matches(case[2], out, 1, true)
      assert.matches("nothing imported", out, 1, true)
      assert.is_nil(out:find("\27", 1, true))
      assert.is_true(secs < 30, case[1])
      assert.equals(0, (open(db).datastore:counts()), case[1])
    end
  end)

  it("reads the source's keys from private files only, never from the command line", function()
    local src, info = make_source()
    local secrets = key_files(info)
    assert.is_true(helpers.sh("chmod 640 " .. q(secrets)))
    local db = helpers.tmpfile("modes.db")
    local rc, out = fsec(db, ("--config %s import flask-security --quiet --totp-secrets %s %s"):format(
      q(config_file()), q(secrets), q(src)))
    assert.equals(1, rc, out)
    assert.matches("may be read by group or others (mode 640)", out, 1, true)
    rc, out = fsec(db, ("import flask-security --quiet --totp-secrets %s %s"):format(q(secrets .. ".none"), q(src)))
    assert.equals(1, rc, out); assert.matches("cannot read", out, 1, true)
    rc, out = fsec(db, ("import flask-security --quiet --tf-fallback sms %s"):format(q(src)))
    assert.equals(2, rc, out)
    assert.equals(0, (open(db).datastore:counts()))
  end)

  it("users show lists the factors set up (no secret), users tf-reset clears them and ends sessions", function()
    local src, info = make_source()
    local secrets, keys = key_files(info)
    local db = helpers.tmpfile("tfreset.db")
    local cfg = config_file()
    local rc, out = fsec(db, ("--config %s import flask-security --quiet --totp-secrets %s --recovery-keys %s %s")
      :format(q(cfg), q(secrets), q(keys), q(src)))
    assert.equals(0, rc, out)
    rc, out = fsec(db, ("--config %s users show grace@example.com"):format(q(cfg)))
    assert.equals(0, rc, out)
    assert.matches("two_factor:%s+sms\n", out)
    assert.matches("tf_phone:%s+%*+00\n", out)
    assert.matches("recovery_codes:%s+5\n", out)
    assert.is_nil(out:find("5555550100", 1, true))
    rc, out = fsec(db, ("--config %s users show heidi@example.com --json"):format(q(cfg)))
    assert.equals(0, rc, out)
    local shown = cjson.decode(out)
    assert.same({ "authenticator", "email" }, shown.factors.us_methods)
    assert.equals(cjson.null, shown.factors.two_factor)
    local sec = open(db)
    local erin = sec.datastore:find_user{ email = "erin@example.com" }
    local uq = erin.fs_uniquifier
    local c = helpers.client()
    local res = sec:new_response()
    assert(sec:login_user(c:req(), res, erin)); c:take(res)
    assert.is_true(sec:current_user(c:req()).is_authenticated)
    rc, out = fsec(db, "users tf-reset erin@example.com")
    assert.equals(0, rc, out)
    assert.matches("tf-reset: erin@example.com; sessions ended", out, 1, true)
    erin = sec.datastore:find_user{ email = "erin@example.com" }
    for _, col in ipairs{ "tf_primary_method", "tf_totp_secret", "tf_phone_number", "mf_recovery_codes" } do
      assert.is_nil(erin[col], col)
    end
    assert.not_equals(uq, erin.fs_uniquifier)
    -- the session made with both factors ends: the account is down to its password
    assert.is_false(sec:current_user(c:req()).is_authenticated)
    rc, out = fsec(db, ("--config %s users show erin@example.com"):format(q(cfg)))
    assert.equals(0, rc, out)
    assert.matches("two_factor:%s+none\n", out)
    rc, out = fsec(db, "users tf-reset nobody@example.com")
    assert.equals(1, rc, out)
  end)
end)
