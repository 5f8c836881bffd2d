--- Fair throttling of the endpoints that take a credential or send mail:
-- per client address and per account (identity), per mail address, on
-- the limiter of fsec.ratelimit (sec._limiter; fsec.openresty gives it a
-- backend the workers share). Each check runs before any hashing or
-- mailing, so a client over its limit costs one counter update.
-- @module fsec.throttle

local core = require "fsec.core"
local ratelimit = require "fsec.ratelimit"

local type = type
local tostring = tostring

local _M = { _VERSION = "0.1.0" }


-- An identity as the store compares it (case-folded email or username),
-- so that Bob@x and bob@x are one account's budget; anything that does
-- not fold is keyed as sent.
local function fold(identity)
  return core.fold_email(identity) or core.fold_username(identity) or identity
end

local function client_key(req)
  local a = req.remote_addr
  -- an adapter that gives no address: no per-client limit (one shared
  -- bucket would let one client lock every other out)
  if type(a) ~= "string" or a == "" then return nil end
  return "c:" .. a
end


-- Count one hit against the client's limit and, when a name is given
-- (an identity, an email), the name's: all or nothing (fsec.ratelimit).
local function hit(sec, req, kind, client_limit, name, name_limit, window)
  local list = {}
  local ck = client_key(req)
  if ck then list[#list + 1] = { kind .. ck, client_limit, window } end
  if type(name) == "string" and name ~= "" then
    list[#list + 1] = { ratelimit.key(kind, fold(name), core.digest), name_limit, window }
  end
  return sec._limiter:hit_all(list)
end


--- May this client (and this identity, when one is given) try a
-- credential now? Counts the attempt.
-- @return true; or false and the seconds to wait
function _M.credential(sec, req, identity)
  local c = sec._cfg
  return hit(sec, req, "i", c.throttle_client_limit, identity, c.throttle_identity_limit, c.throttle_window)
end


--- May mail go to this address for this client now? Counts it (every
-- request for instructions to the address counts, whether or not the
-- account exists: the count is no oracle either).
-- @return true; or false and the seconds to wait
function _M.mail(sec, req, email)
  local c = sec._cfg
  return hit(sec, req, "m", c.mail_client_limit, email, c.mail_address_limit, c.mail_limit_window)
end


--- May this request send a code or a notice a signed-in user asked for
-- (two-factor and unified sign-in setup: to the number or address given;
-- the rescue mail to the administrator)? Counted per client, per account
-- and per destination (when given), against mail's limits. Without it, a
-- user sent SMS to numbers of its choosing, limited only per client
-- (toll fraud), and mailed the administrator without end.
-- @return true; or false and the seconds to wait
function _M.send(sec, req, user, dest)
  local c = sec._cfg
  local list = {}
  local ck = client_key(req)
  if ck then list[#list + 1] = { "m" .. ck, c.mail_client_limit, c.mail_limit_window } end
  return _M.to_account(sec, user, dest, list)
end

--- May a code go to this account (and this destination) now, whoever
-- asks and however the account was named? The client was counted
-- already (throttle.mail). Without it, /us-signin/send-code's count
-- followed the identity as typed, and a phone number has endless
-- spellings: an attack review sent 35 SMS to one number in 20 minutes.
-- list: hits to count with these (throttle.send's client), or nil.
-- @return true; or false and the seconds to wait
function _M.to_account(sec, user, dest, list)
  local c = sec._cfg
  local w = c.mail_limit_window
  list = list or {}
  local account = user.fs_uniquifier or tostring(user.id)
  list[#list + 1] = { ratelimit.key("s", account, core.digest), c.mail_address_limit, w }
  if type(dest) == "string" and dest ~= "" then
    list[#list + 1] = { ratelimit.key("m", fold(dest), core.digest), c.mail_address_limit, w }
  end
  return sec._limiter:hit_all(list)
end


--- Answer 429 with Retry-After.
function _M.refuse(res, json, wait)
  res:set_header("Retry-After", tostring(wait or 60))
  if json then return res:json(429, { errors = { "Too many requests" } }) end
  return res:text(429, "Too many requests")
end


return _M
