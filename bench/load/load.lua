-- wrk script for bench/load.sh: one kind of request per wrk run.
--   wrk -t N -c N -s bench/load/load.lua URL -- KIND
-- KIND: login_ok | login_wrong | register | api. Settings come from the
-- environment (set by load.sh): LOAD_CSRF, LOAD_COOKIE (an anonymous
-- CSRF binding), LOAD_EMAIL, LOAD_PASSWORD, LOAD_WRONG_EMAIL, LOAD_TOKEN,
-- LOAD_RUN (a tag for unique emails), LOAD_ACK (prefix of the files that
-- list registrations answered 200). Run with one connection per thread
-- (-t N -c N): each thread then sees its responses in request order, so a
-- 200 is matched to the email it registered.
-- done() prints one line: RESULT requests=... p50=... (ms) codes=... bad5xx=... sockerr=...

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("id", #threads)
end

local kind, n, last_email, ack
codes = {}         -- status -> count (read by done() through thread:get)
bad5xx = 0         -- 5xx that are not fsec's deliberate 503

local function env(name)
  local v = os.getenv(name)
  if not v or v == "" then error("bench/load/load.lua: " .. name .. " is not set") end
  return v
end

function init(args)
  kind = args[1]
  n = 0
  local h = wrk.headers -- keeps the Host header wrk put there
  h["Accept"] = "application/json"
  if kind == "api" then
    h["Authentication-Token"] = env("LOAD_TOKEN")
  else
    h["Content-Type"] = "application/json"
    h["X-CSRF-Token"] = env("LOAD_CSRF")
    h["Cookie"] = "fsec_csrf=" .. env("LOAD_COOKIE")
  end
  if kind == "login_ok" then
    wrk.method = "POST"; wrk.path = "/login"
    wrk.body = ('{"email":"%s","password":"%s"}'):format(env("LOAD_EMAIL"), env("LOAD_PASSWORD"))
  elseif kind == "login_wrong" then
    wrk.method = "POST"; wrk.path = "/login"
  elseif kind == "register" then
    wrk.method = "POST"; wrk.path = "/register"
    ack = assert(io.open(env("LOAD_ACK") .. "-" .. id, "w"))
  elseif kind == "api" then
    wrk.method = "GET"; wrk.path = "/api/me"
  else
    error("bench/load/load.lua: unknown kind " .. tostring(kind))
  end
end

function request()
  n = n + 1
  if kind == "register" then
    last_email = ("load-%s-%d-%d@example.org"):format(env("LOAD_RUN"), id, n)
    return wrk.format(nil, nil, nil, ('{"email":"%s","password":"battery staple %d",'
      .. '"password_confirm":"battery staple %d"}'):format(last_email, n, n))
  elseif kind == "login_wrong" then
    return wrk.format(nil, nil, nil, ('{"email":"%s","password":"wrong-guess-%d"}')
      :format(env("LOAD_WRONG_EMAIL"), n))
  end
  return wrk.format()
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if status >= 500 and not (status == 503 and body and body:find("Service temporarily unavailable", 1, true)) then
    bad5xx = bad5xx + 1
  end
  if kind == "register" and status == 200 then
    ack:write(last_email, "\n")
    ack:flush()
  end
end

function done(summary, latency, requests)
  local all = {}
  local bad = 0
  for _, t in ipairs(threads) do
    local c = t:get("codes") or {}
    for k, v in pairs(c) do all[tonumber(k)] = (all[tonumber(k)] or 0) + v end
    bad = bad + (t:get("bad5xx") or 0)
  end
  local list = {}
  for k, v in pairs(all) do list[#list + 1] = ("%d:%d"):format(k, v) end
  table.sort(list)
  local e = summary.errors
  io.write(("RESULT requests=%d p50=%.1f p90=%.1f p99=%.1f codes=%s bad5xx=%d"
    .. " sockerr=%d (connect %d read %d write %d timeout %d)\n"):format(
    summary.requests,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    #list > 0 and table.concat(list, ",") or "none", bad,
    e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout))
end
