--- One-time codes (RFC 6238 TOTP) for two-factor and unified sign-in:
-- secrets sealed at rest with the configured keys, codes checked once,
-- the authenticator's otpauth:// URI and its QR code.
--
-- A secret is 20 random bytes (the SHA-1 block size, as passlib makes
-- them), stored sealed (XChaCha20-Poly1305 under a key derived from
-- totp_secrets, core.keyring): a database dump alone yields no working
-- code. Email and SMS codes are TOTP codes of the user's own secret, as
-- in Flask-Security, each with its own window.
--
-- A code is accepted once: the time step it matched is stored per user
-- and slot (ds:otp_advance, one atomic statement), and a step at or
-- below it is refused (RFC 6238 §5.2), on every node at once.
-- @module fsec.otp

local core = require "fsec.core"
local cjson = require "cjson.safe"

local type = type
local pairs = pairs
local floor, ceil = math.floor, math.ceil

local _M = { _VERSION = "0.1.0" }

_M.STEP = 30
_M.DIGITS = 6

-- keyrings by the totp_secrets table of a validated configuration (the
-- key derivation is slow on purpose: once per configuration)
local rings = setmetatable({}, { __mode = "k" })

--- The keyring of a configuration's totp_secrets (raises when none).
function _M.keyring(cfg)
  local secrets = cfg.totp_secrets
  if type(secrets) ~= "table" then error("fsec: totp_secrets is not configured", 2) end
  local kr = rings[secrets]
  if not kr then
    local err
    kr, err = core.keyring(secrets)
    if not kr then error("fsec: totp_secrets: " .. tostring(err), 2) end
    rings[secrets] = kr
  end
  return kr
end

local AAD = "fsec totp secret"

--- A new secret: 20 random bytes.
function _M.new_secret() return core.otp_secret() end

--- The stored form of a raw secret (for tf_totp_secret).
function _M.seal(cfg, raw)
  return _M.keyring(cfg):seal(raw, AAD)
end

--- The raw secret of a stored one, or nil, why ("EKEY": sealed under a
-- key no longer configured, "EAUTH": altered, "EINVAL": not one).
function _M.unseal(cfg, stored)
  if type(stored) ~= "string" or stored == "" then return nil, "EINVAL" end
  return _M.keyring(cfg):unseal(stored, AAD)
end

--- us_totp_secrets: a JSON object of method -> sealed secret.
function _M.seal_us(cfg, map)
  local t, n = {}, 0
  for method, raw in pairs(map) do
    t[method] = _M.seal(cfg, raw)
    n = n + 1
  end
  if n == 0 then return nil end
  return cjson.encode(t)
end

--- The raw secrets of us_totp_secrets ({} when none): method -> raw.
-- A secret that does not unseal is left out (it cannot sign anyone in).
function _M.unseal_us(cfg, stored)
  local out = {}
  if type(stored) ~= "string" or stored == "" then return out end
  local t = cjson.decode(stored)
  if type(t) ~= "table" then return out end
  for method, sealed in pairs(t) do
    local raw = type(method) == "string" and _M.unseal(cfg, sealed)
    if raw then out[method] = raw end
  end
  return out
end

--- The methods of us_totp_secrets (sorted), without unsealing.
function _M.us_methods(stored)
  local list = {}
  local t = type(stored) == "string" and cjson.decode(stored)
  if type(t) == "table" then
    for method in pairs(t) do list[#list + 1] = method end
  end
  table.sort(list)
  return list
end

local function now(sec) return floor(sec._clock and sec._clock() or os.time()) end

--- The code of a secret now.
function _M.code(sec, raw)
  return core.totp_code(raw, now(sec), { step = _M.STEP, digits = _M.DIGITS })
end

--- The code to send (mail, SMS) of a secret whose codes are only ever
-- sent: the code of a time step of its own. The code of now would be,
-- within the 30 s step of a code already taken, that very code, refused
-- as a replay (an email sign-in just after the setup, or two in one
-- step). Each send claims the next step not claimed before, from now up
-- to validity ahead (ds:otp_advance on a counter of sent steps: atomic,
-- so two sends at once claim two steps); the codes taken are sent ones,
-- so a new one is always above the last taken. nil when every step up
-- to validity ahead is claimed already (a burst of sends): send nothing.
-- A store failure raises (503).
function _M.sent_code(sec, user, raw, validity)
  local auth = require "fsec.auth"
  local name = "sent:" .. core.digest(raw):sub(1, 16)
  local step = floor(now(sec) / _M.STEP)
  for k = 0, ceil(validity / _M.STEP) do
    if auth.check_store(sec.datastore:otp_advance(user, name, step + k)) then
      return core.totp_code(raw, (step + k) * _M.STEP, { step = _M.STEP, digits = _M.DIGITS })
    end
  end
  return nil
end

--- The key of the codes sent for a secret an authenticator app also
-- shows codes of (two-factor's rescue mail): a key of their own, so that
-- a sent code is never one of the app's, and each has its own counters.
function _M.sent_key(raw)
  return core.digest("fsec sent code", raw)
end

--- Check a code against a raw secret, once: true, or nil and why
-- ("format", "invalid", "replayed"). validity: seconds either side of
-- now (Flask-Security's windows: 120 s for an authenticator, 300 s for
-- mail), so steps = validity / 30 each side. slot names the counter
-- ("tf", "us:authenticator", ...); each secret has its own (a new
-- enrolment's first code is not a replay of the old secret's). A store
-- failure raises (503).
function _M.check(sec, user, slot, raw, code, validity)
  if type(code) ~= "string" or #code > 64 then return nil, "format" end
  local window = ceil(validity / _M.STEP)
  local counter, why = core.totp_match(raw, code, now(sec), { step = _M.STEP, digits = _M.DIGITS, window = window })
  if not counter then return nil, why end
  local auth = require "fsec.auth"
  local name = slot:sub(1, 12) .. ":" .. core.digest(raw):sub(1, 16)
  local advanced = auth.check_store(sec.datastore:otp_advance(user, name, counter))
  if not advanced then return nil, "replayed" end
  return true
end

--- The key as authenticator apps let people type it: base32 in groups
-- of 4 (or 6, or 5: whichever divides its length, as Flask-Security).
function _M.pretty_key(raw)
  local b32 = core.base32_encode(raw)
  local size = 4
  for _, n in ipairs{ 4, 6, 5 } do
    if #b32 % n == 0 then size = n; break end
  end
  local groups = {}
  for i = 1, #b32, size do groups[#groups + 1] = b32:sub(i, i + size - 1) end
  return table.concat(groups, "-")
end

-- Percent-encoding as Python's urllib.parse.quote: unreserved characters
-- and `safe` kept, every other byte %XX.
local function quote(s, safe)
  return (s:gsub("[^%w%-%._~" .. (safe or "") .. "]", function(c)
    return ("%%%02X"):format(c:byte())
  end))
end

--- The otpauth:// URI authenticator apps read (Key Uri Format, as
-- passlib writes it): otpauth://totp/ISSUER:LABEL?secret=..&issuer=..
function _M.uri(cfg, raw, label)
  local issuer = cfg.totp_issuer or "fsec"
  return ("otpauth://totp/%s:%s?secret=%s&issuer=%s"):format(quote(issuer, "@"), quote(label, "@"),
    core.base32_encode(raw), quote(issuer))
end

--- The QR code of text as an inline image (data: URI of an SVG).
function _M.qr_data_uri(text)
  local svg = assert(core.qr_svg(text))
  return "data:image/svg+xml;base64," .. core.base64_encode(svg)
end

return _M
