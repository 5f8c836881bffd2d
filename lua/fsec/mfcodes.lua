--- Multi-factor recovery codes, as Flask-Security-Too's: /mf-recovery-codes
-- (see them, make a new set) and /mf-recovery (sign in with one instead
-- of the second factor).
--
-- A code is 12 lower-case hex digits in three groups (`3f9a-1c2b-77d0`),
-- about 48 bits. Flask-Security keeps them in clear unless keys are
-- configured; fsec keeps a salted keyed hash of each (ASVS 2.6.2: a look-up
-- secret under 112 bits is salted and hashed), so a database dump does
-- not give them away, and they cannot be shown again after they were made.
-- With multi_factor_recovery_codes_keys they are kept encrypted instead
-- (XChaCha20-Poly1305), and the user can see them again.
--
-- The column holds the entries comma-joined (Flask-Security's layout).
-- Using a code removes it with a compare-and-set of the column
-- (ds:swap_text): two requests with the same code, on any worker or node,
-- cannot both succeed.
-- @module fsec.mfcodes

local core = require "fsec.core"
local auth = require "fsec.auth"
local forms = require "fsec.forms"
local A = require "fsec.answer"
require "fsec.mfpages"

local type = type
local ipairs = ipairs
local concat = table.concat

local _M = { _VERSION = "0.1.0" }

local AAD = "fsec recovery code"
local HASHED = "$h1$"

-- keyrings of the recovery keys (a list: the first encrypts, as
-- MultiFernet), by the list
local rings = setmetatable({}, { __mode = "k" })
local function keyring(cfg)
  local keys = cfg.multi_factor_recovery_codes_keys
  if not keys then return nil end
  local kr = rings[keys]
  if not kr then
    local map = {}
    for i, k in ipairs(keys) do map[tostring(#keys - i + 1)] = k end
    local err
    kr, err = core.keyring(map)
    if not kr then error("fsec: multi_factor_recovery_codes_keys: " .. tostring(err), 2) end
    rings[keys] = kr
  end
  return kr
end

local function hex(bytes)
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

--- A new code: 12 hex digits from the system's random source, in groups.
function _M.new_code()
  local h = hex(core.otp_secret():sub(1, 6))
  return h:sub(1, 4) .. "-" .. h:sub(5, 8) .. "-" .. h:sub(9, 12)
end

-- The form people type: case and spaces do not matter.
local function normal(code)
  if type(code) ~= "string" or #code > 64 then return nil end
  local s = code:lower():gsub("%s", "")
  if not s:match("^%x%x%x%x%-?%x%x%x%x%-?%x%x%x%x$") then return nil end
  s = s:gsub("%-", "")
  return s:sub(1, 4) .. "-" .. s:sub(5, 8) .. "-" .. s:sub(9, 12)
end
_M.normal = normal

local function hashed(code, salt)
  return HASHED .. hex(salt) .. "$" .. core.digest(code, salt)
end

--- The stored form of a list of codes (for mf_recovery_codes).
function _M.encode(cfg, codes)
  local kr = keyring(cfg)
  local out = {}
  for i, c in ipairs(codes) do
    local n = assert(normal(c), "not a recovery code")
    out[i] = kr and kr:seal(n, AAD) or hashed(n, core.otp_secret():sub(1, 16))
  end
  return concat(out, ",")
end

local function entries(stored)
  local list = {}
  if type(stored) ~= "string" or stored == "" then return list end
  for e in stored:gmatch("[^,]+") do list[#list + 1] = e end
  return list
end

-- Does entry hold code?
local function matches(cfg, entry, code)
  if entry:sub(1, #HASHED) == HASHED then
    local salt_hex, digest = entry:sub(#HASHED + 1):match("^(%x+)%$(%x+)$")
    if not salt_hex or #salt_hex ~= 32 then return false end
    local salt = salt_hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
    -- Lua compares strings as interned values: no byte-by-byte early exit
    return core.digest(code, salt) == digest
  end
  local kr = keyring(cfg)
  local plain = kr and kr:unseal(entry, AAD)
  return plain ~= nil and plain == code
end

--- How many codes the user has left.
function _M.count(user) return #entries(user.mf_recovery_codes) end

--- The codes in clear, when they are kept encrypted (else nil).
function _M.show(cfg, user)
  local kr = keyring(cfg)
  if not kr then return nil end
  local out = {}
  for _, e in ipairs(entries(user.mf_recovery_codes)) do
    local plain = kr:unseal(e, AAD)
    if plain then out[#out + 1] = plain end
  end
  return out
end

--- Use a code: true when it was one of the user's and is now gone (a
-- compare-and-set: of two uses at once, one wins).
function _M.consume(sec, user, code)
  local n = normal(code)
  if not n then return false end
  local stored = user.mf_recovery_codes
  local list = entries(stored)
  local found
  for i, e in ipairs(list) do
    if matches(sec._cfg, e, n) and not found then found = i end
  end
  if not found then return false end
  table.remove(list, found)
  local rest = #list > 0 and concat(list, ",") or nil
  return auth.check_store(sec.datastore:swap_text(user, "mf_recovery_codes", stored, rest)) == true
end

------------------------------------------------------------------------
-- Endpoints
------------------------------------------------------------------------

local V = {}
_M.handlers = V

function V.mf_recovery_codes(sec, req, res, _, json)
  local cfg = sec._cfg
  local user = A.fresh_user(sec, req, res)
  if not user then return res end
  if req.method == "POST" then
    local codes = {}
    for i = 1, cfg.multi_factor_recovery_codes_n do codes[i] = _M.new_code() end
    local ok, err = A.write_all(sec, function()
      require("fsec.datastore").must(sec.datastore:set_field(user, "mf_recovery_codes", _M.encode(cfg, codes)))
    end)
    if not ok then error(err, 0) end
    if json then return A.json_ok(sec, req, res, { recovery_codes = codes }) end
    return A.page(sec, req, res, "mf_recovery_codes", nil, { codes = codes })
  end
  local shown = _M.show(cfg, user)
  if json then
    -- hashed codes cannot be shown: the list is empty, and
    -- recovery_codes_count (fsec) says how many are left
    return A.json_ok(sec, req, res, { recovery_codes = shown or {}, recovery_codes_count = _M.count(user) })
  end
  local want = req.query and req.query.show_codes ~= nil
  local ctx = { count = _M.count(user), can_show = shown ~= nil, codes = want and shown or nil }
  if want and shown and #shown == 0 then ctx.errors = { sec.msg("NO_RECOVERY_CODES_SETUP") } end
  return A.page(sec, req, res, "mf_recovery_codes", nil, ctx)
end

function V.mf_recovery(sec, req, res, fields, json)
  if A.signed_in(sec, req, res) then return A.anonymous_required(sec, res, json) end
  local tf = require "fsec.twofactor"
  local data = tf.read_state(sec, req)
  local user = data and data.l == 1 and data.st == "ready"
    and auth.check_store(sec.datastore:find_user{ fs_uniquifier = data.u })
  if not user or not user.active then return tf.illegal(sec, req, res, json) end
  if req.method == "GET" then
    if json then return A.json_ok(sec, req, res, {}) end
    return A.page(sec, req, res, "mf_recovery", nil, {})
  end
  local form = forms.new(sec, fields)
  local code = form:string("code", 64)
  if not code then form:error("code", "INVALID_RECOVERY_CODE") end
  if form:ok() then
    -- metered as codes are: reserved first, given back on success
    if not auth.reserve(sec, user) or not _M.consume(sec, user, code) then
      sec.signals:send("user_failed_authn", { user = auth.public_user(user), auth_type = "recovery_code", tfa = true })
      form:error("code", "INVALID_RECOVERY_CODE")
    else
      auth.check_store(auth.unlock(sec, user))
      require("fsec.events").emit(sec, "recovery_code", { user = user }, req)
    end
  end
  if not form:ok() then
    if json then return A.json_error(res, form) end
    return A.page(sec, req, res, "mf_recovery", form, {})
  end
  -- no tf_validity after a recovery code (as Flask-Security): the device
  -- is not remembered on a code meant for a lost one
  return tf.finish(sec, req, res, json, user, data, { no_validity = true, method = "recovery_code" })
end

return _M
