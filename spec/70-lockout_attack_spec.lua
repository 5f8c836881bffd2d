-- Issue 19, items 1, 2, 3 and 8 (login): the lockout and the metered
-- password check attacked as an attacker would, from outside the process:
-- parallel curl clients against the example app in a real nginx with two
-- workers. What the guesses really cost is read from the example's
-- verification log (FSEC_EXAMPLE_VERIFY_LOG=1: one line per password
-- checked against a real stored hash, by any path).
-- Runs in the LuaJIT pass only (nginx's Lua is LuaJIT), not under ASan.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local example = require "spec.tools.example_app"

local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

local http, api, with_app, median = example.http, example.api, example.with_app, example.median
local read = helpers.read

local THRESHOLD = 10 -- login_lockout_threshold's default, as the example runs it
local ADMIN = "admin@example.org"

-- The environment that starts the example with the verification log and
-- these extra fsec settings, and cheap hashes: what is counted here is
-- how many checks run, not what each costs (and a timing difference of a
-- write stands out of a hash of 1 ms, not of 300 ms on a loaded machine).
-- The throttle is off (FSEC_THROTTLE=off) and the hashing queue long
-- (FSEC_THREAD_QUEUE, FSEC_THREAD_WAIT): the lockout must hold by itself,
-- against an attacker with as many addresses as guesses, when every guess
-- reaches the check (a short queue sheds most of a storm with 503, and
-- then too few guesses are checked to lock the account).
-- no_log: without the verification log (its write would make a real
-- check slower than a dummy one, which the timing test must not see).
local function env(settings, no_log)
  local t = { password_hash_options = { argon2 = { time_cost = 1, memory_cost = 1024 } },
              allow_weak_password_hash = true }
  for k, v in pairs(settings or {}) do t[k] = v end
  local s = cjson.encode(t):gsub("'", "'\\''")
  return (no_log and "" or "FSEC_EXAMPLE_VERIFY_LOG=1 ") .. "FSEC_THROTTLE=off FSEC_THREAD_QUEUE=256 FSEC_THREAD_WAIT=120 FSEC_EXAMPLE_CONFIG='" .. s .. "'"
end

-- Real password verifications so far.
local function verifications(app)
  local n = 0
  for _ in (read(app.dir .. "/var/verify.log") or ""):gmatch("verify\n") do n = n + 1 end
  return n
end

-- curl config quoting: a double-quoted string with \ and " escaped.
local function q(s) return '"' .. s:gsub('[\\"]', "\\%0") .. '"' end

-- Run `procs` curl processes at once, each sending its requests with up
-- to 50 in parallel; request(i) gives the curl config lines of the i-th
-- request. Returns the count of each status, and how many were refused
-- (a 4xx; a 503 when the hashing queue is full is refused too).
local function storm(app, procs, per_proc, request)
  local cmds = {}
  for p = 1, procs do
    local cfg = {}
    for i = 1, per_proc do
      local lines = request((p - 1) * per_proc + i)
      lines[#lines + 1] = 'output = "/dev/null"'
      lines[#lines + 1] = 'write-out = "%{http_code}\\n"'
      cfg[#cfg + 1] = table.concat(lines, "\n")
    end
    local file = ("%s.storm%d"):format(app.dir, p)
    local f = assert(io.open(file, "w"))
    f:write(table.concat(cfg, "\nnext\n"), "\n")
    f:close()
    cmds[#cmds + 1] = ("curl -s --parallel --parallel-max 50 -K %s > %s.out 2>/dev/null &"):format(file, file)
  end
  assert(helpers.sh(table.concat(cmds, " ") .. " wait"))
  local counts = {}
  for p = 1, procs do
    for code in (read(("%s.storm%d.out"):format(app.dir, p)) or ""):gmatch("(%d%d%d)\n") do
      counts[code] = (counts[code] or 0) + 1
    end
  end
  local refused = 0
  for code, n in pairs(counts) do
    if code:match("^4") or code == "503" then refused = refused + n end
  end
  return counts, refused
end

-- A JSON login of the anonymous client c (its CSRF token and cookie jar)
-- as curl config lines.
local bodies = 0
local function login_lines(app, c, email, password)
  bodies = bodies + 1
  local body = ("%s.login-%d.json"):format(app.dir, bodies)
  local f = assert(io.open(body, "w"))
  f:write(cjson.encode{ email = email, password = password })
  f:close()
  return { "url = " .. q(app.base .. "/login"), 'request = "POST"',
           'header = "Content-Type: application/json"', 'header = "Accept: application/json"',
           "header = " .. q("X-CSRF-Token: " .. c.csrf), "cookie = " .. q(c.jar),
           "data-binary = " .. q("@" .. body) }
end

local function basic_lines(app, path, email, password)
  return { "url = " .. q(app.base .. path), 'header = "Accept: application/json"',
           "user = " .. q(email .. ":" .. password) }
end

local function jar(app, name) return app.dir .. "." .. name .. ".jar" end

-- The status of a JSON GET of /change with HTTP Basic credentials.
local function basic_get(app, email, password)
  return (http(app, "GET", "/change", { headers = { Accept = "application/json",
    Authorization = "Basic " .. require("fsec.core").base64_encode(email .. ":" .. password) } }))
end

local function unescape(s)
  return (s:gsub("&quot;", '"'):gsub("&#39;", "'"):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&amp;", "&"))
end

-- The forms of an HTML page: { action, inputs = { { name, type, value,
-- autocomplete } } }.
local function forms_of(html)
  local out = {}
  for attrs, inner in html:gmatch("<form([^>]*)>(.-)</form>") do
    local f = { action = unescape(attrs:match('action="([^"]*)"') or ""), inputs = {} }
    for tag in inner:gmatch("<input([^>]*)>") do
      local function attr(n) local v = tag:match(n .. '="([^"]*)"'); return v and unescape(v) end
      f.inputs[#f.inputs + 1] = { name = attr("name"), type = attr("type"), value = attr("value"),
                                  autocomplete = attr("autocomplete") }
    end
    out[#out + 1] = f
  end
  return out
end

-- Every endpoint path fsec routes (its *_url settings, as fsec.views'
-- route table reads them), from fsec's own configuration: no list kept
-- by hand, so an endpoint added later is enumerated too.
local function endpoint_paths()
  local cfg = require("fsec").new(helpers.config())._cfg
  local paths = {}
  for k, v in pairs(cfg) do
    if k:match("_url$") and type(v) == "string" and v:sub(1, 1) == "/" then
      paths[#paths + 1] = cfg.url_prefix .. v
    end
  end
  table.sort(paths)
  return paths
end

-- The forms, over every endpoint page as each client sees it, that take
-- the current password (an input autocomplete="current-password").
local function password_forms(app, clients)
  local found = {}
  for _, path in ipairs(endpoint_paths()) do
    for _, c in ipairs(clients) do
      local status, _, body = http(app, "GET", path, { jar = c.jar, headers = { Accept = "text/html" } })
      if status == 200 then
        for _, f in ipairs(forms_of(body)) do
          for _, i in ipairs(f.inputs) do
            if i.autocomplete == "current-password" then
              found[#found + 1] = { client = c, path = path, form = f }
              break
            end
          end
        end
      end
    end
  end
  return found
end

-- A form's fields filled in as its owner would: the account's email, the
-- right current password, a new password where one is asked for.
local function fill(form, email, password)
  local t = {}
  for _, i in ipairs(form.inputs) do
    if i.name and i.autocomplete == "current-password" then t[i.name] = password
    elseif i.name and i.autocomplete == "new-password" then t[i.name] = "a-new-Passw0rd-for-the-test"
    elseif i.name and i.type == "email" then t[i.name] = email
    elseif i.name and i.type == "hidden" then t[i.name] = i.value
    end
  end
  return t
end


describe_or_pending("issue 19 attacks on the lockout (example app, 2 workers)", function()
  it("W19-01: 200 parallel wrong logins from 4 processes, then the right one: refused, at most threshold hashes", function()
    with_app({ workers = 2, env = env() }, function(app)
      local right = example.admin_password(app)
      local c = api(app, { jar = jar(app, "attacker") })
      for i = 1, 5 do -- five failures already recorded, as in the report
        assert.equals(400, (c.call("POST", "/login", { email = ADMIN, password = "wrong-" .. i })))
      end
      local counts, refused = storm(app, 4, 50, function(i) return login_lines(app, c, ADMIN, "guess-" .. i) end)
      assert.equals(200, refused, cjson.encode(counts))
      local status = c.call("POST", "/login", { email = ADMIN, password = right })
      assert.equals(400, status, "the right password got in after the storm")
      local n = verifications(app)
      print(("W19-01 /login: %d real verifications, answers %s"):format(n, cjson.encode(counts)))
      assert.is_true(n <= THRESHOLD, ("%d real verifications for a threshold of %d"):format(n, THRESHOLD))
      assert.is_true(n >= 5, "the five failures before the storm were real checks")
    end)
  end)

  it("W19-01: 200 parallel wrong HTTP Basic guesses, then the right one: refused, at most threshold hashes", function()
    with_app({ workers = 2, env = env{ auth_mechanisms = { "session", "token", "basic" } } }, function(app)
      local right = example.admin_password(app)
      assert.equals(200, basic_get(app, ADMIN, right),
        "Basic signs in at first")
      local counts, refused = storm(app, 4, 50, function(i) return basic_lines(app, "/change", ADMIN, "guess-" .. i) end)
      assert.equals(200, refused, cjson.encode(counts))
      local before = verifications(app)
      print(("W19-01 Basic: %d real verifications, answers %s"):format(before, cjson.encode(counts)))
      local status = basic_get(app, ADMIN, right)
      assert.equals(401, status, "the right password got in after the storm")
      assert.equals(before, verifications(app), "a locked account's right password was verified")
      -- one success before the storm, then at most threshold guesses
      assert.is_true(before <= THRESHOLD + 1, ("%d real verifications for a threshold of %d"):format(before, THRESHOLD))
    end)
  end)

  it("W19-02: each endpoint that takes the current password, and HTTP Basic, refuse a locked account's right password and verify nothing", function()
    with_app({ workers = 2, env = env{ auth_mechanisms = { "session", "token", "basic" } } }, function(app)
      local right = example.admin_password(app)
      local me = api(app, { jar = jar(app, "me") })
      assert.equals(200, (me.call("POST", "/login", { email = ADMIN, password = right })))
      local attacker = api(app, { jar = jar(app, "attacker") })
      for i = 1, THRESHOLD do
        assert.equals(400, (attacker.call("POST", "/login", { email = ADMIN, password = "wrong-" .. i })))
      end
      local before = verifications(app)
      local found = password_forms(app, { me, attacker })
      local seen = {}
      for _, f in ipairs(found) do seen[#seen + 1] = f.path end
      -- the sign-in form at least: an enumeration that finds nothing proves nothing
      assert.is_true(#found >= 1 and table.concat(seen, " "):find("/login", 1, true) ~= nil, table.concat(seen, " "))
      for _, f in ipairs(found) do
        local status, r = f.client.call("POST", f.form.action, fill(f.form, ADMIN, right))
        assert.is_true(status == 400 or status == 401, f.path .. " answered " .. tostring(status) .. " "
                       .. cjson.encode(r or {}))
        assert.equals(before, verifications(app), f.path .. " verified a locked account's password")
      end
      assert.equals(401, basic_get(app, ADMIN, right), "HTTP Basic")
      assert.equals(before, verifications(app), "HTTP Basic verified a locked account's password")
      print("W19-02: forms taking the current password at " .. table.concat(seen, " "))
    end)
  end)

  it("W19-03: attempts that cannot be right (over-long, NUL, bad UTF-8) run no hash and lock no one", function()
    with_app({ workers = 2, env = env{ auth_mechanisms = { "session", "token", "basic" } } }, function(app)
      local right = example.admin_password(app)
      local c = api(app, { jar = jar(app, "attacker") })
      local long = ("x"):rep(2000) -- over password_max_bytes (1024), under the form's limit
      for i = 1, THRESHOLD * 2 do
        assert.equals(400, (c.call("POST", "/login", { email = ADMIN, password = long .. i })))
      end
      for _, pw in ipairs{ long, "nul\0byte", "bad\255\254utf8" } do
        for i = 1, THRESHOLD do
          assert.equals(401, basic_get(app, ADMIN, pw .. i))
        end
      end
      assert.equals(0, verifications(app), "an attempt that cannot be right reached the stored hash")
      assert.equals(200, (c.call("POST", "/login", { email = ADMIN, password = right })),
                    "the account was locked by attempts that cost nothing")
    end)
  end)

  it("W19-08: with generic responses a failed login for an existing account and an unknown one take the same time (medians of 200, interleaved)", function()
    -- a threshold no run reaches: every attempt does its write
    with_app({ workers = 2, env = env({ return_generic_responses = true, login_lockout_threshold = 10000 }, true) }, function(app)
      local c = api(app, { jar = jar(app, "prober") })
      local s1, r1 = c.call("POST", "/login", { email = ADMIN, password = "wrong-password-1" })
      local s2, r2 = c.call("POST", "/login", { email = "nobody-here@example.org", password = "wrong-password-1" })
      assert.equals(400, s1)
      assert.same({ s1, r1.errors, r1.field_errors }, { s2, r2.errors, r2.field_errors })
      -- one connection, the two kinds alternating, which goes first
      -- swapped every pair (no order effect), 20 pairs to warm up
      local cfg, pairs_n, warm, kinds = {}, 220, 20, {}
      for i = 1, pairs_n do
        local pair = { { true, ADMIN }, { false, "nobody-" .. i .. "@example.org" } }
        if i % 2 == 0 then pair[1], pair[2] = pair[2], pair[1] end
        for _, k in ipairs(pair) do
          local email = k[2]
          kinds[#kinds + 1] = k[1]
          local lines = login_lines(app, c, email, "wrong-password-" .. i)
          lines[#lines + 1] = 'output = "/dev/null"'
          -- the server's time: from the request sent to the first byte back
          lines[#lines + 1] = 'write-out = "%{http_code} %{time_pretransfer} %{time_starttransfer}\\n"'
          cfg[#cfg + 1] = table.concat(lines, "\n")
        end
      end
      local file = app.dir .. ".timing"
      local f = assert(io.open(file, "w"))
      f:write(table.concat(cfg, "\nnext\n"), "\n")
      f:close()
      local p = io.popen("curl -s -K " .. file .. " 2>/dev/null")
      local known, unknown, i = {}, {}, 0
      for code, t0, t1 in p:read("*a"):gmatch("(%d+) ([%d.]+) ([%d.]+)") do
        i = i + 1
        assert.equals("400", code)
        if i > 2 * warm then
          local list = kinds[i] and known or unknown
          list[#list + 1] = tonumber(t1) - tonumber(t0)
        end
      end
      p:close()
      assert.equals(2 * pairs_n, i)
      -- each pair's two requests ran back to back: the median of their
      -- differences is what one path costs more than the other, free of
      -- the load drifting over the run (this machine is shared)
      local d = {}
      for j = 1, #known do d[j] = known[j] - unknown[j] end
      local mk, mu, md = median(known), median(unknown), median(d)
      local diff = math.abs(md) / math.min(mk, mu)
      print(("W19-08: median existing %.2f ms, unknown %.2f ms, paired difference %.2f ms (%.1f %%)")
        :format(mk * 1000, mu * 1000, md * 1000, diff * 100))
      assert.is_true(diff < 0.10, ("the existing account's failed login costs %.1f %% more"):format(diff * 100))
    end)
  end)
end)


-- The calls that check a password against a stored hash, and where each
-- may stand: the metered check and its no-match hash (fsec.auth), and
-- verify_and_update_password's own call (fsec). The engine's verify (the
-- hasher, fsec.openresty and fsec.openresty.thread) is below them.
local ALLOWED = {
  ["lua/fsec/auth.lua"] = { check_user_password = true, spend = true },
  ["lua/fsec.lua"] = { verify_and_update_password = true },
  -- the database's password salt check: a fixed text against the check
  -- fsec recorded, at start; no user, no input from a request
  ["lua/fsec/saltcheck.lua"] = { check_with = true },
}

describe("issue 19: one metered password check", function()
  it("W19-02: no code outside the metered check verifies a password against a stored hash", function()
    local p = io.popen("find lua -name '*.lua' | sort")
    local files = {}
    for f in p:lines() do files[#files + 1] = f end
    p:close()
    assert.is_true(#files > 10, "no sources found")
    local bypass, calls = {}, 0
    for _, file in ipairs(files) do
      local fn, n = "(top)", 0
      for line in io.lines(file) do
        n = n + 1
        local code = line:gsub("%-%-.*$", "")
        fn = code:match("^local function ([%w_]+)") or code:match("^function [%w_%.:]-([%w_]+)%s*%(") or fn
        for recv, name in code:gmatch("([%w_]+):(verify_[%w_]*password)%(") do
          if recv ~= "_engine" and not code:match("^%s*function") then
            calls = calls + 1
            if not (ALLOWED[file] or {})[fn] then
              bypass[#bypass + 1] = ("%s:%d in %s: %s"):format(file, n, fn, name)
            end
          end
        end
      end
    end
    assert.is_true(calls >= 3, "the scan found no calls: it proves nothing")
    assert.same({}, bypass)
  end)
end)
