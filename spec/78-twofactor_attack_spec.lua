-- Two-factor attacked by someone who knows only the password, from an
-- attack review: a sign-in begun while the account had no second factor
-- (two_factor_required: "setup_from_login"), kept, and used after the
-- owner enrolled, to put the attacker's authenticator in place of the
-- owner's; and a one-time sign-in link that a second factor left unspent.
local helpers = require "spec.helpers"
local ep = require "spec.tools.endpoint_app"

local PW, EMAIL, api, oath = ep.PW, ep.EMAIL, helpers.api, helpers.oath

local TF = {
  two_factor = true, totp_secrets = { ["1"] = "a-totp-secret-of-some-length" }, totp_issuer = "fsec-test",
  two_factor_required = true,
}
local base_setup = ep.setup_for("tf-attack.db", "quiet")
local function setup(extra) return base_setup(helpers.merged(TF, extra)) end

local function secret_of(sec) return sec.datastore:find_user{ email = EMAIL }.tf_totp_secret end

-- The owner signs in with the password and enrols an authenticator.
local function owner_enrols(sec, clock)
  local owner = api(sec)
  local _, r = owner:call("POST", "/login", { email = EMAIL, password = PW })
  assert.equals("setup_from_login", r.tf_state)
  _, r = owner:call("POST", "/tf-setup", { setup = "authenticator" })
  local res = owner:call("POST", "/tf-setup/" .. r.tf_state_token, { code = oath(r.tf_authr_key, clock.now) })
  assert.equals(200, res.status, res.body)
  assert.is_true(sec:current_user(owner:req()).is_authenticated)
  return assert(secret_of(sec))
end

-- The attacker signs in with the password while the account has no
-- second factor, and begins an authenticator's setup: the client, and
-- the setup's token and key it keeps.
local function attacker_begins_setup(sec)
  local attacker = api(sec)
  local _, r = attacker:call("POST", "/login", { email = EMAIL, password = PW })
  assert.equals("setup_from_login", r.tf_state)
  local res
  res, r = attacker:call("POST", "/tf-setup", { setup = "authenticator" })
  assert.equals(200, res.status)
  return attacker, r.tf_state_token, r.tf_authr_key
end

describe("a sign-in begun before the owner enrolled", function()
  it("cannot complete its setup token beside a later sign-in's ready state", function()
    local sec, _, clock = setup{}
    local attacker, kept_token, kept_key = attacker_begins_setup(sec)
    local owners = owner_enrols(sec, clock)
    local _, r, res
    -- 20 minutes on: past two_factor_login_within, inside two_factor_setup_within
    clock.now = clock.now + 1200
    _, r = attacker:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals("ready", r.tf_state) -- the owner's factor is asked for
    res = attacker:call("POST", "/tf-setup/" .. kept_token, { code = oath(kept_key, clock.now) })
    assert.is_true(res.status == 400 or res.status == 401, res.status .. " " .. res.body)
    assert.is_false(sec:current_user(attacker:req()).is_authenticated)
    assert.equals(owners, secret_of(sec)) -- the code before put the attacker's in
  end)

  it("cannot set up a factor from its kept state once the owner has one", function()
    local sec, _, clock = setup{}
    local attacker = api(sec)
    local _, r = attacker:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals("setup_from_login", r.tf_state)
    local owners = owner_enrols(sec, clock)
    clock.now = clock.now + 60 -- inside two_factor_login_within
    local res, g = attacker:call("GET", "/tf-setup")
    assert.is_true(res.status >= 400 and res.status < 500, res.status .. " " .. res.body)
    assert.is_nil(g and g.tf_primary_method) -- the owner's method is not shown
    res, r = attacker:call("POST", "/tf-setup", { setup = "authenticator" })
    assert.is_true(res.status >= 400 and res.status < 500, res.status .. " " .. res.body)
    assert.is_nil(r and r.tf_authr_key)
    assert.is_false(sec:current_user(attacker:req()).is_authenticated)
    assert.equals(owners, secret_of(sec))
  end)

  it("cannot finish at /tf-validate a setup begun before the owner enrolled", function()
    local sec, _, clock = setup{}
    local attacker, _, kept_key = attacker_begins_setup(sec)
    local owners = owner_enrols(sec, clock)
    local res
    clock.now = clock.now + 60
    res = attacker:call("POST", "/tf-validate", { code = oath(kept_key, clock.now) })
    assert.is_true(res.status >= 400 and res.status < 500, res.status .. " " .. res.body)
    assert.is_false(sec:current_user(attacker:req()).is_authenticated)
    assert.equals(owners, secret_of(sec))
  end)
end)

