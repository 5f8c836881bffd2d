-- A real SMTP server for the mail specs (spec/tools/smtp_server.py on
-- Debian's python3-aiosmtpd), and what it received, parsed by Python's
-- email package (never by fsec's own code). Not a spec itself.
local helpers = require "spec.helpers"
local cjson = require "cjson"

local _M = {}

-- env -u LD_PRELOAD: the sanitizer pass preloads libasan, which python
-- and openssl do not take (as spec/tools/peer.lua)
local PY = "env -u LD_PRELOAD /usr/bin/python3"

_M.enabled = helpers.sh(PY .. " -c 'import aiosmtpd' 2>/dev/null")
  and pcall(require, "socket") and pcall(require, "ssl")

local function run(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end
_M.run = run

--- A free loopback port (the kernel's pick, through Python).
function _M.free_port()
  return tonumber(run(PY .. [[ -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])']]))
end

--- Start a server. o: { dir (its folder: kept across restarts), port, tls
-- = { cert, key } (STARTTLS), ssl = { cert, key }, auth = { user, pass },
-- reject = address answered 550 }. Returns { port, dir, pid, stop() }.
function _M.start(o)
  o = o or {}
  local dir = o.dir or (helpers.tmpdir() .. "/smtp-" .. math.random(1e9))
  assert(helpers.sh("mkdir -p " .. dir .. " && rm -f " .. dir .. "/ready"))
  local args = { "--dir", dir, "--port", tostring(o.port or _M.free_port()) }
  if o.tls then args[#args + 1] = "--tls " .. o.tls[1] .. " " .. o.tls[2] end
  if o.ssl then args[#args + 1] = "--ssl " .. o.ssl[1] .. " " .. o.ssl[2] end
  if o.auth then args[#args + 1] = "--auth " .. o.auth[1] .. " " .. o.auth[2] end
  if o.reject then args[#args + 1] = "--reject-rcpt " .. o.reject end
  local pid = run(("%s spec/tools/smtp_server.py %s >%s/server.log 2>&1 & echo $!"):format(
    PY, table.concat(args, " "), dir))
  local srv = { dir = dir, pid = tonumber(pid) }
  for _ = 1, 200 do
    local port = helpers.read(dir .. "/ready")
    if port then
      srv.port = tonumber(port)
      break
    end
    helpers.sh("sleep 0.05")
  end
  assert(srv.port, "the SMTP server did not start: " .. tostring(helpers.read(dir .. "/server.log")))
  function srv.stop()
    if srv.pid then
      helpers.sh("kill " .. srv.pid .. " 2>/dev/null; while kill -0 " .. srv.pid .. " 2>/dev/null; do sleep 0.05; done")
      srv.pid = nil
    end
  end
  return srv
end

local PARSE = [[
import email, email.policy, glob, json, os, sys
out = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.eml"))):
    raw = open(path, "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.SMTP)
    env = open(path[:-4] + ".env").read().splitlines()
    parts = {}
    for p in m.walk():
        if not p.is_multipart():
            parts[p.get_content_type()] = {"body": p.get_content().replace("\r\n", "\n"),
                                          "cte": p["Content-Transfer-Encoding"], "charset": p.get_content_charset()}
    lines = raw.split(b"\n")
    out.append({"message_id": m["Message-ID"], "subject": str(m["Subject"]), "from": str(m["From"]),
                "to": str(m["To"]), "date": m["Date"] and str(m["Date"]), "mime": m["MIME-Version"],
                "ctype": m.get_content_type(), "kind": m["X-Fsec-Kind"], "parts": parts,
                "defects": len(m.defects) + sum(len(p.defects) for p in m.walk()),
                "bare_lf": any(not l.endswith(b"\r") for l in lines[:-1]),
                "long_line": max(len(l) for l in lines) > 998,
                "headers": [k for k in m.keys()],
                "mail_from": env[0], "rcpt": env[1:-1], "session": env[-1]})
print(json.dumps(out))
]]

--- What the server received: one table per message (see PARSE).
function _M.received(dir)
  local f = assert(io.open(dir .. "/parse.py", "w"))
  f:write(PARSE)
  f:close()
  return cjson.decode(run(PY .. " " .. dir .. "/parse.py " .. dir))
end

--- A self-signed certificate for name (and 127.0.0.1): cert, key paths.
function _M.certificate(name)
  local dir = helpers.tmpdir() .. "/cert-" .. math.random(1e9)
  assert(helpers.sh("mkdir -p " .. dir))
  local cert, key = dir .. "/cert.pem", dir .. "/key.pem"
  assert(helpers.sh(("env -u LD_PRELOAD openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=%s"
    .. " -addext subjectAltName=DNS:%s,IP:127.0.0.1 -keyout %s -out %s 2>/dev/null"):format(name, name, key, cert)))
  return cert, key
end

return _M
