-- WebAuthn sign-count racer (spec/11, spec/25): one process that opens
-- the store, waits for the start file, and applies the sign count NEW to
-- credential ID as read at count READ (a cloned authenticator's replay
-- of one assertion, sent at once by many clients). Prints "won" when its
-- compare-and-set stored it, "lost" when another came first.
-- Usage: wan_racer.lua DB ID READ NEW STARTFILE
local db, id, read, new, start = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]), arg[5]
local ds = assert(require("fsec.datastore.sqlite").new{ path = db, busy_timeout = 10000 })
local cred = { id = id, sign_count = read }
-- every racer holds its connection before the start: they write at once
for _ = 1, 2000 do
  local f = io.open(start)
  if f then f:close() break end
  os.execute("sleep 0.005")
end
local changed, err = ds:webauthn_used(cred, new)
if changed == nil then io.write("error: ", tostring(err)) os.exit(1) end
io.write(changed and "won" or "lost")
ds:close()