describe("a one-time sign-in link with a second factor after it", function()
  local function link_path(maildir)
    local mail = helpers.mails(maildir)
    return mail[#mail].link:match("https?://[^/]+(/.*)$")
  end

  it("is spent by its first use, so a replay cannot set up a factor", function()
    local sec, _, clock, maildir = setup{ passwordless = true, one_click_links = true }
    local owner = api(sec)
    assert.equals(200, (owner:call("POST", "/login", { email = EMAIL })).status)
    local path = link_path(maildir)
    local res, r = owner:call("GET", path)
    assert.equals(200, res.status, res.body)
    assert.equals("setup_from_login", r.tf_state)
    -- the owner leaves; an hour later the link leaks (a proxy's log, Referer)
    clock.now = clock.now + 3600
    local attacker = api(sec)
    res, r = attacker:call("GET", path)
    assert.equals(400, res.status, res.body)
    assert.is_nil(r.tf_state)
    res = attacker:call("POST", "/tf-setup", { setup = "authenticator" })
    assert.is_true(res.status >= 400 and res.status < 500, res.status .. " " .. res.body)
    assert.is_false(sec:current_user(attacker:req()).is_authenticated)
    assert.is_nil(secret_of(sec))
  end)

  it("is spent when it led to a second factor that was then given", function()
    local sec, _, clock, maildir = setup{ passwordless = true, one_click_links = true, two_factor_required = false }
    local user = sec.datastore:find_user{ email = EMAIL }
    assert(sec.datastore:set_field(user, "tf_primary_method", "authenticator"))
    assert(sec.datastore:set_field(user, "tf_totp_secret", require("fsec.otp").seal(sec.config, ("k"):rep(20))))
    local key = require("fsec.core").base32_encode(("k"):rep(20))
    local c = api(sec)
    c:call("POST", "/login", { email = EMAIL })
    local path = link_path(maildir)
    local res, r = c:call("GET", path)
    assert.equals(200, res.status, res.body)
    assert.is_true(r.tf_required)
    assert.equals(200, (c:call("POST", "/tf-validate", { code = oath(key, clock.now) })).status)
    clock.now = clock.now + 60
    res, r = api(sec):call("GET", path)
    assert.equals(400, res.status, res.body)
    assert.is_nil(r.tf_required)
  end)
end)

describe("the rescue's code by mail", function()
  it("is metered as every code sent: per account and address", function()
    local sec, _, clock, maildir = setup{ mail_address_limit = 2, mail_client_limit = 100 }
    owner_enrols(sec, clock)
    clock.now = clock.now + 30
    local c = api(sec)
    local _, r = c:call("POST", "/login", { email = EMAIL, password = PW })
    assert.equals("ready", r.tf_state)
    local statuses = {}
    for i = 1, 5 do statuses[i] = (c:call("POST", "/tf-rescue", { help_setup = "email" })).status end
    -- the enrolment sent nothing by mail: two codes, then 429
    assert.same({ 200, 200, 429, 429, 429 }, statuses)
    local n = 0
    for _, m in ipairs(helpers.mails(maildir)) do
      if m.to == EMAIL and m.text:find("code is", 1, true) then n = n + 1 end
    end
    assert.equals(2, n)
  end)
end)
