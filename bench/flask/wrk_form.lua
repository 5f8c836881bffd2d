-- wrk script for bench/compare_flask.sh: JSON login or registration the
-- way a browser-less client does it against fsec and Flask-Security alike
-- (both protect POSTs with CSRF): GET the form as JSON for a csrf_token
-- and its cookie, then POST the JSON with X-CSRF-Token. Run with one
-- connection per thread (-tN -cN) so that GET and POST alternate.
-- Usage: wrk -t4 -c4 ... -s wrk_form.lua URL -- login PASSWORD USERS
--        wrk -t4 -c4 ... -s wrk_form.lua URL -- register PASSWORD TAG
-- Login users are user00001@example.org .. userUSERS@example.org;
-- registration makes a new address per request (TAG keeps runs apart).
-- Prints "RESULT <POSTs answered 200> <failures> <seconds> [what failed]".
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  threads[#threads + 1] = thread
end

local mode, password, arg3
local phase, csrf, cookie, seq = "get", nil, nil, 0
ok, bad = 0, 0
codes = {} -- what the failures were: "GET 503", "POST 400", ...
local function failed(what) bad = bad + 1; codes[what] = (codes[what] or 0) + 1 end

function init(args)
  mode, password, arg3 = args[1], args[2], args[3]
  assert(mode == "login" or mode == "register", "mode: login or register")
end

local function json_string(s) return '"' .. s:gsub('[%c"\\]', "") .. '"' end

function request()
  if phase == "get" then
    return wrk.format("GET", "/" .. mode, { ["Accept"] = "application/json" })
  end
  seq = seq + 1
  local body
  if mode == "login" then
    local n = tonumber(arg3)
    local email = string.format("user%05d@example.org", (tid * 7919 + seq) % n + 1)
    body = '{"email":' .. json_string(email) .. ',"password":' .. json_string(password) .. '}'
  else
    local email = string.format("r-%s-%d-%d@example.org", arg3, tid, seq)
    body = '{"email":' .. json_string(email) .. ',"password":' .. json_string(password)
      .. ',"password_confirm":' .. json_string(password) .. '}'
  end
  return wrk.format("POST", "/" .. mode, {
    ["Content-Type"] = "application/json", ["Accept"] = "application/json",
    ["X-CSRF-Token"] = csrf, ["Cookie"] = cookie }, body)
end

function response(status, headers, body)
  if phase == "get" then
    csrf = body:match('"csrf_token"%s*:%s*"([^"]+)"')
    cookie = nil
    for k, v in pairs(headers) do
      if k:lower() == "set-cookie" then cookie = v:match("^([^;]+)") end
    end
    if status == 200 and csrf and cookie then phase = "post" else failed("GET " .. status) end
  else
    if status == 200 then ok = ok + 1 else failed("POST " .. status) end
    phase = "get"
  end
end

function done(summary)
  local o, b, all = 0, 0, {}
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); b = b + t:get("bad")
    for k, v in pairs(t:get("codes")) do all[k] = (all[k] or 0) + v end
  end
  local e = summary.errors
  for _, k in ipairs{ "connect", "read", "write", "timeout" } do
    if e[k] > 0 then b = b + e[k]; all[k] = e[k] end
  end
  local detail = {}
  for k, v in pairs(all) do detail[#detail + 1] = v .. " x " .. k end
  table.sort(detail)
  io.write(string.format("RESULT %d %d %.3f %s\n", o, b, summary.duration / 1e6,
                         (table.concat(detail, ", "):gsub(" ", "_"))))
end
