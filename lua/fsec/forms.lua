--- Form input (JSON or urlencoded) and Flask-Security's validators.
-- A form collects field errors as Flask-Security-Too reports them:
-- `errors` (every message, in order) and `field_errors` (by field; ""
-- for form-level errors).
-- @module fsec.forms

local core = require "fsec.core"
local http = require "fsec.http"

local type = type
local tonumber = tonumber
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

--- Record an error on a field ("" for the form) by message key.
function Form:error(field, key, vars)
  local msg = self.sec.msg(key, vars)
  self.errors[#self.errors + 1] = msg
  local list = self.field_errors[field] or {}
  list[#list + 1] = msg
  self.field_errors[field] = list
  return false
end

--- Record an error given as text (an application hook's message).
function Form:error_text(field, msg)
  self.errors[#self.errors + 1] = msg
  local list = self.field_errors[field] or {}
  list[#list + 1] = msg
  self.field_errors[field] = list
  return false
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


--- Flask-Security's password checks for a new password: length in code
-- points after normalization, complexity hook, breached list.
function Form:new_password(name, password, user_fields)
  local sec = self.sec
  local norm = sec._engine:normalize_password(password)
  if not norm then return self:error(name, "API_ERROR") end
  local n = codepoints(norm)
  if n < sec._cfg.password_length_min or n > sec._cfg.password_length_max then
    return self:error(name, "PASSWORD_INVALID_LENGTH", { length = sec._cfg.password_length_min })
  end
  local checker = sec._cfg.password_complexity_checker
  if checker then
    local ok, problems = pcall(checker, password, user_fields)
    if not ok then
      sec._log("error", "fsec: password_complexity_checker failed: " .. tostring(problems))
      return self:error(name, "PASSWORD_TOO_SIMPLE") -- fail closed
    end
    if type(problems) == "table" and #problems > 0 then
      return self:error(name, "PASSWORD_TOO_SIMPLE")
    end
  end
  if _M.breached(sec, norm) then return self:error(name, "PASSWORD_BREACHED") end
  return true
end


--- Is a (normalized) password on the breached list? The list is a file of
-- SHA-1 hashes in hex, one a line, optionally followed by ":count".
function _M.breached(sec, password)
  local path = sec._cfg.password_breached_file
  if not path then return false end
  local set = sec._breached
  if not set then
    set = {}
    local f, err = io.open(path)
    if not f then
      -- fail closed: the check cannot run, so no password passes it (503;
      -- fsec.new made sure the file was there at start)
      sec._log("error", "fsec: cannot read password_breached_file " .. path)
      require("fsec.auth").check_store(nil, "EIO: cannot read password_breached_file: " .. tostring(err), "EIO")
    end
    for line in f:lines() do
      local h = line:match("^%s*(%x+)")
      if h and #h == 40 then set[h:upper()] = true end
    end
    f:close()
    sec._breached = set
  end
  return set[core.sha1_hex(password)] == true
end


_M.codepoints = codepoints

return _M
