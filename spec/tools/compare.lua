-- The side-by-side engine: the same request scenarios ("plays", one per
-- configuration) played against the real Flask-Security 5.1.2 (all plays
-- in one python process: spec/peer/fs_play.py) and against fsec
-- (sec:handle, and the application routes of fs_play.py rebuilt with
-- fsec's guards), each answer normalized the same way and compared.
-- What differs is a list of differences, each matched against the
-- registry (spec/peer/differences.lua). Not a spec itself.
--
-- A play: { name =, about = "what it configures", fsec = { config keys },
--   flask = { SECURITY_* ... },
--   identity = { "email", ... }, csrf_protect = bool,
--   users = { { email =, password =, confirmed =, active =, roles = } },
--   steps = { { method =, path =, query =, json = | form = | raw =,
--               accept =, headers =, basic = { u, p }, token = true,
--               as = "the endpoint's name in differences" }, ... } }
-- Placeholders (each side fills its own): see spec/peer/fs_play.py.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local cjson = require "cjson"

local M = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  return ((s:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return B64:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end
M.base64 = base64

local function urlencode(t)
  local keys, parts = {}, {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if v == true then v = "y" end
    parts[#parts + 1] = k .. "=" .. tostring(v):gsub("[^%w%-%._~]", function(c)
      return ("%%%02X"):format(c:byte())
    end)
  end
  return table.concat(parts, "&")
end

-- An authenticator key as pages show it: 32 base32 characters in groups of 4.
local B32 = ("[A-Z2-7]"):rep(4)
local KEY = "%f[%w](" .. B32 .. ("%-" .. B32):rep(7) .. ")%f[%W]"
-- A recovery code as pages show it: 3 groups of 4 hex digits.
local CODE = ("%x"):rep(4) .. "%-" .. ("%x"):rep(4) .. "%-" .. ("%x"):rep(4)

local function six_digits(text)
  return (text or ""):match("%f[%d](%d%d%d%d%d%d)%f[%D]")
end

-- The application routes of fs_play.py, guarded by fsec's guards.
local function app_routes(sec)
  local function ok(_, _, res)
    res.status, res.body = 200, '{"ok":true}'
    res.headers["Content-Type"] = "application/json"
    return res
  end
  return {
    ["/api/any"] = sec:auth_required("token", "session", "basic")(ok),
    ["/api/token"] = sec:auth_required("token")(ok),
    ["/api/session"] = sec:auth_required("session")(ok),
    ["/api/basic"] = sec:http_auth_required()(ok),
    ["/api/fresh"] = sec:auth_required("session", { within = 0, grace = 0 })(ok),
    ["/api/admin"] = sec:auth_required("session", "token")(sec:roles_required("admin")(ok)),
  }
end

--- Play one play against fsec; the answers in fs_play.py's shape.
function M.play_fsec(play)
  local maildir = helpers.tmpdir() .. "/compare-" .. play.name .. "-" .. tostring(math.random(1e9))
  local seen, last_sent = {}, nil
  local cfg = { database = helpers.tmpfile("compare.db"), mail_dir = maildir, log = function() end,
    totp_secrets = { ["1"] = "a-totp-secret-of-some-length" }, totp_issuer = "fsec-test",
    send_sms = function(m) last_sent = m.text end }
  for k, v in pairs(play.fsec or {}) do cfg[k] = v end
  local sec = helpers.new(cfg)
  for _, r in ipairs(play.roles or {}) do assert(sec.datastore:create_role{ name = r }) end
  for _, u in ipairs(play.users or {}) do
    local f = {}
    for k, v in pairs(u) do if k ~= "roles" then f[k] = v end end
    f.password = sec:hash_password(u.password)
    if u.confirmed then f.confirmed, f.confirmed_at = nil, os.time() end
    local user = assert(sec.datastore:create_user(f))
    for _, r in ipairs(u.roles or {}) do assert(sec.datastore:add_role_to_user(user, r)) end
  end
  local routes = app_routes(sec)
  local c = helpers.client()
  local nmails = 0
  local function fill(v)
    if type(v) == "table" then
      local t = {}
      for k, x in pairs(v) do t[k] = fill(x) end
      return t
    end
    if type(v) ~= "string" then return v end
    v = v:gsub("{(%a+)}", function(name)
      if name == "link" then
        local mails = helpers.mails(maildir)
        return mails[#mails] and helpers.path_of(mails[#mails].link or "") or ""
      elseif name == "mail" then
        return six_digits(last_sent) or ""
      end
      return seen[name]
    end)
    v = v:gsub("{authr:(%-?%d+)}", function(n)
      return seen.key and helpers.oath(seen.key, os.time() + 30 * tonumber(n)) or ""
    end)
    v = v:gsub("{recovery:(%d+)}", function(n) return (seen.codes or {})[tonumber(n)] or "" end)
    return v
  end
  local out = {}
  for _, step in ipairs(play.steps) do
    local h = {}
    local accept = step.accept or "application/json"
    if accept ~= "" then h.accept = accept end
    local body
    if step.json then
      body, h["content-type"] = cjson.encode(fill(step.json)), step.content_type or "application/json"
    elseif step.form then
      body, h["content-type"] = urlencode(fill(step.form)), "application/x-www-form-urlencoded"
    elseif step.raw then
      body, h["content-type"] = step.raw, step.content_type or "application/json"
    end
    for k, v in pairs(fill(step.headers or {})) do h[k:lower()] = v end
    if step.basic then h.authorization = "Basic " .. base64(step.basic[1] .. ":" .. step.basic[2]) end
    if step.token then h["authentication-token"] = seen.token or "" end
    local query = {}
    for k, v in (step.query and fill(step.query) or ""):gmatch("([^&=]+)=?([^&]*)") do query[k] = v end
    local req = c:req{ method = step.method, path = fill(step.path), headers = h, query = query, body = body }
    local res = sec:handle(req)
    if not res then
      local route = routes[req.path]
      res = require("fsec.http").new_response()
      if route then
        route(req, res)
      else
        res:text(404, "Not Found")
      end
    end
    c:take(res)
    local mails = helpers.mails(maildir)
    if #mails > nmails then nmails, last_sent = #mails, mails[#mails].text end
    local ok, j = pcall(cjson.decode, res.body or "")
    j = ok and type(j) == "table" and j or nil
    local r = j and type(j.response) == "table" and j.response or {}
    if r.csrf_token then seen.csrf = r.csrf_token end
    if r.state then seen.state = r.state end
    if r.authentication_token then seen.token = r.authentication_token end
    if r.authr_key or r.tf_authr_key then seen.key = r.authr_key or r.tf_authr_key end
    if type(r.recovery_codes) == "table" and #r.recovery_codes > 0 then seen.codes = r.recovery_codes end
    local tok = (res.body or ""):match('name="csrf_token"[^>]*value="([^"]+)"')
    if tok then seen.csrf = tok end
    if not j then -- a page: its key for manual entry, its setup state
      seen.key = (res.body or ""):match(KEY) or seen.key
      seen.state = (res.body or ""):match('action="[^"]*/us%-setup/([^"?/]+)') or seen.state
      local codes = {}
      for code in (res.body or ""):gmatch("%f[%w](" .. CODE .. ")%f[%W]") do codes[#codes + 1] = code end
      if #codes > 1 then seen.codes = codes end -- a page listing them, not a form showing one
    end
    local hdr = {}
    for k, v in pairs(res.headers or {}) do hdr[k:lower()] = v end
    out[#out + 1] = { status = res.status, location = hdr.location, content_type = hdr["content-type"],
                      cookies = res.cookies or {}, body = res.body or "", json = j }
  end
  return out
end

--- Play every play against the peer, in one process.
function M.play_peer(plays)
  -- 5.1.2's USERNAME_ENABLE adds a username field to its form classes
  -- for every app of the process: such plays go last.
  local input, ordered = {}, {}
  for _, p in ipairs(plays) do if not p.flask or not p.flask.SECURITY_USERNAME_ENABLE then ordered[#ordered + 1] = p end end
  for _, p in ipairs(plays) do if p.flask and p.flask.SECURITY_USERNAME_ENABLE then ordered[#ordered + 1] = p end end
  for i, p in ipairs(ordered) do
    input[i] = { name = p.name, settings = p.flask or {}, identity = p.identity, csrf_protect = p.csrf_protect,
                 users = p.users or {}, steps = p.steps }
  end
  if os.getenv("FSEC_PEER_INPUT") then
    local f = assert(io.open(os.getenv("FSEC_PEER_INPUT"), "w")); f:write(cjson.encode(input)); f:close()
  end
  local out = peer.run("fs_play.py", {}, cjson.encode(input))
  local ok, t = pcall(cjson.decode, out)
  assert(ok and type(t) == "table", "the peer gave no answers: " .. out:sub(1, 300))
  if type(t._messages) == "table" then M.add_probes(t._messages) end
  return t
end

--- One play against the peer, its answers as the side-by-side specs of
-- one flow read them: { status, body (the parsed JSON or nil), location }.
function M.peer_answers(play)
  play.name = play.name or "play"
  local out = {}
  for i, a in ipairs(M.play_peer({ play })[play.name]) do
    local body = a.json ~= cjson.null and a.json or nil
    local location = a.location ~= cjson.null and a.location or nil
    out[i] = { status = math.floor(a.status), body = body, location = location }
  end
  return out
end

------------------------------------------------------------------------
-- Normalizing and comparing
------------------------------------------------------------------------

local function sorted_keys(t, rename)
  local out = {}
  if type(t) ~= "table" then return out end
  for k in pairs(t) do out[#out + 1] = (rename and rename[k]) or k end
  table.sort(out)
  return out
end

-- Tokens (links, states) vary per run: a long run of token characters.
local function untoken(s)
  return (s:gsub("[%w%-_%.]+", function(w) return #w >= 20 and "<token>" or w end))
end

local function parse_cookie(line)
  local name = line:match("^%s*([^=;%s]+)=")
  local lower = line:lower()
  local deleted = lower:find("max%-age=0") ~= nil or lower:find("expires=thu, 01 jan 1970", 1, false) ~= nil
                  or line:match("^[^=]+=;") ~= nil or line:match("^[^=]+=\"\";") ~= nil
  return name, {
    deleted = deleted,
    httponly = lower:find("httponly") ~= nil,
    samesite = lower:match("samesite=(%a+)") or "",
    max_age = lower:find("max%-age=") ~= nil,
  }
end

-- Pages are compared by the messages they show, by catalogue key: a
-- key is shown where its text (fsec's or 5.1.2's) is in the page. The
-- probe of a text is its longest run without a %(placeholder)s.
local probes = {}
local function add_probes(catalogue)
  for key, text in pairs(catalogue) do
    local best = ""
    for part in (text .. "%(x)s"):gmatch("(.-)%%%(%w+%)s") do
      if #part > #best then best = part end
    end
    best = best:gsub("^%s+", ""):gsub("%s+$", "")
    if #best >= 12 then
      probes[key] = probes[key] or {}
      probes[key][best] = true
    end
  end
end
add_probes(require("fsec.messages").DEFAULT)
M.add_probes = add_probes

local function unescape(html)
  return (html:gsub("&#(x?)(%x+);", function(x, n)
    local c = tonumber(n, x == "x" and 16 or 10)
    return c and c < 128 and string.char(c) or nil
  end):gsub("&quot;", '"'):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&amp;", "&"))
end

local function page_messages(body)
  local text, found, shown = unescape(body), {}, {}
  for key, set in pairs(probes) do
    for probe in pairs(set) do
      if text:find(probe, 1, true) then found[key] = probe; break end
    end
  end
  -- a text inside another one found ("Confirmation instructions have been
  -- sent to" in "Thank you. Confirmation instructions ...") is that one
  for key, probe in pairs(found) do
    local inside = false
    for other, p in pairs(found) do
      if other ~= key and #p > #probe and p:find(probe, 1, true) then inside = true end
    end
    if not inside then shown[#shown + 1] = key end
  end
  table.sort(shown)
  return shown
end

--- One answer, as compared: status, location, type, envelope, keys,
-- messages, field names, cookies.
function M.normalize(a)
  local n = { status = math.floor(a.status) }
  for _, k in ipairs{ "location", "content_type", "json", "body" } do
    if a[k] == cjson.null then a[k] = nil end
  end
  n.location = a.location and untoken(a.location:gsub("^%a*:?//[^/]+", "")) or nil
  local ct = (a.content_type or ""):lower()
  n.type = ct:find("json") and "json" or ct:find("text/html") and "html" or (ct == "" and "none") or "text"
  if n.type == "html" and n.status >= 300 and n.status < 400 then n.type = "redirect" end
  if n.status >= 300 and n.status < 400 and n.type ~= "json" then n.type = "redirect" end
  local j = a.json
  if n.type == "json" and type(j) == "table" then
    n.envelope = sorted_keys(j)
    local r = type(j.response) == "table" and j.response or {}
    n.keys = sorted_keys(r)
    n.errors = type(r.errors) == "table" and r.errors or {}
    n.fields = sorted_keys(r.field_errors, { null = "" })
    n.user = sorted_keys(r.user)
  elseif n.type == "html" then
    local names, set = {}, {}
    for tag, attrs in (a.body or ""):gmatch("<%s*(%a+)([^>]*)>") do
      local t = tag:lower()
      local name = (t == "input" or t == "select" or t == "textarea") and attrs:match('name="([^"]*)"')
      if name and not set[name] then set[name] = true; names[#names + 1] = name end
    end
    table.sort(names)
    n.form = names
    n.shown = page_messages(a.body or "")
  end
  n.cookies = {}
  for _, line in ipairs(a.cookies or {}) do
    local name, attrs = parse_cookie(line)
    if name then n.cookies[name] = attrs end
  end
  return n
end

local function set_diff(a, b)
  local sa, sb, plus, minus = {}, {}, {}, {}
  for _, x in ipairs(a) do sa[x] = true end
  for _, x in ipairs(b) do sb[x] = true end
  for _, x in ipairs(b) do if not sa[x] then plus[#plus + 1] = x end end
  for _, x in ipairs(a) do if not sb[x] then minus[#minus + 1] = x end end
  return plus, minus
end

--- The differences between the peer's answer a and fsec's b (normalized):
-- { aspect =, value = } each. value: "peer -> fsec" for a changed value,
-- "+x" for what fsec adds, "-x" for what it lacks.
function M.differences(a, b)
  local out = {}
  local function add(aspect, value) out[#out + 1] = { aspect = aspect, value = value } end
  local function changed(aspect, x, y)
    if x ~= y then add(aspect, tostring(x) .. " -> " .. tostring(y)) end
  end
  local function sets(aspect, x, y)
    local plus, minus = set_diff(x or {}, y or {})
    for _, v in ipairs(plus) do add(aspect, "+" .. v) end
    for _, v in ipairs(minus) do add(aspect, "-" .. v) end
  end
  changed("status", a.status, b.status)
  changed("type", a.type, b.type)
  if a.type == "redirect" and b.type == "redirect" then changed("location", a.location, b.location) end
  -- cookies: which are set or deleted, and the attributes that matter
  local names = {}
  for k in pairs(a.cookies) do names[k] = true end
  for k in pairs(b.cookies) do names[k] = true end
  for name in pairs(names) do
    local x, y = a.cookies[name], b.cookies[name]
    if not x then add("cookie", "+" .. name .. (y.deleted and " (deleted)" or ""))
    elseif not y then add("cookie", "-" .. name .. (x.deleted and " (deleted)" or ""))
    else
      changed("cookie " .. name .. " deleted", x.deleted, y.deleted)
      if not x.deleted and not y.deleted then
        changed("cookie " .. name .. " HttpOnly", x.httponly, y.httponly)
        changed("cookie " .. name .. " SameSite", x.samesite, y.samesite)
        changed("cookie " .. name .. " Max-Age", x.max_age, y.max_age)
      end
    end
  end
  -- the body only where the statuses and types agree (a different
  -- status is one difference, not one per key)
  if a.status ~= b.status or a.type ~= b.type then return out end
  if a.type == "json" then
    sets("envelope", a.envelope, b.envelope)
    sets("key", a.keys, b.keys)
    sets("message", a.errors, b.errors)
    sets("field", a.fields, b.fields)
    sets("user", a.user, b.user)
  elseif a.type == "html" then
    sets("form", a.form, b.form)
    sets("page message", a.shown, b.shown)
  end
  return out
end

------------------------------------------------------------------------
-- The registry
------------------------------------------------------------------------

local function matches(want, got)
  if want == nil then return true end
  if type(want) == "table" then
    for _, w in ipairs(want) do if matches(w, got) then return true end end
    return false
  end
  if want:sub(1, 1) == "^" then return got:find(want) ~= nil end
  return want == got
end

--- Does registry entry e cover difference d?
function M.covers(e, d)
  return matches(e.play, d.play) and matches(e.endpoint, d.endpoint) and matches(e.aspect, d.aspect)
         and matches(e.value, d.value) and matches(e.step, d.label or "")
end

--- The endpoint's name of a step: its `as`, else "METHOD /path".
function M.endpoint(step)
  return step.as or (step.method .. " " .. step.path)
end

--- Play every play on both sides and compare.
-- @return { answers = n, differences = { {play, step, label, endpoint,
--   aspect, value}, ... } }
function M.run(plays)
  local theirs = M.play_peer(plays)
  local result = { answers = 0, differences = {} }
  for _, play in ipairs(plays) do
    local mine = M.play_fsec(play)
    local peer_answers = theirs[play.name]
    assert(peer_answers and #peer_answers == #play.steps, "peer answers for " .. play.name)
    for i, step in ipairs(play.steps) do
      result.answers = result.answers + 1
      if os.getenv("FSEC_COMPARE_SHOW") == play.name .. ":" .. i then -- to look at one answer
        io.stderr:write(cjson.encode(peer_answers[i]), "\n", cjson.encode(mine[i]), "\n")
      end
      for _, d in ipairs(M.differences(M.normalize(peer_answers[i]), M.normalize(mine[i]))) do
        d.play, d.step, d.label, d.endpoint = play.name, i, step.label, M.endpoint(step)
        result.differences[#result.differences + 1] = d
      end
    end
  end
  return result
end

--- Match differences against the registry.
-- @return uncovered (differences), stale (entries), used (entry -> count)
function M.check(result, registry)
  local uncovered, used = {}, {}
  for _, d in ipairs(result.differences) do
    local hit
    for _, e in ipairs(registry) do
      if M.covers(e, d) then hit = e; used[e] = (used[e] or 0) + 1 end
    end
    if not hit then uncovered[#uncovered + 1] = d end
  end
  local stale = {}
  for _, e in ipairs(registry) do if not used[e] then stale[#stale + 1] = e end end
  return uncovered, stale, used
end

function M.describe(d)
  return ("%s step %d%s: %s: %s %s"):format(d.play, d.step, d.label and (" (" .. d.label .. ")") or "",
    d.endpoint, d.aspect, d.value)
end

------------------------------------------------------------------------
-- docs/differences.md, generated from the registry
------------------------------------------------------------------------

local function cell(v)
  if v == nil then return "any" end
  if type(v) == "table" then
    local t = {}
    for i, x in ipairs(v) do t[i] = cell(x) end
    return table.concat(t, ", ")
  end
  v = tostring(v)
  if v:sub(1, 1) == "^" then v = v:sub(2):gsub("%%(%p)", "%1") .. "…" end -- a pattern: its start
  return (v:gsub("|", "\\|"))
end

--- The Markdown page of the registry (docs/differences.md).
function M.markdown(registry, answers, plays)
  local nplays = type(plays) == "table" and #plays or plays
  local lines = {
    "# Differences from Flask-Security",
    "",
    "<!-- Generated from spec/peer/differences.lua by spec/33-flask_security_compare_spec.lua",
    "     (FSEC_WRITE_DIFFERENCES=1 rewrites it); do not edit by hand. -->",
    "",
    ("fsec answers as Flask-Security-Too does. `spec/33-flask_security_compare_spec.lua` plays "
      .. "%d requests in %s configurations against Debian's python3-flask-security 5.1.2 and fsec "
      .. "and compares each answer: status, `Location`, content type, JSON envelope and keys, "
      .. "messages, field names, a page's form fields and the catalogue messages it shows, and cookies "
      .. "(names, deletion, `HttpOnly`, `SameSite`, `Max-Age`). Every difference it finds is one of the %d entries below, with its reason; the "
      .. "spec fails on a difference no entry covers and on an entry that no longer matches one."):format(
      answers, nplays, #registry),
    "",
    "Values read `peer -> fsec`; `+x`: fsec adds x, `-x`: fsec lacks x. Entries marked *pending* are "
      .. "being closed (the branch named).",
    "",
  }
  if type(plays) == "table" then
    lines[#lines + 1] = "The configurations (each plays its own request sequence):"
    lines[#lines + 1] = ""
    for _, p in ipairs(plays) do
      lines[#lines + 1] = ("- `%s`: %s"):format(p.name, p.about or "")
    end
    lines[#lines + 1] = ""
  end
  for _, l in ipairs{
    "| # | Endpoint | Configuration | What differs | Value | Why |",
    "|---|---|---|---|---|---|",
  } do lines[#lines + 1] = l end
  for i, e in ipairs(registry) do
    local why = e.why .. (e.pending and (" *(pending: " .. e.pending .. ")*") or "")
    local where = cell(e.endpoint) .. (e.step and (" (" .. cell(e.step) .. ")") or "")
    lines[#lines + 1] = ("| %d | %s | %s | %s | %s | %s |"):format(i, where, cell(e.play),
      cell(e.aspect), cell(e.value), cell(why))
  end
  lines[#lines + 1] = ""
  return table.concat(lines, "\n")
end

return M
