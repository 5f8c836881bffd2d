-- Unified sign-in attacked from outside, from an attack review: codes
-- sent to one phone under endless spellings of its number, codes guessed
-- from many addresses or through the magic link's GET, a leaked password
-- at /login on a site whose unified sign-in takes none, and the mailbox
-- an account just left still signing in.
local helpers = require "spec.helpers"
local ep = require "spec.tools.endpoint_app"
local cjson = require "cjson"

local PW, EMAIL, api = ep.PW, ep.EMAIL, helpers.api

local US = {
  unified_signin = true, two_factor = true, totp_secrets = { ["1"] = "a-totp-secret-of-some-length" },
  totp_issuer = "fsec-test", identity_attributes = { "email", "us_phone_number" },
}
local base_setup = ep.setup_for("us-attack.db", "quiet")
local function setup(extra) return base_setup(helpers.merged(US, extra)) end

local function last_mail(maildir)
  local mail = helpers.mails(maildir)
  return assert(mail[#mail], "no mail")
end

-- Set up a unified sign-in method for the signed-in client c.
local function set_up(c, clock, maildir, method, phone)
  local res, r = c:call("POST", "/us-setup", { chosen_method = method, phone = phone })
  assert.equals(200, res.status, res.body)
  local code = last_mail(maildir).text:match("code is: (%d+)")
  res = c:call("POST", "/us-setup/" .. r.state, { passcode = code })
  assert.equals(200, res.status, res.body)
  clock.now = clock.now + 30
end

local function logout(c)
  c:call("POST", "/logout")
  c:call("GET", "/us-signin") -- a new CSRF token
end

-- A JSON request from a client address of its own.
local function call_from(c, addr, method, path, body, query)
  local h = { accept = "application/json", ["content-type"] = "application/json" }
  if c.csrf then h["x-csrf-token"] = c.csrf end
  local req = c:req{ method = method, path = path, headers = h, query = query,
                     body = body and cjson.encode(body) or nil }
  req.remote_addr = addr
  return c:take(c.sec:handle(req))
end

describe("unified sign-in's sending limits", function()
  it("count codes per account and number, however the number is spelt", function()
    local sec, _, clock, maildir = setup{ mail_address_limit = 5 }
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "sms", "650-555-1212")
    logout(c)
    c.sec = sec
    local before = 0
    for _, m in ipairs(helpers.mails(maildir)) do if m.to == "+16505551212" then before = before + 1 end end
    local spellings = { "+16505551212", "6505551212", "650-555-1212", "(650) 555-1212", "650.555.1212",
                        "+1 650 555 1212", "1-650-555-1212", "+1(650)5551212", "650 5551212", "0016505551212" }
    local statuses = {}
    for i, s in ipairs(spellings) do
      local res = call_from(c, "203.0.113." .. i, "POST", "/us-signin/send-code", { identity = s, chosen_method = "sms" })
      statuses[i] = res.status
      clock.now = clock.now + 30
    end
    local sms = 0
    for _, m in ipairs(helpers.mails(maildir)) do if m.to == "+16505551212" then sms = sms + 1 end end
    -- the setup's code counted on the account too: 4 more, then 429
    assert.equals(5, sms, table.concat(statuses, ","))
    assert.equals(5, sms - before + 1)
    assert.equals(429, statuses[#statuses])
  end)
end)

describe("unified sign-in's code checks", function()
  it("are metered per account, from however many addresses", function()
    local sec, _, clock, maildir = setup{ login_lockout_threshold = 0, throttle_identity_limit = 20 }
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "email")
    logout(c)
    c.sec = sec
    local seen = {}
    for i = 1, 40 do
      local res = call_from(c, "198.51.100." .. i, "POST", "/us-signin",
                            { identity = EMAIL, passcode = ("%06d"):format(i) })
      seen[res.status] = (seen[res.status] or 0) + 1
    end
    assert.equals(19, seen[400]) -- the owner's sign-in above was the 20th
    assert.equals(21, seen[429])
  end)

  it("are metered through the magic link's GET too", function()
    local sec, _, clock, maildir = setup{ login_lockout_threshold = 0, throttle_client_limit = 5 }
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "email")
    logout(c)
    c.sec = sec
    local id = sec.datastore:find_user{ email = EMAIL }.fs_uniquifier
    local seen = {}
    for i = 1, 12 do
      local res = call_from(c, "192.0.2.1", "GET", "/us-verify-link", nil,
                            { id = id, code = ("%06d"):format(100000 + i) })
      seen[res.status] = (seen[res.status] or 0) + 1
    end
    assert.equals(5, seen[400])
    assert.equals(7, seen[429])
  end)
end)

describe("us_signin_replaces_login on a site whose unified sign-in takes no password", function()
  it("refuses a password at POST /login, as at /us-signin", function()
    local sec = setup{ us_signin_replaces_login = true, us_enabled_methods = { "email", "sms" } }
    local c = api(sec)
    assert.equals(400, (c:call("POST", "/us-signin", { identity = EMAIL, passcode = PW })).status)
    local res = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals(400, res.status, res.body)
    assert.is_false(sec:current_user(c:req()).is_authenticated)
  end)

  it("still takes it where a password is one of the methods", function()
    local sec = setup{ us_signin_replaces_login = true, us_enabled_methods = { "password", "email" } }
    local c = api(sec)
    assert.equals(200, (c:call("POST", "/login", { email = EMAIL, password = PW })).status)
  end)
end)

describe("an account's change of email", function()
  it("ends the codes mailed to the old address", function()
    local sec, _, clock, maildir = setup{ change_email = true }
    local c = ep.signed_in(sec)
    set_up(c, clock, maildir, "email")
    assert.equals(200, (c:call("POST", "/change-email", { email = "moved@example.com" })).status)
    local link = last_mail(maildir).link:match("https?://[^/]+(/.*)$")
    -- a code mailed to the old address just before the change
    local anon = api(sec)
    assert.equals(200, (anon:call("POST", "/us-signin/send-code", { identity = EMAIL, chosen_method = "email" })).status)
    local code = last_mail(maildir).text:match("code is: (%d+)")
    assert.equals(EMAIL, last_mail(maildir).to)
    assert.equals(200, (c:call("POST", link)).status) -- the change
    assert.equals("moved@example.com", sec.datastore:find_user{ email = "moved@example.com" }.email)
    local res = anon:call("POST", "/us-signin", { identity = "moved@example.com", passcode = code })
    assert.equals(400, res.status, res.body)
    assert.is_false(sec:current_user(anon:req()).is_authenticated)
    -- the new address gets codes that work
    clock.now = clock.now + 30
    assert.equals(200, (anon:call("POST", "/us-signin/send-code",
                                  { identity = "moved@example.com", chosen_method = "email" })).status)
    code = last_mail(maildir).text:match("code is: (%d+)")
    assert.equals(200, (anon:call("POST", "/us-signin", { identity = "moved@example.com", passcode = code })).status)
  end)
end)

describe("a site that mails links, without external_url", function()
  -- links are then built from the request's Host, any client's choice: a
  -- magic link's code, sent to evil.example, signed its reader in (attack
  -- review). fsec warned only for reset, confirmation and sign-in links.
  local function warnings(extra)
    local logged = {}
    local cfg = { log = function(level, msg) logged[#logged + 1] = level .. " " .. msg end }
    if extra.unified_signin then cfg.totp_secrets, cfg.totp_issuer = US.totp_secrets, US.totp_issuer end
    for k, v in pairs(extra) do cfg[k] = v end
    helpers.new(cfg):close()
    local n = 0
    for _, l in ipairs(logged) do
      if l:find("external_url is not set", 1, true) then n = n + 1 end
    end
    return n
  end

  it("is warned of it for every feature that mails a link", function()
    for _, extra in ipairs{ { unified_signin = true, us_enabled_methods = { "password", "email" } },
                            { registerable = true }, { changeable = true }, { change_email = true },
                            { username_enable = true, username_recovery = true } } do
      assert.equals(1, warnings(extra), cjson.encode(extra))
    end
    assert.equals(0, warnings{ unified_signin = true, us_enabled_methods = { "password", "authenticator" } })
    assert.equals(0, warnings{ registerable = true, external_url = "https://auth.example" })
  end)
end)
