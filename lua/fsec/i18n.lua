--- Languages: the catalogues (fsec.lang.en, .fr, .de: Flask-Security's
-- message keys, page labels, mail subjects and bodies), the language of
-- a request (the `locale` hook, else Accept-Language with its q-values,
-- fr-CA falling back to fr, then `default_language`), and the language
-- fsec's messages are in while it answers a request.
-- @module fsec.i18n

local escape = require("fsec.http").html_escape
local messages = require "fsec.messages"

local type = type
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local sort = table.sort
local running = coroutine.running
local select = select
local unpack = table.unpack or unpack -- luacheck: ignore 143

local function pack(...) return { n = select("#", ...), ... } end

local _M = { _VERSION = "0.1.0" }

--- The languages fsec ships a catalogue for.
_M.SHIPPED = { en = true, fr = true, de = true }

local builtin = {}

--- A shipped catalogue (key -> text), nil for another tag.
function _M.catalogue(tag)
  if not _M.SHIPPED[tag] then return nil end
  local c = builtin[tag]
  if not c then
    c = require("fsec.lang." .. tag)
    builtin[tag] = c
  end
  return c
end


--- A language tag as fsec keeps it: lower case, "_" read as "-"; nil
-- for anything that is not a tag (letters, digits, "-", at most 35).
function _M.normal(tag)
  if type(tag) ~= "string" or #tag > 35 then return nil end
  tag = tag:lower():gsub("_", "-")
  if not tag:match("^%a%a%a?[%w-]*$") then return nil end
  return tag
end


