--- The mail outbox: with mail_server set, a message is built (fsec.mime)
-- and queued in the store's outbox table, in the caller's transaction
-- when there is one (a request never talks to a mail server); drain()
-- sends what is due over SMTP (fsec.smtp) and deletes each row after the
-- server's 250. A failure is retried with exponential backoff
-- (mail_retry_base doubled per attempt, at most mail_retry_max seconds)
-- up to mail_max_attempts, then kept as given up; a 5xx refusal is given
-- up at once. Rows are claimed with a lease (mail_lease seconds), so two
-- drainers never send one row at the same time. Delivery is at least
-- once: a drainer that dies between the server's 250 and the delete
-- leaves the row to be sent again when its lease ends; the copy has the
-- same Message-ID (made when queued), so receivers can drop it
-- (docs/mail.md).
-- @module fsec.outbox

local core = require "fsec.core"
local mime = require "fsec.mime"

local floor, min = math.floor, math.min

local _M = { _VERSION = "0.1.0" }


--- Queue a message { to, from, subject, text, html, kind } in ds. now:
-- Unix time. Returns the row id, or nil and why.
function _M.queue(ds, msg, now)
  if type(ds.outbox_add) ~= "function" then
    return nil, "this datastore has no outbox (mail_server needs fsec.datastore.sqlite or PostgreSQL)"
  end
  local m, err = mime.build(msg, { now = now })
  if not m then return nil, err end
  return ds:outbox_add{ message_id = m.message_id, sender = m.sender, recipient = m.recipient,
                        kind = msg.kind or "mail", message = m.data }
end


--- Seconds before attempt n + 1, after n failed attempts.
function _M.backoff(cfg, n)
  local base, cap = cfg.mail_retry_base or 30, cfg.mail_retry_max or 3600
  return floor(min(cap, base * 2 ^ (n - 1)))
end


-- The SMTP settings, the password read from mail_password_file when given.
local function smtp_settings(cfg)
  local s = {}
  for k, v in pairs(cfg) do
    if type(k) == "string" and k:find("^mail_") then s[k] = v end
  end
  if cfg.mail_password_file then
    local text, err = require("fsec.secretfile").read(cfg.mail_password_file)
    if not text then return nil, "mail_password_file: " .. tostring(err) end
    s.mail_password = text:gsub("\r?\n$", "")
  end
  return s
end


--- Send what is due: at most cfg.mail_drain_batch messages, over one SMTP
-- session. opts: { log = fn(level, text), clock = fn() -> Unix time,
-- smtp = module (tests) }. Returns { sent, retried, given_up }, or nil and
-- why when nothing could be tried (no outbox, no password file).
-- A temporary failure (no connection, a 4xx) ends the run: the server is
-- likely down for the next message too.
function _M.drain(ds, cfg, opts)
  opts = opts or {}
  local log = opts.log or function() end
  local clock = opts.clock or os.time
  if type(ds.outbox_claim) ~= "function" then return nil, "this datastore has no outbox" end
  local settings, serr = smtp_settings(cfg)
  if not settings then return nil, serr end
  local smtp = opts.smtp or require "fsec.smtp"
  local owner = core.random_id(16)
  local lease, max_attempts = cfg.mail_lease or 120, cfg.mail_max_attempts or 10
  local stats = { sent = 0, retried = 0, given_up = 0 }
  local session
  for _ = 1, cfg.mail_drain_batch or 100 do
    local row, err = ds:outbox_claim(owner, lease)
    if row == nil then return nil, err end
    if not row then break end
    local ok, why, permanent
    if not session then session, why = smtp.open(settings) end
    if session then ok, why, permanent = session:send(row.sender, row.recipient, row.message) end
    if ok then
      -- a failure here leaves the lease to run out: sent once more, same Message-ID
      local done, derr = ds:outbox_sent(row.id)
      if done == nil then
        log("error", "fsec: mail " .. row.message_id .. " sent but not marked: " .. tostring(derr))
      end
      stats.sent = stats.sent + 1
    else
      if session and not permanent then
        session:close()
        session = nil
      end
      why = tostring(why)
      if permanent or row.attempts >= max_attempts then
        ds:outbox_retry(row.id, owner, nil, why)
        stats.given_up = stats.given_up + 1
        log("error", "fsec: gave up a " .. row.kind .. " mail (" .. row.message_id .. ") after "
            .. row.attempts .. " attempt(s): " .. why)
      else
        ds:outbox_retry(row.id, owner, clock() + _M.backoff(cfg, row.attempts), why)
        stats.retried = stats.retried + 1
        -- said at attempts 1, 2, 4, 8...: an outage does not flood the log
        local n = row.attempts
        while n % 2 == 0 do n = n / 2 end
        if n == 1 then
          log("warn", "fsec: a " .. row.kind .. " mail waits for attempt " .. (row.attempts + 1) .. ": " .. why)
        end
        break
      end
    end
  end
  if session then session:close() end
  return stats
end


--- A drain in a worker thread of nginx (ngx.run_worker_thread runs this
-- in the thread's own Lua state): opens the thread's own connection to
-- the database (kept for the next job) and drains. db: { path,
-- connect_timeout, statement_timeout }; cfg: the mail_* keys.
-- Returns sent, retried, given_up, or nil and why.
local stores = {}
function _M.thread_drain(db, cfg)
  local ds = stores[db.path]
  if not ds then
    -- synchronous NORMAL (SQLite): a claim or a mark lost to a power cut
    -- (never to a crash of the process) only sends a message again, which
    -- at-least-once allows; each fsync would cost more than the SMTP
    -- exchange (docs/mail.md's figures)
    local err
    ds, err = require("fsec.datastore.sqlite").new{ path = db.path, synchronous = "NORMAL",
      connect_timeout = db.connect_timeout, statement_timeout = db.statement_timeout }
    if not ds then return nil, tostring(err) end
    stores[db.path] = ds
  end
  local logs = {}
  local stats, err = _M.drain(ds, cfg, { log = function(level, text) logs[#logs + 1] = level .. "\0" .. text end })
  if not stats then return nil, err end
  return stats.sent, stats.retried, stats.given_up, table.concat(logs, "\n")
end

return _M
