--- The second factors of a Flask-Security database, read for
-- `fsec.import` (issue 23): passlib's TOTP secrets (tf_totp_secret, and
-- each method's in us_totp_secrets), recovery codes (mf_recovery_codes,
-- plain or Fernet tokens), and the source application's keys
-- (TOTP_SECRETS, MULTI_FACTOR_RECOVERY_CODES_KEYS) as files give them.
--
-- Only reading and decrypting is here; fsec.import decides what each
-- user keeps and writes it (re-sealed with fsec's own keys).
--
-- The source may be hostile: every value is bounded before it is parsed
-- (FIELD_MAX), passlib's PBKDF2 cost is capped (MAX_COST: a stored
-- `"c": 40` would otherwise ask for 2^40 iterations), and what cannot be
-- read is reported as "malformed", never half-used. Errors never hold a
-- secret: neither the source's keys nor a user's key.
--
-- passlib's format (python3-passlib, passlib/totp.py to_json/from_json):
-- `{"enckey":{"c":cost,"k":b32(ciphertext),"s":b32(salt),"t":tag,"v":1},
-- "type":"totp","v":1}` plus `alg`, `digits`, `period` when not sha1/6/30;
-- the unencrypted form has `"key": b32(key)` instead of enckey.
-- keyiv = PBKDF2-HMAC-SHA256(TOTP_SECRETS[tag], salt, 2^cost, 48), then
-- AES-256-CTR (fsec.core.passlib_totp_decrypt). There is no MAC: a wrong
-- secret under the right tag gives a wrong key, unseen.
-- @module fsec.import.factors

local core = require "fsec.core"
local cjson = require "cjson"

local type = type
local pcall = pcall
local floor = math.floor


local _M = { _VERSION = "0.1.0" }

--- The largest value of a factor column the import reads, in bytes:
-- passlib's JSON is about 120 bytes, a few methods' map 600, five Fernet
-- tokens 600. Anything longer is refused before it is parsed.
_M.FIELD_MAX = 16384
--- A phone number's longest (E.164 is 15 digits; room for formatting).
_M.PHONE_MAX = 64
--- passlib's cost (log2 of the PBKDF2 iterations) at most: it writes 14,
-- and Flask-Security never changes it; 16 leaves room (4x) and bounds
-- what a hostile source makes the import spend.
_M.MAX_COST = 16
--- The raw TOTP key's length: passlib refuses keys under 10 bytes and
-- Flask-Security makes 20; 64 is SHA-512's block.
_M.KEY_MIN, _M.KEY_MAX = 10, 64
--- What fsec checks codes with (fsec.core.totp_match): the parameters a
-- kept secret may have. The period is 30 s only.
_M.ALGS = { sha1 = true, sha256 = true, sha512 = true }
_M.DIGITS_MIN, _M.DIGITS_MAX, _M.PERIOD = 6, 8, 30

-- passlib's tags (_tag_re): ^[a-z0-9][a-z0-9_.-]*$, any case.
local TAG = "^[%w][%w_.-]*$"
local function valid_tag(t) return type(t) == "string" and #t <= 64 and t:find(TAG) ~= nil end


local function is_int(v, lo, hi)
  return type(v) == "number" and v == floor(v) and v >= lo and v <= hi
end

-- JSON text -> value, or nil (never raises; no cjson.safe needed).
local function decode(text)
  local ok, v = pcall(cjson.decode, text)
  if ok then return v end
  return nil
end

