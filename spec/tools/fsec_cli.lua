-- The `fsec` command as the specs run it: bin/fsec under Lua 5.4 (from
-- either runtime), a subprocess, with this checkout's modules and build.
-- Not a spec itself (no _spec suffix).
local M = {}

local BUILD = os.getenv("FSEC_BUILD_DIR") or "build"
M.KEY = string.rep("k", 32)

--- A value as one shell word, whatever bytes it holds (but NUL).
function M.q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("*l"))
  p:close()
  return t
end

--- Run bin/fsec --db db with the argument string args (already quoted):
-- rc, everything it printed, seconds. FSEC_SECRET_KEY and
-- FSEC_PASSWORD_SALT=salty are set. opts: stdin (one line on its
-- standard input), env (words before the command, e.g. "env -u X"),
-- limit (seconds, 60: a run past it is killed, rc 124 or 137).
function M.run(db, args, opts)
  opts = opts or {}
  local cmd = ("LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s/lua54/?.so;;' FSEC_SECRET_KEY=%s"
    .. " FSEC_PASSWORD_SALT=salty %s timeout -s KILL %d lua5.4 bin/fsec --db %s %s 2>&1")
    :format(BUILD, M.KEY, opts.env or "", opts.limit or 60, M.q(db), args)
  if opts.stdin then cmd = ("printf '%%s\\n' %s | "):format(M.q(opts.stdin)) .. cmd end
  local t0 = now()
  local p = io.popen(cmd .. "; echo \"rc=$?\"")
  local out = p:read("*a")
  p:close()
  local secs = now() - t0
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, (out:gsub("rc=%d+%s*$", "")), secs
end

return M
