--- Import from a Flask-Security SQLite database (its SQLAlchemy models'
-- `user`, `role` and `roles_users` tables; the 3.0 layout without
-- fs_uniquifier and the Too layout with it). Users keep their password
-- hashes (fsec verifies every Flask-Security format and upgrades them at
-- the next login, given the same password_salt), roles and permissions
-- carry over, and the tracking fields too. All in one transaction: on any
-- error nothing is imported. Users already present (by email) are
-- skipped, so running it twice does not duplicate anyone.
-- @module fsec.import

local _M = { _VERSION = "0.1.0" }


-- "2024-01-31 12:34:56.789" (SQLAlchemy's DateTime in SQLite) -> epoch
-- seconds, read as UTC (Flask-Security stores naive UTC datetimes).
local function epoch(v)
  if type(v) ~= "string" then return nil end
  local y, mo, d, h, mi, s = v:match("^(%d+)-(%d+)-(%d+)[ T](%d+):(%d+):(%d+)")
  if not y then return nil end
  local days = 0
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from civil (Howard Hinnant's algorithm): no os.time, no local time zone
  local yy = mo <= 2 and y - 1 or y
  local era = math.floor((yy >= 0 and yy or yy - 399) / 400)
  local yoe = yy - era * 400
  local mp = (mo + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end
_M.epoch = epoch


local function columns(con, tbl)
  local cols = {}
  local cur = assert(con:execute("PRAGMA table_info(\"" .. tbl .. "\")"))
  local row = cur:fetch({}, "a")
  while row do
    cols[row.name] = true
    row = cur:fetch({}, "a")
  end
  cur:close()
  return cols
end


local function rows(con, sql)
  local out = {}
  local cur = assert(con:execute(sql))
  local row = cur:fetch({}, "a")
  while row do
    out[#out + 1] = row
    row = cur:fetch({}, "a")
  end
  cur:close()
  return out
end


local function progress(on, done, total)
  if not on then return end
  local width = 30
  local n = total > 0 and math.floor(done / total * width) or width
  io.stderr:write(("\rimporting users [%s%s] %d/%d"):format(("#"):rep(n), ("."):rep(width - n), done, total))
  if done == total then io.stderr:write("\n") end
end


--- Import `source` into the datastore `ds`.
function _M.flask_security(ds, source, opts)
  opts = opts or {}
  local f = io.open(source)
  if not f then error("cannot read " .. source, 0) end
  f:close()
  local driver = require("luasql.sqlite3").sqlite3()
  local con = assert(driver:connect(source))
  local ucols = columns(con, "user")
  if not ucols.email then con:close(); error(source .. " has no Flask-Security user table", 0) end
  local has_uq = ucols.fs_uniquifier
  local roles = rows(con, "SELECT id, name, description" ..
    (columns(con, "role").permissions and ", permissions" or "") .. " FROM role ORDER BY id")
  local users = rows(con, "SELECT * FROM user ORDER BY id")
  local links = rows(con, "SELECT user_id, role_id FROM roles_users")
  con:close()
  driver:close()

  local role_name = {}
  for _, r in ipairs(roles) do role_name[r.id] = r.name end
  local user_roles = {}
  for _, l in ipairs(links) do
    local list = user_roles[l.user_id] or {}
    list[#list + 1] = role_name[l.role_id]
    user_roles[l.user_id] = list
  end

  local summary = { roles = 0, users = 0, skipped = 0 }
  ds:transaction(function()
    for _, r in ipairs(roles) do
      local existing = ds:find_role(r.name)
      if existing then
        if r.permissions and r.permissions ~= "" then
          assert(ds:add_permissions_to_role(existing, r.permissions))
        end
      else
        assert(ds:create_role{ name = r.name, description = r.description ~= "" and r.description or nil,
                               permissions = r.permissions })
        summary.roles = summary.roles + 1
      end
    end
    for i, u in ipairs(users) do
      if ds:find_user{ email = u.email } then
        summary.skipped = summary.skipped + 1
      else
        local active = u.active
        if type(active) == "string" then active = active ~= "0" and active ~= "" end
        if type(active) == "number" then active = active ~= 0 end
        local new, err = ds:create_user{
          email = u.email, username = (u.username ~= "" and u.username) or nil,
          password = (u.password ~= "" and u.password) or nil, active = active ~= false,
          confirmed_at = epoch(u.confirmed_at),
          fs_uniquifier = has_uq and u.fs_uniquifier or nil,
          roles = user_roles[u.id],
        }
        if not new then error("user " .. tostring(u.email) .. ": " .. tostring(err), 0) end
        local t = {}
        t.last_login_at, t.current_login_at = epoch(u.last_login_at), epoch(u.current_login_at)
        t.last_login_ip = u.last_login_ip ~= "" and u.last_login_ip or nil
        t.current_login_ip = u.current_login_ip ~= "" and u.current_login_ip or nil
        t.login_count = tonumber(u.login_count)
        assert(ds:set_tracking(new, t))
        summary.users = summary.users + 1
      end
      if i % 100 == 0 or i == #users then progress(opts.progress, i, #users) end
    end
  end)
  print(("imported %d users (%d already present) and %d roles from %s"):format(
    summary.users, summary.skipped, summary.roles, source))
  return summary
end


return _M
