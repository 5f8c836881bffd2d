--- WebAuthn ceremonies (passkeys, security keys), as Flask-Security-Too
-- 5.x runs them: the options a browser gets, the state between the two
-- requests of a ceremony, and the checks of what the browser posts back.
-- The CBOR, COSE and signature work is fsec.core's (core.wan_register,
-- core.wan_assert); this module checks clientDataJSON (type, challenge,
-- origin) and owns the rules around them: the challenge is single use,
-- bound to the browser that asked for it and expiring; the sign counter
-- refuses a cloned authenticator.
--
-- The state (wan_state) is a signed fsec token naming its purpose: the
-- challenge, the user (signed-in ceremonies), the key's name and usage,
-- and a digest of a random value kept in a cookie of the browser that
-- started it (fsec_wan). A state posted from another browser lacks the
-- cookie, and one posted twice finds its challenge spent: the store's
-- attempt meter (ds:reserve_attempt, one use per challenge) records it.
-- @module fsec.webauthn

local core = require "fsec.core"
local http = require "fsec.http"
local auth = require "fsec.auth"
local cjson = require "cjson.safe"

local type = type
local ipairs = ipairs
local tostring = tostring
local math_max = math.max


local _M = { _VERSION = "0.1.0" }

--- The COSE algorithms fsec takes (ES256, EdDSA, RS256), in preference order.
_M.ALGS = { -7, -8, -257 }
local BIND_COOKIE = "fsec_wan"
local STATE = "wan"
local JSON_MAX = 65536 -- a posted credential: authData + attestation fit in far less

local function cfg_of(sec) return sec._cfg end


------------------------------------------------------------------------
-- base64url (no padding), as WebAuthn's JSON carries bytes
------------------------------------------------------------------------

--- base64url of bytes, without padding.
function _M.b64u_encode(s)
  return (core.base64_encode(s):gsub("[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" }))
end

