-- Hold the write lock of a database for SECONDS (a fault for tests).
-- Usage: hold_lock.lua DB SECONDS READY_FILE
local store = assert(require("fsec.core").open_store{ path = arg[1] })
assert(store:begin())
assert(store:create_role("lock-holder-" .. os.time(), nil, nil, os.time()))
local f = io.open(arg[3], "w"); f:write("locked\n"); f:close()
os.execute("sleep " .. arg[2])
store:rollback()
