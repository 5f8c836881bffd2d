-- fsec.metrics: the exposition (Prometheus text format 0.0.4) read back by
-- python3-prometheus-client's own parser, label values escaped, histogram
-- buckets cumulative, the series cap, and the counts fsec makes itself
-- (logins, mails, store errors). The shared dict across nginx workers:
-- spec/46-metrics_openresty_spec.lua.
local helpers = require "spec.helpers"
local metrics = require "fsec.metrics"

-- The exposition parsed by prometheus_client: { "name{labels} value" }
-- as the parser sees each sample (labels sorted), or raises.
local function parse(text)
  local path = helpers.tmpfile("metrics.txt")
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  local script = helpers.tmpfile("parse.py")
  f = assert(io.open(script, "w"))
  f:write([[
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        labels = ",".join('%s=%s' % (k, v.replace("\n", "\\n")) for k, v in sorted(s.labels.items()))
        print("%s|%s{%s} %r" % (fam.type, s.name, labels, s.value))
]])
  f:close()
  local p = assert(io.popen(("/usr/bin/python3 %s %s 2>&1; echo rc=$?"):format(script, path)))
  local out = p:read("*a")
  p:close()
  assert(out:match("rc=0%s*$"), "the parser refused the exposition: " .. out .. "\n" .. text)
  local samples = {}
  for line in out:gmatch("[^\n]+") do
    local kind, sample = line:match("^(%a+)|(.*)$")
    if kind then samples[sample] = kind end
  end
  return samples
end

local has_parser = helpers.sh("/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null")

describe("metrics exposition", function()
  it("parses with prometheus_client, labels escaped", function()
    if not has_parser then return pending("python3-prometheus-client is not installed") end
    metrics.declare("spec_things_total", "counter", "Things\\counted\nin two lines")
    metrics.inc("spec_things_total", { path = 'a "quoted" \\ back\nslash' }, 2)
    metrics.inc("spec_things_total", { path = "plain" })
    local text = metrics.render()
    assert.matches('# HELP spec_things_total Things\\\\counted\\nin two lines\n', text, 1, true)
    assert.matches('spec_things_total{path="a \\"quoted\\" \\\\ back\\nslash"} 2\n', text, 1, true)
    local s = parse(text)
    assert.equals("counter", s['spec_things_total{path=a "quoted" \\ back\\nslash} 2.0'])
    assert.equals("counter", s["spec_things_total{path=plain} 1.0"])
  end)

  it("writes histograms with cumulative buckets, +Inf, _sum and _count", function()
    if not has_parser then return pending("python3-prometheus-client is not installed") end
    metrics.declare("spec_wait_seconds", "histogram", "Waits", { 0.1, 1, 10 })
    for _, v in ipairs{ 0.05, 0.5, 0.5, 5, 50 } do metrics.observe("spec_wait_seconds", { pool = "x" }, v) end
    local s = parse(metrics.render())
    assert.equals("histogram", s["spec_wait_seconds_bucket{le=0.1,pool=x} 1.0"])
    assert.equals("histogram", s["spec_wait_seconds_bucket{le=1,pool=x} 3.0"])
    assert.equals("histogram", s["spec_wait_seconds_bucket{le=10,pool=x} 4.0"])
    assert.equals("histogram", s["spec_wait_seconds_bucket{le=+Inf,pool=x} 5.0"])
    assert.equals("histogram", s["spec_wait_seconds_count{pool=x} 5.0"])
    assert.equals("histogram", s["spec_wait_seconds_sum{pool=x} 56.05"])
  end)

  it("refuses bad names and label names, and keeps at most MAX_SERIES series", function()
    assert.has_error(function() metrics.declare("bad name", "counter", "x") end)
    assert.has_error(function() metrics.declare("spec_x_total", "summary", "x") end)
    assert.has_error(function() metrics.inc("spec_things_total", { ["bad-label"] = "x" }) end)
    assert.has_error(function() metrics.inc("spec_things_total", { le = "x" }) end)
    local max, logged = metrics.MAX_SERIES, {}
    metrics.set_log(function(_, msg) logged[#logged + 1] = msg end)
    metrics.MAX_SERIES = 0 -- every new series refused from here
    metrics.inc("spec_things_total", { path = "one-more-than-allowed" })
    metrics.inc("spec_things_total", { path = "and-another" })
    metrics.MAX_SERIES = max
    assert.equals(1, #logged) -- once
    assert.matches("series", logged[1])
    assert.is_nil(metrics.render():find("one-more-than-allowed", 1, true))
  end)

  it("counts logins by outcome, mails sent and failed, store errors", function()
    local app = helpers.app{ db = "metrics.db", mail = true, endpoints = true, log = "quiet",
                             users = { { email = "m@example.com", password = "a long password 1", confirmed = true } } }
    local function n(pattern) return tonumber(metrics.render():match(pattern) or "0") end
    local ok0 = n('fsec_logins_total{outcome="success",reason="none"} (%d+)')
    local bad0 = n('fsec_logins_total{outcome="failure",reason="unknown_identity"} (%d+)')
    local sent0 = n('fsec_mails_total{kind="reset",outcome="sent"} (%d+)')
    local c = helpers.api(app.sec)
    c:call("POST", "/login", { email = "nobody@example.com", password = "whatever it is" })
    c:call("POST", "/login", { email = "m@example.com", password = "a long password 1" })
    c:call("POST", "/logout")
    helpers.api(app.sec):call("POST", "/reset", { email = "m@example.com" })
    assert.equals(ok0 + 1, n('fsec_logins_total{outcome="success",reason="none"} (%d+)'))
    assert.equals(bad0 + 1, n('fsec_logins_total{outcome="failure",reason="unknown_identity"} (%d+)'))
    assert.equals(sent0 + 1, n('fsec_mails_total{kind="reset",outcome="sent"} (%d+)'))
    -- a mailer that fails
    local failing = helpers.app{ db = "metrics2.db", endpoints = true, log = "quiet",
      extra = { send_mail = function() error("smtp down") end },
      users = { { email = "m@example.com", password = "a long password 1", confirmed = true } } }
    local failed0 = n('fsec_mails_total{kind="reset",outcome="failed"} (%d+)')
    helpers.api(failing.sec):call("POST", "/reset", { email = "m@example.com" })
    assert.equals(failed0 + 1, n('fsec_mails_total{kind="reset",outcome="failed"} (%d+)'))
    -- a store that fails: counted by code
    local e0 = n('fsec_store_errors_total{code="EUNAVAILABLE"} (%d+)')
    local auth = require "fsec.auth"
    assert.has_error(function() auth.check_store(nil, "EUNAVAILABLE: down", "EUNAVAILABLE") end)
    assert.equals(e0 + 1, n('fsec_store_errors_total{code="EUNAVAILABLE"} (%d+)'))
  end)
end)
