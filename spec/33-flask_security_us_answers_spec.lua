-- Unified sign-in side by side: one request sequence played against the
-- real Flask-Security (python3-flask-security 5.1.2, through
-- spec/peer/fs_play.py) and against fsec: same status codes, same
-- response keys, same messages, same field_errors keys. Codes come from
-- each side's own mail (email, SMS) and from the authenticator key each
-- side gave (pyotp there, oathtool here). The differences fsec keeps on
-- purpose are listed below and in docs/multi-factor.md.
local helpers = require "spec.helpers"
local peer = require "spec.tools.peer"
local compare = require "spec.tools.compare"
local cjson = require "cjson"

local M, PW = "matt@example.com", "password-1"
local SCENARIO = {
  { method = "GET", path = "/us-signin" },
  { method = "POST", path = "/us-signin", json = { identity = M, passcode = "wrong-one" } },
  { method = "POST", path = "/us-signin", json = { identity = "nobody@example.com", passcode = PW } },
  { method = "POST", path = "/us-signin", json = { passcode = PW } },
  { method = "POST", path = "/us-signin", json = { identity = M } },
  { method = "POST", path = "/us-signin", json = { identity = M, passcode = PW }, query = "include_auth_token" },
  { method = "POST", path = "/us-signin", json = { identity = M, passcode = PW } },
  { method = "GET", path = "/us-setup" },
  { method = "POST", path = "/us-setup", json = { chosen_method = "bogus" } },
  { method = "POST", path = "/us-setup", json = { chosen_method = "sms", phone = "junk" } },
  { method = "POST", path = "/us-setup", json = {} },
  { method = "POST", path = "/us-setup", json = { chosen_method = "authenticator" } },
  { method = "POST", path = "/us-setup/{state}", json = { passcode = "000000" } },
  { method = "POST", path = "/us-setup/{state}", json = { passcode = "{authr:0}" } },
  { method = "POST", path = "/us-setup", json = { chosen_method = "email" } },
  { method = "POST", path = "/us-setup/{state}", json = { passcode = "{mail}" } },
  { method = "POST", path = "/us-setup", json = { chosen_method = "sms", phone = "650-555-1212" } },
  { method = "POST", path = "/us-setup/{state}", json = { passcode = "{mail}" } },
  { method = "POST", path = "/us-setup/garbage", json = { passcode = "123456" } },
  { method = "GET", path = "/us-setup" },
  { method = "POST", path = "/us-setup", json = { delete_method = { "bogus" } } },
  { method = "GET", path = "/us-verify" },
  { method = "POST", path = "/us-verify", json = { passcode = "bad" } },
  { method = "POST", path = "/us-verify", json = { passcode = PW } },
  { method = "POST", path = "/us-verify/send-code", json = { chosen_method = "authenticator" } },
  { method = "POST", path = "/us-verify/send-code", json = {} },
  { method = "POST", path = "/us-verify/send-code", json = { chosen_method = "email" } },
  { method = "POST", path = "/logout" },
  { method = "POST", path = "/us-signin/send-code", json = { identity = "nobody@example.com", chosen_method = "email" } },
  { method = "POST", path = "/us-signin/send-code", json = { identity = M, chosen_method = "authenticator" } },
  { method = "POST", path = "/us-signin/send-code", json = { identity = M } },
  { method = "POST", path = "/us-signin/send-code", json = { identity = M, chosen_method = "sms" } },
  { method = "POST", path = "/us-signin", json = { identity = M, passcode = "{authr:1}" } },
  { method = "POST", path = "/logout" },
  { method = "POST", path = "/us-signin", json = { identity = "+16505551212", passcode = PW } },
  { method = "POST", path = "/us-setup", json = { delete_method = { "sms", "email" } } },
  { method = "GET", path = "/us-setup" },
}

-- Differences kept on purpose (docs/multi-factor.md):
-- - /us-setup's delete_method "password": 5.1.2 fails with 500, fsec 400
--   (not played);
-- - a code is taken once (5.1.2 takes one again within its window): not
--   played, spec/37 checks it;
-- - /us-verify-link: fsec's link carries id=<fs_uniquifier> (5.1.2:
--   email=), a JSON client gets JSON errors (5.1.2 redirects), and the
--   GET asks before it signs in (unless one_click_links): spec/37.

