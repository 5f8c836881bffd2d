--- Files of secrets the `fsec` command reads (the keys of a Flask-Security
-- source: its TOTP_SECRETS, its recovery-code keys). Such keys never come
-- on the command line, which every local user reads in /proc/PID/cmdline
-- and ps; and a file that group or others may read is refused, as ssh
-- refuses such a private key: whoever reads it decrypts every second
-- factor of the source's dump.
-- @module fsec.secretfile

local _M = { _VERSION = "0.1.0" }

-- The largest file of keys read (a few lines are expected).
local MAX = 65536

-- The permission bits of path (following links): a number, or nil.
-- Lua has no stat: coreutils' stat, the path quoted for the shell.
local function file_mode(path)
  local p = io.popen("stat -L -c %a -- '" .. path:gsub("'", "'\\''") .. "' 2>/dev/null")
  local out = p and p:read("*a") or ""
  if p then p:close() end
  local octal = out:match("^(%d+)%s*$")
  return octal and tonumber(octal, 8) or nil
end

--- The text of a file of secrets, or nil and why.
function _M.read(path)
  if path:find("\0", 1, true) then return nil, "the file name contains a NUL byte" end
  local mode = file_mode(path)
  if not mode then return nil, "cannot read " .. path end
  if math.floor(mode / 32) % 2 == 1 or math.floor(mode / 4) % 2 == 1 then
    return nil, ("%s may be read by group or others (mode %o): it holds secrets; chmod 600 it"):format(
      path, mode % 4096)
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, tostring(err) end
  local text = f:read(MAX + 1) or ""
  f:close()
  if #text > MAX then return nil, ("%s is over %d bytes"):format(path, MAX) end
  return text
end

return _M
