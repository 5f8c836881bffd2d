--- Metrics in Prometheus's text exposition format (0.0.4): counters,
-- gauges and histograms, by name and labels (docs/metrics.md).
--
-- Counting is cheap on purpose: an increment adds to a table of this
-- process (no lock, no shared memory); flush() moves the sums to the
-- backend, which under nginx is a lua_shared_dict that every worker adds
-- to (fsec.openresty flushes each worker once a second, and render()
-- flushes its own first). Outside nginx the backend is this process's
-- memory. A process keeps at most MAX_SERIES series: labels are fsec's
-- own codes, but the API is open (metrics.inc from the application or the
-- mail sender), and a label fed from a client would otherwise grow
-- without bound.
-- @module fsec.metrics

local type = type
local pairs = pairs
local ipairs = ipairs
local pcall = pcall
local tostring = tostring
local tonumber = tonumber
local floor = math.floor
local sort = table.sort
local concat = table.concat

local _M = { _VERSION = "0.1.0", MAX_SERIES = 5000 }

local families, order = {}, {}
local pending = {}        -- series -> sum not yet flushed (this process)
local settings = {}       -- series -> gauge value not yet flushed
local providers = {}      -- { series, fn } gauges read at each flush
local known, nknown = {}, 0
local warned = {}
local log = function(_, msg) io.stderr:write(msg, "\n") end


