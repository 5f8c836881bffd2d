-- The mail outbox's figures (docs/mail.md): what queuing a mail adds to
-- a request, and how many mails a drain sends per second to a real SMTP
-- server on loopback (python3-aiosmtpd, spec/tools/smtp_server.py).
-- Run from the project root: lua5.4 bench/outbox.lua [N]
-- (LUA_PATH/LUA_CPATH as the specs: lua/ and build/lua54).
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("FSEC_BUILD_DIR") or "build") .. "/" .. (jit and "luajit" or "lua54") .. "/?.so;"
  .. package.cpath
local helpers = dofile("spec/helpers.lua")
local peer = dofile("spec/tools/smtp_peer.lua")
local socket = require "socket"
local outbox = require "fsec.outbox"
local mime = require "fsec.mime"

local N = tonumber(arg[1]) or 2000
local now = socket.gettime

local function msg(i)
  return { to = ("user%05d@example.org"):format(i), from = "Example <no-reply@example.org>",
           subject = "Password reset instructions", kind = "reset",
           text = "Click the link below to reset your password:\nhttps://app.example.org/reset/"
             .. string.rep("x", 120) .. "\n",
           html = "<p>Click the link below to reset your password:</p><p><a href=\"https://app.example.org/reset/"
             .. string.rep("x", 120) .. "\">reset</a></p>" }
end

local function store(sync)
  local path = helpers.tmpfile("bench-outbox.db")
  return assert(require("fsec.datastore.sqlite").new{ path = path, synchronous = sync }), path
end

-- 1. building the MIME message alone
local t = now()
for i = 1, N do assert(mime.build(msg(i), { now = 1800000000 })) end
local build_us = (now() - t) / N * 1e6

-- 2. build + insert, each its own commit (synchronous FULL: one fsync
-- each, as a request outside a transaction pays without a WAL syncer)
local ds, path = store()
t = now()
for i = 1, N do assert(outbox.queue(ds, msg(i), 1800000000)) end
local own_us = (now() - t) / N * 1e6

-- 3. build + insert inside a transaction that is open anyway (a
-- registration's: the user's row and the mail commit together): what the
-- mail adds to that request, its commit being paid for already
local ds2 = store()
t = now()
ds2:transaction(function()
  for i = 1, N do assert(outbox.queue(ds2, msg(i), 1800000000)) end
end)
local shared_us = (now() - t) / N * 1e6

-- 4. drain throughput to a real server, on a connection of the
-- drainer's own as fsec.outbox.thread_drain opens it (synchronous NORMAL)
local srv = peer.start()
local cfg = { mail_server = "127.0.0.1", mail_port = srv.port, mail_drain_batch = 100 }
local drainer = assert(require("fsec.datastore.sqlite").new{ path = path, synchronous = "NORMAL" })
t = now()
local sent = 0
repeat
  local s = assert(outbox.drain(drainer, cfg))
  sent = sent + s.sent
until s.sent == 0
local drain_s = now() - t
srv.stop()

print(("outbox figures (%s, %d messages of %d bytes)"):format(jit and "LuaJIT" or _VERSION, N,
  #assert(mime.build(msg(1))).data))
print(("  MIME build:                          %8.1f us/mail"):format(build_us))
print(("  build + insert, own commit (fsync):  %8.1f us/mail"):format(own_us))
print(("  added to a registration's commit:    %8.1f us/mail"):format(shared_us))
print(("  drain to aiosmtpd on loopback:       %8.0f mails/s (%d sent in %.2f s)"):format(sent / drain_s, sent, drain_s))
