-- Mail that is delivered and never lost (issue 25): MIME built by
-- fsec.mime, queued in the store's outbox, sent by a drainer over SMTP to
-- a real server on loopback (Debian's python3-aiosmtpd:
-- spec/tools/smtp_server.py), read back with Python's email package.
-- Plain SMTP, STARTTLS with AUTH, implicit TLS, a certificate that does
-- not check, an outage in the middle, a 5xx refusal, two drainers at
-- once, a drainer dying between the 250 and its mark, and
-- Flask-Security's send_*_email switches.
local helpers = require "spec.helpers"
local peer = require "spec.tools.smtp_peer"
local mime = require "fsec.mime"

local LUA = jit and "luajit" or "lua5.4"

describe("fsec.mime #quick", function()
  local function build(over)
    local m = { to = "bob@example.com", from = "Fsec <no-reply@example.com>", subject = "Hi",
                text = "Hello\n", html = "<p>Hello</p>", kind = "reset" }
    for k, v in pairs(over or {}) do m[k] = v end
    return mime.build(m, { now = 1700000000 })
  end

  it("refuses a CR, LF or other control character in every header value (no header injection)", function()
    for _, field in ipairs{ "to", "from", "subject" } do
      for _, bad in ipairs{ "\r\nBcc: evil@example.net", "\nBcc: evil@example.net", "\rX: y", "a\0b", "\27[0m" } do
        local base = field == "subject" and "Hi" or "bob@example.com"
        local m, err = build{ [field] = base .. bad }
        assert.is_nil(m, field .. " took " .. bad:gsub("%c", "^"))
        assert.matches("control character", err)
      end
    end
    local m, err = build{ kind = "reset\r\nBcc: x@y" }
    assert.is_nil(m)
    assert.matches("kind", err)
  end)

  it("refuses what is not an address (two addresses, brackets, no @)", function()
    for _, bad in ipairs{ "a@b, c@d", "<a@b>>", "nobody", "a b@c", "@b", "a@" } do
      assert.is_nil((build{ to = bad }), bad)
    end
  end)

  it("writes CRLF lines, Date, Message-ID, MIME-Version and RFC 2047 words for non-ASCII", function()
    local m = assert(build{ subject = "Réinitialisez votre mot de passe — ça presse", from = "Équipe <a@example.com>" })
    assert.equals("a@example.com", m.sender)
    assert.equals("bob@example.com", m.recipient)
    assert.is_nil(m.data:find("[^\r]\n"))
    assert.matches("^Date: Tue, 14 Nov 2023 22:13:20 %+0000\r\n", m.data)
    assert.matches("\r\nMessage%-ID: <[%w_-]+%.1700000000@example%.com>\r\n", m.data)
    assert.matches("\r\nMIME%-Version: 1%.0\r\n", m.data)
    assert.matches("\r\nSubject: =%?UTF%-8%?B%?", m.data)
    assert.is_nil(m.data:find("[\128-\255]"), "8-bit bytes in a 7-bit message")
    for line in m.data:gmatch("([^\r\n]*)\r\n") do assert.is_true(#line <= 78, line) end
  end)

  it("keeps one Message-ID when given one (a message sent again is the same message)", function()
    local a = assert(mime.build({ to = "b@x.org", from = "a@x.org", subject = "s", text = "t" },
                                { message_id = "<fixed@x.org>" }))
    assert.matches("Message%-ID: <fixed@x%.org>\r\n", a.data)
  end)

  it("names the mail's language in Content-Language, and nothing that is not a plain tag", function()
    assert.matches("\r\nContent%-Language: fr\r\n", assert(build{ lang = "fr" }).data)
    assert.matches("\r\nContent%-Language: de%-CH\r\n", assert(build{ lang = "de-CH" }).data)
    assert.is_nil(assert(build{}).data:find("Content-Language", 1, true))
    for _, bad in ipairs{ "fr\r\nBcc: evil@example.net", "fr\n", "fr;q=1", "", "-fr", ("a"):rep(36) } do
      local m = assert(build{ lang = bad })
      assert.is_nil(m.data:find("Content-Language", 1, true), bad)
      assert.is_nil(m.data:find("Bcc", 1, true))
    end
  end)

  it("quoted-printable: '=' escaped, lines of at most 76, trailing spaces kept", function()
    local qp = mime.quoted_printable("a=b \n" .. string.rep("é", 80) .. "\n")
    assert.matches("^a=3Db=20\r\n", qp)
    for line in qp:gmatch("([^\r\n]*)\r\n") do
      assert.is_true(#line <= 76)
      assert.is_nil(line:find("=%x$"), "an escape cut: " .. line)
      assert.is_nil(line:find("=%x=$"), "an escape cut: " .. line)
    end
  end)
end)


describe("fsec.mail's Flask-Mail and Flask-Security settings #quick", function()
  local mail = require "fsec.mail"
  local function sent_with(cfg)
    local got = {}
    cfg.send_mail = function(m) got[#got + 1] = m end
    cfg.log = function() end
    local sec = helpers.new(helpers.merged({ database = helpers.tmpfile("mailcfg.db") }, cfg))
    assert.is_true(mail.send(sec, "reset", { email = "a@example.org" }, "https://x/reset/t"))
    return got
  end

  it("takes mail_default_sender when email_sender is left at its default, and not otherwise", function()
    assert.equals("Ops <ops@example.org>", sent_with{ mail_default_sender = "Ops <ops@example.org>" }[1].from)
    assert.equals("me@example.org", sent_with{ mail_default_sender = "ops@example.org",
                                                email_sender = "me@example.org" }[1].from)
  end)

  it("email_html = false leaves the HTML part out, email_plaintext = false the text part", function()
    local m = sent_with{ email_html = false }[1]
    assert.is_nil(m.html)
    assert.truthy(m.text)
    m = sent_with{ email_plaintext = false }[1]
    assert.is_nil(m.text)
    assert.truthy(m.html)
    assert.has_error(function() sent_with{ email_plaintext = false, email_html = false } end)
  end)

  it("composes in the request's language and says which (msg.lang)", function()
    local got = {}
    local sec = helpers.new(helpers.merged({ database = helpers.tmpfile("mailfr.db"), languages = { "en", "fr" },
                                             send_mail = function(m) got[#got + 1] = m end, log = function() end }))
    require("fsec.i18n").within("fr", mail.send, sec, "reset", { email = "a@example.org" }, "https://x/reset/t")
    assert.equals("fr", got[1].lang)
    assert.equals(mail.compose(sec, "reset", { email = "a@example.org", link = "https://x/reset/t" }, "fr"),
                  got[1].subject)
    assert.not_equals(sec._cfg.email_subject_password_reset, got[1].subject) -- translated, not the English default
    assert.matches("https://x/reset/t", got[1].text, 1, true)
    assert.matches("https://x/reset/t", got[1].html, 1, true)
  end)

  it("send_password_reset_email = false sends no reset link", function()
    assert.same({}, sent_with{ send_password_reset_email = false })
  end)
end)


describe("the SMTP outbox", function()
  if not peer.enabled then
    pending("needs python3-aiosmtpd, lua-socket and lua-sec (scripts/deps.sh)")
    return
  end

  local servers = {}
  local function server(o)
    local s = peer.start(o)
    servers[#servers + 1] = s
    return s
  end
  after_each(function()
    for _, s in ipairs(servers) do s.stop() end
    servers = {}
  end)

  local function app(srv, extra)
    local cfg = { mail_server = "127.0.0.1", mail_port = srv.port, mail_retry_base = 60, mail_retry_max = 600,
                  email_sender = "Fsec Démo <no-reply@example.com>", external_url = "https://app.example.com" }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return helpers.app{ clock = true, endpoints = true, log = "keep", config = cfg }
  end

  local function register(a, email)
    local c = helpers.api(a.sec)
    local res = c:call("POST", "/register", { email = email, password = "battery staple horse 9", password_confirm = "battery staple horse 9" })
    assert.equals(200, res.status)
  end

  local function forgot(a, email)
    local res = helpers.api(a.sec):call("POST", "/reset", { email = email })
    assert.equals(200, res.status)
  end

  local function by_id(msgs)
    local t, dup = {}, 0
    for _, m in ipairs(msgs) do
      if t[m.message_id] then dup = dup + 1 end
      t[m.message_id] = m
    end
    return t, dup
  end

  it("queues in the request and sends on drain: MIME that Python's email package reads whole", function()
    local srv = server()
    local a = app(srv)
    register(a, "ann@example.org")
    assert.same({}, peer.received(srv.dir)) -- the request sent nothing
    local queued = a.sec.datastore:outbox_counts()
    assert.equals(1, queued)
    local stats = assert(a.sec:drain_mail())
    assert.same({ sent = 1, retried = 0, given_up = 0 }, stats)
    assert.equals(0, (a.sec.datastore:outbox_counts()))
    local got = peer.received(srv.dir)
    assert.equals(1, #got)
    local m = got[1]
    assert.equals("no-reply@example.com", m.mail_from)
    assert.same({ "ann@example.org" }, m.rcpt)
    assert.equals("Fsec Démo <no-reply@example.com>", m.from)
    assert.equals("ann@example.org", m.to)
    assert.equals("Welcome", m.subject)
    assert.equals("1.0", m.mime)
    assert.truthy(m.date)
    assert.matches("^<.+@example%.com>$", m.message_id)
    assert.equals("multipart/alternative", m.ctype)
    assert.equals("quoted-printable", m.parts["text/plain"].cte)
    assert.equals("utf-8", m.parts["text/plain"].charset)
    assert.matches("Welcome ann@example.org", m.parts["text/plain"].body, 1, true)
    assert.matches("<p>", m.parts["text/html"].body, 1, true)
    assert.equals(0, m.defects)
    assert.is_false(m.bare_lf)
    assert.is_false(m.long_line)
  end)

  it("a non-ASCII subject arrives decoded, and a long link survives quoted-printable", function()
    local srv = server()
    local a = app(srv, { email_subject_password_reset = "Réinitialisation du mot de passe — étape 1" })
    register(a, "bea@example.org")
    forgot(a, "bea@example.org")
    assert(a.sec:drain_mail())
    local got = peer.received(srv.dir)
    assert.equals(2, #got)
    local reset
    for _, m in ipairs(got) do if m.kind == "reset" then reset = m end end
    assert.equals("Réinitialisation du mot de passe — étape 1", reset.subject)
    local link = reset.parts["text/plain"].body:match("(https://app%.example%.com/reset/%S+)")
    assert.truthy(link)
    assert.is_true(#link > 76) -- longer than a quoted-printable line: it was cut and joined again
    -- the link works
    local res = a.sec:handle(helpers.request{ path = helpers.path_of(link), headers = { accept = "application/json" } })
    assert.equals(200, res.status)
  end)

  it("STARTTLS with AUTH: the certificate checked against mail_tls_ca_file, the password from a 0600 file", function()
    local cert, key = peer.certificate("localhost")
    local srv = server{ tls = { cert, key }, auth = { "fsec", "s3cret-pw" } }
    local pwfile = helpers.tmpdir() .. "/smtp-pw-" .. math.random(1e9)
    assert(helpers.sh("umask 077; printf 's3cret-pw\\n' > " .. pwfile))
    local a = app(srv, { mail_server = "localhost", mail_use_tls = true, mail_tls_ca_file = cert,
                         mail_username = "fsec", mail_password_file = pwfile })
    register(a, "cat@example.org")
    assert.same({ sent = 1, retried = 0, given_up = 0 }, assert(a.sec:drain_mail()))
    local got = peer.received(srv.dir)
    assert.equals(1, #got)
    assert.equals("tls=True auth=True", got[1].session)
    -- no password in any log line
    for _, line in ipairs(a.logs) do assert.is_nil(line:find("s3cret", 1, true)) end
  end)

  it("does not send to a server whose certificate does not check (wrong CA, wrong name): retried", function()
    local cert, key = peer.certificate("localhost")
    local other = peer.certificate("localhost")
    local srv = server{ tls = { cert, key } }
    for _, case in ipairs{ { "localhost", other }, { "127.0.0.2", cert } } do
      local a = app(srv, { mail_server = case[1], mail_use_tls = true, mail_tls_ca_file = case[2] })
      register(a, "dan@example.org")
      local stats = assert(a.sec:drain_mail())
      assert.same({ sent = 0, retried = 1, given_up = 0 }, stats)
      assert.equals(1, (a.sec.datastore:outbox_counts()))
    end
    assert.same({}, peer.received(srv.dir))
  end)

  it("implicit TLS (mail_use_ssl)", function()
    local cert, key = peer.certificate("localhost")
    local srv = server{ ssl = { cert, key } }
    local a = app(srv, { mail_server = "localhost", mail_use_ssl = true, mail_tls_ca_file = cert })
    register(a, "eve@example.org")
    assert.same({ sent = 1, retried = 0, given_up = 0 }, assert(a.sec:drain_mail()))
    assert.equals("tls=True auth=False", peer.received(srv.dir)[1].session)
  end)

  it("an outage in the middle: requests still succeed, mail waits, then each arrives exactly once", function()
    local srv = server()
    local a = app(srv, { mail_retry_base = 30 })
    register(a, "u1@example.org")
    assert.equals(1, assert(a.sec:drain_mail()).sent)
    srv.stop() -- the server goes away
    for i = 2, 6 do register(a, ("u%d@example.org"):format(i)) end
    forgot(a, "u2@example.org")
    assert.equals(6, (a.sec.datastore:outbox_counts()))
    local stats = assert(a.sec:drain_mail())
    assert.same({ sent = 0, retried = 1, given_up = 0 }, stats) -- one try, then the run stops
    local again = assert(a.sec:drain_mail()) -- the next run tries the next due one
    assert.equals(0, again.sent)
    -- the server comes back on the same port and folder
    local back = server{ dir = srv.dir, port = srv.port }
    local first = assert(a.sec:drain_mail())
    assert.equals(4, first.sent) -- the ones not yet tried
    a.clock.now = a.clock.now + 31 -- the backoff of the two tried
    assert.equals(2, assert(a.sec:drain_mail()).sent)
    assert.equals(0, (a.sec.datastore:outbox_counts()))
    local got = peer.received(back.dir)
    local ids, dup = by_id(got)
    assert.equals(0, dup)
    assert.equals(7, #got)
    local n = 0
    for _ in pairs(ids) do n = n + 1 end
    assert.equals(7, n)
  end)

  it("backs off exponentially (capped) and gives up after mail_max_attempts, keeping the row", function()
    local port = peer.free_port() -- nothing listens
    local a = app({ port = port }, { mail_retry_base = 10, mail_retry_max = 25, mail_max_attempts = 4 })
    register(a, "gia@example.org")
    local NONE = { sent = 0, retried = 0, given_up = 0 }
    assert.same({ sent = 0, retried = 1, given_up = 0 }, assert(a.sec:drain_mail()))
    for _, wait in ipairs{ 10, 20, 25 } do -- 10, then doubled, then capped at mail_retry_max
      a.clock.now = a.clock.now + wait - 1
      assert.same(NONE, assert(a.sec:drain_mail()), "due before " .. wait .. " s")
      a.clock.now = a.clock.now + 1
      local stats = assert(a.sec:drain_mail())
      assert.equals(1, stats.retried + stats.given_up, "not due after " .. wait .. " s")
    end
    local queued, given_up = a.sec.datastore:outbox_counts()
    assert.equals(1, queued)
    assert.equals(1, given_up)
    a.clock.now = a.clock.now + 100000
    assert.same(NONE, assert(a.sec:drain_mail())) -- given up: never tried again
    local found = false
    for _, line in ipairs(a.logs) do if line:find("gave up", 1, true) then found = true end end
    assert.is_true(found)
  end)

  it("a 5xx refusal is given up at once; the other mail goes on", function()
    local srv = server{ reject = "nobody@example.org" }
    local a = app(srv)
    register(a, "nobody@example.org")
    register(a, "hal@example.org")
    local stats = assert(a.sec:drain_mail())
    assert.same({ sent = 1, retried = 0, given_up = 1 }, stats)
    local got = peer.received(srv.dir)
    assert.equals(1, #got)
    assert.same({ "hal@example.org" }, got[1].rcpt)
  end)

  it("a 5xx to MAIL FROM (a server that wants STARTTLS fsec was not told to use) is retried, not given up", function()
    local cert, key = peer.certificate("localhost")
    local srv = server{ tls = { cert, key } } -- 530 until STARTTLS
    local a = app(srv)
    register(a, "ivy@example.org")
    register(a, "joe@example.org")
    assert.same({ sent = 0, retried = 1, given_up = 0 }, assert(a.sec:drain_mail()))
    local queued, given_up = a.sec.datastore:outbox_counts()
    assert.same({ 2, 0 }, { queued, given_up })
  end)

  it("two drainers on one database at once never send one row twice", function()
    local srv = server()
    local db = helpers.tmpfile("outbox-race.db")
    local a = helpers.app{ db = db, config = { database = db, mail_server = "127.0.0.1", mail_port = srv.port } }
    for i = 1, 60 do
      assert(require("fsec.outbox").queue(a.sec.datastore,
        { to = ("r%d@example.org"):format(i), from = "a@example.com", subject = "n" .. i, text = "x", kind = "t" }, os.time()))
    end
    local script = helpers.tmpdir() .. "/drain-" .. math.random(1e9) .. ".lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
      package.path = "lua/?.lua;" .. package.path
      package.cpath = "%s/%s/?.so;" .. package.cpath
      local ds = assert(require("fsec.datastore.sqlite").new{ path = %q })
      local cfg = { mail_server = "127.0.0.1", mail_port = %d, mail_drain_batch = 5 }
      local total = 0
      for _ = 1, 40 do
        local s = assert(require("fsec.outbox").drain(ds, cfg))
        total = total + s.sent
        if s.sent == 0 then break end
      end
      io.write(total)
    ]]):format(os.getenv("FSEC_BUILD_DIR") or "build", jit and "luajit" or "lua54", db, srv.port))
    f:close()
    local out = peer.run(("(%s %s > %s.1 &) ; (%s %s > %s.2 &) ; sleep 0.2; wait; "
      .. "for i in $(seq 100); do [ -s %s.1 ] && [ -s %s.2 ] && break; sleep 0.1; done; cat %s.1; echo; cat %s.2")
      :format(LUA, script, script, LUA, script, script, script, script, script, script))
    local n1, n2 = out:match("(%d+)%s+(%d+)")
    assert.equals(60, tonumber(n1) + tonumber(n2))
    local got = peer.received(srv.dir)
    local _, dup = by_id(got)
    assert.equals(60, #got)
    assert.equals(0, dup)
  end)

  it("a drainer dying between the 250 and its mark: sent once more after the lease, same Message-ID", function()
    local srv = server()
    local a = app(srv, { mail_lease = 60 })
    register(a, "ida@example.org")
    local ds = a.sec.datastore
    -- what a drainer does up to the 250, then it dies (no outbox_sent)
    local row = assert(ds:outbox_claim("dies", 60))
    local smtp = require "fsec.smtp"
    local s = assert(smtp.open{ mail_server = "127.0.0.1", mail_port = srv.port })
    assert.is_true(s:send(row.sender, row.recipient, row.message))
    s:close()
    assert.equals(0, assert(a.sec:drain_mail()).sent) -- leased: nobody else sends it
    a.clock.now = a.clock.now + 61
    assert.equals(1, assert(a.sec:drain_mail()).sent)
    local got = peer.received(srv.dir)
    assert.equals(2, #got) -- at least once: twice here, the bound docs/mail.md states
    assert.equals(got[1].message_id, got[2].message_id) -- a receiver can drop the copy
  end)

  it("queues a password change's notice in the change's own transaction", function()
    local srv = server()
    local a = helpers.app{ clock = true, endpoints = true, log = "keep",
                           users = { { email = "kay@example.org", password = "old battery staple", confirmed = true } },
                           config = { mail_server = "127.0.0.1", mail_port = srv.port,
                                      external_url = "https://app.example.com" } }
    local c = helpers.api(a.sec)
    assert.equals(200, c:call("POST", "/login", { email = "kay@example.org", password = "old battery staple" }).status)
    -- a change whose transaction fails queues nothing
    local ds = a.sec.datastore
    local real = ds.set_password
    ds.set_password = function() return nil, "EDB: disk on fire", "EDB" end
    local res = c:call("POST", "/change", { password = "old battery staple", new_password = "new battery staple",
                                            new_password_confirm = "new battery staple" })
    ds.set_password = real
    assert.is_true(res.status >= 500, res.status) -- the change failed: 500 or 503
    assert.equals(0, (ds:outbox_counts()))
    -- the notice's insert runs inside the change's transaction
    local add, inside = ds.outbox_add, nil
    ds.outbox_add = function(self, m)
      inside = self._in_txn
      return add(self, m)
    end
    res = c:call("POST", "/change", { password = "old battery staple", new_password = "new battery staple",
                                      new_password_confirm = "new battery staple" })
    ds.outbox_add = add
    assert.equals(200, res.status)
    assert.is_true(inside)
    assert.equals(1, (ds:outbox_counts()))
    assert(a.sec:drain_mail())
    local got = peer.received(srv.dir)
    assert.equals(1, #got)
    assert.equals("change_notice", got[1].kind)
    assert.matches("https://app.example.com/reset", got[1].parts["text/plain"].body, 1, true)
  end)

  it("Flask-Security's send_*_email switches leave their mail out", function()
    local srv = server()
    local a = app(srv, { send_register_email = false, send_password_reset_email = false })
    register(a, "jo@example.org")
    forgot(a, "jo@example.org")
    assert.equals(0, (a.sec.datastore:outbox_counts()))
    local b = app(srv, { email_html = false })
    register(b, "kim@example.org")
    assert(b.sec:drain_mail())
    local got = peer.received(srv.dir)
    assert.equals(1, #got)
    assert.equals("text/plain", got[1].ctype)
  end)

  it("`fsec mail status` and `fsec mail drain` (cron's way) send the outbox", function()
    local cli = require "spec.tools.fsec_cli"
    local srv = server()
    local db = helpers.tmpfile("cli-outbox.db")
    local a = helpers.app{ db = db, endpoints = true, config = { database = db, mail_server = "127.0.0.1",
                                                               mail_port = srv.port, password_salt = "salty",
                                                               external_url = "https://app.example.com",
                                                               secret_key = cli.KEY } }
    register(a, "lee@example.org")
    register(a, "max@example.org")
    local conf = helpers.tmpdir() .. "/mailconf-" .. math.random(1e9) .. ".lua"
    local f = assert(io.open(conf, "w"))
    f:write(("return { secret_key = %q, password_salt = 'salty', mail_server = '127.0.0.1', mail_port = %d }")
      :format(cli.KEY, srv.port))
    f:close()
    local rc, out = cli.run(db, "mail status --json")
    assert.equals(0, rc, out)
    assert.matches('"queued":2', out, 1, true)
    rc, out = cli.run(db, "--config " .. cli.q(conf) .. " mail drain --until-empty --json")
    assert.equals(0, rc, out)
    assert.matches('"sent":2', out, 1, true)
    assert.equals(2, #peer.received(srv.dir))
    rc, out = cli.run(db, "mail drain")
    assert.equals(1, rc)
    assert.matches("needs %-%-config", out)
  end)

  it("refuses a configuration that would send a password in the clear, or both TLS modes", function()
    local fsec = require "fsec"
    local ok, err = pcall(fsec.new, helpers.config{ database = helpers.tmpfile("m.db"), mail_server = "smtp.example.com",
                                                   mail_username = "u", mail_password = "p" })
    assert.is_false(ok)
    assert.matches("mail_username needs mail_use_tls or mail_use_ssl", err)
    ok, err = pcall(fsec.new, helpers.config{ database = helpers.tmpfile("m.db"), mail_server = "smtp.example.com",
                                             mail_use_tls = true, mail_use_ssl = true })
    assert.is_false(ok)
    assert.matches("exclusive", err)
    ok, err = pcall(fsec.new, helpers.config{ database = helpers.tmpfile("m.db"), mail_server = "smtp.example.com:25" })
    assert.is_false(ok)
    assert.matches("mail_server", err)
  end)
end)
