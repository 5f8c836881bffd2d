-- wrk script for bench/compare_flask.sh: GET requests that rotate over
-- the lines of a file as the value of one header (tokens or cookies of
-- several users), the same script for fsec and for Flask-Security.
-- Usage: wrk ... -s wrk_get.lua URL -- HEADER FILE
-- Prints "RESULT <2xx answers> <other answers or errors> <seconds> [what failed]".
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  threads[#threads + 1] = thread
end

local reqs, n, i = {}, 0, 0

function init(args)
  local name, file = args[1], args[2]
  for line in io.lines(file) do
    if line ~= "" then
      n = n + 1
      local h = { [name] = line }
      for k, v in pairs(wrk.headers) do h[k] = v end -- -H options (wrk.format takes one table)
      reqs[n] = wrk.format("GET", wrk.path, h)
    end
  end
  assert(n > 0, "no header values in " .. file)
  i = (tid or 0) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary)
  local e = summary.errors
  local bad = e.status + e.connect + e.read + e.write + e.timeout
  local detail = {}
  for _, k in ipairs{ "status", "connect", "read", "write", "timeout" } do
    if e[k] > 0 then detail[#detail + 1] = e[k] .. "_x_" .. (k == "status" and "not_2xx" or k) end
  end
  io.write(string.format("RESULT %d %d %.3f %s\n", summary.requests - e.status, bad, summary.duration / 1e6,
                         table.concat(detail, ",_")))
end
