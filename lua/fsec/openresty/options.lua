--- fsec.openresty's options: their checks (init refuses a bad one,
-- naming it) and the LuaJIT and GC settings they carry. A part of
-- fsec.openresty (the façade documents each option at its init).
-- @module fsec.openresty.options

local authz = require "fsec.authz"

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local getmetatable = getmetatable


local _M = { _VERSION = "0.1.0" }


-- LuaJIT's default limits (4000 IR instructions and 500 constants per
-- trace) are too small for a check compiled as one trace: it aborts
-- ("trace too long"), is blacklisted after a few tries and then runs in
-- the interpreter, on every request. Set in init_by_lua, before the fork:
-- every worker inherits them. They apply to the whole Lua VM (longer
-- traces for the application too), hence the jit_opt option.
local JIT_OPT = { "maxrecord=16000", "maxirconst=2000", "maxsnap=1000" }

local function check_jit_opt(list)
  if list == nil or list == false then return nil end
  if type(list) ~= "table" then return "jit_opt must be a list or false" end
  for i = 1, #list do
    if type(list[i]) ~= "string" or not list[i]:match("^%l+=%d+$") then
      return "jit_opt: '" .. tostring(list[i]) .. "' is not name=number"
    end
  end
end

local function set_jit_opt(list)
  if list == nil then list = JIT_OPT end
  if list == false then return end
  if not jit then return end -- plain Lua (tests): nothing to tune
  local ok, err = pcall(jit.opt.start, (table.unpack or unpack)(list))
  if not ok then error("fsec.openresty.init: jit_opt: " .. tostring(err), 3) end
end
_M.set_jit_opt = set_jit_opt


-- The worker's LuaJIT GC settings init takes (100..max each). LuaJIT
-- starts a collection when the heap has grown to pause% of what the last
-- one left (200 by default), and keeps the memory it reached: a lower
-- pause trades a little CPU for a smaller worker. An incremental
-- collection runs while the request code allocates: with a higher step
-- multiplier it ends sooner, and the heap overshoots its pause less.
local GC_OPTS = {
  gc_pause = { set = "setpause", max = 1000 },
  gc_stepmul = { set = "setstepmul", max = 10000 },
}
_M.GC_OPTS = GC_OPTS

