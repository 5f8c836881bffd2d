--- The mail outbox's drainer under nginx: with mail_server set, each
-- worker drains the outbox every mail_drain_interval seconds from a
-- timer, and the drain itself (connect, TLS, SMTP: blocking LuaSocket)
-- runs in nginx's thread pool `mail_thread_pool` (default "fsec_mail":
-- `thread_pool fsec_mail threads=1;` in nginx.conf), never in the event
-- loop. One drain at a time per worker; workers (and nodes) drain the
-- same table at once safely: each row is leased to one drainer
-- (fsec.outbox). A part of fsec.openresty.
-- @module fsec.openresty.mailer

local ngx = ngx

local _M = { _VERSION = "0.1.0" }

local running = false
local warned = false

-- The plain settings a thread's Lua state gets (no functions cross).
local function settings(cfg)
  local s = {}
  for k, v in pairs(cfg) do
    if type(k) == "string" and k:find("^mail_") and type(v) ~= "function" and type(v) ~= "table" then s[k] = v end
  end
  return s
end


local function drain(pool, db, mail)
  if running then return end
  running = true
  -- pcall: ok, then run_worker_thread's own ok (false: no such pool, or
  -- the job raised), then thread_drain's results
  local ok, ran, sent, retried, given_up, logs =
    pcall(ngx.run_worker_thread, pool, "fsec.outbox", "thread_drain", db, mail)
  running = false
  if not ok or not ran then
    if not warned then -- said once, not at every tick
      ngx.log(ngx.ERR, "fsec: the mail drainer cannot run in thread pool '", pool, "': ",
              tostring(ok and sent or ran), " (nginx.conf needs `thread_pool ", pool, " threads=1;`)")
      warned = true
    end
    return
  end
  if sent == nil then
    ngx.log(ngx.ERR, "fsec: mail drain: ", tostring(retried))
    return
  end
  for line in (logs or ""):gmatch("[^\n]+") do
    local level, text = line:match("^(%a+)%z(.*)$")
    ngx.log(level == "error" and ngx.ERR or ngx.WARN, text)
  end
  require("fsec.mail").count_drain(sent, retried, given_up)
  if sent > 0 or given_up > 0 then
    ngx.log(ngx.INFO, "fsec: mail drained: ", sent, " sent, ", retried, " to retry, ", given_up, " given up")
  end
end

--- Start this worker's drainer (init_worker). cfg: the checked
-- configuration; database: its database (path or URI); opts: init's.
function _M.install(cfg, database, opts)
  if not cfg.mail_server or cfg.send_mail then return end
  if not database then
    ngx.log(ngx.ERR, "fsec: mail_server under nginx needs `database` (the drainer opens it in a thread):"
            .. " mail is queued but not sent here")
    return
  end
  if not ngx.run_worker_thread then
    ngx.log(ngx.ERR, "fsec: this nginx has no ngx.run_worker_thread: the outbox is not drained here")
    return
  end
  local pool = opts.mail_thread_pool or "fsec_mail"
  local db = { path = database, connect_timeout = cfg.database_connect_timeout,
               statement_timeout = cfg.database_statement_timeout }
  local mail = settings(cfg)
  local ok, err = ngx.timer.every(cfg.mail_drain_interval, function(premature)
    if not premature then drain(pool, db, mail) end
  end)
  if not ok then ngx.log(ngx.ERR, "fsec: no timer for the mail drainer: ", err) end
end

return _M
