--- Import from a Flask-Security database: a SQLite file
-- (fsec.import.sqlite) or PostgreSQL through a libpq URI with no password
-- in it (fsec.import.postgres, fsec.dburi). Its SQLAlchemy models'
-- `user`, `role` and `roles_users` tables are read, the 3.0 layout without
-- fs_uniquifier and the Too layout with it. Users keep their password
-- hashes (fsec verifies every Flask-Security format and upgrades them at
-- the next login, given the same password_salt), roles and permissions
-- carry over, and the tracking fields too; so do second factors
-- (two-factor, unified sign-in, recovery codes: decrypted with the
-- source's keys by fsec.import.factors, sealed again with fsec's), and a
-- user who had one is never imported without one. All in one
-- transaction: on any error nothing is imported. Users already present (by fs_uniquifier or
-- email) are skipped, so running it twice does not duplicate anyone.
--
-- The source may be hostile (anyone's "legacy database"): it is
-- opened read-only, only its real tables are read (a view or a generated
-- column could run any query, a recursive one forever), its text is
-- escaped wherever it is printed, an existing role gains permissions only
-- when the caller says so (merge_roles), and a stored hash costlier to
-- verify than the budget is not kept (each login would pay for it).
-- @module fsec.import

local core = require "fsec.core"
local factors = require "fsec.import.factors"
local role_merges = require "fsec.import.roles"
local source_of = require "fsec.import.source"
local regfields = require "fsec.regfields"
local tty = require "fsec.tty"

local _M = { _VERSION = "0.1.0" }


-- "2024-01-31 12:34:56.789" (SQLAlchemy's DateTime in SQLite) -> epoch
-- seconds, read as UTC (Flask-Security stores naive UTC datetimes).
local function epoch(v)
  if type(v) ~= "string" then return nil end
  local y, mo, d, h, mi, s = v:match("^(%d+)-(%d+)-(%d+)[ T](%d+):(%d+):(%d+)")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from civil (Howard Hinnant's algorithm): no os.time, no local time zone
  local yy = mo <= 2 and y - 1 or y
  local era = math.floor((yy >= 0 and yy or yy - 399) / 400)
  local yoe = yy - era * 400
  local mp = (mo + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end
_M.epoch = epoch




local function progress(on, done, total)
  if not on then return end
  local width = 30
  local n = total > 0 and math.floor(done / total * width) or width
  io.stderr:write(("\rimporting users [%s%s] %d/%d"):format(("#"):rep(n), ("."):rep(width - n), done, total))
  if done == total then io.stderr:write("\n") end
end


-- Flask-Security's columns for second factors (issue 23), carried over
-- by carry_factors. WebAuthn keys (rows of the webauthn table) and the
-- user's fs_webauthn_user_handle (Too sets one for every user) come along
-- by carry_webauthn.
local FACTOR_COLUMNS = { "tf_primary_method", "tf_totp_secret", "tf_phone_number", "us_totp_secrets",
                         "us_phone_number", "mf_recovery_codes" }

-- Flask-Security's is_active: NULL (the 3.0 layout allows it) and 0 are
-- a disabled account, as they are there.
local function is_active(v)
  if type(v) == "string" then return v ~= "0" and v ~= "" and v:lower() ~= "false" end
  if type(v) == "number" then return v ~= 0 end
  return v == true
end

local function warn(opts, msg)
  if opts.warn ~= false then io.stderr:write("fsec import: ", tty.text(msg), "\n") end
end


-- The application's own fields (opts.fields: register_fields) that the
-- source's user table has a column for, checked as /register checks
-- them: a value that fails is left out, with a warning naming the user
-- and the field (never the value: it may be anything).
local function own_fields(opts, ucols, u)
  local out, any = {}, false
  for _, f in ipairs(opts.fields or {}) do
    if ucols[f.name] then
      local v, why = regfields.import_value(f, u[f.name])
      if v ~= nil then
        out[f.name], any = v, true
      elseif why then
        warn(opts, ("user id %s: field %s refused (%s): not imported"):format(tostring(u.id), f.name, why))
      end
    end
  end
  return any and out or nil
end


local TF_METHODS = { authenticator = true, email = true, sms = true }
-- Methods whose secret never leaves the server (codes are sent): one
-- that cannot be decrypted is replaced by a fresh secret, unseen by the
-- user. An authenticator's is in the user's app: it must be kept.
local SENT = { email = true, sms = true }

local function present(v) return v ~= nil and v ~= "" end

-- fsec's side of the import of second factors: sealing with fsec's keys
-- (fsec.otp, fsec.mfcodes: the configuration's totp_secrets). Only asked
-- for when a user has a factor; without a configuration that has keys,
-- such an import stops there (nothing written).
local function sealer(cfg)
  local s = {}
  local function ready()
    if not (cfg and cfg.totp_secrets) then
      error("users of the source have second factors: importing them needs fsec's own totp_secrets"
        .. " (--config FILE, whose configuration sets totp_secrets); nothing imported", 0)
    end
  end
  -- fsec asks for a second factor only when two_factor is on
  -- (fsec.twofactor.required): off, an imported user's factor would be
  -- ignored and the password alone would sign them in
  function s.two_factor_on()
    ready()
    if not cfg.two_factor then
      error("users of the source have two-factor set up, but this configuration has two_factor off: they would"
        .. " sign in with their password alone; nothing imported (set two_factor = true in --config)", 0)
    end
  end
  -- a WebAuthn key kept as a second factor counts only with webauthn on
  -- (fsec.twofactor.has_wan): off, its user would sign in with the
  -- password alone (no totp_secrets needed for it)
  function s.webauthn_on()
    if not (cfg and cfg.webauthn) then
      error("users of the source have a WebAuthn key as their second factor, but "
        .. (cfg and "this configuration has webauthn off" or "no --config says webauthn = true (it is off by default)")
        .. ": they would sign in with their password alone; nothing imported (set webauthn = true in --config)", 0)
    end
  end
  function s.seal(raw) ready(); return require("fsec.otp").seal(cfg, raw) end
  function s.seal_us(map) ready(); return require("fsec.otp").seal_us(cfg, map) end
  function s.codes(list) ready(); return require("fsec.mfcodes").encode(cfg, list) end
  return s
end

-- A source value that cannot be read: the import stops, naming the user
-- and the column, never the value (it may be a secret).
local function malformed(u, column, why)
  error(("user %s: %s: %s; nothing imported"):format(tostring(u.email), column, tostring(why)), 0)
end

-- Flask-Security's boolean as stored: 1/0 (SQLite), a boolean (the
-- PostgreSQL source converts "t"/"f").
local function flag(v)
  if type(v) == "string" then return v == "1" or v == "t" or v:lower() == "true" end
  if type(v) == "number" then return v ~= 0 end
  return v == true
end

-- The user's WebAuthn handle and keys onto the new user, as they were
-- (credential id and COSE key bytes, count, transports, usage, dates); a
-- key fsec cannot keep (a name or id out of its limits, a taken id)
-- stops the import, naming the user and the key by its row position,
-- never its bytes. Returns how many keys came along.
local function carry_webauthn(ds, ucols, u, new, rows, seal)
  local function stop(what, err) malformed(u, what, err) end
  local second = false
  for _, k in ipairs(rows or {}) do second = second or k.usage == "secondary" end
  if second then seal.webauthn_on() end
  local handle = ucols.fs_webauthn_user_handle and u.fs_webauthn_user_handle ~= ""
                 and u.fs_webauthn_user_handle or nil
  if not ds.create_webauthn then -- a datastore without passkeys
    if second then stop("WebAuthn keys", "this datastore keeps none, and one is the user's second factor") end
    return 0
  end
  if handle then
    local ok, err = ds:set_webauthn_user_handle(new, handle)
    if not ok then stop("fs_webauthn_user_handle", err) end
  end
  for i, k in ipairs(rows or {}) do
    for _, c in ipairs{ "credential_id", "public_key", "name", "usage" } do
      if type(k[c]) ~= "string" then stop("WebAuthn key " .. i, "no " .. c) end
    end
    local transports = {}
    for t in tostring(k.transports or ""):gmatch("[^,]+") do transports[#transports + 1] = t end
    local cred, err = ds:create_webauthn(new, {
      credential_id = k.credential_id, public_key = k.public_key,
      sign_count = tonumber(k.sign_count) or 0, transports = transports,
      name = k.name, usage = k.usage, backup_state = flag(k.backup_state),
      device_type = type(k.device_type) == "string" and k.device_type ~= "" and k.device_type or nil,
      user_handle = handle,
      create_datetime = epoch(k.create_datetime), lastuse_datetime = epoch(k.lastuse_datetime),
    })
    if not cred then stop("WebAuthn key " .. i, err) end
  end
  return #(rows or {})
end

-- Counts of what became of second factors (the summary's `factors`).
local function factor_counts()
  return { tf_kept = 0, tf_fresh = 0, tf_fallback = 0, tf_refused = 0, us_kept = 0, us_fresh = 0,
           us_dropped = 0, us_refused = 0, codes_kept = 0, codes_dropped = 0, webauthn = 0,
           webauthn_keys = 0 }
end

-- A secret the user holds (an authenticator) that cannot be carried
-- (kind: "nokey", "unsupported" or "missing", why: for people). With
-- --tf-fallback email, `fallback()` runs and it is counted as
-- <area>_fallback (two-factor: codes by email) or us_dropped (unified
-- sign-in: the method goes); else <area>_refused, and the user is listed
-- in ctx.refused (the import is refused at the end).
local function cannot_keep(ctx, u, area, what, kind, why, fallback)
  local c = ctx.counts
  if ctx.fallback == "email" then
    local as = area == "tf" and "tf_fallback" or "us_dropped"
    c[as] = c[as] + 1
    fallback()
    warn(ctx.opts, ("%s: %s cannot be kept (%s): %s"):format(u.email, what, why,
      area == "tf" and "codes by email instead" or "that sign-in method is dropped"))
  else
    c[area .. "_refused"] = c[area .. "_refused"] + 1
    ctx.refused[#ctx.refused + 1] = { email = u.email, what = what, kind = kind, why = why }
  end
end

-- The two-factor fields of source user u, into fields.
local function carry_tf(ctx, u, fields)
  local method = u.tf_primary_method
  if not present(method) then return end -- a secret without a method: two-factor is off
  if #method > 32 or not method:find("^[%w_-]+$") then malformed(u, "tf_primary_method", "not a method name") end
  local phone, perr = factors.phone(u.tf_phone_number)
  if perr then malformed(u, "tf_phone_number", perr) end
  local key, kind, why = nil, "missing", "no tf_totp_secret"
  if present(u.tf_totp_secret) then key, kind, why = factors.totp_key(u.tf_totp_secret, ctx.secrets, ctx.accept) end
  if kind == "malformed" then malformed(u, "tf_totp_secret", why) end
  if not TF_METHODS[method] then
    key, kind, why = nil, "unsupported", "two-factor method " .. method .. " is not fsec's"
  end
  fields.tf_phone_number = phone
  ctx.seal.two_factor_on()
  if key then
    fields.tf_primary_method, fields.tf_totp_secret = method, ctx.seal.seal(key)
    ctx.counts.tf_kept = ctx.counts.tf_kept + 1
  elseif SENT[method] then
    fields.tf_primary_method, fields.tf_totp_secret = method, ctx.seal.seal(core.otp_secret())
    ctx.counts.tf_fresh = ctx.counts.tf_fresh + 1
  else
    cannot_keep(ctx, u, "tf", "the authenticator", kind, why, function()
      fields.tf_primary_method, fields.tf_totp_secret = "email", ctx.seal.seal(core.otp_secret())
    end)
  end
end

-- The unified sign-in fields of source user u, into fields.
local function carry_us(ctx, u, fields)
  local phone, perr = factors.phone(u.us_phone_number)
  if perr then malformed(u, "us_phone_number", perr) end
  fields.us_phone_number = phone
  if not present(u.us_totp_secrets) then return end
  local map, order = factors.us_secrets(u.us_totp_secrets)
  if not map then malformed(u, "us_totp_secrets", order) end
  local keys, n = {}, 0
  for _, m in ipairs(order) do
    local key, kind, why = factors.totp_key(map[m], ctx.secrets, ctx.accept)
    if kind == "malformed" then malformed(u, "us_totp_secrets (" .. m .. ")", why) end
    if key then
      keys[m], n = key, n + 1
      ctx.counts.us_kept = ctx.counts.us_kept + 1
    elseif SENT[m] then
      keys[m], n = core.otp_secret(), n + 1
      ctx.counts.us_fresh = ctx.counts.us_fresh + 1
    else
      -- a sign-in method, not a second factor: dropping it leaves the user
      -- the others (and the password), never less protected than before
      cannot_keep(ctx, u, "us", "the unified sign-in method " .. m, kind, why, function() end)
    end
  end
  if n > 0 then fields.us_totp_secrets = ctx.seal.seal_us(keys) end
end

-- The recovery codes of source user u, into fields.
local function carry_codes(ctx, u, fields)
  if not present(u.mf_recovery_codes) then return end
  local codes, dropped = factors.recovery_codes(u.mf_recovery_codes, ctx.recovery_keys)
  if not codes then malformed(u, "mf_recovery_codes", dropped) end
  ctx.counts.codes_kept = ctx.counts.codes_kept + #codes
  ctx.counts.codes_dropped = ctx.counts.codes_dropped + dropped
  if #codes > 0 then fields.mf_recovery_codes = ctx.seal.codes(codes) end
end

-- What source user u's second factors become here: the fields to set
-- on the new user (fsec's sealed values). Any column is bounded and
-- typed first (a hostile source: FIELD_MAX).
local function carry_factors(ctx, u)
  for _, c in ipairs(FACTOR_COLUMNS) do
    local v = u[c]
    if v ~= nil and type(v) ~= "string" then malformed(u, c, "not text") end
    if v and #v > factors.FIELD_MAX then malformed(u, c, ("%d bytes (at most %d)"):format(#v, factors.FIELD_MAX)) end
  end
  local fields = {}
  carry_tf(ctx, u, fields)
  carry_us(ctx, u, fields)
  carry_codes(ctx, u, fields)
  return fields
end

-- Refuse the import when users hold an authenticator that cannot be
-- carried (and no --tf-fallback): one error counting them, after each
-- was named on stderr. Nothing is written (the transaction rolls back).
local function check_refused(ctx)
  local n = #ctx.refused
  if n == 0 then return end
  local kinds, users = { nokey = 0, unsupported = 0, missing = 0 }, {}
  for _, r in ipairs(ctx.refused) do
    warn(ctx.opts, ("%s: %s cannot be kept: %s"):format(r.email, r.what, r.why))
    if not users[r.email] then users[r.email], users[#users + 1] = true, r.email end
    kinds[r.kind] = kinds[r.kind] + 1
  end
  error(("%d users have an authenticator whose secret cannot be carried over (%d without the source's key:"
    .. " --totp-secrets FILE gives its TOTP_SECRETS; %d with settings fsec does not support; %d with no"
    .. " secret); nothing imported. With --tf-fallback email they are imported with codes by email instead"
    .. " (they can set up an authenticator again once signed in)"):format(
    #users, kinds.nokey, kinds.unsupported, kinds.missing), 0)
end



-- A stored hash this engine would refuse unrun as too costly (over the
-- caps or the verify budget): the reason, else nil.
local function costly(engine, hash)
  if type(hash) ~= "string" or hash == "" then return nil end
  local ok, err, code = engine:check_stored_hash(hash)
  if ok or code ~= "EHASHCAP" then return nil end
  return (tostring(err):gsub("^EHASHCAP: ", ""))
end

-- The engine that judges hashes when the caller gives none: the defaults
-- (argon2id 64 MiB t=2, budget 5). Its key signs nothing.
local function default_engine()
  return assert(core.new{ secret_keys = { core.random_id(32) } })
end

-- A stored value that is no password hash fsec can check (its default
-- engine: no plaintext scheme): the reason, else nil. Such a value is
-- never imported as a password: under a configuration with "plaintext"
-- among its schemes it would be compared as the password itself, and a
-- hash of a scheme fsec does not have (des_crypt, {SSHA}, a hex digest:
-- Flask's passlib tells them from plaintext) would then be the password:
-- whoever read the hash signs in with it (attack review, W2).
local function not_a_hash(judge, hash)
  if type(hash) ~= "string" or hash == "" then return nil end
  local ok, _, code = judge:check_stored_hash(hash)
  if ok or code ~= "EHASHFMT" then return nil end
  return "not a password hash fsec can check (plaintext, or a scheme fsec does not have)"
end


-- The summary's lines about second factors (none when no user had any).
local function report_factors(say, f)
  if f.tf_kept + f.tf_fresh + f.tf_fallback > 0 then
    say(("two-factor: %d users keep their method and secret, %d keep their method with a fresh secret"
      .. " (codes by email or SMS: the secret never left the server), %d moved to codes by email"
      .. " (--tf-fallback email: their authenticator could not be kept)"):format(f.tf_kept, f.tf_fresh, f.tf_fallback))
  end
  if f.us_kept + f.us_fresh + f.us_dropped > 0 then
    say(("unified sign-in: %d methods kept with their secret, %d with a fresh secret (email, SMS),"
      .. " %d authenticators dropped (--tf-fallback email)"):format(f.us_kept, f.us_fresh, f.us_dropped))
  end
  if f.codes_kept + f.codes_dropped > 0 then
    say(("recovery codes: %d kept (stored hashed or sealed), %d dropped (encrypted, and no --recovery-keys"
      .. " key opens them: their users can make new ones)"):format(f.codes_kept, f.codes_dropped))
  end
  if f.webauthn > 0 then
    say(("WebAuthn: %d imported users keep their %d keys (passkeys)"):format(f.webauthn, f.webauthn_keys))
  end
end

local function report(say, summary, source)
  say(("imported %d users (%d already present) and %d roles from %s"):format(
    summary.users, summary.skipped, summary.roles, source))
  for _, m in ipairs(summary.merged) do say("added permissions to the existing role " .. m) end
  for _, m in ipairs(summary.joined) do say("added members to the existing role " .. m) end
  if summary.conflicts + summary.no_email > 0 then
    say(("not imported: %d users whose email another user took, %d without an email (see above)"):format(
      summary.conflicts, summary.no_email))
  end
  report_factors(say, summary.factors)
  local n = #summary.costly
  if n > 0 then
    say(summary.kept_costly
      and ("%d imported users keep stored hashes that cost too much to verify: they cannot sign in"
        .. " until password_verify_budget (or password_hash_caps) allows them:"):format(n)
      or ("%d imported users had stored hashes that cost too much to verify: imported without a password,"
        .. " they sign in after a password reset (/reset, or fsec users change-password;"
        .. " --keep-costly-hashes keeps the hashes):"):format(n))
    for _, c in ipairs(summary.costly) do say(("  %s: %s"):format(c.email, c.why)) end
  end
  n = #summary.unknown_hashes
  if n > 0 then
    say(("%d imported users had a stored value that is not a password hash fsec can check (plaintext,"
      .. " or a scheme fsec does not have): imported without a password, they sign in after a password"
      .. " reset:"):format(n))
    for _, c in ipairs(summary.unknown_hashes) do say("  " .. c.email) end
  end
end


--- Import `source` (a SQLite file, or a postgresql:// URI) into the
-- datastore `ds`. Returns a summary: roles,
-- users (imported), skipped (already present: same fs_uniquifier or
-- email), conflicts (an email another user of the source took first:
-- fsec's emails are unique without regard to case), no_email,
-- factors (what became of second factors, counts: tf_kept, tf_fresh,
-- tf_fallback, tf_refused, us_kept, us_fresh, us_dropped, us_refused
-- (methods), codes_kept, codes_dropped (recovery codes), webauthn (users
-- whose WebAuthn keys came along), webauthn_keys (those keys)), merged (existing roles that
-- gained permissions), joined (existing roles that new users joined), unknown_hashes (users
-- whose stored value is no hash fsec can check, imported without a password: { email = }),
-- costly (users whose stored hash costs too much to verify: { email =, why = }).
-- opts: progress (a bar on stderr), warn (false: no lines on stderr),
-- say (function(line) for the summary; default print; its lines are
-- escaped for a terminal), merge_roles (let existing roles gain the
-- source's permissions; without it such an import fails, writing
-- nothing), engine (an fsec.core engine whose caps and verify budget
-- judge the stored hashes; default: fsec's defaults), keep_costly_hashes
-- (import such hashes anyway; otherwise those users get no password),
-- config (fsec's validated configuration: its totp_secrets seal the
-- second factors; needed when a user has one), totp_secrets (the
-- source's TOTP_SECRETS, { [tag] = secret }), recovery_keys (its
-- MULTI_FACTOR_RECOVERY_CODES_KEYS, a list), tf_fallback ("email": an
-- authenticator that cannot be kept becomes codes by email; otherwise
-- any such user makes the whole import fail, writing nothing), fields
-- (fsec's register_fields: source user columns of those names become the
-- users' own fields, checked as /register checks them).
--
-- A user who had a second factor is never imported without one: the
-- factor is kept (re-sealed with fsec's keys), or given a fresh secret
-- when the server alone held it (email, SMS), or moved to email codes
-- (tf_fallback), or the import is refused.
function _M.flask_security(ds, source, opts)
  opts = opts or {}
  local print_line = opts.say or print -- the fsec command passes its own
  local function say(line) print_line(tty.text(line)) end
  local engine = opts.engine or default_engine()
  local ucols, roles, users, links, keys = source_of.read(source, opts.fields)
  local has_uq = ucols.fs_uniquifier

  local role_name = {}
  for _, r in ipairs(roles) do role_name[r.id] = r.name end
  local user_roles = {}
  for _, l in ipairs(links) do
    local list = user_roles[l.user_id] or {}
    list[#list + 1] = role_name[l.role_id]
    user_roles[l.user_id] = list
  end

  if opts.tf_fallback ~= nil and opts.tf_fallback ~= "email" then
    error("tf_fallback: only \"email\" is known", 0)
  end
  local summary = { roles = 0, users = 0, skipped = 0, conflicts = 0, no_email = 0, factors = factor_counts(),
                    merged = {}, joined = {}, costly = {}, unknown_hashes = {},
                    kept_costly = opts.keep_costly_hashes and true or false }
  local judge = default_engine() -- no plaintext scheme, whatever the configuration's
  local ctx = { opts = opts, secrets = opts.totp_secrets, recovery_keys = opts.recovery_keys,
                fallback = opts.tf_fallback, seal = sealer(opts.config), counts = summary.factors, refused = {},
                -- the codes fsec checks (fsec.otp): a secret made for others
                -- would give codes that never match here, so it is not kept
                accept = { alg = "sha1", digits = require("fsec.otp").DIGITS, period = require("fsec.otp").STEP } }
  local mine = {} -- users made by this run, by id: a clash with one is a conflict in the source
  ds:transaction(function()
    summary.joined = role_merges.joined(ds, users, user_roles, has_uq)
    summary.merged = role_merges.check(ds, roles, opts.merge_roles, summary.joined)
    for _, r in ipairs(roles) do
      local existing = ds:find_role(r.name)
      local ok, err = true, nil
      if existing then
        if r.permissions and r.permissions ~= "" then ok, err = ds:add_permissions_to_role(existing, r.permissions) end
      else
        ok, err = ds:create_role{ name = r.name, description = r.description ~= "" and r.description or nil,
                                  permissions = r.permissions }
        summary.roles = summary.roles + 1
      end
      if not ok then error(("role '%s': %s"):format(tostring(r.name), tostring(err)), 0) end
    end
    for i, u in ipairs(users) do
      local uq = has_uq and u.fs_uniquifier ~= "" and u.fs_uniquifier or nil
      local by_email = type(u.email) == "string" and u.email ~= "" and ds:find_user{ email = u.email } or nil
      if type(u.email) ~= "string" or u.email == "" then
        summary.no_email = summary.no_email + 1
        warn(opts, ("user id %s has no email: not imported"):format(tostring(u.id)))
      elseif (uq and ds:find_user{ fs_uniquifier = uq } and not mine[uq]) or (by_email and not mine[by_email.id]) then
        summary.skipped = summary.skipped + 1 -- imported before (its email may have changed since)
      elseif by_email or (uq and mine[uq]) then
        summary.conflicts = summary.conflicts + 1
        warn(opts, ("user id %s (%s): the email or fs_uniquifier of user %s, imported just before: not imported"
          .. " (fsec's emails are unique without regard to case)"):format(tostring(u.id), u.email,
          by_email and by_email.email or uq))
      else
        local fields = carry_factors(ctx, u)
        local password = (u.password ~= "" and u.password) or nil
        if not_a_hash(judge, password) then
          summary.unknown_hashes[#summary.unknown_hashes + 1] = { email = u.email }
          password = nil
        end
        local why = costly(engine, password)
        if why then
          summary.costly[#summary.costly + 1] = { email = u.email, why = why }
          if not opts.keep_costly_hashes then password = nil end
        end
        local own = own_fields(opts, ucols, u)
        local new, err = ds:create_user{
          email = u.email, username = (u.username ~= "" and u.username) or nil,
          password = password, active = is_active(u.active),
          confirmed_at = epoch(u.confirmed_at),
          fs_uniquifier = uq,
          fs_token_uniquifier = ucols.fs_token_uniquifier and u.fs_token_uniquifier ~= ""
                                and u.fs_token_uniquifier or nil,
          roles = user_roles[u.id], fields = own,
        }
        if not new then error("user " .. tostring(u.email) .. ": " .. tostring(err), 0) end
        mine[new.id], mine[new.fs_uniquifier] = true, true
        local t = {}
        t.last_login_at, t.current_login_at = epoch(u.last_login_at), epoch(u.current_login_at)
        t.last_login_ip = u.last_login_ip ~= "" and u.last_login_ip or nil
        t.current_login_ip = u.current_login_ip ~= "" and u.current_login_ip or nil
        t.login_count = tonumber(u.login_count)
        local ok, terr = ds:set_tracking(new, t)
        if not ok then error("user " .. tostring(u.email) .. ": " .. tostring(terr), 0) end
        for _, c in ipairs(FACTOR_COLUMNS) do
          if fields[c] then
            local set, ferr = ds:set_field(new, c, fields[c])
            if set == nil then error("user " .. tostring(u.email) .. ": " .. c .. ": " .. tostring(ferr), 0) end
          end
        end
        local n = carry_webauthn(ds, ucols, u, new, keys[u.id], ctx.seal)
        if n > 0 then
          summary.factors.webauthn = summary.factors.webauthn + 1
          summary.factors.webauthn_keys = summary.factors.webauthn_keys + n
        end
        summary.users = summary.users + 1
      end
      if i % 100 == 0 or i == #users then progress(opts.progress, i, #users) end
    end
    check_refused(ctx)
  end)
  report(say, summary, source)
  return summary
end


return _M
