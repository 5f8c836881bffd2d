-- What the endpoint specs (spec/30-*) and the catalogue specs
-- (spec/60-catalogue_*) share: an app with every endpoint on and one
-- confirmed user, and small readers of its answers. Not a spec itself
-- (no _spec suffix).
local helpers = require "spec.helpers"

local M = {}

M.PW = "password-1"
M.EMAIL = "matt@example.com"
M.GENERIC = "Authentication failed - identity or password/passcode invalid"

--- A setup(extra) for a spec: a Security on a fresh database named db,
-- every endpoint on, one confirmed user (M.EMAIL / M.PW), an injected
-- clock, a mail folder and a log ("keep" or "quiet"). extra overrides
-- config keys ("nil" removes one).
-- @return setup: extra -> sec, user, clock, maildir, logs
function M.setup_for(db, log)
  return function(extra)
    local app = helpers.app{ db = db, clock = true, mail = true, endpoints = true, log = log,
      extra = extra, users = { { email = M.EMAIL, password = M.PW, confirmed = true } } }
    return app.sec, app.user, app.clock, app.maildir, app.logs
  end
end

--- A JSON client signed in (asserts the sign-in worked).
function M.signed_in(sec, email, password, scheme)
  local c = helpers.api(sec, scheme)
  local res = c:call("POST", "/login", { email = email or M.EMAIL, password = password or M.PW })
  require("luassert").equals(200, res.status)
  return c
end

--- The last path segment of a mailed link: its token.
function M.token_of(link) return link:match("/([^/]+)$") end

--- What a response shows a client, the CSRF token aside.
function M.shape(res)
  local names = {}
  for _, sc in ipairs(res.cookies) do names[#names + 1] = sc:match("^([^=]+)=") end
  table.sort(names)
  local body = (res.body or ""):gsub('"csrf_token":"[^"]*",?', ""):gsub(",}", "}")
  return ("%d %s %s"):format(res.status, table.concat(names, ","), body)
end

--- The password hash stored for email (the user's by default).
function M.stored_password(sec, email)
  return sec.datastore:find_user{ email = email or M.EMAIL }.password
end

--- A request that asks for JSON (t.headers added to Accept).
function M.json_req(t)
  local h = { accept = "application/json" }
  for k, v in pairs(t.headers or {}) do h[k] = v end
  t.headers = h
  return helpers.request(t)
end

return M
