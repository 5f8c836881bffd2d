---@meta fsec.datastore.memory
-- LuaLS type stubs for `require "fsec.datastore.memory"`, the pure-Lua
-- store (the fsec.datastore.Memory class is in types/fsec/datastore.lua).

---The module `require "fsec.datastore.memory"`.
---@class fsec.datastore.memory
local memory = {}

---A new, empty store.
---@param opts? {clock?: fun(): number}
---@return fsec.datastore.Memory
function memory.new(opts) end

return memory
