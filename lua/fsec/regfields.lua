--- The application's own registration fields (`register_fields`): what
-- Flask-Security does by extending its RegisterForm with fields the User
-- model has columns for. Each field is declared once, in the
-- configuration:
--
--   register_fields = {
--     { name = "display_name", type = "string", required = true,
--       max_length = 40, label = "Display name",
--       validate = function(value, form) return ok | nil, "message" end },
--     { name = "age", type = "integer", min = 13, max = 130 },
--     { name = "newsletter", type = "boolean" },
--     { name = "team", type = "choice", choices = { "red", "blue" } },
--   }
--
-- The fields appear on the HTML register form (label, input type,
-- required, errors bound to the input), are read from the JSON or form
-- body and checked (type, length, control characters, choices, the
-- hook), stored with the user (`create_user{ fields = ... }`), read as
-- `user.fields.<name>` or `user.<name>`, and returned in the `user`
-- object of the JSON answers unless `payload = false`. Only declared
-- names are ever read from a request: a client posting `active`,
-- `roles` or `fs_uniquifier` sets nothing (no mass assignment).
-- @module fsec.regfields

local core = require "fsec.core"
local http = require "fsec.http"

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local floor = math.floor


local _M = { _VERSION = "0.1.0" }

_M.TYPES = { string = true, integer = true, boolean = true, email = true, choice = true }

-- Names a field may not take: the user's own columns and what a User
-- object has (a field would shadow it or be shadowed: user.<name>), and
-- the register form's own inputs.
_M.RESERVED = {}
for _, n in ipairs{
  "id", "email", "email_norm", "username", "username_norm", "password", "active", "confirmed_at",
  "fs_uniquifier", "fs_token_uniquifier", "fs_webauthn_user_handle", "last_login_at",
  "current_login_at", "last_login_ip", "current_login_ip", "login_count", "create_datetime",
  "update_datetime", "failed_login_count", "failed_login_window", "roles", "permissions",
  "tf_primary_method", "tf_totp_secret", "tf_phone_number", "us_totp_secrets", "us_phone_number",
  "mf_recovery_codes", "fields", "is_active", "is_authenticated", "is_anonymous", "has_role",
  "has_permission", "get_auth_token", "verify_and_update_password", "get_security_payload",
  "password_confirm", "csrf_token", "next", "remember", "submit", "include_auth_token",
  "authentication_token", "tf_required", "__tostring", "__index",
} do _M.RESERVED[n] = true end

local MAX_FIELDS = 32
-- code points over all declared fields' max_length: at 4 bytes each, and
-- JSON's escapes, a user's fields stay well inside the store's bound
-- (core.LIMITS.fields, 64 KiB), so a valid form is never refused there
local MAX_TOTAL = 8192
local DEFAULT_MAX = 255 -- WTForms' usual String(255) column
-- C0 controls and DEL: no single-line value holds one (a header or log
-- line would be split by CR LF)
local CONTROL = "[%z\1-\31\127]"

local KEYS = { name = "string", type = "string", required = "boolean", max_length = "number",
               min = "number", max = "number", choices = "table", label = "string",
               validate = "function", payload = "boolean", description = "string" }

local function is_int(v) return type(v) == "number" and v == floor(v) and v > -2^53 and v < 2^53 end

