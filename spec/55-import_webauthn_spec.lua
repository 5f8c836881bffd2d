-- Issue 26: `fsec import flask-security` brings WebAuthn keys (passkeys)
-- and users' fs_webauthn_user_handle along. Sources made by the real
-- library (Debian's python3-flask-security 5.1.2, its fsqla_v3 WebAuthn
-- model, which needs no py_webauthn to make the table), with keys made by
-- a small software authenticator (spec/peer/fs_make_db.py --webauthn:
-- P-256 and Ed25519 keys, COSE_Key CBOR by python3-fido2, an assertion
-- each key signed). Every field is compared with what the peer made: the
-- credential id and key bytes, count, transports, usage, name, handle,
-- dates. The command runs for real (bin/fsec, Lua 5.4); the library in
-- both runtimes; PostgreSQL as source and as target on a real server.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local postgres = require "spec.tools.postgres"
local cli_tool = require "spec.tools.fsec_cli"
local cjson = require "cjson"
local core = require "fsec.core"
local import = require "fsec.import"

local q = cli_tool.q

local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

-- A Flask-Security database with WebAuthn keys (table: the model's table
-- name; nil: Flask-SQLAlchemy's, web_authn), and what the peer made.
local function make_source(target, table_name)
  local out = peer.run("fs_make_db.py", { target, "salty", "--webauthn" .. (table_name and ("=" .. table_name) or "") })
  local ok, info = pcall(cjson.decode, out:match("(%b{})%s*$") or out)
  assert(ok and type(info) == "table", "python3-flask-security could not make the database: " .. out)
  return info
end

-- Every key and handle of info arrived in ds, byte for byte.
local function check_import(ds, info)
  for email, want in pairs(info.users) do
    local u = assert(ds:find_user{ email = email }, email)
    assert.equals(want.handle, u.fs_webauthn_user_handle, email)
    assert.equals(u.id, ds:find_user_by_webauthn_handle(want.handle).id)
    local creds = assert(ds:webauthn_credentials(u))
    assert.equals(#want.keys, #creds, email)
    for i, k in ipairs(want.keys) do
      local c = creds[i]
      assert.equals(unhex(k.credential_id), c.credential_id, k.name)
      assert.equals(unhex(k.public_key), c.public_key, k.name)
      assert.equals(k.sign_count, c.sign_count)
      assert.same(k.transports, c.transports)
      assert.equals(k.name, c.name)
      assert.equals(k.usage, c.usage)
      assert.equals(k.backup_state, c.backup_state)
      assert.equals(k.backup_state and "multi_device" or "single_device", c.device_type)
      assert.equals(want.handle, c.user_handle)
      assert.equals(import.epoch(k.create_datetime), c.create_datetime)
      assert.equals(import.epoch(k.lastuse_datetime), c.lastuse_datetime)
      assert.equals(u.id, ds:find_webauthn(c.credential_id).user_id)
      -- the key parses as the COSE key of its algorithm (when wan-core's
      -- binding is built in)
      if core.wan_key_alg then assert.equals(k.alg, (core.wan_key_alg(c.public_key))) end
    end
  end
  -- Too gives every user a handle: users without keys keep theirs too
  assert.is_string(ds:find_user{ email = "alice@example.com" }.fs_webauthn_user_handle)
end

-- webauthn on: the source's keys are second factors too (usage
-- "secondary"); without it an import is refused (below)
local function quiet() return { warn = false, say = function() end, config = { webauthn = true } } end

-- the same for the command (--config)
local function config_arg()
  local path = helpers.tmpfile("fsec-wan-config.lua")
  local f = assert(io.open(path, "w"))
  f:write(("return { secret_key = %q, password_salt = \"salty\", webauthn = true }"):format(cli_tool.KEY))
  f:close()
  return "--config " .. q(path) .. " "
end

describe("fsec import flask-security: WebAuthn keys from SQLite", function()
  if not peer.present(it, pending) then return end

  it("brings every key and handle (the command); a second run adds nothing", function()
    local src = helpers.tmpfile("fs-wan.db")
    local info = make_source(src)
    local db = helpers.tmpfile("wan-imported.db")
    local rc, out = cli_tool.run(db, config_arg() .. "import flask-security --json " .. q(src))
    assert.equals(0, rc, out)
    local summary = cjson.decode(out:match("(%b{})%s*$"))
    assert.equals(5, summary.users)
    assert.equals(2, summary.factors.webauthn)
    assert.equals(3, summary.factors.webauthn_keys)
    rc, out = cli_tool.run(db, config_arg() .. "import flask-security " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("imported 0 users (5 already present)", out, 1, true)
    local ds = assert(require("fsec.datastore.sqlite").new{ path = db })
    check_import(ds, info)
    ds:close()
    -- and the summary's line, in words
    db = helpers.tmpfile("wan-imported-2.db")
    rc, out = cli_tool.run(db, config_arg() .. "import flask-security --quiet " .. q(src))
    assert.equals(0, rc, out)
    assert.matches("WebAuthn: 2 imported users keep their 3 keys (passkeys)", out, 1, true)
  end)

  it("reads a model whose table is named webauthn (the library)", function()
    local src = helpers.tmpfile("fs-wan-named.db")
    local info = make_source(src, "webauthn")
    local ds = assert(require("fsec.datastore.sqlite").new{ path = helpers.tmpfile("wan-lib.db") })
    local summary = import.flask_security(ds, src, quiet())
    assert.equals(3, summary.factors.webauthn_keys)
    check_import(ds, info)
    ds:close()
  end)

  it("refuses a key fsec cannot keep, naming the user and the key, and imports nothing", function()
    local src = helpers.tmpfile("fs-wan-bad.db")
    make_source(src)
    -- a name with a control character (the command line prints names)
    assert.is_true(helpers.sh(("%s -c %s %s"):format(peer.PY, q("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
      .. " c.execute(\"UPDATE web_authn SET name = 'Yubi' || char(27) || '[2J' WHERE name = 'YubiKey 5'\"); c.commit()"),
      q(src))))
    local db = helpers.tmpfile("wan-refused.db")
    local rc, out = cli_tool.run(db, config_arg() .. "import flask-security --quiet " .. q(src))
    assert.equals(1, rc, out)
    assert.matches("user wendy@example.com: WebAuthn key 1: EINVAL: credential name has a control character;"
                   .. " nothing imported", out, 1, true)
    assert.is_nil(out:find("\27", 1, true))
    local ds = assert(require("fsec.datastore.sqlite").new{ path = db })
    assert.equals(0, (ds:counts()))
    ds:close()
  end)

  -- attack review (W2): with webauthn off (fsec's default; no --config),
  -- a user whose second factor was a key signed in with the password alone
  it("refuses users whose second factor is a key unless webauthn is on, and imports nothing", function()
    local src = helpers.tmpfile("fs-wan-off.db")
    make_source(src)
    local db = helpers.tmpfile("wan-off.db")
    local rc, out = cli_tool.run(db, "import flask-security --quiet " .. q(src))
    assert.equals(1, rc, out)
    assert.matches("users of the source have a WebAuthn key as their second factor", out, 1, true)
    assert.matches("nothing imported", out, 1, true)
    local ds = assert(require("fsec.datastore.sqlite").new{ path = db })
    assert.equals(0, (ds:counts()))
    ds:close()
    ds = assert(require("fsec.datastore.sqlite").new{ path = helpers.tmpfile("wan-off-lib.db") })
    local ok, err = pcall(import.flask_security, ds, src, { warn = false, say = function() end,
                                                          config = { webauthn = false } })
    assert.is_false(ok)
    assert.matches("this configuration has webauthn off", err, 1, true)
    assert.equals(0, (ds:counts()))
    ds:close()
  end)

  it("an imported key verifies an assertion its authenticator signed (core.wan_assert)", function()
    if not core.wan_assert then
      pending("core.wan_assert is wan-core's (bindings/lwan.c): not in this build")
      return
    end
    local src = helpers.tmpfile("fs-wan-assert.db")
    local info = make_source(src)
    local ds = assert(require("fsec.datastore.sqlite").new{ path = helpers.tmpfile("wan-assert.db") })
    import.flask_security(ds, src, quiet())
    for _, want in pairs(info.users) do
      for _, k in ipairs(want.keys) do
        local cred = assert(ds:find_webauthn(unhex(k.credential_id)))
        local a = k.assertion
        local hash = core.sha256(unhex(a.client_data_json))
        local res, why = core.wan_assert(cred.public_key, unhex(a.authenticator_data), hash, unhex(a.signature),
                                         info.rp_id, { require_uv = true })
        assert.is_table(res, k.name .. ": " .. tostring(why))
        assert.equals(k.sign_count + 1, res.sign_count)
        assert.is_true(ds:webauthn_used(cred, res.sign_count))
        -- a signature of another message does not verify with it
        local bad = unhex(a.signature)
        bad = bad:sub(1, -2) .. string.char((bad:byte(-1) + 1) % 256)
        assert.is_nil((core.wan_assert(cred.public_key, unhex(a.authenticator_data), hash, bad, info.rp_id, {})))
      end
    end
    ds:close()
  end)
end)

describe("fsec import flask-security: WebAuthn keys on a real PostgreSQL", function()
  if not peer.present(it, pending) then return end
  if not postgres.present(it, pending) then return end
  local pg
  setup(function() pg = postgres.new() end)
  teardown(function() if pg then postgres.remove(pg) end end)

  local schemas = 0
  local function schema()
    schemas = schemas + 1
    local name = "w" .. schemas
    assert(postgres.psql(pg, "CREATE SCHEMA " .. name))
    return pg.uri .. "&options=-csearch_path%3D" .. name
  end

  it("brings every key from a PostgreSQL source into SQLite (the library) and PostgreSQL (the command)", function()
    local src = schema()
    local info = make_source(src, "webauthn")
    local ds = assert(require("fsec.datastore.sqlite").new{ path = helpers.tmpfile("wan-from-pg.db") })
    local summary = import.flask_security(ds, src, quiet())
    assert.equals(3, summary.factors.webauthn_keys)
    check_import(ds, info)
    ds:close()
    local target = schema()
    local rc, out = cli_tool.run(target, config_arg() .. "import flask-security --json " .. q(src))
    assert.equals(0, rc, out)
    assert.equals(3, cjson.decode(out:match("(%b{})%s*$")).factors.webauthn_keys)
    ds = assert(require("fsec.datastore.sqlite").new{ path = target })
    assert.equals("postgresql", ds:backend())
    check_import(ds, info)
    ds:close()
  end)

  it("brings every key from a SQLite source into PostgreSQL (the library)", function()
    local src = helpers.tmpfile("fs-wan-to-pg.db")
    local info = make_source(src)
    local ds = assert(require("fsec.datastore.sqlite").new{ path = schema() })
    import.flask_security(ds, src, quiet())
    check_import(ds, info)
    ds:close()
  end)
end)