-- The backend: { incr = fn(key, delta), set = fn(key, value), keys =
-- fn() -> list, get = fn(key) -> number }.
local function memory()
  local t = {}
  return {
    incr = function(k, d) t[k] = (t[k] or 0) + d return true end,
    set = function(k, v) t[k] = v return true end,
    keys = function()
      local list = {}
      for k in pairs(t) do list[#list + 1] = k end
      return list
    end,
    get = function(k) return t[k] end,
  }
end
local store = memory()

local function warn_once(what, msg)
  if warned[what] then return end
  warned[what] = true
  log("error", msg)
end

--- Where failures are reported: fn(level, message) (default stderr).
function _M.set_log(fn) log = fn end

--- Where the sums go: an ngx.shared dict (all workers add up), or nil
-- for this process's memory. log(level, msg) reports failures, once each.
function _M.use(dict, logfn)
  if logfn then log = logfn end
  if not dict then
    store = memory()
    return
  end
  store = {
    incr = function(k, d)
      local ok, err = dict:incr(k, d, 0)
      if not ok then warn_once("incr", "fsec: metrics: the shared dict refused a count: " .. tostring(err)) end
      return ok
    end,
    set = function(k, v)
      local ok, err = dict:set(k, v)
      if not ok then warn_once("set", "fsec: metrics: the shared dict refused a gauge: " .. tostring(err)) end
      return ok
    end,
    keys = function() return dict:get_keys(0) end,
    get = function(k) return dict:get(k) end,
  }
end


local NAME = "^[%a_:][%w_:]*$"
local LABEL = "^[%a_][%w_]*$"
local KINDS = { counter = true, gauge = true, histogram = true }

--- Declare a family: name, kind (counter, gauge, histogram), help text,
-- buckets (histogram: increasing upper bounds). Declaring again with the
-- same kind is a no-op (modules may declare what they use).
function _M.declare(name, kind, help, buckets)
  if type(name) ~= "string" or not name:match(NAME) then error("metrics: bad metric name " .. tostring(name), 2) end
  if not KINDS[kind] then error("metrics: bad kind " .. tostring(kind), 2) end
  local f = families[name]
  if f then
    if f.kind ~= kind then error("metrics: " .. name .. " is a " .. f.kind, 2) end
    return
  end
  if kind == "histogram" then
    if type(buckets) ~= "table" or #buckets == 0 then error("metrics: a histogram needs buckets", 2) end
    for i = 2, #buckets do
      if buckets[i] <= buckets[i - 1] then error("metrics: buckets must increase", 2) end
    end
  end
  families[name] = { kind = kind, help = help or name, buckets = buckets, keys = {} }
  order[#order + 1] = name
end


-- A label value as the format writes it: \ " and newline escaped.
local function escape(v)
  return (tostring(v):gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

-- The labels part: {a="x",b="y"} (names sorted), "" for none; extra is
-- a last label already written (a histogram's le).
local function label_string(labels, extra)
  local names = {}
  if labels then
    for k in pairs(labels) do
      if type(k) ~= "string" or not k:match(LABEL) or k == "le" then
        error("metrics: bad label name " .. tostring(k), 3)
      end
      names[#names + 1] = k
    end
  end
  sort(names)
  local parts = {}
  for i, k in ipairs(names) do parts[i] = k .. '="' .. escape(labels[k]) .. '"' end
  if extra then parts[#parts + 1] = extra end
  if #parts == 0 then return "" end
  return "{" .. concat(parts, ",") .. "}"
end

local function admit(key)
  if known[key] then return true end
  if nknown >= _M.MAX_SERIES then
    warn_once("series", "fsec: metrics: more than " .. _M.MAX_SERIES .. " series; new ones are dropped")
    return false
  end
  known[key] = true
  nknown = nknown + 1
  return true
end

--- The series key of a declared family and its labels (keep it to count
-- on a hot path with add).
function _M.key(name, labels)
  if not families[name] then error("metrics: undeclared metric " .. tostring(name), 2) end
  return name .. label_string(labels)
end

--- Add n to a series key (from key()).
function _M.add(key, n)
  local p = pending[key]
  if p == nil and not admit(key) then return end
  pending[key] = (p or 0) + (n or 1)
end

--- Add n (default 1) to a counter. An undeclared name is declared as a
-- counter (help: its name) so that a caller (the mail sender) needs no
-- set-up; labels: a table of name -> value.
function _M.inc(name, labels, n)
  local f = families[name]
  if not f then
    _M.declare(name, "counter", name)
    f = families[name]
  end
  local lk = labels and label_string(labels) or ""
  local key = f.keys[lk]
  if not key then
    key = name .. lk
    if admit(key) then f.keys[lk] = key else return end
  end
  pending[key] = (pending[key] or 0) + (n or 1)
end

--- Set a gauge.
function _M.set(name, labels, v)
  if not families[name] then error("metrics: undeclared metric " .. tostring(name), 2) end
  local key = name .. label_string(labels)
  if admit(key) then settings[key] = v end
end

--- A gauge read from fn() at each flush (a queue's depth).
function _M.gauge(name, labels, fn)
  if not families[name] then error("metrics: undeclared metric " .. tostring(name), 2) end
  providers[#providers + 1] = { name .. label_string(labels), fn }
end

-- The shortest of %.15g and %.17g that reads back as v.
local function shortest(v)
  local s = ("%.15g"):format(v)
  if tonumber(s) == v then return s end
  return ("%.17g"):format(v)
end

local function fmt_le(b)
  if b == floor(b) and b < 1e15 then return ("%d"):format(b) end
  return shortest(b)
end

-- A histogram's keys for one label set: the buckets', +Inf, _sum, _count.
local function histogram_keys(f, name, labels)
  local lk = labels and label_string(labels) or ""
  local keys = f.keys[lk]
  if keys then return keys end
  keys = {}
  for i, b in ipairs(f.buckets) do
    keys[i] = name .. "_bucket" .. label_string(labels, 'le="' .. fmt_le(b) .. '"')
  end
  keys.inf = name .. "_bucket" .. label_string(labels, 'le="+Inf"')
  keys.sum = name .. "_sum" .. lk
  keys.count = name .. "_count" .. lk
  for _, k in ipairs(keys) do admit(k) end
  admit(keys.inf); admit(keys.sum)
  if not admit(keys.count) then return nil end
  f.keys[lk] = keys
  return keys
end

--- A histogram's series for one label set, to observe into with record
-- (no label string built per observation), or nil over the series cap.
function _M.histogram(name, labels)
  local f = families[name]
  if not f or f.kind ~= "histogram" then error("metrics: " .. tostring(name) .. " is not a histogram", 2) end
  local keys = histogram_keys(f, name, labels)
  if keys then keys.b = f.buckets end
  return keys
end

--- A function of one label's value that gives that histogram's series,
-- each made once (a hot path records without building label tables).
function _M.series_by(name, label)
  local made = {}
  return function(value)
    local h = made[value]
    if not h then
      h = _M.histogram(name, { [label] = value })
      made[value] = h
    end
    return h
  end
end

--- Observe v in a histogram's series (from histogram()).
function _M.record(keys, v)
  if not keys then return end
  local b = keys.b
  for i = #b, 1, -1 do
    if v > b[i] then break end
    local k = keys[i]
    pending[k] = (pending[k] or 0) + 1
  end
  pending[keys.inf] = (pending[keys.inf] or 0) + 1
  pending[keys.sum] = (pending[keys.sum] or 0) + v
  pending[keys.count] = (pending[keys.count] or 0) + 1
end

--- Observe a value (seconds, say) in a histogram.
function _M.observe(name, labels, v)
  _M.record(_M.histogram(name, labels), v)
end


--- Move this process's sums and gauges to the backend.
function _M.flush()
  local p = pending
  pending = {}
  for k, d in pairs(p) do store.incr(k, d) end
  local s = settings
  settings = {}
  for k, v in pairs(s) do store.set(k, v) end
  for _, g in ipairs(providers) do
    local ok, v = pcall(g[2])
    if ok and type(v) == "number" then store.set(g[1], v) end
  end
end


-- The family a series key belongs to.
local function family_of(key)
  local base = key:match("^[%a_:][%w_:]*")
  if families[base] then return base end
  local h = base:match("^(.*)_bucket$") or base:match("^(.*)_sum$") or base:match("^(.*)_count$")
  if h and families[h] and families[h].kind == "histogram" then return h end
  return nil
end

-- Order within a family: by the labels other than le, then buckets by
-- their bound (+Inf last), then _sum, then _count.
local function sort_key(key, fam)
  local rest = key:sub(#fam + 1)
  local suffix, labels = rest:match("^(_%a+)(.*)$")
  if not suffix then suffix, labels = "", rest end
  local le = labels:match('le="([^"]*)"}$')
  local rank, bound = 0, 0
  if suffix == "_bucket" and le then
    labels = labels:gsub(',?le="[^"]*"}$', "}"):gsub("^{}$", "")
    bound = le == "+Inf" and math.huge or tonumber(le) or 0
  elseif suffix == "_sum" then rank = 1
  elseif suffix == "_count" then rank = 2 end
  return labels, rank, bound
end

local function number(v)
  if v == floor(v) and v > -2^53 and v < 2^53 then return ("%d"):format(v) end
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  return shortest(v)
end

local function help_escape(s) return (s:gsub("\\", "\\\\"):gsub("\n", "\\n")) end

-- The hit ratio gauge of a cache: hits / (hits + misses), from the
-- lookups counter's series.
local function hit_ratios(values)
  local hits, all = {}, {}
  for k, v in pairs(values) do
    local c, r = k:match('^fsec_cache_lookups_total{cache="([%w_]+)",result="(%a+)"}$')
    if c then
      all[c] = (all[c] or 0) + v
      if r == "hit" then hits[c] = (hits[c] or 0) + v end
    end
  end
  for c, n in pairs(all) do
    if n > 0 then values['fsec_cache_hit_ratio{cache="' .. c .. '"}'] = (hits[c] or 0) / n end
  end
end

--- The exposition (text format 0.0.4) of every declared family, this
-- process's sums flushed first.
function _M.render()
  _M.flush()
  local values, by_family = {}, {}
  for _, k in ipairs(store.keys()) do
    local v = store.get(k)
    if type(v) == "number" then values[k] = v end
  end
  if families.fsec_cache_hit_ratio then hit_ratios(values) end
  for k in pairs(values) do
    local fam = family_of(k)
    if fam then
      local list = by_family[fam] or {}
      list[#list + 1] = k
      by_family[fam] = list
    end
  end
  local out = {}
  for _, name in ipairs(order) do
    local f = families[name]
    out[#out + 1] = "# HELP " .. name .. " " .. help_escape(f.help)
    out[#out + 1] = "# TYPE " .. name .. " " .. f.kind
    local list = by_family[name] or {}
    local keyed = {}
    for i, k in ipairs(list) do
      local l, r, b = sort_key(k, name)
      keyed[i] = { k, l, r, b }
    end
    sort(keyed, function(a, b)
      if a[2] ~= b[2] then return a[2] < b[2] end
      if a[3] ~= b[3] then return a[3] < b[3] end
      if a[4] ~= b[4] then return a[4] < b[4] end
      return a[1] < b[1]
    end)
    for _, e in ipairs(keyed) do out[#out + 1] = e[1] .. " " .. number(values[e[1]]) end
    if #list == 0 and f.kind == "counter" and not name:find("{", 1, true) and f.zero then
      out[#out + 1] = name .. " 0"
    end
  end
  out[#out + 1] = ""
  return concat(out, "\n")
end

--- The exposition's Content-Type.
_M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


-- fsec's own families.
_M.declare("fsec_events_total", "counter", "Security events emitted, by event and outcome")
_M.declare("fsec_logins_total", "counter", "Sign-in attempts by outcome and reason (none on success)")
_M.declare("fsec_registrations_total", "counter", "Accounts registered")
_M.declare("fsec_lockouts_total", "counter", "Accounts locked out after too many failed passwords")
_M.declare("fsec_mails_total", "counter",
  "Mails by kind and outcome (sent, failed, queued to the outbox; kind outbox: sent, retried, given_up by its drain)")
_M.declare("fsec_store_errors_total", "counter", "Datastore calls that failed, by error code")
_M.declare("fsec_event_sink_errors_total", "counter", "Security events the sink could not write")
_M.declare("fsec_cache_lookups_total", "counter", "Authentication cache lookups by cache and result (hit, miss)")
_M.declare("fsec_cache_hit_ratio", "gauge", "Hits over lookups of each authentication cache since start")
_M.declare("fsec_thread_queue_depth", "gauge",
           "Requests waiting for a slot of a thread pool (fsec: the hashing pool), per worker")
_M.declare("fsec_thread_jobs_running", "gauge", "Jobs fsec has posted to a thread pool, per worker")
_M.declare("fsec_thread_wait_seconds", "histogram",
           "Time a job (a password hash in pool fsec) waited for a thread slot, by pool",
           { 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 })
_M.declare("fsec_request_duration_seconds", "histogram", "Time fsec's endpoints took to answer, by endpoint",
           { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 })
families.fsec_registrations_total.zero = true
families.fsec_lockouts_total.zero = true
families.fsec_event_sink_errors_total.zero = true

--- Count an event (fsec.events): every event by outcome; sign-ins by
-- outcome and reason; registrations; lockouts.
function _M.event(name, outcome, reason)
  _M.inc("fsec_events_total", { event = name, outcome = outcome })
  if name == "login" then
    _M.inc("fsec_logins_total", { outcome = outcome, reason = reason or "none" })
  elseif name == "register" and outcome == "success" then
    _M.inc("fsec_registrations_total")
  elseif name == "lockout" then
    _M.inc("fsec_lockouts_total")
  end
end

return _M
