--- The memory datastore's mail outbox (fsec.outbox): rows in this
-- process only, as the rest of fsec.datastore.memory, with the same
-- contract as the SQLite and PostgreSQL stores' (spec/10).
-- @module fsec.datastore.memory_outbox

local core = require "fsec.core"
local base = require "fsec.datastore"

local type = type
local pairs = pairs
local ipairs = ipairs

local _M = { _VERSION = "0.1.0" }

local L = core.LIMITS
local check_string = base.check_string

--- Add the outbox methods to the memory store's class; h: its helpers
-- (now, fail, check_text).
function _M.install(Memory, h)
  local now, fail, check_text = h.now, h.fail, h.check_text

  function Memory:outbox_add(m)
    if type(m) ~= "table" then base.argerror("outbox_add", "argument #1", "table", m) end
    for _, k in ipairs{ "message_id", "sender", "recipient", "kind", "message" } do
      check_string(m[k], "outbox_add", "field " .. k)
      if m[k] == "" then return fail("EINVAL", k .. " is empty") end
      local ok, err, code = check_text(m[k], k == "message" and L.outbox_message or 512, k)
      if not ok then return nil, err, code end
    end
    for _, row in pairs(self._outbox) do
      if row.message_id == m.message_id then return fail("EEXIST", "message id queued already") end
    end
    self._outbox_id = self._outbox_id + 1
    local id = self._outbox_id
    self._outbox[id] = { id = id, message_id = m.message_id, sender = m.sender, recipient = m.recipient,
                         kind = m.kind, message = m.message, created_at = now(self), next_at = now(self),
                         attempts = 0, lease_until = 0 }
    return id
  end

  function Memory:outbox_claim(owner, lease)
    check_string(owner, "outbox_claim", "argument #1")
    lease = base.whole(lease, "outbox_claim", "argument #2")
    local t, best = now(self), nil
    for _, row in pairs(self._outbox) do
      if row.next_at and row.next_at <= t and row.lease_until <= t
         and (not best or row.next_at < best.next_at or (row.next_at == best.next_at and row.id < best.id)) then
        best = row
      end
    end
    if not best then return false end
    best.lease_owner, best.lease_until, best.attempts = owner, t + lease, best.attempts + 1
    return { id = best.id, message_id = best.message_id, sender = best.sender, recipient = best.recipient,
             kind = best.kind, message = best.message, attempts = best.attempts, created_at = best.created_at }
  end

  function Memory:outbox_sent(id)
    id = base.whole(id, "outbox_sent", "argument #1")
    local had = self._outbox[id] ~= nil
    self._outbox[id] = nil
    return had
  end

  function Memory:outbox_retry(id, owner, next_at, err)
    id = base.whole(id, "outbox_retry", "argument #1")
    check_string(owner, "outbox_retry", "argument #2")
    local row = self._outbox[id]
    if not row or row.lease_owner ~= owner then return false end
    row.lease_owner, row.lease_until, row.next_at, row.last_error = nil, 0, next_at, err
    return true
  end

  function Memory:outbox_counts()
    local q, g = 0, 0
    for _, row in pairs(self._outbox) do
      q = q + 1
      if not row.next_at then g = g + 1 end
    end
    return q, g
  end
end

return _M
