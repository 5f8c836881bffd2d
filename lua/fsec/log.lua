--- fsec's lines for nginx's error log, never beside a request's line.
-- In nginx, a line logged while a request runs carries that request's
-- line (request: "POST /reset/<token> HTTP/1.1"): a mailed link's token,
-- for whoever reads error.log (attack reviews found reset and confirmation
-- links there: an overload logs one line per refused request). Lines made
-- in a request are written from a timer instead, after it: each distinct
-- line once, with how many times it came (an overload then logs one line,
-- not one per request). Past MAX_PENDING distinct lines in one batch, the
-- rest are counted only. Outside nginx, lines go to stderr.
-- @module fsec.log

local _M = { _VERSION = "0.1.0" }

local MAX_PENDING = 64
local pending, pending_index, pending_lost -- the batch a timer will write

local function write_pending()
  local batch, lost = pending, pending_lost
  pending, pending_index, pending_lost = nil, nil, 0
  for i = 1, #batch do
    local e = batch[i]
    ngx.log(e[1], e[3] > 1 and ("%s (%d times)"):format(e[2], e[3]) or e[2])
  end
  if lost > 0 then ngx.log(ngx.WARN, ("fsec: %d more log lines not written (too many at once)"):format(lost)) end
end

local IN_NO_REQUEST = { init = true, init_worker = true, timer = true, exit_worker = true }

--- Log msg at lvl (ngx.ERR, ngx.WARN, ...) to nginx's error log: at
-- once outside a request, else from a timer after it. keep: never
-- counted only (an audit event's line; one batch holds what one turn of
-- the event loop made).
function _M.ngx(lvl, msg, keep)
  if not ngx.timer or IN_NO_REQUEST[ngx.get_phase()] then return ngx.log(lvl, msg) end
  if not pending then
    local ok, made = pcall(ngx.timer.at, 0, write_pending)
    if not ok then return ngx.log(lvl, msg) end -- a phase without timers: no request there
    -- no timer (nginx is exiting, or too many timers: an overload): the
    -- line is lost rather than written with the request's
    if not made then return end
    pending, pending_index, pending_lost = {}, {}, 0
  end
  local key = lvl .. msg
  local e = pending_index[key]
  if e then
    e[3] = e[3] + 1
  elseif keep or #pending < MAX_PENDING then
    e = { lvl, msg, 1 }
    pending[#pending + 1], pending_index[key] = e, e
  else
    pending_lost = pending_lost + 1
  end
end

--- The configuration's default `log(level, msg)`: "error" or "warn"
-- (anything else: "warn"), to nginx's error log as _M.ngx writes, or to
-- stderr outside nginx.
function _M.default(level, msg)
  if not (rawget(_G, "ngx") and ngx.log) then
    io.stderr:write(msg, "\n")
    return
  end
  return _M.ngx(level == "error" and ngx.ERR or ngx.WARN, msg)
end

return _M
