#!/bin/sh
# Load test (issue 8, catalogue F-09): the example nginx app on loopback
# with 2 workers, and for SECONDS at once: logins with the right password
# and with wrong ones, token-authenticated requests to /api/me, and
# registrations with unique emails (wrk, bench/load/load.lua). Prints
# p50/p90/p99 latency per kind and the answers per status code.
# Fails (exit 1) on any 5xx that is not fsec's deliberate 503, on any
# request that failed at the socket level (connect, read, write, timeout),
# and when a registration answered 200 is missing from the database.
# Usage: sh bench/load.sh [SECONDS=60]   (needs a build: build/luajit, build/lua54)
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
workers=2
if ! command -v wrk >/dev/null 2>&1; then
  echo "load: installing wrk"
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -q wrk >/dev/null; else sudo apt-get install -y -q wrk >/dev/null; fi
fi
for f in build/luajit/fsec/core.so build/lua54/fsec/core.so; do
  [ -f "$f" ] || { echo "load: $f is missing: build first (cmake -S . -B build && cmake --build build)"; exit 1; }
done

dir=$(mktemp -d /tmp/fsec-load-XXXXXX); chmod 755 "$dir"
admin_pw=load-password-$$
pid=""
stop() { [ -n "$pid" ] || return 0; kill -QUIT "$pid" 2>/dev/null || true
         for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; }
trap 'stop; rm -rf "$dir"' EXIT
# A free loopback port in 37000-37999 (a busy machine's clients may hold
# one for a moment: try another when nginx cannot bind).
up=0
for try in 1 2 3 4 5; do
  port=$((37000 + ($$ + try * 211) % 1000))
  ss -ltn 2>/dev/null | grep -q "127.0.0.1:$port " && continue
  FSEC_ADMIN_PASSWORD=$admin_pw FSEC_THROTTLE=off sh scripts/serve-example.sh "$dir/app" "$port" "$workers" > "$dir/serve.out" 2>&1 &
  pid=$!
  B=http://127.0.0.1:$port
  for _ in $(seq 1 200); do
    curl -sf "$B/hello" >/dev/null 2>&1 && { up=1; break; }
    kill -0 "$pid" 2>/dev/null || break
    grep -q 'bind() to' "$dir/serve.out" 2>/dev/null && break
    sleep 0.1
  done
  [ $up -eq 1 ] && break
  stop; pid=""
done
[ $up -eq 1 ] || { echo "load: the app did not start"; cat "$dir/serve.out"; exit 1; }

# An anonymous CSRF binding (cookie + token) shared by every POST; the
# admin's auth token; an account for the wrong-password logins (not the
# admin's: the lockout would lock it).
jar=$dir/jar
csrf=$(curl -s -c "$jar" -b "$jar" -H 'Accept: application/json' "$B/login" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
cookie=$(awk '$6 == "fsec_csrf" { print $7 }' "$jar")
token=$(curl -s -c "$jar" -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -d "{\"email\":\"admin@example.org\",\"password\":\"$admin_pw\"}" "$B/login?include_auth_token" \
  | sed -n 's/.*"authentication_token":"\([^"]*\)".*/\1/p')
[ -n "$csrf" ] && [ -n "$cookie" ] && [ -n "$token" ] || { echo "load: could not sign in the admin"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'Accept: application/json' \
  -H "X-CSRF-Token: $csrf" -H "Cookie: fsec_csrf=$cookie" \
  -d '{"email":"wrong-target@example.org","password":"battery staple","password_confirm":"battery staple"}' "$B/register")
[ "$code" = 200 ] || { echo "load: could not register the wrong-password target ($code)"; exit 1; }

export LOAD_CSRF="$csrf" LOAD_COOKIE="$cookie" LOAD_TOKEN="$token" LOAD_EMAIL=admin@example.org \
       LOAD_PASSWORD="$admin_pw" LOAD_WRONG_EMAIL=wrong-target@example.org LOAD_RUN=$$ LOAD_ACK="$dir/acked"
# kind:connections. Every login and registration hashes (argon2id, 64 MiB,
# one thread per worker): a few connections keep the pool busy.
kinds="login_ok:2 login_wrong:2 register:2 api:2"
wpids=""
for kc in $kinds; do
  k=${kc%:*}; c=${kc#*:}
  wrk -t "$c" -c "$c" -d "${secs}s" --timeout 30s -s bench/load/load.lua "$B" -- "$k" > "$dir/wrk-$k.out" 2>&1 &
  wpids="$wpids $!"
done
wait_ok=0
for p in $wpids; do wait "$p" || wait_ok=1; done
stop

fail=0
echo "# load: example app, $workers nginx workers, ${secs}s, $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| kind | connections | requests | p50 ms | p90 ms | p99 ms | answers (status:count) | bad 5xx | socket errors |"
echo "|---|---|---|---|---|---|---|---|---|"
for kc in $kinds; do
  k=${kc%:*}; c=${kc#*:}
  line=$(grep '^RESULT ' "$dir/wrk-$k.out" || true)
  if [ -z "$line" ]; then echo "load: wrk ($k) gave no result:"; cat "$dir/wrk-$k.out"; fail=1; continue; fi
  v() { echo "$line" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
  echo "| $k | $c | $(v requests) | $(v p50) | $(v p90) | $(v p99) | $(v codes) | $(v bad5xx) | $(v sockerr) |"
  [ "$(v bad5xx)" = 0 ] || { echo "load: $k: 5xx answers that are not a deliberate 503"; fail=1; }
  [ "$(v sockerr)" = 0 ] || { echo "load: $k: requests failed at the socket level: $line"; fail=1; }
  [ "$(v requests)" -gt 0 ] || { echo "load: $k: no request completed"; fail=1; }
done
[ $wait_ok -eq 0 ] || { echo "load: a wrk run failed"; fail=1; }
# nginx's own view: no 5xx but deliberate 503s (access.log status field)
other5xx=$(awk '$9 ~ /^5/ && $9 != 503 { n++ } END { print n + 0 }' "$dir/app/logs/access.log")
echo
echo "nginx access.log: $(wc -l < "$dir/app/logs/access.log") requests, 5xx other than 503: $other5xx"
[ "$other5xx" -eq 0 ] || { echo "load: nginx logged 5xx answers"; grep -m5 '\[error\]' "$dir/app/logs/error.log" || true; fail=1; }
LUA_PATH="lua/?.lua;;" LUA_CPATH="build/lua54/?.so;;" lua5.4 bench/load/check.lua "$dir/app" "$dir"/acked-* || fail=1
[ $fail -eq 0 ] && echo "load: ok" || echo "load: FAILED"
exit $fail
