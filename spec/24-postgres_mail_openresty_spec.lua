-- Mail through the outbox on PostgreSQL in nginx (issue 25): every
-- datastore call runs in the thread pool (fsec.openresty.remote), the
-- outbox's insert too, batched into a view's transaction (a password
-- reset and its notice commit together); two workers drain the outbox
-- from the fsec_mail pool, each from its own connection, claims taken with
-- FOR UPDATE SKIP LOCKED. A real SMTP server on loopback receives each
-- message once. LuaJIT pass with nginx only, as spec/40.
local cjson = require "cjson"
local example = require "spec.tools.example_app"
local postgres = require "spec.tools.postgres"
local peer = require "spec.tools.smtp_peer"


local describe_or_pending = example.enabled and peer.enabled and describe
  or function(name) pending(name .. " (LuaJIT pass with nginx, python3-aiosmtpd, lua-socket, lua-sec)") end

describe_or_pending("mail through the outbox on PostgreSQL in nginx", function()
  if not postgres.present(it, pending) then return end
  local pg, app, srv
  setup(function()
    pg = postgres.new()
    srv = peer.start()
    app = postgres.start_example(pg, ("FSEC_THROTTLE=off FSEC_MAIL_SERVER=127.0.0.1 FSEC_MAIL_PORT=%d"):format(srv.port),
                                 { mail_drain_interval = 0.2 })
  end)
  teardown(function()
    if app then example.stop(app) end
    if srv then srv.stop() end
    if pg then postgres.remove(pg) end
  end)

  local function received_by(kind, to)
    return example.poll(20, function()
      for _, m in ipairs(peer.received(srv.dir)) do
        if m.kind == kind and m.to == to then return m end
      end
    end)
  end

  it("sends each mail once, and a reset's notice queued in the reset's own transaction", function()
    local list = {}
    for i = 1, 12 do
      list[i] = { "POST", "/register", { email = ("pg%02d@example.org"):format(i),
                  password = "battery staple " .. i, password_confirm = "battery staple " .. i } }
    end
    for _, r in ipairs(example.answered(app, list)) do assert.equals(200, r.status) end
    assert.truthy(example.poll(30, function() return #peer.received(srv.dir) >= 12 end))
    -- a reset: the link from the mail, the new password, then the notice
    local c = example.api(app)
    local st, rr = c.call("POST", "/reset", { email = "admin@example.org" })
    assert.equals(200, st, cjson.encode(rr))
    local m = assert(received_by("reset", "admin@example.org"), "no reset mail")
    local path = m.parts["text/plain"].body:match("https?://[^/%s]+(/reset/%S+)")
    assert.truthy(path)
    local s, r = c.call("POST", path, { password = "a new battery staple", password_confirm = "a new battery staple" })
    assert.equals(200, s, cjson.encode(r))
    assert.truthy(received_by("reset_notice", "admin@example.org"), "no reset notice")
    -- nothing left queued, nothing sent twice
    local ok, out = postgres.psql(pg, "select count(*) from outbox")
    assert.is_true(ok, out)
    assert.equals("0", out:match("%d+"))
    local ids, dup = {}, 0
    for _, msg in ipairs(peer.received(srv.dir)) do
      if ids[msg.message_id] then dup = dup + 1 end
      ids[msg.message_id] = true
    end
    assert.equals(0, dup)
    assert.equals(14, #peer.received(srv.dir))
  end)
end)
