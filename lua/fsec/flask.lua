--- Flask-Security's own credentials: its auth tokens, Flask's session
-- cookie and Flask-Login's remember cookie, signed with the Flask app's
-- SECRET_KEY (config flask_secret_key). The signatures are checked in C
-- (core/src/itsdangerous.c); this file reads what they carry and finds
-- the user it names. docs/migration.md, "Flask-Security's tokens and
-- cookies", says what is accepted and how it is revoked.
-- @module fsec.flask

local _M = { _VERSION = "0.1.0" }


--- The user a Flask credential names: one query ({ fs_uniquifier = },
-- { fs_token_uniquifier = } or { id = }) to the Flask app's own database
-- when flask_users is set (fsec.flaskusers, examples/flask-edge), else to
-- fsec's store. Returns what the datastore's find_user returns: a user,
-- nil (none), or nil, err, code (the caller fails closed on it).
function _M.find_user(sec, query)
  local uri = sec._cfg.flask_users
  if uri then
    local users = sec._flask_users
    if not users then
      users = require("fsec.flaskusers").new(sec, uri)
      sec._flask_users = users
    end
    return users:find(query)
  end
  local ds = sec.datastore
  if not ds then return nil end
  return ds:find_user(query)
end


return _M