--- The bytes of a base64url string (padding optional), or nil.
function _M.b64u_decode(s)
  if type(s) ~= "string" or s:find("[^%w%-_=]") then return nil end
  s = s:gsub("=+$", ""):gsub("[-_]", { ["-"] = "+", ["_"] = "/" })
  local pad = (4 - #s % 4) % 4
  if pad == 3 then return nil end
  return core.base64_decode(s .. ("="):rep(pad))
end
local b64u_encode, b64u_decode = _M.b64u_encode, _M.b64u_decode

local function sha256(s)
  local f = core.sha256
  if not f then error("fsec: fsec.core lacks sha256 (WebAuthn needs the wan-core binding)", 0) end
  return f(s)
end


------------------------------------------------------------------------
-- The relying party: its id and origins
------------------------------------------------------------------------

--- The RP ID: wan_rp_id, else the request's host without its port.
function _M.rp_id(sec, req)
  local id = cfg_of(sec).wan_rp_id
  if id then return id end
  local host = type(req.host) == "string" and req.host or "localhost"
  if host:sub(1, 1) == "[" then return host:match("^(%[.-%])") or host end
  return (host:gsub(":%d*$", ""))
end

--- The origins a clientDataJSON may name: wan_origins, else the
-- request's scheme://host[:port] (as Too) and external_url's origin. A
-- relayed answer cannot pass as another site's: its origin is the site
-- the browser was on, and the key signed for that site's RP ID.
function _M.origins(sec, req)
  local cfg = cfg_of(sec)
  if cfg.wan_origins then return cfg.wan_origins end
  local list = { (req.scheme == "https" and "https" or "http") .. "://" .. (req.host or "") }
  local ext = cfg.external_url and cfg.external_url:match("^(https?://[^/]+)")
  if ext then list[2] = ext end
  return list
end


------------------------------------------------------------------------
-- Options (what navigator.credentials.create/get take, as JSON)
------------------------------------------------------------------------

-- A descriptor per key: its id and transports; nil for none (this
-- cjson has no array_mt, and {} would reach the browser as an object).
local function descriptors(creds)
  if not creds or #creds == 0 then return nil end
  local list = {}
  for _, c in ipairs(creds) do
    local d = { type = "public-key", id = b64u_encode(c.credential_id) }
    if type(c.transports) == "table" and #c.transports > 0 then d.transports = c.transports end
    list[#list + 1] = d
  end
  return list
end

--- Registration options for a user: handle (the user handle), name (the
-- account's name in the authenticator), usage, existing keys (excluded:
-- the same authenticator is not registered twice).
function _M.registration_options(sec, req, o)
  local cfg = cfg_of(sec)
  local params = {}
  for i, alg in ipairs(_M.ALGS) do params[i] = { type = "public-key", alg = alg } end
  return {
    rp = { name = cfg.wan_rp_name, id = _M.rp_id(sec, req) },
    user = { id = b64u_encode(o.handle), name = o.name, displayName = o.name },
    challenge = o.challenge,
    pubKeyCredParams = params,
    timeout = cfg.wan_register_timeout,
    excludeCredentials = descriptors(o.existing),
    authenticatorSelection = {
      -- a first factor must say who is signing in: a discoverable key
      -- (a passkey) when sign-in takes no identity
      residentKey = cfg.wan_allow_user_hints and "preferred" or "required",
      requireResidentKey = not cfg.wan_allow_user_hints,
      userVerification = o.usage == "first" and "preferred" or "discouraged",
    },
    attestation = "none",
    extensions = { credProps = true },
  }
end

--- Authentication options: the user's usable keys when an identity was
-- given (nil: any discoverable key).
function _M.authentication_options(sec, req, challenge, creds, usage)
  local o = { challenge = challenge, timeout = cfg_of(sec).wan_signin_timeout, rpId = _M.rp_id(sec, req),
              userVerification = usage == "secondary" and "discouraged" or "preferred" }
  o.allowCredentials = descriptors(creds)
  return o
end


------------------------------------------------------------------------
-- The state between a ceremony's two requests
------------------------------------------------------------------------

-- This browser's binding value: its cookie's, or a new one; set again on
-- res each time, to outlive any ceremony's state (several may be open).
local function binding(sec, req, res)
  local cfg = cfg_of(sec)
  local name = auth.cookie_name(sec, req, BIND_COOKIE)
  local v = http.request_cookie(req, name, 64)
  if not v or not v:match("^[%w%-_]+$") or #v < 22 then v = core.random_id(16) end
  res:set_cookie(name, v, auth.cookie_opts(sec, req, math_max(cfg.wan_register_within, cfg.wan_signin_within)))
  return v
end

--- Start a ceremony: a new challenge and the state token carrying it.
-- data: what the second request needs (u, n, us...); kind: "register",
-- "signin", "verify". Returns challenge (base64url), state.
function _M.start(sec, req, res, kind, data)
  local challenge = core.random_id(cfg_of(sec).wan_challenge_bytes)
  data.k, data.c = kind, challenge
  data.b = core.digest(binding(sec, req, res))
  return challenge, assert(sec:generate_token(STATE, data))
end

--- Take a state back: its data, or nil and why ("invalid", "expired",
-- "replayed"). The challenge is spent here, whatever follows: one try
-- per ceremony.
function _M.take(sec, req, token, kind, within)
  local expired, invalid, data = sec:get_token_status(token, STATE, within)
  if invalid or type(data) ~= "table" or data.k ~= kind or type(data.c) ~= "string" or type(data.b) ~= "string" then
    return nil, "invalid"
  end
  if expired then return nil, "expired" end
  local v = http.request_cookie(req, auth.cookie_name(sec, req, BIND_COOKIE), 64)
  if not v or not core.equal(core.digest(v), data.b) then return nil, "invalid" end
  -- a spent challenge stays recorded longer than the state lives; the
  -- window also covers the login meters the memory store prunes with it
  local window = math_max(within, cfg_of(sec).login_lockout_window or 0) + 60
  local first = auth.check_store(sec.datastore:reserve_attempt("wan:" .. core.digest(data.c), 1, window))
  if not first then return nil, "replayed" end
  return data
end


------------------------------------------------------------------------
-- What the browser posts back
------------------------------------------------------------------------

--- The posted credential (a JSON string, as Too's forms post it, or a
-- table): { id, raw_id, type, response = bytes fields decoded }, or nil.
function _M.credential(v)
  if type(v) == "string" then
    if #v > JSON_MAX then return nil end
    v = cjson.decode(v)
  end
  if type(v) ~= "table" or v.type ~= "public-key" or type(v.response) ~= "table" then return nil end
  local raw = b64u_decode(v.rawId or v.id)
  if not raw or raw == "" or #raw > 1023 or (v.id ~= nil and b64u_decode(v.id) ~= raw) then return nil end
  local r, out = v.response, { id = raw, response = {} }
  for _, k in ipairs{ "clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle" } do
    local x = r[k]
    if x ~= nil and x ~= cjson.null then
      local bytes = b64u_decode(x)
      if not bytes then return nil end
      out.response[k] = bytes
    end
  end
  if not out.response.clientDataJSON then return nil end
  local t = {}
  if type(r.transports) == "table" then
    for _, s in ipairs(r.transports) do
      if type(s) == "string" and s:match("^[%w%-]+$") and #s <= 32 and #t < 8 then t[#t + 1] = s end
    end
  end
  out.transports = t
  return out
end

local BOM = "\239\187\191"

-- The end of the JSON string starting at s[i] (a quote): the index of its
-- closing quote, or nil.
local function string_end(s, i)
  local k = i + 1
  while true do
    local q = s:find('["\\]', k)
    if not q then return nil end
    if s:byte(q) == 34 then return q end
    k = q + 2 -- an escape: the byte after the backslash is no quote
  end
end

-- Does the object s (text cjson has parsed) name each member once? cjson
-- keeps the last of two, another parser the first: the signed bytes would
-- say two things (two origins, two types). Names are compared decoded, so
-- "type" and "\u0074ype" are one.
local function names_unique(s)
  local seen, depth, key_next, i = {}, 0, false, 1
  while true do
    local j = s:find('[{}%[%],"]', i)
    if not j then return true end
    local ch = s:byte(j)
    if ch == 34 then -- a string: a name when it opens a top-level member
      local k = string_end(s, j)
      if not k then return false end
      if key_next then
        local name = cjson.decode(s:sub(j, k))
        if name == nil or seen[name] then return false end
        seen[name] = true
      end
      key_next, i = false, k + 1
    else
      if ch == 123 or ch == 91 then depth = depth + 1 elseif ch == 125 or ch == 93 then depth = depth - 1 end
      key_next, i = depth == 1 and (ch == 123 or ch == 44), j + 1
    end
  end
end

--- Check clientDataJSON (L2 §7.1 steps 5-9, §7.2 steps 10-13): its
-- type, the challenge (constant time), an expected origin, no
-- cross-origin frame, no member named twice. Parsed, never compared
-- against a template.
-- @return true, or nil and the cause
function _M.client_data(sec, req, bytes, want_type, challenge)
  if bytes:sub(1, 3) == BOM then bytes = bytes:sub(4) end
  local c = cjson.decode(bytes)
  if type(c) ~= "table" or not names_unique(bytes) then return nil, "malformed client data" end
  if c.type ~= want_type then return nil, "client data type" end
  if type(c.challenge) ~= "string" or not core.equal(c.challenge, challenge) then return nil, "challenge" end
  local ok = false
  for _, o in ipairs(_M.origins(sec, req)) do
    if c.origin == o then ok = true end
  end
  if not ok then return nil, "origin" end
  -- a boolean, false or absent: "true" (a string) is no browser's
  -- answer, and is not taken as false
  if c.crossOrigin ~= nil and c.crossOrigin ~= false then return nil, "cross origin" end
  return true
end

--- Verify a registration (L2 §7.1): info of core.wan_register, or nil
-- and the cause. algs: the COSE algorithms taken (default ALGS).
function _M.verify_registration(sec, req, cred, data, algs)
  local r = cred.response
  if not r.attestationObject then return nil, "malformed" end
  local ok, why = _M.client_data(sec, req, r.clientDataJSON, "webauthn.create", data.c)
  if not ok then return nil, why end
  local info, reason = core.wan_register(r.attestationObject, sha256(r.clientDataJSON), _M.rp_id(sec, req),
                                         { require_uv = data.uv == 1, algs = algs or _M.ALGS })
  if not info then return nil, tostring(reason) end
  if info.credential_id ~= cred.id then return nil, "credential id" end
  return info
end

--- Verify an assertion with a stored key (L2 §7.2 steps 10-20): the
-- result of core.wan_assert (sign_count, uv, be, bs), or nil and cause.
function _M.verify_assertion(sec, req, cred, data, stored, require_uv)
  local r = cred.response
  if not r.authenticatorData or not r.signature then return nil, "malformed" end
  local ok, why = _M.client_data(sec, req, r.clientDataJSON, "webauthn.get", data.c)
  if not ok then return nil, why end
  local res, reason = core.wan_assert(stored.public_key, r.authenticatorData, sha256(r.clientDataJSON),
                                      r.signature, _M.rp_id(sec, req), { require_uv = require_uv })
  if not res then return nil, tostring(reason) end
  return res
end

-- L2 §7.2 step 21: when either count is non-zero, the new one must be
-- above the stored one; else two authenticators hold the key (a clone).
function _M.sign_count_ok(stored, new)
  if stored == 0 and new == 0 then return true end
  return new > stored
end
local count_ok = _M.sign_count_ok

--- Record a use of a key: the new sign count, by compare-and-set on the
-- count this request read (ds:webauthn_used), so two racing assertions
-- cannot both pass with one count. A clone is refused.
-- @return true, or nil and "clone"
function _M.record_use(sec, cred, new_count, now)
  local ds = sec.datastore
  for _ = 1, 4 do
    if not count_ok(cred.sign_count or 0, new_count) then return nil, "clone" end
    if auth.check_store(ds:webauthn_used(cred, new_count, now)) then return true end
    -- another request moved the count: read it again, apply the rule again
    cred = auth.check_store(ds:find_webauthn(cred.credential_id))
    if not cred then return nil, "gone" end
  end
  return nil, "clone"
end

return _M
