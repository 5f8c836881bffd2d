#!/bin/sh
# nginx + fsec side by side with a bare content_by_lua hello, in one run,
# on the example app serving a database of 100k users:
# - requests per second of token- and session-authenticated hellos
#   against the plain hello (alternating wrk runs, medians, per-round
#   ratios), and the worker CPU time per request of each (the same ratio
#   measured on the server side, steadier when wrk shares the cores);
# - the p99 of token requests while 4 logins hash at once, against idle;
# - resident memory per worker against the same nginx without fsec, and
#   its peak during 50 simultaneous logins.
# Usage: sh bench/nginx.sh [WORKERS=1] [SECONDS=5] [ROUNDS=5] [USERS=100000]
set -eu
cd "$(dirname "$0")/.."
workers=${1:-1}; secs=${2:-5}; rounds=${3:-5}; users=${4:-100000}
command -v wrk >/dev/null || { echo "bench/nginx.sh needs wrk (apt-get install wrk)"; exit 1; }
[ -x build/bench/bench_store ] && [ -f build/luajit/fsec/core.so ] || {
  cmake -S . -B build >/dev/null && cmake --build build -j "$(nproc)" >/dev/null; }
dir=$(mktemp -d /tmp/fsec-bench-XXXXXX); chmod 755 "$dir"
port=$((30000 + ($$ % 2500) * 2))
# skip ports something (a run that did not stop) still listens on
while ss -ltn | grep -qE "127\.0\.0\.1:($port|$((port + 1))) "; do port=$((port + 2)); done
plain_port=$((port + 1))

# The database: USERS users made with fsec's store (kept between runs).
mkdir -p build/bench-data "$dir/var"
db=build/bench-data/users-$users.db
[ -f "$db" ] || ./build/bench/bench_store "$db" "$users" 0
cp "$db" "$dir/var/auth.db"
# Secrets from the environment (the example reads them in init_by_lua), so
# that tokens for many users can be made here before nginx starts.
FSEC_SECRET_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
FSEC_PASSWORD_SALT=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
export FSEC_SECRET_KEY FSEC_PASSWORD_SALT
ntok=$((users < 10000 ? users : 10000))
luajit bench/make_tokens.lua "$dir" "$ntok" "$dir.tokens"

FSEC_ADMIN_PASSWORD=bench-password-1 sh scripts/serve-example.sh "$dir" "$port" "$workers" > "$dir.out" 2>&1 &
pid=$!
# The same nginx without fsec: the Lua module and a hello, nothing else.
mkdir -p "$dir/plain/conf" "$dir/plain/logs"
cat > "$dir/plain/conf/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off; worker_processes $workers; pid logs/nginx.pid; error_log logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off; client_body_temp_path /tmp; proxy_temp_path /tmp; fastcgi_temp_path /tmp;
  uwsgi_temp_path /tmp; scgi_temp_path /tmp;
  server { listen 127.0.0.1:$plain_port; location = /hello { content_by_lua_block { ngx.say("hello") } } }
}
EOF
nginx -p "$dir/plain" -c conf/nginx.conf -e logs/error.log &
plain=$!
trap 'kill -QUIT $pid $plain 2>/dev/null; sleep 0.5; rm -rf "$dir" "$dir".*' EXIT
B=http://127.0.0.1:$port
for _ in $(seq 1 300); do curl -sf "$B/hello" >/dev/null 2>&1 && break; sleep 0.1; done

