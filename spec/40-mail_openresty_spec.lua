-- Mail through the real nginx (issue 25): the example app with
-- mail_server set queues each mail in the outbox inside the request; its
-- two workers drain the outbox from nginx's thread pool (fsec_mail) to a
-- real SMTP server on loopback (python3-aiosmtpd). The server goes away
-- in the middle, replaced by one that accepts connections and never
-- speaks (spec.tools.silent: a client that waited on it would wait mail_timeout, 8 s):
-- requests keep answering without that wait, mail waits, and once the
-- server is back every message arrives exactly once (counted by
-- Message-ID), read back with Python's email package.
-- Runs in the LuaJIT pass only (nginx's Lua is LuaJIT).
local helpers = require "spec.helpers"
local cjson = require "cjson"
local example = require "spec.tools.example_app"
local peer = require "spec.tools.smtp_peer"

local enabled = example.enabled and peer.enabled
local describe_or_pending = enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx, python3-aiosmtpd, lua-socket, lua-sec)") end

local function count_ids(msgs)
  local ids, n, dup = {}, 0, 0
  for _, m in ipairs(msgs) do
    if ids[m.message_id] then dup = dup + 1 else n = n + 1 end
    ids[m.message_id] = true
  end
  return n, dup
end

describe_or_pending("mail through the outbox in nginx", function()
  it("survives an SMTP outage with two workers draining: every mail once, MIME whole, requests never wait", function()
    local srv = peer.start()
    local conf = cjson.encode{ mail_drain_interval = 0.2,
                               mail_retry_base = 1, mail_retry_max = 2, mail_timeout = 8,
                               mail_max_attempts = 1000,
                               email_sender = "Fsec Example <no-reply@example.org>" }
    local silent
    local ok, err = pcall(example.with_app, { workers = 2, env = "FSEC_THROTTLE=off FSEC_MAIL_SERVER=127.0.0.1 FSEC_MAIL_PORT=" .. srv.port
                                                     .. " FSEC_EXAMPLE_CONFIG='" .. conf .. "'" },
      function(app)
        local function register(i)
          local c = example.api(app)
          local s, r, _, _, took = c.call("POST", "/register", { email = ("m%02d@example.org"):format(i),
            password = "battery staple " .. i, password_confirm = "battery staple " .. i })
          assert.equals(200, s, cjson.encode(r))
          return took
        end
        -- before: sent within a drain or two
        for i = 1, 3 do register(i) end
        assert.truthy(example.poll(15, function() return #peer.received(srv.dir) >= 3 end))
        -- the outage: a server that never greets. A request that sent
        -- its mail itself would take mail_timeout (8 s); a registration
        -- takes one argon2 at nice 19, a few seconds at worst on a
        -- loaded machine (2.6 s seen beside a whole test run)
        srv.stop()
        silent = require("spec.tools.silent").start(srv.dir .. "/silent", srv.port)
        local slowest = 0
        for i = 4, 9 do slowest = math.max(slowest, register(i)) end
        assert.is_true(slowest < 6, "a request waited on the mail server: " .. slowest .. " s")
        -- many at once, both workers taking requests
        local list = {}
        for i = 10, 29 do
          list[#list + 1] = { "POST", "/register", { email = ("m%02d@example.org"):format(i),
                              password = "battery staple " .. i, password_confirm = "battery staple " .. i } }
        end
        for _, r in ipairs(example.answered(app, list)) do assert.equals(200, r.status) end
        helpers.sh("sleep 1") -- drains fail meanwhile (retried, never dropped)
        assert.equals(3, #peer.received(srv.dir))
        -- back on the same port: all arrive, once each
        silent.stop()
        local back = peer.start{ dir = srv.dir, port = srv.port }
        srv = back
        local got = example.poll(40, function()
          local g = peer.received(srv.dir)
          return #g >= 29 and g
        end)
        assert.truthy(got, "not every mail arrived: " .. #peer.received(srv.dir))
        helpers.sh("sleep 1") -- a copy sent twice would come now
        got = peer.received(srv.dir)
        local n, dup = count_ids(got)
        assert.equals(29, n)
        assert.equals(0, dup)
        local to = {}
        for _, m in ipairs(got) do
          to[m.to] = true
          assert.equals("1.0", m.mime)
          assert.equals("multipart/alternative", m.ctype)
          assert.equals(0, m.defects)
          assert.is_false(m.bare_lf)
          assert.equals("Fsec Example <no-reply@example.org>", m.from)
          assert.matches("/confirm/", m.parts["text/plain"].body, 1, true)
        end
        for i = 1, 29 do assert.truthy(to[("m%02d@example.org"):format(i)], i) end
        assert.matches("mail: SMTP to 127.0.0.1:" .. srv.port, helpers.read(app.out) or "", 1, true)
        -- the drains ran in the pool, not refused
        local log = helpers.read(app.dir .. "/logs/error.log") or ""
        assert.is_nil(log:find("cannot run in thread pool", 1, true), log)
        -- and a drain did wait on the silent server (until its timeout,
        -- or until the server went and closed the connection)
        assert.truthy(log:find("waits for attempt %d+: [^\n]*timeout") or log:find("waits for attempt %d+: [^\n]*closed"), log)
      end)
    srv.stop()
    if silent then silent.stop() end
    if not ok then error(err, 0) end
  end)
end)
