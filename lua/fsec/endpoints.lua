--- The routes of the endpoint modules beside fsec.views (second factor,
-- recovery codes, unified sign-in, change of address, usernames,
-- WebAuthn): which path names which endpoint, which module answers it,
-- and how views treats it (throttled as a credential, POST or GET only,
-- a mailed link).
--
-- They live here, apart from the handlers, so that a worker loads a
-- module at the first request for one of its endpoints, not before: the
-- modules are most of fsec's Lua code, and every object a worker keeps
-- is written by its garbage collector (a private page per worker, and
-- LuaJIT's allocator keeps about twice the live heap: docs/performance.md,
-- "Memory"). A worker that only checks tokens and sessions never loads them.
-- @module fsec.endpoints

local _M = { _VERSION = "0.1.0" }

-- the token after BASE/ (one path segment), or nil
local function tail(path, base)
  base = base .. "/"
  if path:sub(1, #base) ~= base then return nil end
  local t = path:sub(#base + 1)
  if t ~= "" and not t:find("/", 1, true) then return t end
end

local function twofactor(sec, path)
  local c = sec._cfg
  if not c.two_factor then return nil end
  if path == c.two_factor_setup_url then return "tf_setup" end
  local t = tail(path, c.two_factor_setup_url)
  if t then return "tf_setup_token", t end
  if path == c.two_factor_token_validation_url then return "tf_validate" end
  if path == c.two_factor_rescue_url then return "tf_rescue" end
  if path == c.two_factor_select_url then return "tf_select" end
end

local function mfcodes(sec, path)
  local c = sec._cfg
  if not c.multi_factor_recovery_codes or not (c.two_factor or c.unified_signin) then return nil end
  if path == c.multi_factor_recovery_codes_url then return "mf_recovery_codes" end
  if path == c.multi_factor_recovery_url then return "mf_recovery" end
end

local function unified(sec, path)
  local c = sec._cfg
  if not c.unified_signin then return nil end
  if path == c.us_signin_url then return "us_signin" end
  if path == c.us_signin_send_code_url then return "us_signin_send_code" end
  if path == c.us_verify_url then return "us_verify" end
  if path == c.us_verify_send_code_url then return "us_verify_send_code" end
  if path == c.us_verify_link_url then return "us_verify_link" end
  if path == c.us_setup_url then return "us_setup" end
  local t = tail(path, c.us_setup_url)
  if t then return "us_setup_token", t end
end

local function changeemail(sec, path)
  local c = sec._cfg
  if not c.change_email then return nil end
  if path == c.change_email_url then return "change_email" end
  local t = tail(path, c.change_email_url)
  if t then return "change_email_token", t end
end

local function username(sec, path)
  local c = sec._cfg
  if c.username_recovery and path == c.username_recovery_url then return "recover_username" end
  if c.change_username and path == c.change_username_url then return "change_username" end
end

-- WebAuthn needs a datastore that keeps keys (one without the WebAuthn
-- methods has no passkeys)
local function wanviews(sec, path)
  local c = sec._cfg
  if not c.webauthn or (sec.datastore and not sec.datastore.webauthn_credentials) then return nil end
  if path == c.wan_register_url then return "wan_register" end
  if path == c.wan_signin_url then return "wan_signin" end
  if path == c.wan_delete_url then return "wan_delete" end
  if path == c.wan_verify_url then return "wan_verify" end
  if path == c.wan_script_url then return "wan_script" end
  for _, r in ipairs{ { "wan_register_url", "wan_register_response" }, { "wan_signin_url", "wan_signin_response" },
                      { "wan_verify_url", "wan_verify_response" } } do
    local t = tail(path, c[r[1]])
    if t then return r[2], t end
  end
end

--- The modules, in the order views tries their routes: { module, route,
-- handlers }. route(sec, path) answers the endpoint's name (and the
-- path's token) or nil; handlers lists every name route can answer
-- (spec/42-reshape_spec.lua checks them against the module's handlers).
_M.MODULES = {
  { module = "fsec.twofactor", route = twofactor,
    handlers = { "tf_setup", "tf_setup_token", "tf_validate", "tf_rescue", "tf_select" } },
  { module = "fsec.mfcodes", route = mfcodes, handlers = { "mf_recovery_codes", "mf_recovery" } },
  { module = "fsec.unified", route = unified,
    handlers = { "us_signin", "us_signin_send_code", "us_verify", "us_verify_send_code", "us_setup",
                 "us_setup_token", "us_verify_link" } },
  { module = "fsec.changeemail", route = changeemail, handlers = { "change_email", "change_email_token" } },
  { module = "fsec.username", route = username, handlers = { "recover_username", "change_username" } },
  { module = "fsec.wanviews", route = wanviews,
    handlers = { "wan_register", "wan_register_response", "wan_delete", "wan_signin", "wan_signin_response",
                 "wan_verify", "wan_verify_response", "wan_script" } },
}

--- Endpoints that check a credential, a code, or send one: throttled
-- as credentials (a POST that mails is metered as one).
_M.CREDENTIAL = {
  tf_setup = true, tf_setup_token = true, tf_validate = true, tf_rescue = true,
  mf_recovery = true,
  us_signin = true, us_signin_send_code = true, us_verify = true, us_verify_send_code = true,
  us_setup = true, us_setup_token = true, us_verify_link = true,
  change_email = true,
  recover_username = true, change_username = true,
  wan_register = true, wan_register_response = true, wan_signin = true, wan_signin_response = true,
  wan_delete = true, wan_verify = true, wan_verify_response = true,
}

--- Endpoints that take POST only.
_M.POST_ONLY = { us_signin_send_code = true, us_verify_send_code = true, us_setup_token = true,
                 wan_register_response = true, wan_signin_response = true, wan_verify_response = true,
                 wan_delete = true }

--- Endpoints that take GET only.
_M.GET_ONLY = { wan_script = true }

--- Mailed links that act: consent first (the GET asks, the POST acts;
-- GET acts with one_click_links), CSRF on their POST, HEAD does nothing.
_M.LINKS = { us_verify_link = true, change_email_token = true }

--- The handler of an endpoint of these modules, its module loaded now
-- if it was not. A module that fails to load raises (the request fails
-- with it: no endpoint goes unanswered silently); nil for a name no
-- module here answers.
local OWNER = {}
for _, m in ipairs(_M.MODULES) do
  for _, name in ipairs(m.handlers) do OWNER[name] = m.module end
end

function _M.handler(name)
  local mod = OWNER[name]
  if not mod then return nil end
  local fn = require(mod).handlers[name]
  if not fn then error("fsec: " .. mod .. " has no handler " .. name, 2) end
  return fn
end

--- The endpoint a path names among these modules' (name, token), or nil.
function _M.route(sec, path)
  for _, m in ipairs(_M.MODULES) do
    local name, token = m.route(sec, path)
    if name then return name, token end
  end
end

return _M