# A session cookie and a token for the admin user. The cookie is taken
# again before each session run: fsec re-signs a session cookie older
# than a minute (browsers keep the new one; wrk would not).
jar=$dir.jar
login() {
  rm -f "$jar"
  T=$(curl -s -c "$jar" -b "$jar" -H 'Accept: application/json' "$B/login" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
  TOKEN=$(curl -s -c "$jar" -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $T" \
    -d '{"email":"admin@example.org","password":"bench-password-1"}' "$B/login?include_auth_token" \
    | sed 's/.*"authentication_token":"\([^"]*\)".*/\1/')
  COOKIE=$(awk '$6 == "session" { print "session=" $7 }' "$jar")
}
login
[ "$(curl -s -H "Authentication-Token: $TOKEN" "$B/bench/token")" = hello ] || { echo "token check failed"; exit 1; }
[ "$(curl -s -H "Cookie: $COOKIE" "$B/bench/session")" = hello ] || { echo "session check failed"; exit 1; }

workers_of() { pgrep -P "$(cat "$1/logs/nginx.pid")" | tr '\n' ' '; }
cpu_ticks() { t=0; for p in $(workers_of "$dir"); do v=$(awk '{ print $14 + $15 }' "/proc/$p/stat"); t=$((t + v)); done; echo $t; }
# wrk run: prints "req/s worker-CPU-us-per-request"
run() {
  a=$(cpu_ticks)
  out=$(wrk -t1 -c32 -d"${secs}s" "$@")
  b=$(cpu_ticks)
  echo "$out" | awk -v a="$a" -v b="$b" -v hz="$(getconf CLK_TCK)" '
    /requests in/ { n = $1 } /Requests\/sec/ { r = $2 }
    END { printf "%s %.2f\n", r, (b - a) / hz * 1e6 / n }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a / b }'; }
for f in h t s rt rs ch ct cs rct rcs; do : > "$dir.$f"; done
for r in $(seq 1 "$rounds"); do
  set -- $(run "$B/hello"); h=$1; ch=$2
  set -- $(run -H "Authentication-Token: $TOKEN" "$B/bench/token"); t=$1; ct=$2
  login
  set -- $(run -H "Cookie: $COOKIE" "$B/bench/session"); s=$1; cs=$2
  echo "$h" >> "$dir.h"; echo "$t" >> "$dir.t"; echo "$s" >> "$dir.s"
  echo "$ch" >> "$dir.ch"; echo "$ct" >> "$dir.ct"; echo "$cs" >> "$dir.cs"
  ratio "$t" "$h" >> "$dir.rt"; ratio "$s" "$h" >> "$dir.rs"
  ratio "$ch" "$ct" >> "$dir.rct"; ratio "$ch" "$cs" >> "$dir.rcs"
done
echo "# nginx + fsec, $workers worker(s), $users users, wrk -t1 -c32 -d${secs}s, $rounds rounds, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "| path | req/s (median) | ratio to hello (median of rounds) | worker CPU per request | CPU ratio (hello / path) | target |"
echo "|---|---|---|---|---|---|"
echo "| content_by_lua hello | $(median < "$dir.h") | 1.00 | $(median < "$dir.ch") us | 1.00 | |"
echo "| token-authenticated hello | $(median < "$dir.t") | $(median < "$dir.rt") | $(median < "$dir.ct") us | $(median < "$dir.rct") | >= 0.85 |"
echo "| session-authenticated hello | $(median < "$dir.s") | $(median < "$dir.rs") | $(median < "$dir.cs") us | $(median < "$dir.rcs") | >= 0.85 |"

# Head-of-line blocking: p99 of token requests, idle vs 4 logins (wrk
# with bench/wrk/login.lua, 4 connections: 4 logins always in flight).
p99() { wrk -t1 -c8 -d"${secs}s" --latency -H "Authentication-Token: $TOKEN" "$B/bench/token" \
        | awk '/ 99%/ { print $2 }'; }
idle=$(p99)
# busy EMAIL PASSWORD: p99 while 4 such logins are always in flight
busy() {
  FSEC_BENCH_EMAIL=$1 FSEC_BENCH_PASSWORD=$2 \
    wrk -t1 -c4 -d"$((secs + 2))s" -s bench/wrk/login.lua "$B/login" > "$dir.logins" &
  lw=$!
  sleep 1
  p=$(p99)
  wait $lw || true
  echo "$p $(awk '/requests in/ { print $1 }' "$dir.logins")"
}
set -- $(busy nobody@example.org whatever-password); hash_p99=$1; hash_n=$2
set -- $(busy admin@example.org bench-password-1); login_p99=$1; login_n=$2
pool="thread pool: $(grep -o 'threads=[0-9]*' "$dir/conf/nginx.conf"), nice 19"
echo
echo "| token requests | p99 |"
echo "|---|---|"
echo "| idle | $idle |"
echo "| 4 logins of an unknown address in flight: one argon2 each, nothing written ($hash_n answered; $pool) | $hash_p99 |"
echo "| 4 successful logins in flight: one argon2 and three commits each ($login_n answered) | $login_p99 |"

# Memory: resident memory per worker, fsec against the same nginx
# without it, on the USERS database, after token requests of $ntok
# different users (fsec's user cache full, SQLite's page cache warm).
wrk -t1 -c8 -d2s "http://127.0.0.1:$plain_port/hello" > /dev/null
rss() { for p in $(workers_of "$1"); do awk '/^VmRSS/ { print $2 }' "/proc/$p/status"; done \
        | awk '{ s += $1; n++ } END { printf "%.1f", s / n / 1024 }'; }
mem0=$(curl -s "$B/bench/memory?gc=1"); rss0=$(rss "$dir")
wrk -t1 -c8 -d3s -s bench/flask/wrk_get.lua "$B/bench/token" -- Authentication-Token "$dir.tokens" > "$dir.warm"
mem=$(curl -s "$B/bench/memory?gc=1")
field() { echo "$2" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
rss_plain=$(rss "$dir/plain"); rss1=$(rss "$dir")
cache0=$(field cache_bytes "$mem0"); cache1=$(field cache_bytes "$mem")
lua0=$(field lua_heap_bytes "$mem0"); lua1=$(field lua_heap_bytes "$mem")
n1=$(field user_cache_entries "$mem")
echo
echo "| resident memory per worker ($users users) | before the warm-up | after token requests of $ntok users |"
echo "|---|---|---|"
echo "| nginx + Lua module, no fsec | $rss_plain MiB | |"
echo "| nginx + fsec | $rss0 MiB | $rss1 MiB |"
echo "| added by fsec | $(sub "$rss0" "$rss_plain") MiB | $(sub "$rss1" "$rss_plain") MiB |"
echo "| SQLite's page cache in use (bound: database_cache_kib, 8 MiB by default) | $(mib "$cache0") MiB | $(mib "$cache1") MiB |"
echo "| Lua heap, live (fsec's modules; caches: $(field user_cache_entries "$mem0") then $n1 users) | $(mib "$lua0") MiB | $(mib "$lua1") MiB |"
echo "| added beyond the page cache | $(sub "$(sub "$rss0" "$rss_plain")" "$(mib "$cache0")") MiB | $(sub "$(sub "$rss1" "$rss_plain")" "$(mib "$cache1")") MiB |"
echo
echo "Cache cost per user (token and user entries, live Lua heap): $(awk -v a="$lua1" -v b="$lua0" -v n="$n1" 'BEGIN { printf "%.0f", (a - b) / (n > 1 ? n - 1 : 1) }') bytes (bound: cache_size entries, 10000 by default)."

# 50 simultaneous logins: the thread pool bounds the argon2 memory held at
# once (threads x 64 MiB); the excess waits in its queue. Peak worker RSS.
login_once() {
  j=$dir.m$1; t=$(curl -s -c "$j" -b "$j" -H 'Accept: application/json' "$B/login" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
  curl -s -o /dev/null -w '%{http_code}\n' -b "$j" -c "$j" -H 'Content-Type: application/json' -H "X-CSRF-Token: $t" \
    -d '{"email":"admin@example.org","password":"wrong-password"}' "$B/login" >> "$dir.codes"
}
: > "$dir.codes"
mpids=""
for i in $(seq 1 50); do login_once "$i" & mpids="$mpids $!"; done
peak=0
while :; do
  cur=$(for p in $(workers_of "$dir"); do awk '/^VmRSS/ { print $2 }' "/proc/$p/status"; done | sort -n | tail -1)
  [ "${cur:-0}" -gt "$peak" ] && peak=$cur
  alive=0; for p in $mpids; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && break
  sleep 0.05
done
echo
echo "50 simultaneous logins: peak worker RSS $(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }') MiB," \
     "answers (a wrong password, on purpose): $(sort "$dir.codes" | uniq -c | awk '{ printf "%s x %s ", $1, $2 }')"
