---@meta fsec.flaskconf
-- LuaLS type stubs for `require "fsec.flaskconf"`: Flask-Security's
-- setting names and what each is in fsec (lua/fsec/flaskconf.lua;
-- docs/configuration.md#flask-security-settings is the same table).

---One Flask-Security setting: the fsec key that means the same, or why
---fsec refuses it and what to use instead.
---@class fsec.flaskconf.Row
---@field [1] string the name without SECURITY_ ("MSG_*": the message keys)
---@field v3? boolean a key of Flask-Security 3.0
---@field key? string the fsec key
---@field convert? fun(v: any): any, string? the value as fsec takes it
---@field note? string
---@field same? any[] values for which fsec does what Flask-Security would (accepted, ignored)
---@field refuse? string why not, and fsec's way
---@field differs? boolean fsec has a key of the lower-case name that means something else

---@class fsec.flaskconf
---@field ROWS fsec.flaskconf.Row[] every Flask-Security 3.0 and Too 5.8 setting, in Too's groups
---@field BY_NAME table<string, fsec.flaskconf.Row>
local flaskconf = {}

---Is v a value of a refused row for which fsec does what Flask-Security would?
---@param row fsec.flaskconf.Row
---@param v any
---@return boolean
function flaskconf.is_same(row, v) end

---The markdown row of docs/configuration.md's table for a row.
---@param row fsec.flaskconf.Row
---@return string
function flaskconf.doc_row(row) end

---The refusal message of a row, naming the key as it was given.
---@param given string
---@param row fsec.flaskconf.Row
---@return string
function flaskconf.refusal(given, row) end

---Translate SECURITY_* names (and fsec spellings of refused ones) into
---fsec keys: a new table (user itself when none is there), or nil and the
---message; third, fsec key -> the name it was given as.
---@param user table
---@param schema table fsec.config.schema
---@return table? config
---@return string? err
---@return table<string, string>? names
function flaskconf.translate(user, schema) end

return flaskconf
