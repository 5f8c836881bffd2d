--- Text for a terminal: what the `fsec` command prints of values it did
-- not write itself (emails, usernames, role names, permissions, file
-- names, a source database's contents, errors that echo them) goes
-- through here, so that a hostile value cannot move the cursor, rewrite
-- the title, forge a line or hide text (ESC sequences, C1 controls such as
-- CSI U+009B, DEL, bidirectional overrides). Lua 5.1 (LuaJIT) and 5.4.
-- @module fsec.tty

local byte, format, find = string.byte, string.format, string.find
local concat = table.concat

local _M = { _VERSION = "0.1.0" }

-- Bytes that may start something to escape: C0, the backslash (so that an
-- escape printed can be told from the same text in a value), DEL, and
-- every non-ASCII byte (checked one sequence at a time).
local SUSPECT = "[%z\1-\31\\\127-\255]"

-- Format characters that reorder or hide what follows on a line (U+2028,
-- U+2029 end one): the "Trojan Source" set.
local function is_format_control(cp)
  return (cp >= 0x202A and cp <= 0x202E) or (cp >= 0x2066 and cp <= 0x2069)
    or cp == 0x2028 or cp == 0x2029 or cp == 0x200E or cp == 0x200F or cp == 0x061C
end

-- The code point of the well-formed UTF-8 sequence at s[i], and its
-- length; nil when the bytes there are not one (stray continuation,
-- overlong, surrogate, past U+10FFFF, cut short).
local function utf8_at(s, i)
  local a, b, c, d = byte(s, i, i + 3)
  if a < 0xC2 or a > 0xF4 or not b or b < 0x80 or b > 0xBF then return nil end
  if a < 0xE0 then return (a - 0xC0) * 0x40 + (b - 0x80), 2 end
  if not c or c < 0x80 or c > 0xBF then return nil end
  if a < 0xF0 then
    local cp = ((a - 0xE0) * 0x40 + (b - 0x80)) * 0x40 + (c - 0x80)
    if cp < 0x800 or (cp >= 0xD800 and cp <= 0xDFFF) then return nil end
    return cp, 3
  end
  if not d or d < 0x80 or d > 0xBF then return nil end
  local cp = (((a - 0xF0) * 0x40 + (b - 0x80)) * 0x40 + (c - 0x80)) * 0x40 + (d - 0x80)
  if cp < 0x10000 or cp > 0x10FFFF then return nil end
  return cp, 4
end

-- Walk s; keep(piece) for what stays as is, bad(byte) for a byte that is
-- not text, ctl(cp) for a code point to escape.
local function walk(s, bad, ctl)
  local out, n, i, len = {}, 0, 1, #s
  while i <= len do
    local j = find(s, SUSPECT, i)
    if not j then
      n = n + 1; out[n] = s:sub(i); break
    end
    if j > i then n = n + 1; out[n] = s:sub(i, j - 1) end
    local b = byte(s, j)
    if b < 0x80 then
      n = n + 1
      out[n] = b == 0x5C and ctl(b) or bad(b) -- the backslash or a control
      i = j + 1
    else
      local cp, w = utf8_at(s, j)
      n = n + 1
      if not cp then
        out[n] = bad(b); i = j + 1
      else
        out[n] = (cp <= 0x9F or is_format_control(cp)) and ctl(cp) or s:sub(j, j + w - 1)
        i = j + w
      end
    end
  end
  return concat(out)
end


local function text_bad(b) return format("\\x%02x", b) end
local function text_ctl(cp)
  if cp == 0x5C then return "\\\\" end
  return format("\\u%04x", cp)
end

--- s (any value, tostring'd) with every control character escaped: C0
-- and DEL as \xHH, a raw byte that is not UTF-8 as \xHH, C1 (U+0080..
-- U+009F) and the bidirectional format characters as \uHHHH, and the
-- backslash as \\. Everything else, printable UTF-8 included, as is.
function _M.text(s)
  s = tostring(s)
  if not find(s, SUSPECT) then return s end
  return walk(s, text_bad, text_ctl)
end


local function json_bad() return "\\ufffd" end -- JSON text must be UTF-8
local function json_ctl(cp)
  if cp == 0x5C then return "\\" end -- cjson's own escapes stay as they are
  return format("\\u%04x", cp)
end

--- A JSON text (cjson's output) made safe for a terminal and still valid
-- JSON with the same meaning: cjson escapes C0, DEL and quotes but writes
-- C1 and the format characters raw (now \u escapes, valid anywhere they
-- can occur: inside strings), and bytes that are not UTF-8 raw (now
-- U+FFFD, as a decoder would read them).
function _M.json(s)
  if not find(s, "[\128-\255]") then return s end
  return walk(s, json_bad, json_ctl)
end


return _M
