-- wrk script: each connection waits FSEC_BENCH_PACE_MS (default 1) after
-- an answer before its next request, so the server is far from saturated
-- and wrk's latency is each request's own, not the queue's.
local pause = tonumber(os.getenv("FSEC_BENCH_PACE_MS") or "") or 1
delay = function() return pause end
