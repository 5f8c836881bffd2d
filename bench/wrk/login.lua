-- wrk script: JSON logins as fast as the server answers them.
-- The first answer (GET /login) gives the CSRF token and the cookie it is
-- bound to; every later request is a POST /login with them.
-- Environment: FSEC_BENCH_EMAIL, FSEC_BENCH_PASSWORD.
local email = os.getenv("FSEC_BENCH_EMAIL") or "nobody@example.org"
local password = os.getenv("FSEC_BENCH_PASSWORD") or "wrong-password"
local body = '{"email":"' .. email .. '","password":"' .. password .. '"}'
local csrf, cookie

request = function()
  if not csrf then
    return wrk.format("GET", "/login", { Accept = "application/json" })
  end
  return wrk.format("POST", "/login", {
    ["Content-Type"] = "application/json", ["X-CSRF-Token"] = csrf, Cookie = cookie,
  }, body)
end

response = function(status, headers, resp)
  if csrf then return end
  csrf = resp:match('"csrf_token":"([^"]+)"')
  local set = headers["Set-Cookie"] or headers["set-cookie"]
  cookie = set and set:match("^([^;]+)")
end
