-- Issue 24 §1a, the edge: examples/flask-edge run for real
-- (scripts/run-flask-edge.sh): a Flask-Security 5.1.2 app served by
-- gunicorn on loopback, behind Debian's nginx with fsec.openresty.protect
-- on /api/ and /dashboard. Users sign in with Flask; the auth token, the
-- session cookie and the remember cookie Flask made reach the protected
-- routes through fsec, which passes the user in X-Fsec-User-Id. What fsec
-- refuses never reaches Flask: gunicorn's access log is the proof.
-- Runs in the LuaJIT pass (nginx's Lua), with gunicorn and the peer.
local helpers = require "spec.helpers"
local example = require "spec.tools.example_app" -- free_port, poll, run, request
local peer = require "spec.tools.peer"

local read = helpers.read
local enabled = example.enabled and helpers.sh("command -v gunicorn >/dev/null") and peer.available()

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- Start the example in a fresh folder: { dir, base, pid, up, out, var }
-- once a request through nginx reaches Flask.
local function start()
  local dir = example.dir() .. "/edge"
  local port, up = example.free_port(), example.free_port()
  local out = dir .. ".out"
  -- one gunicorn worker: it logs a request before it takes the next, so
  -- once a request's line is in the log, every earlier one is too
  local pid = example.run(("FLASK_EDGE_WORKERS=1 setsid sh scripts/run-flask-edge.sh %s %d %d > %s 2>&1 & echo $!")
    :format(dir, port, up, out)):match("%d+")
  local app = { dir = dir, base = "http://127.0.0.1:" .. port, pid = pid, up = up, out = out,
                var = dir .. "/var" }
  local ok = example.poll(60, function()
    if not helpers.sh("kill -0 " .. pid .. " 2>/dev/null") then return "ended" end
    return helpers.sh(("curl -sf %s/healthz >/dev/null 2>&1"):format(app.base))
      and (read(out) or ""):find("stop: Ctrl-C", 1, true)
  end)
  if not ok or ok == "ended" then
    error("flask-edge did not start: " .. tostring(read(out)) .. tostring(read(dir .. "/logs/error.log"))
      .. tostring(read(dir .. "/logs/gunicorn.log")))
  end
  return app
end

--- Stop nginx (graceful QUIT): the script then stops gunicorn; both gone.
local function stop(app)
  local npid = (read(app.dir .. "/logs/nginx.pid") or ""):match("%d+")
  local gpid = (read(app.dir .. "/logs/gunicorn.pid") or ""):match("%d+")
  if npid then helpers.sh("kill -QUIT " .. npid .. " 2>/dev/null") end
  example.poll(10, function() return not helpers.sh("kill -0 " .. app.pid .. " 2>/dev/null") end)
  -- the script's own cleanup failed: its gunicorn, by the pid it wrote
  if gpid and helpers.sh("kill -0 " .. gpid .. " 2>/dev/null") then helpers.sh("kill " .. gpid) end
end

local function secret(app, name) return (read(app.var .. "/" .. name) or ""):match("^[^\n]*") end

-- A user's column in the app's database (read with a connection of the
-- test's own, read-only).
local function column(app, email, col)
  local env = require("luasql.sqlite3").sqlite3()
  local con = assert(env:connect("file:" .. app.var .. "/app.db?mode=ro"))
  local cur = assert(con:execute(("SELECT %s FROM user WHERE email = '%s'"):format(col, email)))
  local v = cur:fetch()
  cur:close()
  con:close()
  env:close()
  return v
end

-- A credential made outside the app (spec/peer/fs_edge_mint.py).
local function mint(kind, key, uq, age)
  local out = example.run(peer.command("fs_edge_mint.py", { kind, key, uq, age and tostring(age) or nil })
    .. " 2>/dev/null")
  return assert(out:match("^(%S+)"), "fs_edge_mint.py " .. kind .. " made nothing")
end

-- Lines of gunicorn's access log naming path (what reached Flask), for
-- method (GET).
local function flask_saw(app, path, method)
  local n = 0
  local log = read(app.dir .. "/logs/gunicorn-access.log") or ""
  for line in log:gmatch("[^\n]+") do
    if line:find('"' .. (method or "GET") .. " " .. path .. '"', 1, true) then n = n + 1 end
  end
  return n
end

-- A request that reaches Flask (/healthz), and its line in the log: the
-- log has everything gunicorn got before it.
local function settle(app)
  local before = flask_saw(app, "/healthz")
  assert.equals(200, example.request(app, { path = "/healthz" }).status)
  assert.truthy(example.poll(5, function() return flask_saw(app, "/healthz") > before end))
end

-- The request o, refused by fsec with status (401 unless given) and
-- never seen by Flask.
local function refused(app, o, status, why)
  settle(app) -- the requests before this one are all in the log
  local before = flask_saw(app, o.path, o.method)
  local r = example.request(app, o)
  assert.equals(status or 401, r.status, why)
  settle(app)
  assert.equals(before, flask_saw(app, o.path, o.method), (why or "") .. ": Flask saw the request")
  return r
end

-- GET path as a JSON client with these headers: the answer.
local function get(app, path, headers, extra)
  local h = { Accept = "application/json" }
  for k, v in pairs(headers or {}) do h[k] = v end
  local o = { path = path, headers = h }
  for k, v in pairs(extra or {}) do o[k] = v end
  return example.request(app, o)
end

local function cookie_of(r, name)
  for _, line in ipairs(r.set_cookie) do
    local v = line:match("^" .. name .. "=([^;]*)")
    if v and v ~= "" then return v end
  end
end

-- Sign in through Flask's JSON /login: the auth token.
local function json_login(app, email)
  local name = email:match("^[^@]+")
  local r = example.request(app, { method = "POST", path = "/login?include_auth_token",
    json = { email = email, password = secret(app, name .. "-password") } })
  assert.equals(200, r.status, r.body)
  return assert(r.json.response.user.authentication_token)
end

-- fsec verifies Flask's credentials (fsec.flask, issue 24 §1): until
-- then the tests that need it are pending, the rest run.
local flask_ok, flask = pcall(require, "fsec.flask")
flask_ok = flask_ok and type(flask) == "table" and type(flask.token_user) == "function"
local it_flask = flask_ok and it
  or function(name) pending(name .. " (needs fsec.flask's verification of Flask credentials)") end

-- Without nginx (the Lua 5.4 pass) pending; with nginx but without
-- gunicorn or the peer, a failure when the test command requires the
-- peer (FSEC_REQUIRE_PEER=1, as spec/tools/peer.lua), else pending.
local describe_or_pending = enabled and describe or function(name)
  if example.enabled and os.getenv("FSEC_REQUIRE_PEER") == "1" then
    describe(name, function()
      it("needs gunicorn and python3-flask-security", function() error("gunicorn or the peer is not installed") end)
    end)
  else
    pending(name .. " (LuaJIT pass with nginx, gunicorn and python3-flask-security)")
  end
end

describe_or_pending("a Flask-Security app behind nginx + fsec (examples/flask-edge)", function()
  local app, alice_token, session, remember

  setup(function()
    app = start()
    alice_token = json_login(app, "alice@example.com")
    -- the form: a browser's sign-in, remembered
    local r = example.request(app, { method = "POST", path = "/login", headers = { Accept = "text/html" },
      form = "email=alice%40example.com&password=" .. secret(app, "alice-password") .. "&remember=y" })
    assert.equals(302, r.status, r.body)
    session, remember = cookie_of(r, "session"), cookie_of(r, "remember_token")
    assert.truthy(session, "a session cookie")
    assert.truthy(remember, "a remember cookie")
  end)
  teardown(function()
    if app then stop(app) end
  end)

  it_flask("passes Flask's auth token, session cookie and remember cookie; Flask sees the user", function()
    local before = flask_saw(app, "/api/me")
    for what, headers in pairs{
      token = { ["Authentication-Token"] = alice_token },
      session = { Cookie = "session=" .. session },
      remember = { Cookie = "remember_token=" .. remember },
    } do
      local r = get(app, "/api/me", headers)
      assert.equals(200, r.status, what .. ": " .. r.body)
      assert.equals("alice@example.com", r.json.email, what)
      assert.same({ "admin" }, r.json.roles, what)
    end
    settle(app)
    assert.equals(before + 3, flask_saw(app, "/api/me"))
    -- a browser's page, with the session
    local page = example.request(app, { path = "/dashboard", headers = { Cookie = "session=" .. session } })
    assert.equals(200, page.status)
    assert.matches("Hello alice@example.com", page.body, 1, true)
  end)

  it_flask("checks roles at the edge: bob is no admin, refused before Flask", function()
    local bob = json_login(app, "bob@example.com")
    assert.equals(200, get(app, "/api/admin", { ["Authentication-Token"] = alice_token }).status)
    refused(app, { path = "/api/admin", headers = { Accept = "application/json", ["Authentication-Token"] = bob } },
      403, "bob at /api/admin")
    assert.equals("bob@example.com", get(app, "/api/me", { ["Authentication-Token"] = bob }).json.email)
  end)

  it("refuses, before Flask, no credential and forged, tampered or expired ones", function()
    local key = secret(app, "flask_secret_key")
    local other = ("k"):rep(64)
    local uq = column(app, "alice@example.com", "fs_token_uniquifier")
    local suq = column(app, "alice@example.com", "fs_uniquifier")
    -- the minter is right: with the app's key its token passes
    if flask_ok then
      assert.equals(200, get(app, "/api/me", { ["Authentication-Token"] = mint("token", key, uq) }).status)
    end
    local function flip(s, i)
      local c = s:sub(i, i)
      return s:sub(1, i - 1) .. (c == "A" and "B" or "A") .. s:sub(i + 1)
    end
    local cases = {
      ["no credential"] = {},
      ["a token signed with another key"] = { ["Authentication-Token"] = mint("token", other, uq) },
      ["a token's signature changed"] = { ["Authentication-Token"] = flip(alice_token, #alice_token - 3) },
      ["a token's payload changed"] = { ["Authentication-Token"] = flip(alice_token, 3) },
      ["a token past token_max_age"] = { ["Authentication-Token"] = mint("token", key, uq, 7200) },
      ["a session signed with another key"] = { Cookie = "session=" .. mint("session", other, suq) },
      ["a session cookie changed"] = { Cookie = "session=" .. flip(session, #session - 3) },
      ["a remember cookie of another key"] = { Cookie = "remember_token=" .. mint("remember", other, suq) },
      ["a remember cookie changed"] = { Cookie = "remember_token=" .. flip(remember, #remember - 3) },
      ["the user header alone"] = { ["X-Fsec-User-Id"] = "1" },
      ["the user header with an underscore"] = { ["X_Fsec_User_Id"] = "1" },
      ["the edge's header and the user's"] = { ["X-Fsec-Edge"] = "guess", ["X-Fsec-User-Id"] = "1" },
    }
    for why, headers in pairs(cases) do
      headers.Accept = "application/json"
      refused(app, { path = "/api/me", headers = headers }, 401, why)
    end
    -- a browser without a session is sent to Flask's sign-in page
    local r = refused(app, { path = "/dashboard", headers = { Accept = "text/html" } }, 302, "a browser")
    assert.matches("^/login", r.headers.location)
  end)

  it_flask("lets a write through with a token, and with a session only with a CSRF token", function()
    local r = example.request(app, { method = "POST", path = "/api/me", json = {},
                                     headers = { Accept = "application/json", ["Authentication-Token"] = alice_token } })
    assert.equals(200, r.status, r.body)
    assert.equals("alice@example.com", r.json.email)
    -- a session's write without any CSRF token stops at the edge
    r = refused(app, { method = "POST", path = "/api/me", json = {},
                       headers = { Accept = "application/json", Cookie = "session=" .. session } }, 400,
                "a session's POST without a CSRF token")
    assert.matches("CSRF", r.body)
  end)

  it_flask("passes a form POST signed in by Flask's session with Flask-WTF's token; Flask accepts it too", function()
    -- the page Flask renders for the session: a form with Flask-WTF's
    -- token, and the session cookie that now holds its csrf_token
    local page = example.request(app, { path = "/dashboard", headers = { Cookie = "session=" .. session } })
    assert.equals(200, page.status, page.body)
    local tok = assert(page.body:match('name="csrf_token" value="([^"]+)"'), page.body)
    local s2 = assert(cookie_of(page, "session"), "Flask stores the form's csrf_token in its session")
    local function post(cookie, form, headers)
      local h = { Accept = "text/html", Cookie = "session=" .. cookie }
      for k, v in pairs(headers or {}) do h[k] = v end
      return { method = "POST", path = "/dashboard", form = form, headers = h }
    end
    settle(app)
    local before = flask_saw(app, "/dashboard", "POST")
    local r = example.request(app, post(s2, "csrf_token=" .. tok .. "&note=hi"))
    assert.equals(200, r.status, r.body)
    assert.matches("Saved for alice@example.com: hi", r.body, 1, true)
    -- in the X-CSRFToken header, as a script sends it
    r = example.request(app, post(s2, "note=js", { ["X-CSRFToken"] = tok }))
    assert.equals(200, r.status, r.body)
    settle(app)
    assert.equals(before + 2, flask_saw(app, "/dashboard", "POST"))
    -- bob's page: his session and token
    local b = example.request(app, { method = "POST", path = "/login", headers = { Accept = "text/html" },
      form = "email=bob%40example.com&password=" .. secret(app, "bob-password") })
    local bpage = example.request(app, { path = "/dashboard",
                                         headers = { Cookie = "session=" .. assert(cookie_of(b, "session")) } })
    local btok = assert(bpage.body:match('name="csrf_token" value="([^"]+)"'), bpage.body)
    local bs2 = assert(cookie_of(bpage, "session"))
    assert.equals(200, example.request(app, post(bs2, "csrf_token=" .. btok)).status)
    -- refused before Flask: no token, a changed one, another session's
    -- token, a session without csrf_token (the sign-in's), a remember cookie
    local flipped = tok:sub(1, -4) .. (tok:sub(-3, -3) == "A" and "B" or "A") .. tok:sub(-2)
    for why, o in pairs{
      ["no token"] = post(s2, "note=x"),
      ["a changed token"] = post(s2, "csrf_token=" .. flipped .. "&note=x"),
      ["bob's token with alice's session"] = post(s2, "csrf_token=" .. btok .. "&note=x"),
      ["alice's token with bob's session"] = post(bs2, "csrf_token=" .. tok .. "&note=x"),
      ["a session without csrf_token"] = post(session, "csrf_token=" .. tok .. "&note=x"),
      ["the token with a remember cookie"] = { method = "POST", path = "/dashboard",
        form = "csrf_token=" .. tok, headers = { Accept = "text/html", Cookie = "remember_token=" .. remember } },
    } do
      refused(app, o, 400, why)
    end
  end)

  it_flask("replaces a user header a client sends with the user fsec authenticated", function()
    local bob = json_login(app, "bob@example.com")
    local r = get(app, "/api/me", { ["Authentication-Token"] = bob, ["X-Fsec-User-Id"] = "1" })
    assert.equals(200, r.status)
    assert.equals("bob@example.com", r.json.email)
  end)

  it("leaves Flask's sign-in reachable, and Flask refuses whoever bypasses nginx", function()
    assert.equals(200, example.request(app, { path = "/login", headers = { Accept = "text/html" } }).status)
    -- straight to gunicorn: no edge secret, whatever user header
    local bypass = example.run(("curl -s -o /dev/null -w '%%{http_code}' -H 'X-Fsec-User-Id: 1' %s")
      :format(q("http://127.0.0.1:" .. app.up .. "/api/me")))
    assert.equals("403", bypass)
    -- with the edge's secret but no user header, Flask's own session and
    -- token count for nothing on those routes: only fsec's word does
    local function direct(headers)
      local args = {}
      for k, v in pairs(headers) do args[#args + 1] = "-H " .. q(k .. ": " .. v) end
      return example.run(("curl -s -o /dev/null -w '%%{http_code}' %s %s"):format(table.concat(args, " "),
        q("http://127.0.0.1:" .. app.up .. "/api/me")))
    end
    local edge = secret(app, "edge_secret")
    assert.equals("401", direct{ ["X-Fsec-Edge"] = edge, Cookie = "session=" .. session })
    assert.equals("401", direct{ ["X-Fsec-Edge"] = edge, ["Authentication-Token"] = alice_token })
    assert.equals("401", direct{ ["X-Fsec-Edge"] = edge, ["X-Fsec-User-Id"] = "1x" })
    assert.equals("200", direct{ ["X-Fsec-Edge"] = edge, ["X-Fsec-User-Id"] = "1" }) -- why the secret stays secret
  end)

  it_flask("refuses a user deactivated in Flask within the cache's 2 s", function()
    local bob_token = json_login(app, "bob@example.com")
    assert.equals(200, get(app, "/api/me", { ["Authentication-Token"] = bob_token }).status)
    local owner = example.run("stat -c %U " .. q(app.var .. "/app.db")):match("%S+")
    local as = owner == "nobody" and "setpriv --reuid=nobody --regid=nogroup --clear-groups " or ""
    assert(helpers.sh(("cd %s/lib && FLASK_EDGE_VAR=%s %s/usr/bin/python3 app.py deactivate bob@example.com")
      :format(q(app.dir), q(app.var), as)))
    local t0 = os.time()
    -- meanwhile Flask's own check of `active` answers 401 too (its body
    -- {"error": ...}); what is waited for is fsec's refusal (its envelope)
    local by_fsec = example.poll(4, function()
      local r = get(app, "/api/me", { ["Authentication-Token"] = bob_token })
      return r.status == 401 and r.json and r.json.response ~= nil
    end)
    assert.is_true(by_fsec, "fsec still lets the deactivated user through")
    assert.is_true(os.time() - t0 <= 3, "refused after " .. (os.time() - t0) .. " s")
    refused(app, { path = "/api/me", headers = { Accept = "application/json",
                                                 ["Authentication-Token"] = bob_token } }, 401, "deactivated")
  end)
end)

-- fsec.flaskusers in nginx on PostgreSQL: the lookups run in nginx's
-- thread pool (fsec_db), never in the event loop, each in a read-only
-- transaction of its own (a change the app commits is seen); without the
-- pool they fail, and the caller denies.
local postgres = require "spec.tools.postgres"

describe_or_pending("fsec.flaskusers in nginx on PostgreSQL", function()
  if not postgres.present(it, pending) then return end
  local pg, dir, base

  local CONF = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
%s
daemon off;
master_process on;
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
thread_pool fsec_db threads=2 max_queue=64;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path tmp/body;
  proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi;
  scgi_temp_path tmp/scgi;
  lua_package_path "%s/?.lua;;";
  lua_package_cpath "%s/?.so;;";
  init_by_lua_block { URI = %q }
  server {
    listen 127.0.0.1:%d;
    location = /find {
      content_by_lua_block {
        local pool = ngx.var.arg_pool
        local users = require("fsec.flaskusers").new(nil, URI, { pool = pool, ttl = 0.001 })
        local u, err = users:find{ id = ngx.var.arg_id }
        ngx.say(require("cjson").encode{ email = u and u.email or false, active = u and u.active or false,
          roles = u and table.concat(u.roles, ",") or false, err = err or false,
          inline = users.reader.src ~= nil })
      }
    }
    location = /herd {
      content_by_lua_block {
        HERD = HERD or require("fsec.flaskusers").new(nil, URI, { ttl = 60 })
        HERD:flush()
        local before, threads, found = HERD.posted, {}, 0
        for i = 1, 20 do threads[i] = ngx.thread.spawn(function() return HERD:find{ id = "1" } end) end
        for i = 1, 20 do
          local ok, u = ngx.thread.wait(threads[i])
          if ok and u and u.email == "alice@example.com" then found = found + 1 end
        end
        ngx.say(require("cjson").encode{ found = found, posted = HERD.posted - before })
      }
    }
  }
}
]]

  setup(function()
    pg = postgres.new()
    assert(helpers.sh(peer.command("fs_make_db.py", { pg.uri, "salty" }) .. " >/dev/null 2>&1"))
    dir = example.dir()
    assert(helpers.sh(("mkdir -p %s/conf %s/logs %s/tmp"):format(dir, dir, dir)))
    local root = example.run("id -u"):match("%d+") == "0"
    local uri = postgres.uri_with_passfile(pg, dir .. "/var/pgpass")
    if root then assert(helpers.sh(("chown -R nobody:nogroup %s/var %s/logs %s/tmp"):format(dir, dir, dir))) end
    local port = example.free_port()
    base = "http://127.0.0.1:" .. port
    local f = assert(io.open(dir .. "/conf/nginx.conf", "w"))
    local lua, so = example.code_copy(dir) -- the workers may not enter the clone
    f:write(CONF:format(root and "user nobody nogroup;" or "", lua, so, uri, port))
    f:close()
    example.start_nginx(dir, base .. "/find")
  end)
  teardown(function()
    example.stop_nginx(dir)
    if pg then postgres.remove(pg) end
  end)

  local function find(query)
    local r = example.request({ dir = dir, base = base }, { path = "/find?" .. query })
    assert.equals(200, r.status, r.body)
    return require("cjson").decode(r.body)
  end

  it("looks users up in the thread pool, never in the event loop", function()
    local a = find("id=1")
    assert.equals("alice@example.com", a.email)
    assert.is_true(a.active)
    assert.equals("admin", a.roles)
    assert.is_false(a.inline, "the worker opened a connection of its own")
    assert.is_false(find("id=2").active)
    assert.is_false(find("id=99").email)
  end)

  it("sees what the app commits at the next lookup (no snapshot kept)", function()
    assert.is_true(find("id=3").active)
    assert(postgres.psql(pg, [[UPDATE "user" SET active = false WHERE id = 3]]))
    assert.is_false(find("id=3").active)
  end)

  it("shares one thread job among the lookups of one user at the same time", function()
    local r = example.request({ dir = dir, base = base }, { path = "/herd" })
    assert.equals(200, r.status, r.body)
    local got = require("cjson").decode(r.body)
    assert.equals(20, got.found)
    assert.equals(1, got.posted)
  end)

  it("denies when the pool is missing: no user, an error, nothing read inline", function()
    local r = find("id=1&pool=nope")
    assert.is_false(r.email)
    assert.matches("^EUNAVAILABLE", r.err)
    assert.is_false(r.inline)
  end)
end)
