-- Metrics and security events in the real nginx (the example app, 2
-- workers): counts made in both workers add up in the shared dict, the
-- exposition at /metrics parses with python3-prometheus-client's parser,
-- /metrics is refused to any other address than the allowed ones, and the
-- events reach a file sink as whole JSON lines with the client's address
-- and nginx's request id.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local example = require "spec.tools.example_app"

local read = helpers.read
local describe_or_pending = example.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx only)") end

-- The samples of an exposition as prometheus_client parses it:
-- { ["name{k=v,...}"] = value } (labels sorted), or raises.
local function parse(text)
  local path = helpers.tmpfile("scrape.txt")
  local f = assert(io.open(path, "w")); f:write(text); f:close()
  local script = helpers.tmpfile("parse.py")
  f = assert(io.open(script, "w"))
  f:write([[
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        labels = ",".join('%s=%s' % (k, v) for k, v in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, s.value))
]])
  f:close()
  local out = example.run(("/usr/bin/python3 %s %s 2>&1; echo rc=$?"):format(script, path))
  assert(out:match("rc=0%s*$"), "the parser refused the exposition: " .. out)
  local samples = {}
  for name, value in out:gmatch("([^\n]-) ([%d.e+-]+)\n") do samples[name] = tonumber(value) end
  return samples
end

local function scrape(app, from)
  local r = example.request(app, { path = "/metrics", from = from })
  return r.status, r.body, r.headers
end

describe_or_pending("metrics and events in nginx", function()
  it("add up across 2 workers, parse, and are refused to other addresses", function()
    local dir = example.dir()
    local events_log = dir .. "/var/events.log"
    local env = ("FSEC_THROTTLE=off FSEC_EXAMPLE_CONFIG=%s"):format(
      "'" .. cjson.encode({ events = { sink = "file", path = events_log } }) .. "'")
    example.with_app({ dir = dir, workers = 2, env = env }, function(app)
      -- N requests at once to an endpoint, on as many connections: both
      -- workers take some
      local N = 40
      local list = {}
      for i = 1, N do list[i] = { path = "/login", headers = { Accept = "application/json" } } end
      for _, r in ipairs(example.parallel(app, list)) do assert.equals(200, r.status) end
      -- failed sign-ins, one at a time (nginx lets one credential POST per client at once)
      local c = example.api(app)
      for _ = 1, 3 do
        assert.equals(400, (c.call("POST", "/login", { email = "nobody@example.org", password = "not a password" })))
      end
      local email, password = example.admin(app)
      assert.equals(200, (c.call("POST", "/login", { email = email, password = password },
                                 { ["X-Request-Id"] = "spec-46-ok" })))
      -- each worker flushes once a second: wait for the sums
      local s
      example.poll(10, function()
        local st, body = scrape(app)
        assert.equals(200, st)
        s = parse(body)
        return (s['fsec_request_duration_seconds_count{endpoint=login}'] or 0) >= N + 5
          and (s['fsec_logins_total{outcome=success,reason=none}'] or 0) >= 1
      end)
      -- N GETs + the client's GET + 4 POSTs
      assert.equals(N + 5, s['fsec_request_duration_seconds_count{endpoint=login}'])
      assert.equals(N + 5, s['fsec_request_duration_seconds_bucket{endpoint=login,le=+Inf}'])
      assert.equals(3, s['fsec_logins_total{outcome=failure,reason=unknown_identity}'])
      assert.equals(1, s['fsec_logins_total{outcome=success,reason=none}'])
      -- both workers' gauges are there: each flushed into the one dict
      assert.is_number(s['fsec_thread_queue_depth{pool=fsec,worker=0}'])
      assert.is_number(s['fsec_thread_queue_depth{pool=fsec,worker=1}'])
      -- the hashes' waits: one observation per hash at least (4 sign-ins)
      assert.is_true(s['fsec_thread_wait_seconds_count{pool=fsec}'] >= 4)
      local _, body, headers = scrape(app)
      assert.equals("text/plain; version=0.0.4; charset=utf-8", headers["content-type"])
      assert.matches("# TYPE fsec_logins_total counter", body, 1, true)
      -- another loopback address: nginx lets it through, fsec refuses it
      assert.equals(403, (scrape(app, "127.0.0.2")))
      -- the events: whole JSON lines, the client's address, the request id
      local lines = {}
      example.poll(5, function()
        lines = {}
        for l in (read(events_log) or ""):gmatch("[^\n]+") do lines[#lines + 1] = cjson.decode(l) end
        return #lines >= 4
      end)
      local ok
      for _, e in ipairs(lines) do
        if e.event == "login" and e.outcome == "success" then ok = e end
        assert.equals("127.0.0.1", e.ip)
        assert.matches("^[%w_.:-]+$", e.request_id)
        assert.matches("%.%d%d%dZ$", e.ts)
      end
      assert.equals("spec-46-ok", ok.request_id)
      assert.is_number(ok.user_id)
      assert.equals("curl", (ok.user_agent or ""):match("^(%a+)/"))
    end)
  end)

  it("lets the addresses of the allow list in, and no other; events go to nginx's error log", function()
    local env = "FSEC_METRICS_ALLOW=127.0.0.2 FSEC_EXAMPLE_CONFIG='{\"events\":\"ngx_log\"}'"
    example.with_app({ env = env }, function(app)
      assert.equals(200, (scrape(app, "127.0.0.2")))
      assert.equals(403, (scrape(app)))
      assert.equals(403, (scrape(app, "127.0.0.3")))
      local c = example.api(app)
      assert.equals(400, (c.call("POST", "/login", { email = "nobody@example.org", password = "pw-in-no-log-9" })))
      local log = example.poll(5, function()
        local text = read(app.dir .. "/logs/error.log") or ""
        return text:find("fsec-event: ", 1, true) and text
      end)
      local line = assert(log:match("fsec%-event: (%b{})"), log)
      local e = cjson.decode(line)
      assert.equals("login", e.event)
      assert.equals("unknown_identity", e.reason)
      assert.is_nil(log:find("pw-in-no-log-9", 1, true))
      assert.is_nil(log:find("nobody@example.org", 1, true))
    end)
  end)
end)
