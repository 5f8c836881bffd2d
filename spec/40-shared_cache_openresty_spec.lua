-- The cache's shared level (cache_dict) in the real nginx, two workers
-- over one lua_shared_dict: a token or session checked in one worker is
-- answered from the dict in the other, without reading the database; a
-- role change or a logout made in either worker is seen by both at once.
-- Each request is a new connection to a `reuseport` listener, so the
-- kernel spreads them over the workers; every answer names its worker.
-- Runs in the LuaJIT pass only (nginx's Lua is LuaJIT), not under ASan.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local example = require "spec.tools.example_app"

local PW = "correct horse battery"

local CONF = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
%s
daemon off;
master_process on;
worker_processes 2;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path tmp/body;
  proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi;
  scgi_temp_path tmp/scgi;
  lua_package_path "%s/?.lua;%s/lua/?.lua;;";
  lua_package_cpath "%s/?.so;;";
  lua_shared_dict fsec_cache 1m;
  init_by_lua_block {
    -- cache_ttl 60: a user cached stays a minute unless fsec writes
    require("fsec.openresty").init(require("spec_cfg"), { thread_pool = false, sync_thread_pool = false,
      argon2_process = false, metrics_dict = false, limit_dict = false, cache_ttl = 60, cache_l1_size = 16,
      guards = { tok = { auth = { "token" } } } })
  }
  init_worker_by_lua_block { require("fsec.openresty").init_worker() }
  server {
    listen 127.0.0.1:%d reuseport;
    underscores_in_headers on;
    default_type application/json;
    location = /who {
      access_by_lua_block { require("fsec.openresty").protect{ auth = { "token", "session" } } }
      content_by_lua_block {
        local u = ngx.ctx.fsec_user
        ngx.say(require("cjson").encode{ pid = ngx.worker.pid(), roles = table.concat(u.roles, ","),
                                         memory = require("fsec.openresty").memory() })
      }
    }
    # protect() inside the content handler: the user and how are what it
    # returns; it makes no ngx.ctx table (ctx: whether fsec_user is there)
    location = /inline {
      content_by_lua_block {
        local fo = require("fsec.openresty")
        local u, via = fo.protect("tok")
        local cu = fo.current_user()
        ngx.say(require("cjson").encode{ pid = ngx.worker.pid(), id = u.id, via = via,
                                         ctx = ngx.ctx.fsec_user ~= nil, current = cu.id })
      }
    }
    # admit(): protect()'s check for content that is not Lua; the id goes
    # upstream in X-User-Id and nothing is left in ngx.ctx (keys: what
    # the access phase put there; current: what current_user() answers)
    # (seen: every copy of the header, in any spelling: underscores are
    # kept here, and an upstream such as gunicorn reads X_User_Id as X-User-Id)
    location = /gate {
      access_by_lua_block { require("fsec.openresty").admit("tok", "X-User-Id") }
      content_by_lua_block {
        local keys = {}
        for k in pairs(ngx.ctx) do keys[#keys + 1] = k end
        table.sort(keys)
        local seen = {}
        for k, v in pairs(ngx.req.get_headers(0, true)) do
          if (k:lower():gsub("_", "-")) == "x-user-id" then seen[#seen + 1] = k .. "=" .. tostring(v) end
        end
        ngx.say(require("cjson").encode{ pid = ngx.worker.pid(), upstream = ngx.var.http_x_user_id,
                                         keys = table.concat(keys, ","), seen = table.concat(seen, ","),
                                         current = require("fsec.openresty").current_user().id })
      }
    }
    location = /gate-anon {
      access_by_lua_block { require("fsec.openresty").admit({ anonymous = true }, "X-User-Id") }
      content_by_lua_block {
        local seen = {}
        for k, v in pairs(ngx.req.get_headers(0, true)) do
          if (k:lower():gsub("_", "-")) == "x-user-id" then seen[#seen + 1] = k .. "=" .. tostring(v) end
        end
        ngx.say(require("cjson").encode{ pid = ngx.worker.pid(), seen = table.concat(seen, ",") })
      }
    }
    location = /admin {
      access_by_lua_block {
        require("fsec.openresty").protect{ auth = { "token", "session" }, roles_required = { "admin" } }
      }
      content_by_lua_block { ngx.say(require("cjson").encode{ pid = ngx.worker.pid() }) }
    }
    # fsec's own writes, made in whichever worker gets the request
    location = /demote {
      content_by_lua_block {
        local ds = require("fsec.openresty").security().datastore
        assert(ds:remove_role_from_user(assert(ds:find_user{ email = "l2@example.org" }), "admin"))
        ngx.say(require("cjson").encode{ pid = ngx.worker.pid() })
      }
    }
    # fsec's own log lines, made in a request whose path holds a secret
    location /logged/ {
      content_by_lua_block {
        local log = require("fsec.openresty").security()._log
        for _ = 1, 3 do log("error", "fsec: a line made in a request") end
        log("warn", "fsec: another line")
        ngx.say(require("cjson").encode{ pid = ngx.worker.pid() })
      }
    }
    location = /logout {
      content_by_lua_block {
        local fo = require("fsec.openresty")
        fo.security():logout_user(fo.request(), require("fsec.http").new_response())
        ngx.say(require("cjson").encode{ pid = ngx.worker.pid() })
      }
    }
  }
}
]]

local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

describe_or_pending("the shared cache in nginx, two workers", function()
  local dir, base, sec, user

  setup(function()
    dir = example.dir()
    assert(helpers.sh(("mkdir -p %s/conf %s/logs %s/tmp"):format(dir, dir, dir)))
    local db = dir .. "/var/l2.db"
    sec = helpers.new{ database = db }
    user = assert(sec.datastore:create_user{ email = "l2@example.org", password = sec:hash_password(PW) })
    assert(sec.datastore:create_role{ name = "admin" })
    assert(sec.datastore:create_role{ name = "editor" })
    assert(sec.datastore:add_role_to_user(user, "admin"))
    -- revocation_interval 60: the workers read the database's revocation
    -- epoch once a minute, not twice a second, so that the changes this
    -- spec makes behind fsec's back (they move the epoch, as another
    -- node's would) do not empty the cache during the test: they show
    -- what the dict answers. spec/23 and spec/24 hold the epoch's bound.
    local f = assert(io.open(dir .. "/spec_cfg.lua", "w"))
    f:write(("return { secret_key = %q, password_salt = %q, database = %q, "
             .. "password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } }, "
             .. "allow_weak_password_hash = true, revocation_interval = 60 }"):format(helpers.KEY, helpers.SALT, db))
    f:close()
    local port = example.free_port()
    base = "http://127.0.0.1:" .. port
    local root = example.run("id -u"):match("%d+") == "0"
    local cwd = os.getenv("PWD")
    local so = example.module_dir()
    f = assert(io.open(dir .. "/conf/nginx.conf", "w"))
    f:write(CONF:format(root and "user root root;" or "", dir, cwd, so, port))
    f:close()
    example.start_nginx(dir, base .. "/who")
  end)

  teardown(function()
    example.stop_nginx(dir)
    if sec then sec:close() end
  end)

  -- One GET on a new connection: status and decoded body.
  local function get(path, header)
    local p = assert(io.popen(("curl -s -w '\\n%%{http_code}' -H %q %s%s"):format(header, base, path)))
    local out = p:read("*a")
    p:close()
    local body, status = out:match("^(.*)\n(%d+)$")
    local ok, j = pcall(cjson.decode, body or "")
    return tonumber(status), ok and j or {}
  end

  -- GET path until a worker other than `not_pid` answers (40 tries):
  -- that answer's status and body, and every status seen before it.
  local function from_other(path, header, not_pid)
    local seen = {}
    for _ = 1, 40 do
      local st, j = get(path, header)
      if j.pid and j.pid ~= not_pid then return st, j, seen end
      if st ~= 200 and not j.pid then -- a denial names no worker: ask /who's
        return st, j, seen
      end
      seen[#seen + 1] = st
    end
    error("one worker answered every request")
  end

  -- /who until both workers have answered (at most 40 tries): the
  -- roles each one saw, by worker pid.
  local function roles_by_worker(header)
    local by, n = {}, 0
    for _ = 1, 40 do
      local st, j = get("/who", header)
      assert.equals(200, st)
      if not by[j.pid] then n = n + 1 end
      by[j.pid] = by[j.pid] or {}
      by[j.pid][j.roles] = true
      if n >= 2 then break end
    end
    assert.equals(2, n, "one worker answered every request")
    return by
  end

  it("answers a token checked in one worker from the dict in the other, then revokes it in both at once", function()
    local tok = "Authentication-Token: " .. sec:get_auth_token(user)
    local st, a = get("/who", tok)
    assert.equals(200, st); assert.equals("admin", a.roles)
    -- a change made behind fsec's back (no generation bump): only what
    -- reads the database sees it. The other worker, which never saw this
    -- token, answers with the roles the first one cached: from the dict.
    assert(sec.datastore:add_role_to_user(sec.datastore:find_user{ id = user.id }, "editor"))
    local st2, b = from_other("/who", tok, a.pid)
    assert.equals(200, st2)
    assert.equals("admin", b.roles, "the second worker read the database: no shared record")
    assert.is_true(b.memory.shared_cache_bytes > 0)
    -- a role change through fsec, in either worker: both deny at once
    assert.equals(200, (get("/demote", "X-N: 1")))
    for pid, seen in pairs(roles_by_worker(tok)) do assert.same({ editor = true }, seen, tostring(pid)) end
    for _ = 1, 8 do
      local s, j = get("/admin", tok)
      assert.equals(403, s, cjson.encode(j))
      local s2, w = get("/who", tok)
      assert.equals(200, s2); assert.equals("editor", w.roles)
    end
    assert(sec.datastore:add_role_to_user(sec.datastore:find_user{ id = user.id }, "admin"))
  end)

  it("answers protect() inside a content handler through its return value, without ngx.ctx", function()
    local tok = "Authentication-Token: " .. sec:get_auth_token(user)
    -- the whole check (the first request a worker sees), then cache hits
    for _ = 1, 8 do
      local st, j = get("/inline", tok)
      assert.equals(200, st)
      assert.equals(user.id, j.id); assert.equals("token", j.via)
      assert.is_false(j.ctx, "protect() made ngx.ctx in the content phase")
      assert.equals(user.id, j.current, "current_user() does not answer the user protect() let in")
    end
    -- a denial is answered (a client that takes no JSON: to the login page)
    -- and the handler never runs on
    local st, d = get("/inline", tok .. "x")
    assert.equals(302, st); assert.is_nil(d.id)
    -- in the access phase, the user is handed on in ngx.ctx (as /who reads it)
    local s2, w = get("/who", tok)
    assert.equals(200, s2); assert.is_string(w.roles)
  end)

  it("admits with the user id upstream and nothing in ngx.ctx; a forged token is refused", function()
    local t = sec:get_auth_token(user)
    local tok = "Authentication-Token: " .. t
    -- the whole check (the first request a worker sees), then cache hits;
    -- the client's own X-User-Id is replaced by the signed-in user's
    for i = 1, 8 do
      local p = assert(io.popen(("curl -s -w '\\n%%{http_code}' -H %q -H 'X-User-Id: 999' %s/gate"):format(tok, base)))
      local out = p:read("*a")
      p:close()
      local body, st = out:match("^(.*)\n(%d+)$")
      assert.equals("200", st, out)
      local j = cjson.decode(body)
      assert.equals(tostring(user.id), j.upstream, "the user id upstream")
      -- a hit leaves ngx.ctx empty; the whole check keeps only its request
      assert.is_true(j.keys == "" or j.keys == "fsec_req", "admit() published in ngx.ctx: " .. j.keys)
      assert.equals(user.id, j.current, "current_user() after admit() (request " .. i .. ")")
    end
    -- a forged token is refused before the content runs
    local st, d = get("/gate", tok .. "x")
    assert.equals(302, st); assert.is_nil(d.pid)
  end)

  -- attack review (W2): with underscores_in_headers on, a client's
  -- X_User_Id (or x-user_id) stayed beside fsec's X-User-Id, and WSGI and
  -- CGI upstreams read it as the same header (gunicorn saw "1,2")
  it("strips the client's user header in every spelling, signed in or anonymous", function()
    local tok = "Authentication-Token: " .. sec:get_auth_token(user)
    local function gate(path, headers)
      local args = {}
      for _, h in ipairs(headers) do args[#args + 1] = ("-H %q"):format(h) end
      local p = assert(io.popen(("curl -s %s %s%s"):format(table.concat(args, " "), base, path)))
      local out = p:read("*a")
      p:close()
      return cjson.decode(out)
    end
    for _ = 1, 4 do -- both workers; the whole check, then cache hits
      local j = gate("/gate", { tok, "X_User_Id: 999", "x-user_id: 998", "X-USER-ID: 997" })
      assert.equals("X-User-Id=" .. user.id, j.seen)
      j = gate("/gate-anon", { "X_User_Id: 999", "x-user_id: 998", "X-User-Id: 997" })
      assert.equals("", j.seen)
    end
  end)

  it("answers a session checked in one worker from the dict in the other; a logout ends it in both", function()
    local client = helpers.api(sec)
    assert.equals(200, client:call("POST", "/login", { email = "l2@example.org", password = PW }).status)
    local cookie = "Cookie: session=" .. client.jar.session
    local st, a = get("/who", cookie)
    assert.equals(200, st)
    local roles = a.roles
    assert(sec.datastore:remove_role_from_user(sec.datastore:find_user{ id = user.id }, "editor"))
    local st2, b = from_other("/who", cookie, a.pid)
    assert.equals(200, st2)
    assert.equals(roles, b.roles, "the second worker read the database: no shared record")
    -- the logout, in one worker: the session ends in both
    assert.equals(200, (get("/logout", cookie)))
    for _ = 1, 10 do assert.equals(302, (get("/who", cookie))) end -- to the login page
  end)

  -- nginx adds the request's line to a line logged in a request: a
  -- mailed link's token with it (/reset/<token>), for whoever reads
  -- error.log. fsec's own lines are written from a timer, each distinct
  -- one once with its count (attack review, W2).
  it("writes fsec's log lines without the request's line, repeats counted", function()
    local secret = "SECRET" .. math.random(1e9)
    assert.equals(200, (get("/logged/" .. secret, "X-Spec: 1")))
    local log
    assert.is_truthy(example.poll(5, function()
      log = helpers.read(dir .. "/logs/error.log") or ""
      return log:find("another line", 1, true) ~= nil
    end), "the lines were not written")
    assert.matches("fsec: a line made in a request (3 times)", log, 1, true)
    assert.is_nil(log:find(secret, 1, true), log)
  end)
end)