local function check_one(i, f, seen)
  if type(f) ~= "table" then return nil, "field #" .. i .. ": a table expected" end
  for k, v in pairs(f) do
    if not KEYS[k] then return nil, "field #" .. i .. ": unknown key '" .. tostring(k) .. "'" end
    if type(v) ~= KEYS[k] then return nil, "field #" .. i .. ": " .. k .. " must be a " .. KEYS[k] end
  end
  local name = f.name
  if not name or #name > 64 or not name:match("^[a-z][a-z0-9_]*$") then
    return nil, "field #" .. i .. ": name must be [a-z][a-z0-9_]* (at most 64 bytes)"
  end
  if _M.RESERVED[name] then
    return nil, "field '" .. name .. "': the name is a built-in user field or form input"
  end
  if seen[name] then return nil, "field '" .. name .. "' is declared twice" end
  seen[name] = true
  local t = f.type or "string"
  if not _M.TYPES[t] then
    return nil, "field '" .. name .. "': type must be string, integer, boolean, email or choice"
  end
  if f.max_length ~= nil and (not is_int(f.max_length) or f.max_length < 1 or f.max_length > 4096) then
    return nil, "field '" .. name .. "': max_length must be an integer from 1 to 4096"
  end
  for _, k in ipairs{ "min", "max" } do
    if f[k] ~= nil and (t ~= "integer" or not is_int(f[k])) then
      return nil, "field '" .. name .. "': " .. k .. " is for integer fields (an integer)"
    end
  end
  if f.min and f.max and f.min > f.max then return nil, "field '" .. name .. "': min is above max" end
  if t == "choice" then
    if not f.choices or #f.choices == 0 then return nil, "field '" .. name .. "': choices must be a list" end
    for _, c in ipairs(f.choices) do
      if type(c) ~= "string" or c == "" or #c > 255 or c:find(CONTROL) or not core.check_text(c, 255) then
        return nil, "field '" .. name .. "': choices must be non-empty strings"
      end
    end
  elseif f.choices ~= nil then
    return nil, "field '" .. name .. "': choices is for choice fields"
  end
  for k, max in pairs{ label = 255, description = 1024 } do
    local v = f[k]
    if v and (#v > max or v:find(CONTROL) or not core.check_text(v, max)) then
      return nil, "field '" .. name .. "': " .. k .. " must be one line of UTF-8 (at most " .. max .. " bytes)"
    end
  end
  return true
end

--- The config check of `register_fields`: a list of field declarations.
function _M.check(list)
  local n = 0
  for _ in pairs(list) do n = n + 1 end
  if n ~= #list then return nil, "a list of field tables expected" end
  if #list > MAX_FIELDS then return nil, "at most " .. MAX_FIELDS .. " fields" end
  local seen, total = {}, 0
  for i, f in ipairs(list) do
    local ok, msg = check_one(i, f, seen)
    if not ok then return nil, msg end
    total = total + (f.max_length or DEFAULT_MAX)
  end
  if total > MAX_TOTAL then
    return nil, "the fields' max_length add up to more than " .. MAX_TOTAL .. " characters"
  end
  return true
end


-- Record a field error; nil (form:error's false would read as a value).
local function bad(form, name, key, vars)
  form:error(name, key, vars)
  return nil
end

local function codepoints(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

-- A text value: a string, valid UTF-8, one line, within max code points.
local function text(form, f, v, max)
  if type(v) ~= "string" or #v > 4 * max or not core.check_text(v, 4 * max) or v:find(CONTROL) then
    return bad(form, f.name, "FIELD_INVALID")
  end
  if codepoints(v) > max then return bad(form, f.name, "FIELD_TOO_LONG", { max = max }) end
  return v
end

local READ = {}

function READ.string(form, f, v)
  return text(form, f, v, f.max_length or DEFAULT_MAX)
end

function READ.email(form, f, v)
  v = text(form, f, v, f.max_length or 254)
  if not v then return nil end
  local shown = core.email_display(v:match("^%s*(.-)%s*$"))
  if not shown then return bad(form, f.name, "INVALID_EMAIL_ADDRESS") end
  return shown
end

-- A JSON number (a JSON string is the wrong type), or a form's digits.
function READ.integer(form, f, v, json)
  local n
  if type(v) == "number" then
    n = is_int(v) and v or nil
  elseif not json and type(v) == "string" and #v <= 16 and v:match("^%s*[-+]?%d+%s*$") then
    n = tonumber(v:match("^%s*%+?(.-)%s*$"))
  end
  if not n or not is_int(n) then return bad(form, f.name, "FIELD_NOT_INTEGER") end
  if (f.min and n < f.min) or (f.max and n > f.max) then
    -- WTForms' NumberRange words it by the bounds it has
    local key = not f.max and "FIELD_TOO_SMALL" or not f.min and "FIELD_TOO_BIG" or "FIELD_OUT_OF_RANGE"
    return bad(form, f.name, key, { min = f.min, max = f.max })
  end
  return floor(n)
end

function READ.choice(form, f, v)
  if type(v) == "string" then
    for _, c in ipairs(f.choices) do
      if v == c then return c end
    end
  end
  return bad(form, f.name, "INVALID_CHOICE")
end

-- A checkbox: JSON true/false only (a JSON string is the wrong type); a
-- form's value as WTForms' BooleanField reads it.
local function boolean(form, f, v, json)
  if json then
    if type(v) ~= "boolean" then return bad(form, f.name, "FIELD_INVALID") end
    return v
  end
  if type(v) ~= "string" then return bad(form, f.name, "FIELD_INVALID") end
  return not (v == "" or v == "false")
end

local function empty(v) return v == nil or v == http.json.null or (type(v) == "string" and not v:find("%S")) end

-- The application's hook: ok, or nil and a message shown on the field.
-- An error in it refuses the value (fail closed), logged, never shown.
local SECRET_INPUTS = { password = true, password_confirm = true, csrf_token = true }

local function hook(sec, form, f, value)
  -- the other inputs as submitted, for checks across fields; never the
  -- password: a hook has no need of it, and could log it
  local others = {}
  for k, v in pairs(form.data) do
    if type(k) == "string" and not SECRET_INPUTS[k] then others[k] = v end
  end
  local ok, res, msg = pcall(f.validate, value, others)
  if not ok then
    sec._log("error", "fsec: register_fields validate hook of '" .. f.name .. "' failed: " .. tostring(res))
    return bad(form, f.name, "FIELD_INVALID")
  end
  if res then return value end
  if type(msg) == "string" and msg ~= "" then
    form:error_text(f.name, msg)
  else
    form:error(f.name, "FIELD_INVALID")
  end
  return nil
end

--- Read and check every declared field from form (an fsec.forms form):
-- the values to store (name -> value), errors on the form otherwise.
-- json: the body was JSON (types are strict there).
function _M.read(sec, form, json)
  local list = sec._cfg.register_fields
  local out = {}
  for _, f in ipairs(list or {}) do
    local v = form.data[f.name]
    local t = f.type or "string"
    local value
    if t == "boolean" then
      if v ~= nil and v ~= http.json.null then value = boolean(form, f, v, json) end
      if f.required and value ~= true and not form.field_errors[f.name] then
        form:error(f.name, "FIELD_REQUIRED")
        value = nil
      end
    elseif empty(v) then
      if type(v) == "string" and #v > 4 * (f.max_length or DEFAULT_MAX) then
        form:error(f.name, "FIELD_INVALID")
      elseif f.required then
        form:error(f.name, "FIELD_REQUIRED")
      end
    else
      value = READ[t](form, f, v, json)
    end
    if value ~= nil and f.validate then value = hook(sec, form, f, value) end
    out[f.name] = value
  end
  return out
end

--- A declared field's value from an imported database's column (a
-- Flask-Security User model's own column of that name): the value, or
-- nil and the message key that refuses it (nil, nil: empty). Checked as
-- a form's value is (the source may be hostile), without the
-- application's hook (it judges a person's input) and without
-- `required` (an empty column stays empty).
function _M.import_value(f, raw)
  if raw == nil or raw == "" or raw == http.json.null then return nil end
  local t = f.type or "string"
  if t == "boolean" then
    if type(raw) == "boolean" then return raw end
    local s = tostring(raw):lower()
    if s == "1" or s == "true" then return true end
    if s == "0" or s == "false" then return false end
    return nil, "FIELD_INVALID"
  end
  if type(raw) == "number" and t ~= "integer" then raw = tostring(raw) end
  local sink = { why = nil }
  function sink.error(self, _, key) self.why = key; return false end
  local v = READ[t](sink, f, raw, false)
  if v == nil then return nil, sink.why or "FIELD_INVALID" end
  return v
end

--- The declared fields of a user that go into its JSON `user` object.
function _M.payload(sec, user)
  local t = {}
  local fields = type(user) == "table" and user.fields or nil
  if type(fields) ~= "table" then return t end
  for _, f in ipairs(sec._cfg.register_fields or {}) do
    if f.payload ~= false and fields[f.name] ~= nil then t[f.name] = fields[f.name] end
  end
  return t
end

--- The fields as the register page draws them (and GET /register's
-- JSON describes them): name, type, label, required, max_length,
-- min, max, choices, description. No hook.
function _M.describe(sec)
  local out = {}
  for i, f in ipairs(sec._cfg.register_fields or {}) do
    local t = f.type or "string"
    out[i] = { name = f.name, type = t, label = f.label or f.name, required = f.required == true,
               max_length = (t == "string" or t == "email") and (f.max_length or (t == "email" and 254
                 or DEFAULT_MAX)) or nil,
               min = f.min, max = f.max, choices = f.choices, description = f.description }
  end
  return out
end


return _M
