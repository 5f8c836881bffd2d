-- A plain Lua script using fsec: hash and verify a password, upgrade a
-- legacy Flask-Security hash, mint and check signed tokens.
-- Run: scripts/run.sh   (or LUA_PATH="lua/?.lua;;" LUA_CPATH="build/lua54/?.so;;" lua5.4 examples/basic.lua)
local fsec = require "fsec"

-- In a real deployment read these from the environment or a secret store.
local sec = fsec.new{
  secret_key = os.getenv("FSEC_SECRET_KEY") or "change-me-change-me-change-me-change-me",
  password_salt = os.getenv("FSEC_PASSWORD_SALT") or "change-me-salt",
}

local pw = "correct horse battery staple"
local t0 = os.clock()
local h = assert(sec:hash_password(pw))
print(("argon2id hash (%.0f ms CPU):  %s"):format((os.clock() - t0) * 1000, h))
print("verify right password:       ", sec:verify_password(pw, h))
print("verify wrong password:       ", sec:verify_password("wrong", h))
print("needs_update (current hash): ", sec:needs_update(h))

-- A bcrypt hash as Flask-Security 3.x stored it (made by passlib with salt "change-me-salt"):
-- it verifies, and needs_update says to rewrite it as argon2id.
local legacy = "$2b$04$rAHyeO6DKzutLt/qPQw3EuK.XlHaqf9uHKCeU1WfKjkwKFV0bRJ8y"
print("legacy bcrypt verifies:      ", sec:verify_password(pw, legacy))
print("legacy needs_update:         ", sec:needs_update(legacy))

local tok = assert(sec:generate_token("confirm", { uid = fsec.random_id(), n = 1 }))
print("confirm token:               ", tok)
local expired, invalid, data = sec:get_token_status(tok, "confirm", 3600)
print("as confirm: expired, invalid:", expired, invalid, "uid=" .. data.uid)
expired, invalid = sec:get_token_status(tok, "reset", 3600)
print("as reset:   expired, invalid:", expired, invalid)