--- Parse Accept-Language into tags, best first (q-values; equal q keep
-- their order; q=0 means "not this one" and is dropped).
function _M.accepted(header)
  local out = {}
  if type(header) ~= "string" then return out end
  local n = 0
  for part in header:sub(1, 1024):gmatch("[^,]+") do
    local tag, params = part:match("^%s*([%w*_-]+)%s*(.-)%s*$")
    local q = 1
    local qv = params and params:match("^;%s*q%s*=%s*([%d.]+)$")
    if qv then q = tonumber(qv) or 0 elseif params and params ~= "" then q = 0 end
    if tag and q > 0 and q <= 1 then
      n = n + 1
      out[#out + 1] = { tag = tag == "*" and "*" or _M.normal(tag), q = q, i = n }
    end
    if n >= 32 then break end -- a header of hundreds of tags gets no more work
  end
  sort(out, function(a, b) if a.q ~= b.q then return a.q > b.q end return a.i < b.i end)
  local tags = {}
  for _, e in ipairs(out) do if e.tag then tags[#tags + 1] = e.tag end end
  return tags
end


-- enabled: tag -> true. A tag, or its primary subtag (fr-ca -> fr).
local function match(tag, enabled)
  if enabled[tag] then return tag end
  local primary = tag:match("^(%a+)-")
  if primary and enabled[primary] then return primary end
  return nil
end

--- The language for an Accept-Language header among the enabled ones
-- (tag -> true), else default.
function _M.pick(header, enabled, default)
  for _, tag in ipairs(_M.accepted(header)) do
    if tag == "*" then return default end
    local m = match(tag, enabled)
    if m then return m end
  end
  return default
end


local function enabled_set(sec)
  local set = sec._languages
  if not set then
    set = {}
    local n = 0
    for _, l in ipairs(sec._cfg.languages or { "en" }) do
      if not set[_M.normal(l)] then n = n + 1 end
      set[_M.normal(l)] = true
    end
    sec._languages, sec._one_language = set, n == 1
  end
  return set
end

--- The default language of an instance.
function _M.default(sec)
  return sec and _M.normal(sec._cfg.default_language) or "en"
end

local function header(req, name)
  local h = req.headers
  if type(h) ~= "table" then return nil end
  local v = h[name] or h[name:lower()]
  if type(v) == "table" then v = v[1] end
  return v
end

--- The language of a request, once per request (req._fsec_lang): the
-- `locale` hook's answer (a tag; nil: Accept-Language) among the
-- enabled languages, else Accept-Language, else the default. A hook
-- that fails or answers another type means the default, logged: a
-- broken hook never turns a page into a 500.
function _M.lang_for(sec, req)
  local lang = req._fsec_lang
  if lang then return lang end
  local default = _M.default(sec)
  local enabled = enabled_set(sec)
  local hook = sec._cfg.locale
  -- one language and no hook (the default): nothing to choose
  if sec._one_language and not hook then
    req._fsec_lang = default
    return default
  end
  if hook then
    local ok, tag = pcall(hook, req)
    if not ok or (tag ~= nil and type(tag) ~= "string") then
      sec._log("error", "fsec: locale hook failed: " .. (ok and ("returned a " .. type(tag)) or tostring(tag)))
      lang = default
    elseif tag then
      local n = _M.normal(tag)
      lang = n and match(n, enabled) or default
    end
  end
  lang = lang or _M.pick(header(req, "Accept-Language"), enabled, default)
  req._fsec_lang = lang
  return lang
end


--- A text in a language: the application's `translations[lang]`, its
-- `messages` (for the default language), the shipped catalogue, then
-- the default language's, then English. nil for an unknown key.
function _M.lookup(sec, lang, key)
  local cfg = sec and sec._cfg or {}
  local own = cfg.translations and cfg.translations[lang]
  local v = own and own[key]
  if v then return v end
  local default = _M.default(sec)
  if lang == default and cfg.messages and cfg.messages[key] then return cfg.messages[key] end
  local c = _M.catalogue(lang)
  v = c and c[key]
  if v then return v end
  if lang ~= default then return _M.lookup(sec, default, key) end
  if lang ~= "en" then return _M.catalogue("en")[key] end
  return nil
end


--- The texts of a language as a table for templates (t.KEY), read
-- through _M.lookup at first use of each key.
function _M.texts(sec, lang)
  local cache = sec and sec._texts or {}
  if sec then sec._texts = cache end
  local t = cache[lang]
  if not t then
    t = setmetatable({}, { __index = function(self, key)
      local v = _M.lookup(sec, lang, key)
      if v then rawset(self, key, v) end
      return v
    end })
    cache[lang] = t
  end
  return t
end

--- A text by key with its `%(name)s` placeholders filled (raises on an
-- unknown key, as fsec.messages' catalogue did).
function _M.text(sec, lang, key, vars)
  local v = _M.lookup(sec, lang, key)
  if type(v) ~= "string" then error("unknown message key '" .. tostring(key) .. "'", 2) end
  return messages.format(v, vars)
end

--- A text as HTML: the text escaped, each `%(name)s` the escaped value
-- in <strong> (a page's "Sign in as <strong>x</strong>?").
function _M.html(text, vars)
  return (escape(text or ""):gsub("%%%((%w+)%)s", function(k)
    local v = vars and vars[k]
    if v == nil then return "" end
    return "<strong>" .. escape(tostring(v)) .. "</strong>"
  end))
end


-- The language of the request being answered, per coroutine: under
-- nginx each request runs in its own coroutine and requests interleave
-- in one worker, so one module-wide value would hand one request's
-- language to another. Weak keys: a finished request's entry goes.
local current = setmetatable({}, { __mode = "k" })
local MAIN = {} -- LuaJIT's main coroutine is nil: a key for it

--- The language fsec's messages are in now (nil: the default).
function _M.current()
  return current[running() or MAIN]
end

--- Run fn(...) with lang current (errors pass through, lang is unset).
function _M.within(lang, fn, ...)
  local co = running() or MAIN
  local before = current[co]
  current[co] = lang
  local res = pack(pcall(fn, ...))
  current[co] = before
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, res.n)
end


--- A message by key in a request's language (for answers given outside
-- sec:handle: an application's guarded routes, its CSRF checks).
function _M.msg_for(sec, req, key, vars)
  return _M.text(sec, _M.lang_for(sec, req), key, vars)
end


--- The message function of an instance (sec.msg): KEY and vars in the
-- current request's language.
function _M.msg(sec)
  return function(key, vars)
    return _M.text(sec, _M.current() or _M.default(sec), key, vars)
  end
end


return _M
