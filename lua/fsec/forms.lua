--- Form input (JSON or urlencoded) and Flask-Security's validators.
-- A form collects field errors as Flask-Security-Too reports them:
-- `errors` (every message, in order) and `field_errors` (by field; ""
-- for form-level errors).
-- @module fsec.forms

local core = require "fsec.core"
local http = require "fsec.http"

local type = type
local tonumber = tonumber
local pairs = pairs
local pcall = pcall
local tostring = tostring
local char = string.char
local setmetatable = setmetatable


local _M = { _VERSION = "0.1.0" }


local function unescape(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

--- Parse an application/x-www-form-urlencoded body; a repeated key maps
-- to a list (and so fails the string check).
function _M.parse_urlencoded(body)
  local out = {}
  for pair in body:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    http.add_value(out, unescape(k), unescape(v))
  end
  return out
end


--- The submitted fields, or nil and a reason.
function _M.input(req, max)
  if req.method ~= "POST" then return {} end
  local body = req.body
  if body ~= nil and type(body) ~= "string" then return nil, "bad body" end
  if body and #body > max then return nil, "too large" end
  if http.is_json(req) then
    if not body or body == "" then return {} end
    local t = http.json.decode(body)
    if type(t) ~= "table" then return nil, "bad json" end
    return t
  end
  if body and body ~= "" then return _M.parse_urlencoded(body) end
  return {}
end


local Form = {}
Form.__index = Form

function _M.new(sec, data)
  return setmetatable({ sec = sec, data = data or {}, errors = {}, field_errors = {} }, Form)
end

--- A message already in words (a checker's, zxcvbn's, an application
-- hook's) as a field error ("" for the form).
function Form:error_text(field, msg)
  self.errors[#self.errors + 1] = msg
  local list = self.field_errors[field] or {}
  list[#list + 1] = msg
  self.field_errors[field] = list
  return false
end

--- Record an error on a field ("" for the form) by message key.
function Form:error(field, key, vars)
  return self:error_text(field, self.sec.msg(key, vars))
end

function Form:ok() return #self.errors == 0 end

--- A string field: nil when absent or empty; an error when present with
-- the wrong type, invalid UTF-8 or a NUL byte.
function Form:string(name, max)
  local v = self.data[name]
  if v == nil or v == http.json.null then return nil end
  if type(v) ~= "string" or #v > (max or 4096) or not core.check_text(v, max or 4096) then
    self:error(name, "API_ERROR")
    return nil, true
  end
  if v == "" then return nil end
  return v
end

--- A checkbox, read as Flask-Security's (WTForms') BooleanField reads
-- it: false when absent, false, "false" or ""; anything else is true
-- (1, "on", "yes", "True"...).
function Form:bool(name)
  local v = self.data[name]
  return not (v == nil or v == false or v == "false" or v == "" or v == http.json.null)
end

--- The email field: required and well-formed (stripped of surrounding
-- spaces, as Flask-Security's email field is), normalized as
-- Flask-Security (email_validator) stores it: the domain IDNA-mapped in
-- lower case, without a root dot, the local part NFC with its case kept:
-- "Ann@Example｡ORG." is kept, mailed and shown as "Ann@example.org".
function Form:email(name)
  name = name or "email"
  local v, bad = self:string(name, 320)
  if bad then return nil end
  if v then v = v:match("^%s*(.-)%s*$") end
  if not v or v == "" then return self:error(name, "EMAIL_NOT_PROVIDED") and nil end
  local shown = core.email_display(v)
  if not shown then return self:error(name, "INVALID_EMAIL_ADDRESS") and nil end
  return shown
end

--- A username field as registration checks it (and /change-username):
-- at most the store's length, and one the store can fold into its
-- case-insensitive key (valid UTF-8, no '@', no control character:
-- fsec.core.fold_username), else USERNAME_ILLEGAL_CHARACTERS; absent:
-- USERNAME_NOT_PROVIDED when required, else nil.
function Form:username(name, required)
  name = name or "username"
  local v, bad = self:string(name, core.LIMITS.username)
  if bad then return nil end
  if not v then
    if required then self:error(name, "USERNAME_NOT_PROVIDED") end
    return nil
  end
  if not core.fold_username(v) then return self:error(name, "USERNAME_ILLEGAL_CHARACTERS") and nil end
  return v
end

--- A password field, kept exactly (spaces included); required: only
-- spaces count as not provided (Flask-Security's DataRequired).
function Form:password(name)
  local v, bad = self:string(name, 4096)
  if bad then return nil end
  if not v or not v:find("%S") then return self:error(name, "PASSWORD_NOT_PROVIDED") and nil end
  return v
end

--- The retyped password: required, and equal to password (when that
-- was given). A wrong type has its own error and no second one.
function Form:confirm(name, password)
  local v, bad = self:string(name, 4096)
  if bad then return end
  if not v or not v:find("%S") then
    self:error(name, "PASSWORD_NOT_PROVIDED")
  elseif password and v ~= password then
    self:error(name, "RETYPE_PASSWORD_MISMATCH")
  end
end


-- Code points of a UTF-8 string (LuaJIT has no utf8 library).
local function codepoints(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end


-- The user's own strings zxcvbn counts as known words: every string of
-- user_fields (email, username), as Too passes its form's values, and
-- also the email's local part (a password made of it is as weak).
local function user_inputs(user_fields)
  local out = {}
  for k, v in pairs(user_fields or {}) do
    if type(v) == "string" and k ~= "password" and #v <= 320 and not v:find("\0", 1, true) then
      out[#out + 1] = v
      local localpart = k == "email" and v:match("^(.+)@[^@]*$")
      if localpart then out[#out + 1] = localpart end
    end
    if #out >= 14 then break end
  end
  return out
end


-- The verdict of a password_complexity_checker hook, as its contract says:
-- nil or true: acceptable; a string, or a list of strings: the messages
-- shown (an empty list is acceptable, as Too's empty list). Anything else
-- (false, a number, a table with a non-string or a non-list key) is a
-- broken hook: nil and why, and the caller denies.
local function checker_verdict(result)
  if result == nil or result == true then return {} end
  if type(result) == "string" then return { result } end
  if type(result) ~= "table" then return nil, "returned " .. tostring(result) end
  local n = #result
  for k, v in pairs(result) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then
      return nil, "returned a table with the key " .. tostring(k)
    end
    if type(v) ~= "string" then return nil, "returned a list holding a " .. type(v) end
  end
  return result
end


-- The complexity check: the messages against the password (empty: ok).
local function complexity(sec, password, norm, user_fields)
  local checker = sec._cfg.password_complexity_checker
  if not checker then return {} end
  if checker == "zxcvbn" then
    local score, warning = core.password_strength(norm, user_inputs(user_fields))
    if score == nil then -- a NUL byte: the length check let it through, deny
      return { sec.msg("PASSWORD_TOO_SIMPLE") }
    end
    if score >= sec._cfg.zxcvbn_minimum_score then return {} end
    return { warning or sec.msg("PASSWORD_TOO_SIMPLE") }
  end
  local ok, result = pcall(checker, password, user_fields)
  local msgs, why = nil, result
  if ok then msgs, why = checker_verdict(result) end
  if not msgs then -- fail closed: a broken hook never passes a password
    sec._log("error", "fsec: password_complexity_checker " .. (ok and "" or "raised: ") .. tostring(why) ..
        " (expected nil or true, a message or a list of messages): password refused")
    return { sec.msg("PASSWORD_TOO_SIMPLE") }
  end
  return msgs
end


--- Flask-Security-Too's password checks for a new password, in its
-- order: length in code points after normalization, breached list,
-- complexity (zxcvbn or the hook; its messages are the field's errors).
function Form:new_password(name, password, user_fields)
  local sec = self.sec
  local norm = sec._engine:normalize_password(password)
  if not norm then return self:error(name, "API_ERROR") end
  local n = codepoints(norm)
  if n < sec._cfg.password_length_min or n > sec._cfg.password_length_max then
    return self:error(name, "PASSWORD_INVALID_LENGTH", { length = sec._cfg.password_length_min })
  end
  local breached = _M.breached(sec, norm)
  if breached then return self:error(name, breached) end
  local msgs = complexity(sec, password, norm, user_fields)
  for i = 1, #msgs do self:error_text(name, msgs[i]) end
  return #msgs == 0
end


-- The count of suffix (35 upper-case hex) in a range answer (HIBP's
-- "SUFFIX:COUNT" lines, CRLF or LF, either case), or nil when a line is
-- not of that form.
local function range_count(body, suffix)
  local found = 0
  for line in body:gmatch("[^\r\n]+") do
    local s, c = line:match("^(%x+):(%d+)$")
    if not s or #s ~= 35 then return nil end
    if s:upper() == suffix then found = tonumber(c) end
  end
  return found
end


-- The password_breached_range hook: the count HIBP's range API gives for
-- the password, or nil and why it could not be had. Only the first five
-- hex characters of the SHA-1 leave (k-anonymity); the match is here.
local function range_lookup(sec, hook, password)
  local hex = core.sha1_hex(password)
  local ok, body, err = pcall(hook, hex:sub(1, 5))
  if not ok then return nil, "raised: " .. tostring(body) end
  if type(body) ~= "string" then
    return nil, body == nil and ("failed: " .. tostring(err)) or ("returned a " .. type(body))
  end
  local count = range_count(body, hex:sub(6))
  if not count then return nil, "answer is not SUFFIX:COUNT lines" end
  if count >= sec._cfg.password_breached_count then return count end
  return 0
end


--- Is a (normalized) password breached? The message key to refuse it
-- with, or nil. The list (password_breached_file, mapped by fsec.new) is
-- searched in place by C; the range hook (password_breached_range) asks
-- HIBP's range API for the hash's prefix. A password seen at least
-- password_breached_count times is refused.
function _M.breached(sec, password)
  local list = sec._breached
  if list then
    local count, err = list:password(password)
    if not count then
      -- fail closed: the check cannot run, so no password passes it (503)
      sec._log("error", "fsec: password_breached_file: " .. tostring(err))
      require("fsec.auth").check_store(nil, "EIO: password_breached_file: " .. tostring(err), "EIO")
    end
    if count >= sec._cfg.password_breached_count then return "PASSWORD_BREACHED" end
  end
  local hook = sec._cfg.password_breached_range
  if hook then
    local count, why = range_lookup(sec, hook, password)
    if not count then
      -- strict (fsec's default): no password passes a check that could
      -- not run; else, as Too's PASSWORD_CHECK_BREACHED = True, it passes
      local strict = sec._cfg.password_breached_range_strict
      sec._log(strict and "error" or "warn", "fsec: password_breached_range " .. why
        .. (strict and ": password refused" or ": password not checked"))
      if strict then return "PASSWORD_BREACHED_SITE_ERROR" end
    elseif count > 0 then
      return "PASSWORD_BREACHED"
    end
  end
  return nil
end


--- Open the configured breached-password list (fsec.new), or nil.
-- @raise when the file is not a well-formed list (the message says where)
function _M.open_breached(cfg)
  local path = cfg.password_breached_file
  if not path then return nil end
  local list, err = core.breached_open(path)
  if not list then error("password_breached_file: " .. tostring(err), 0) end
  return list
end


_M.codepoints = codepoints

return _M
