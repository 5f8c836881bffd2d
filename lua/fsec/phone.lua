--- Phone numbers for SMS codes, in E.164 form (+ and up to 15 digits),
-- as Flask-Security stores them after its phonenumbers library.
--
-- fsec does not carry a numbering-plan database (libphonenumber's is a
-- C++ library and megabytes of metadata): a number written with its
-- country code (+44 20 7946 0000, 0044 ...) is taken as written; a
-- national number is given the country code of phone_region_default
-- (its trunk 0 dropped). North American numbers (+1) are checked as
-- the plan defines them (3-digit area code and exchange, neither starting
-- with 0 or 1); elsewhere only the length rules of E.164 apply.
-- @module fsec.phone

local _M = { _VERSION = "0.1.0" }

-- Country calling codes of regions (ISO 3166 alpha-2), for national numbers.
local CALLING = {
  US = "1", CA = "1", GB = "44", IE = "353", FR = "33", DE = "49", NL = "31", BE = "32", LU = "352",
  CH = "41", AT = "43", IT = "39", ES = "34", PT = "351", DK = "45", SE = "46", NO = "47", FI = "358",
  IS = "354", PL = "48", CZ = "420", SK = "421", HU = "36", RO = "40", BG = "359", GR = "30",
  HR = "385", SI = "386", EE = "372", LV = "371", LT = "370", UA = "380", TR = "90", IL = "972",
  IN = "91", PK = "92", CN = "86", HK = "852", TW = "886", JP = "81", KR = "82", SG = "65",
  MY = "60", TH = "66", VN = "84", PH = "63", ID = "62", AU = "61", NZ = "64", ZA = "27",
  NG = "234", KE = "254", EG = "20", MA = "212", BR = "55", AR = "54", CL = "56", CO = "57",
  PE = "51", MX = "52", AE = "971", SA = "966", RU = "7",
}
_M.CALLING = CALLING

local function nanp_ok(national)
  return #national == 10 and national:match("^[2-9]%d%d[2-9]%d%d%d%d%d%d$") ~= nil
end

--- The E.164 form of a number as a person typed it, or nil when it is
-- not a possible number. region: phone_region_default.
function _M.canonical(text, region)
  if type(text) ~= "string" or #text > 64 then return nil end
  -- separators people type: spaces, dashes, dots, parentheses, slashes
  local s = text:gsub("[%s%-%.%(%)/]", "")
  local intl = s:match("^%+(%d+)$") or s:match("^00(%d+)$")
  local digits
  if intl then
    digits = intl
  else
    if not s:match("^%d+$") then return nil end
    local cc = CALLING[region or "US"]
    if not cc then return nil end
    if cc == "1" then
      local national = s:match("^1(%d%d%d%d%d%d%d%d%d%d)$") or s
      if not nanp_ok(national) then return nil end
      return "+1" .. national
    end
    digits = cc .. s:gsub("^0", "")
  end
  if digits:sub(1, 1) == "0" or #digits < 8 or #digits > 15 then return nil end
  if digits:sub(1, 1) == "1" and not nanp_ok(digits:sub(2)) then return nil end
  return "+" .. digits
end

--- A number shown with all but its last 4 digits hidden (the command's
-- `users show`, logs).
function _M.mask(number)
  if type(number) ~= "string" or #number < 5 then return number and "****" or nil end
  return number:sub(1, #number - 4):gsub("%d", "*") .. number:sub(-4)
end

return _M
