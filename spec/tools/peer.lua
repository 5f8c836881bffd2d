-- The real Flask-Security (Debian's python3-flask-security 5.1.2) as the
-- specs start it: the scripts of spec/peer/ (which share spec/peer/fs_peer.py),
-- run with the system python3. Not a spec itself (no _spec suffix).
local helpers = require "spec.helpers"

local M = {}

-- env -u LD_PRELOAD: the sanitizer run preloads libasan, which python
-- must not inherit.
M.PY = "env -u LD_PRELOAD /usr/bin/python3"

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- Is the peer installed (flask_security and flask_sqlalchemy import)?
function M.available()
  return helpers.sh(M.PY .. " -c 'import flask_security, flask_sqlalchemy' 2>/dev/null")
end

--- For a describe body: true when the peer can run. Otherwise declares
-- why not, through the describe's it and pending: a failing test when
-- FSEC_REQUIRE_PEER=1 (the test command: in CI a missing peer fails),
-- else a pending one; and returns false.
function M.present(it, pending)
  if M.available() then return true end
  if os.getenv("FSEC_REQUIRE_PEER") == "1" then
    it("needs python3-flask-security", function() error("python3-flask-security is not installed") end)
  else
    pending("python3-flask-security not installed")
  end
  return false
end

--- The shell command running spec/peer/SCRIPT with args (quoted).
function M.command(script, args)
  local cmd = M.PY .. " spec/peer/" .. script
  for _, a in ipairs(args or {}) do cmd = cmd .. " " .. quote(a) end
  return cmd
end

--- Run spec/peer/SCRIPT with args, input (a string) on its stdin when
-- given; its stdout (stderr dropped).
function M.run(script, args, input)
  local cmd = M.command(script, args)
  if input then
    local path = helpers.tmpfile("peer-input")
    local f = assert(io.open(path, "w"))
    f:write(input)
    f:close()
    cmd = cmd .. " < " .. quote(path)
  end
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("*a")
  p:close()
  return out
end

return M
