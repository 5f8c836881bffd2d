-- The security catalogue (§7 of the reference), row by row: the checks
-- that no other spec makes. Every test name starts with its row id;
-- docs/catalogue.md maps each row to its tests (here and elsewhere) and
-- spec/check-catalogue.sh checks that the names it cites exist.
-- This file: 7.9 faults (and K- rows), 7.10 signals.
local helpers = require "spec.helpers"
local ep = require "spec.tools.endpoint_app"

local PW = ep.PW
local LUA = jit and "luajit" or "lua5.4"
local setup = ep.setup_for("cat.db", "keep")
local api, mails, path_of = helpers.api, helpers.mails, helpers.path_of
local read = helpers.read

------------------------------------------------------------------------
-- 7.9 Faults; K- rows
------------------------------------------------------------------------

describe("catalogue 7.9 faults #quick", function()
  it("F-04: a read-only database file fails loudly at start, never silently read-only or in memory", function()
    local db = helpers.tmpfile("ro.db")
    local sec = helpers.new{ database = db }
    sec:close()
    assert.is_true(helpers.sh("chmod 444 " .. db .. " && chmod a+rx " .. helpers.tmpdir()))
    local lib = helpers.tmpdir() .. "/lib-f04"
    local so = package.searchpath("fsec.core", package.cpath)
    assert.is_true(helpers.sh(("mkdir -p %s/fsec && cp -r lua/. %s/ && cp %s %s/fsec/core.so && chmod -R a+rX %s")
      :format(lib, lib, so, lib, lib)))
    local script = ("package.path=%q; package.cpath=%q; local ok, sec = pcall(require('fsec').new, "
      .. "{ secret_key = string.rep('k', 32), password_salt = 's', database = %q }); "
      .. "if not ok then io.write('refused: ', sec) return end "
      .. "local u, err = sec.datastore:create_user{ email = 'w@x.org' } "
      .. "io.write(u and 'wrote' or ('opened, write failed: ' .. tostring(err)))")
      :format(lib .. "/?.lua;" .. package.path, lib .. "/?.so;" .. package.cpath, db)
    local prefix = helpers.sh("[ $(id -u) -eq 0 ]") and "setpriv --reuid=nobody --regid=nogroup --clear-groups " or ""
    local p = io.popen(prefix .. LUA .. " -e " .. ("%q"):format(script) .. " 2>&1")
    local out = p:read("*a")
    p:close()
    assert.matches("^refused: fsec.new: database: E%u+:", out)
  end)

  it("K-03: fsec serves no management endpoint; the example app listens on loopback only", function()
    local sec = setup{ url_prefix = "" }
    for _, path in ipairs{ "/admin", "/users", "/roles", "/api/users", "/fsec", "/manage", "/metrics" } do
      assert.is_nil(sec:handle(helpers.request{ path = path }), path)
    end
    local conf = read("examples/openresty/nginx.conf.in")
    for listen in conf:gmatch("listen%s+([^;]+);") do
      assert.matches("^127%.0%.0%.1:", listen)
    end
  end)
end)

------------------------------------------------------------------------
-- 7.10 Signals
------------------------------------------------------------------------

describe("catalogue 7.10 signals #quick", function()
  it("G-01: each flow sends its signal once, with the user, and no password or token anywhere in signals or logs", function()
    local sec, _, _, maildir, logs = setup{ confirmable = true, trackable = true, login_without_confirmation = false }
    local got = {}
    local secrets = { PW, "battery staple", "a-new-password", "changed-password", "wrong-guess" }
    local function scan(v, depth)
      if depth > 6 then return end
      if type(v) == "string" then
        for _, s in ipairs(secrets) do assert.is_nil(v:find(s, 1, true), "secret in a signal: " .. s) end
        assert.is_nil(v:find("^%$argon2"), "hash in a signal")
      elseif type(v) == "table" then
        for k, x in pairs(v) do scan(k, depth + 1); scan(x, depth + 1) end
      end
    end
    for name in pairs(require("fsec.signals").NAMES) do
      sec:connect(name, function(ev)
        got[name] = (got[name] or 0) + 1
        scan(ev, 0)
        if ev.user then assert.is_not_nil(ev.user.id, name) end
      end)
    end
    local function count(name) return got[name] or 0 end
    local c = api(sec)
    c:call("POST", "/login", { email = "matt@example.com", password = "wrong-guess" })
    assert.equals(1, count("user_failed_authn"))
    c:call("POST", "/login", { email = "matt@example.com", password = PW })
    assert.equals(1, count("user_authenticated"))
    local u = sec.datastore:find_user{ email = "matt@example.com" }
    assert.equals(1, u.login_count); assert.equals("192.0.2.10", u.current_login_ip)
    assert.is_number(u.current_login_at)
    c:call("POST", "/change", { password = PW, new_password = "changed-password", new_password_confirm = "changed-password" })
    assert.equals(1, count("password_changed"))
    -- Flask-Security signs the user in again on a change (authn_via "change")
    assert.equals(2, count("user_authenticated"))
    c:call("POST", "/logout")
    local r = api(sec)
    r:call("POST", "/register", { email = "g01@example.com", password = "battery staple", password_confirm = "battery staple" })
    assert.equals(1, count("user_registered"))
    local link
    for _, m in ipairs(mails(maildir)) do if m.to == "g01@example.com" then link = path_of(m.link) end end
    helpers.follow(sec, link)
    assert.equals(1, count("user_confirmed"))
    r:call("POST", "/reset", { email = "g01@example.com" })
    assert.equals(1, count("reset_password_instructions_sent"))
    for _, m in ipairs(mails(maildir)) do if m.kind == "reset" then link = path_of(m.link) end end
    r:call("POST", link, { password = "a-new-password", password_confirm = "a-new-password" })
    assert.equals(1, count("password_reset"))
    assert.equals(2, count("user_authenticated")) -- nothing else signed in
    scan(logs, 0)
  end)
end)