local function strip(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end


--- The source's TOTP_SECRETS from a file's text, as passlib reads that
-- setting: a JSON object {tag: secret}, or "tag: secret" lines (blank
-- lines and lines starting with # skipped). Returns { [tag] = secret },
-- or nil and a message (naming a tag or a line, never a secret).
function _M.parse_totp_secrets(text)
  if type(text) ~= "string" then return nil, "no text" end
  local map, n = {}, 0
  local function add(tag, secret, where)
    if type(tag) ~= "string" or not valid_tag(tag) then
      return nil, where .. ": a tag must be letters, digits, '_', '.' or '-' (passlib's rule)"
    end
    if type(secret) ~= "string" or secret == "" then return nil, where .. ": tag " .. tag .. " has no secret" end
    if map[tag] then return nil, where .. ": tag " .. tag .. " is given twice" end
    map[tag], n = secret, n + 1
    return true
  end
  local body = strip(text)
  if body:sub(1, 1) == "{" then
    local obj = decode(body)
    if type(obj) ~= "table" then return nil, "not a JSON object of tag: secret" end
    for tag, secret in pairs(obj) do
      local ok, err = add(tag, secret, "the JSON object")
      if not ok then return nil, err end
    end
  else
    local lineno = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      lineno = lineno + 1
      line = strip(line)
      if line ~= "" and line:sub(1, 1) ~= "#" then
        local tag, secret = line:match("^([^:]*):(.*)$")
        if not tag then return nil, ("line %d: not 'tag: secret'"):format(lineno) end
        local ok, err = add(strip(tag), strip(secret), ("line %d"):format(lineno))
        if not ok then return nil, err end
      end
    end
  end
  if n == 0 then return nil, "no tag: secret in it" end
  return map
end


--- The source's MULTI_FACTOR_RECOVERY_CODES_KEYS from a file's text: a
-- JSON list of Fernet keys, or one key a line (blank lines and # lines
-- skipped). Each is base64url of 32 bytes (44 characters). Returns a
-- list in the given order (the first is the one that encrypted last, as
-- MultiFernet tries them), or nil and a message (never a key).
function _M.parse_recovery_keys(text)
  if type(text) ~= "string" then return nil, "no text" end
  local list = {}
  local body = strip(text)
  if body:sub(1, 1) == "[" then
    local arr = decode(body)
    if type(arr) ~= "table" then return nil, "not a JSON list of keys" end
    for i, k in ipairs(arr) do list[i] = k end
  else
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      line = strip(line)
      if line ~= "" and line:sub(1, 1) ~= "#" then list[#list + 1] = line end
    end
  end
  if #list == 0 then return nil, "no key in it" end
  for i, k in ipairs(list) do
    if type(k) ~= "string" or #k ~= 44 or not k:find("^[%w_-]+=$") then
      return nil, ("key %d is not a Fernet key (base64url of 32 bytes, 44 characters)"):format(i)
    end
  end
  return list
end


-- The base32 field `name` of t, decoded (passlib's tolerant decoder):
-- bytes, or nil.
local function b32(t, name)
  local v = t[name]
  if type(v) ~= "string" or v == "" then return nil end
  return core.base32_decode(v)
end

-- alg, digits and period of a passlib object: the values, or nil and why.
-- accept: the only ones taken, when given ({ alg =, digits =, period = }:
-- what fsec checks codes with).
local function params(obj, accept)
  local alg = obj.alg == nil and "sha1" or obj.alg
  local digits = obj.digits == nil and 6 or obj.digits
  local period = obj.period == nil and 30 or obj.period
  if type(alg) ~= "string" or not is_int(digits, 1, 1e9) or not is_int(period, 1, 1e9) then
    return nil, "malformed", "alg, digits or period of the wrong type"
  end
  if not _M.ALGS[alg] or digits < _M.DIGITS_MIN or digits > _M.DIGITS_MAX or period ~= _M.PERIOD then
    return nil, "unsupported", ("alg %s, %d digits, period %d (fsec: sha1, sha256 or sha512, %d to %d digits,"
      .. " period %d)"):format(alg:sub(1, 16), digits, period, _M.DIGITS_MIN, _M.DIGITS_MAX, _M.PERIOD)
  end
  if accept and (alg ~= accept.alg or digits ~= accept.digits or period ~= accept.period) then
    return nil, "unsupported", ("alg %s, %d digits, period %d (fsec checks %s codes of %d digits, period %d)")
      :format(alg, digits, period, accept.alg, accept.digits, accept.period)
  end
  return { alg = alg, digits = floor(digits), period = floor(period) }
end

-- enckey (version 1) decrypted with secrets: the key, or nil, kind, why.
local function decrypt(enc, secrets)
  if type(enc) ~= "table" or enc.v ~= 1 then return nil, "malformed", "enckey is not version 1" end
  if not is_int(enc.c, 0, 1e9) then return nil, "malformed", "enckey's cost is not a number" end
  if enc.c < 1 or enc.c > _M.MAX_COST then
    -- never run what it asks: 2^c PBKDF2 iterations
    return nil, "malformed", ("enckey's cost %d is out of range (1 to %d; passlib writes 14)"):format(
      enc.c, _M.MAX_COST)
  end
  local salt, ct = b32(enc, "s"), b32(enc, "k")
  if not salt or not ct then return nil, "malformed", "enckey's salt or key is not base32" end
  if #ct < _M.KEY_MIN or #ct > _M.KEY_MAX then
    return nil, "malformed", ("a key of %d bytes (%d to %d)"):format(#ct, _M.KEY_MIN, _M.KEY_MAX)
  end
  if not valid_tag(enc.t) then return nil, "malformed", "enckey's tag is not one passlib writes" end
  local secret = secrets and secrets[enc.t]
  if not secret then
    return nil, "nokey", secrets and ("no key for its tag %s in --totp-secrets"):format(enc.t)
                                 or "encrypted, and no --totp-secrets given"
  end
  local key, err = core.passlib_totp_decrypt(secret, salt, ct, floor(enc.c))
  if not key then return nil, "malformed", "cannot decrypt: " .. tostring(err) end
  return key
end


--- A passlib TOTP secret as Flask-Security stores it (the JSON text),
-- decrypted with the source's secrets ({tag = secret}, or nil); accept:
-- the only alg, digits and period taken, when given.
-- Returns the raw key and its parameters { alg, digits, period }; or
-- nil, kind, why, where kind is
-- "nokey" (encrypted under a tag with no secret given),
-- "unsupported" (alg, digits or period fsec does not check codes with),
-- "malformed" (not passlib's format, a cost out of range, a bad size).
function _M.totp_key(stored, secrets, accept)
  if type(stored) ~= "string" then return nil, "malformed", "not text" end
  if #stored > _M.FIELD_MAX then return nil, "malformed", ("%d bytes long"):format(#stored) end
  local obj = decode(stored)
  if type(obj) ~= "table" or obj.v ~= 1 or obj.type ~= "totp" then
    return nil, "malformed", "not passlib's TOTP JSON (version 1, type totp)"
  end
  local p, kind, why = params(obj, accept)
  if not p then return nil, kind, why end
  local key
  if obj.enckey ~= nil then
    key, kind, why = decrypt(obj.enckey, secrets)
    if not key then return nil, kind, why end
  else
    key = b32(obj, "key")
    if not key then return nil, "malformed", "neither enckey nor a base32 key" end
    if #key < _M.KEY_MIN or #key > _M.KEY_MAX then
      return nil, "malformed", ("a key of %d bytes (%d to %d)"):format(#key, _M.KEY_MIN, _M.KEY_MAX)
    end
  end
  return key, p
end


--- us_totp_secrets as Flask-Security stores it: a JSON object
-- { method = passlib JSON text }. Returns that table (methods sorted in
-- `order`), or nil and why. Each value is checked by totp_key later.
function _M.us_secrets(stored)
  if type(stored) ~= "string" then return nil, "not text" end
  if #stored > _M.FIELD_MAX then return nil, ("%d bytes long"):format(#stored) end
  local obj = decode(stored)
  if type(obj) ~= "table" then return nil, "not a JSON object of method: secret" end
  local order = {}
  for method, v in pairs(obj) do
    if type(method) ~= "string" or not method:find("^[%a_]+$") or #method > 32 or type(v) ~= "string" then
      return nil, "not a JSON object of method: secret"
    end
    order[#order + 1] = method
  end
  table.sort(order)
  return obj, order
end


-- A Fernet token (version 0x80: "gAAAAA" in base64url), by its look.
local function is_fernet(s) return s:find("^gAAAAA[%w_-]+=*$") ~= nil end

-- Flask-Security's codes (passlib's genword, hex): 3 groups of 4 lower-
-- case hex digits, the form fsec.mfcodes stores.
local function is_code(s) return s:find("^%x%x%x%x%-%x%x%x%x%-%x%x%x%x$") ~= nil and s == s:lower() end


--- mf_recovery_codes as Flask-Security stores them: comma-joined plain
-- codes, or Fernet tokens (MULTI_FACTOR_RECOVERY_CODES_KEYS), decrypted
-- with `keys` (a list, or nil; no TTL: the source's, if it had one, is
-- not known here). Returns the plain codes and how many were dropped
-- (tokens no key opens); or nil and why for a value that is neither.
function _M.recovery_codes(stored, keys)
  if type(stored) ~= "string" then return nil, "not text" end
  if #stored > _M.FIELD_MAX then return nil, ("%d bytes long"):format(#stored) end
  local codes, dropped = {}, 0
  for item in (stored .. ","):gmatch("([^,]*),") do
    item = strip(item)
    if item == "" then -- luacheck: ignore 542 ("a,,b": nothing there)
    elseif is_fernet(item) then
      local plain
      for _, k in ipairs(keys or {}) do
        plain = core.fernet_decrypt(k, item)
        if plain then break end
      end
      if plain and is_code(plain) then codes[#codes + 1] = plain
      elseif plain then return nil, "a decrypted code is not a recovery code"
      else dropped = dropped + 1 end
    elseif is_code(item) then
      codes[#codes + 1] = item
    else
      return nil, "neither recovery codes nor Fernet tokens"
    end
  end
  return codes, dropped
end


--- A phone number from the source: itself, or nil and why (too long, or
-- control characters: it is shown and sent to an SMS hook).
function _M.phone(v)
  if v == nil or v == "" then return nil end
  if type(v) ~= "string" or #v > _M.PHONE_MAX or v:find("[%c]") then
    return nil, "not a phone number"
  end
  return v
end


return _M
