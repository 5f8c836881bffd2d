-- A TCP server that never speaks, for the specs of clients that must give
-- up on one (PostgreSQL's connect timeout, an SMTP server's greeting):
-- the kernel completes each handshake (the listen backlog) and no byte
-- ever comes, so a client waits for its own timeout. Not a spec itself.
local helpers = require "spec.helpers"

local M = {}

local PY = "env -u LD_PRELOAD /usr/bin/python3" -- (the sanitizer pass preloads libasan)

local SCRIPT = [[
import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[2])))
s.listen(64)
open(sys.argv[1] + "/port.tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + "/port.tmp", sys.argv[1] + "/port")
time.sleep(300)
]]

--- Listen on 127.0.0.1:port (0 or nil: a port the kernel picks), with its
-- files in dir. Returns { port, stop() }; stop() waits until it is gone.
function M.start(dir, port)
  assert(helpers.sh("mkdir -p " .. dir .. " && rm -f " .. dir .. "/port"))
  local f = assert(io.open(dir .. "/silent.py", "w"))
  f:write(SCRIPT)
  f:close()
  local p = assert(io.popen(("%s %s/silent.py %s %d >%s/silent.log 2>&1 & echo $!"):format(
    PY, dir, dir, port or 0, dir)))
  local pid = tonumber(p:read("*a"))
  p:close()
  for _ = 1, 200 do
    if helpers.read(dir .. "/port") then break end
    helpers.sh("sleep 0.05")
  end
  local got = tonumber(helpers.read(dir .. "/port") or "")
  assert(got, "the silent server did not start: " .. tostring(helpers.read(dir .. "/silent.log")))
  return { port = got, stop = function()
    helpers.sh("kill " .. pid .. " 2>/dev/null; while kill -0 " .. pid .. " 2>/dev/null; do sleep 0.05; done")
  end }
end

return M