-- The options' checks: each answers whether a value (never nil: an
-- option left out takes its default) is one the option takes, and what
-- it must be otherwise. A number is never NaN (v ~= v) nor infinite.
local function number(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end
local function whole(v, lo, hi) return number(v) and v >= lo and v <= hi and v == math.floor(v) end
local function pool_name(v) return v == false or (type(v) == "string" and v ~= "") end
local function callable(v)
  if type(v) == "function" then return true end
  local mt = (type(v) == "table" or type(v) == "userdata") and getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end
-- a header name is a token (RFC 9110 5.1, 5.6.2): no space, colon, CR or LF
local function header_name(v) return type(v) == "string" and v:find("^[%w!#$%%&'*+%-.^_`|~]+$") ~= nil end

local OPTIONS = {
  { "thread_pool", pool_name, "a thread pool's name or false" },
  { "sync_thread_pool", pool_name, "a thread pool's name or false" },
  { "db_thread_pool", function(v) return type(v) == "string" and v ~= "" end, "a thread pool's name" },
  { "mail_thread_pool", function(v) return type(v) == "string" and v ~= "" end, "a thread pool's name" },
  { "db_jobs", function(v) return whole(v, 1, 1024) end, "a whole number 1..1024" },
  { "db_queue", function(v) return whole(v, 0, 100000) end, "a whole number 0..100000" },
  { "shared_dict", function(v) return type(v) == "boolean" end,
    "true or false (false: no cache; the generation lives in no lua_shared_dict now)" },
  -- resty.lrucache refuses 0, and allocates its slots at once (above
  -- about 2^25 its FFI array fails): in the worker, too late to refuse
  { "cache_size", function(v) return whole(v, 1, 1e8) end, "a whole number 1..100000000" },
  { "cache_l1_size", function(v) return whole(v, 1, 1e8) end, "a whole number 1..100000000" },
  { "cache_dict", pool_name, "a lua_shared_dict's name or false" },
  { "cache_ttl", function(v) return number(v) and v > 0 end, "a number of seconds over 0" },
  { "setup", callable, "a function" },
  { "thread_nice", function(v) return v == false or whole(v, 0, 19) end, "a whole number 0..19 or false" },
  { "argon2_process", function(v) return type(v) == "boolean" or type(v) == "string" end, "a boolean or a path" },
  { "user_header", header_name, "an HTTP header name (a token: letters, digits, -_.!#$%&'*+^`|~)" },
  { "guards", function(v) return type(v) == "table" end, "a table of name -> spec" },
  { "gc_pause", function(v) return number(v) and v >= 100 and v <= GC_OPTS.gc_pause.max end, "a number 100..1000" },
  { "gc_stepmul", function(v) return number(v) and v >= 100 and v <= GC_OPTS.gc_stepmul.max end,
    "a number 100..10000" },
  { "jit_opt", function() return true end }, -- check_jit_opt
  { "thread_jobs", function(v) return whole(v, 1, 1024) end, "a whole number 1..1024" },
  { "thread_wait", function(v) return number(v) and v > 0 and v <= 3600 end,
    "a number of seconds, over 0 and at most 3600" },
  { "thread_queue", function(v) return whole(v, 0, 100000) end, "a whole number 0..100000" },
  { "limit_dict", pool_name, "a lua_shared_dict's name or false" },
  { "metrics_dict", pool_name, "a lua_shared_dict's name or false" },
  { "metrics_flush", function(v) return number(v) and v >= 0.05 and v <= 60 end,
    "a number of seconds, 0.05..60" },
}
local KNOWN = {}
for _, o in ipairs(OPTIONS) do KNOWN[o[1]] = true end

-- The known option a misspelt name most likely meant (one letter added,
-- dropped, changed or two swapped), for the error's hint.
local function near(name)
  if type(name) ~= "string" then return nil end
  local function close(a, b)
    if math.abs(#a - #b) > 1 then return false end
    local i = 1
    while i <= #a and a:sub(i, i) == b:sub(i, i) do i = i + 1 end
    local ra, rb = a:sub(i), b:sub(i)
    return ra:sub(2) == rb:sub(2) or ra:sub(2) == rb or ra == rb:sub(2)
      or (ra:sub(1, 2) == rb:sub(2, 2) .. rb:sub(1, 1) and ra:sub(3) == rb:sub(3))
  end
  for _, o in ipairs(OPTIONS) do
    if close(name, o[1]) then return o[1] end
  end
end

-- nil, or what is wrong with opts (the first problem found)
local function check_opts(opts)
  if type(opts) ~= "table" then return "opts must be a table" end
  for name in pairs(opts) do
    if not KNOWN[name] then
      local hint = near(name)
      return "unknown option '" .. tostring(name) .. "'" .. (hint and " (" .. hint .. "?)" or "")
    end
  end
  for _, o in ipairs(OPTIONS) do
    local v = opts[o[1]]
    if v ~= nil and not o[2](v) then return o[1] .. " must be " .. o[3] end
  end
  local e = check_jit_opt(opts.jit_opt)
  if e then return e end
  for name, spec in pairs(opts.guards or {}) do
    if type(name) ~= "string" then return "guards must be a table of name -> spec" end
    local ok, err = pcall(authz.prepare, spec)
    if not ok then return "guard '" .. name .. "': " .. tostring(err) end
  end
end
_M.check = check_opts


--- A copy of opts with the known options only (read as the checks read
-- them: through an __index too): the caller's table may change after
-- init, the checks stay true.
function _M.copy(opts)
  local o = {}
  for _, known in ipairs(OPTIONS) do o[known[1]] = opts[known[1]] end
  return o
end


return _M