local function run_peer()
  return compare.peer_answers{
    flask = { WTF_CSRF_ENABLED = false, SECURITY_UNIFIED_SIGNIN = true, SECURITY_TWO_FACTOR = true },
    identity = { "email", "us_phone_number" },
    users = { { email = M, password = PW } },
    steps = SCENARIO }
end

local oath = helpers.oath

local function run_fsec()
  local maildir = helpers.tmpdir() .. "/us-compat-mail"
  local sec = helpers.new{ database = helpers.tmpfile("us-compat.db"), csrf_enabled = false,
    logout_methods = { "POST" }, mail_dir = maildir, log = function() end,
    unified_signin = true, two_factor = true, totp_secrets = { ["1"] = "a-totp-secret-of-some-length" },
    totp_issuer = "fsec-test", identity_attributes = { "email", "us_phone_number" } }
  sec.datastore:create_user{ email = M, password = sec:hash_password(PW) }
  local c = helpers.client()
  local out, last = {}, {}
  local function fill(v)
    if type(v) == "table" then
      local t = {}
      for k, x in pairs(v) do t[k] = fill(x) end
      return t
    end
    if type(v) ~= "string" then return v end
    v = v:gsub("{state}", function() return last.state or "" end)
    v = v:gsub("{mail}", function()
      local mails = helpers.mails(maildir)
      return mails[#mails].text:match("code is: (%d+)")
    end)
    v = v:gsub("{authr:(%-?%d+)}", function(n) return oath(last.authr_key, os.time() + 30 * tonumber(n)) end)
    return v
  end
  for _, step in ipairs(SCENARIO) do
    local h = { accept = "application/json" }
    if step.json then h["content-type"] = "application/json" end
    local res = sec:handle(c:req{ method = step.method, path = fill(step.path), headers = h,
      query = step.query and { [step.query] = "" } or {}, body = step.json and cjson.encode(fill(step.json)) })
    c:take(res)
    local body = cjson.decode(res.body)
    for _, k in ipairs{ "state", "authr_key" } do
      if type(body.response) == "table" and body.response[k] then last[k] = body.response[k] end
    end
    out[#out + 1] = { status = res.status, body = body }
  end
  return out
end

-- Too 5.8's keys fsec adds (the peer is 5.1.2): /us-setup's base32 key
-- and otpauth:// URI, as /tf-setup's
local EXTRA_KEYS = { authr_b32key = true, authr_uri = true }

local function keys(t, drop)
  local out = {}
  for k in pairs(type(t) == "table" and t or {}) do
    if not (drop and drop[k]) then out[#out + 1] = k == "null" and "" or k end
  end
  table.sort(out)
  return out
end

-- Flask-Security's sets come in any order: compare lists as sets.
local function sorted(list)
  local t = {}
  for i, v in ipairs(type(list) == "table" and list or {}) do t[i] = v end
  table.sort(t)
  return t
end

describe("unified sign-in against the real Flask-Security", function()
  if not peer.present(it, pending) then return end

  it("answers the same sequence with the same codes, keys and messages", function()
    local theirs, mine = run_peer(), run_fsec()
    assert.equals(#SCENARIO, #theirs)
    for i, step in ipairs(SCENARIO) do
      local where = ("step %d: %s %s %s"):format(i, step.method, step.path, cjson.encode(step.json or {}))
      local a, b = theirs[i], mine[i]
      assert.equals(a.status, b.status, where)
      local ra, rb = a.body.response, b.body.response
      assert.same(keys(ra), keys(rb, EXTRA_KEYS), where)
      assert.same(ra.errors or {}, rb.errors or {}, where)
      assert.same(keys(ra.field_errors), keys(rb.field_errors), where)
      assert.same(keys(ra.user), keys(rb.user), where)
      for _, k in ipairs{ "available_methods", "code_methods", "active_methods", "setup_methods",
                          "identity_attributes" } do
        assert.same(sorted(ra[k]), sorted(rb[k]), where .. " " .. k)
      end
      for _, k in ipairs{ "chosen_method", "phone", "authr_issuer", "authr_username" } do
        assert.equals(ra[k], rb[k], where .. " " .. k)
      end
    end
  end)
end)
