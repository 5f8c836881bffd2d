#!/bin/sh
# nginx + fsec side by side with a bare content_by_lua hello, in one run:
# requests per second of token- and session-authenticated hellos against
# the plain hello (alternating wrk runs, medians, per-round ratios), and
# the p99 of token requests while 4 logins hash at once, against idle.
# Usage: sh bench/nginx.sh [WORKERS=1] [SECONDS=5] [ROUNDS=3]
set -eu
cd "$(dirname "$0")/.."
workers=${1:-1}; secs=${2:-5}; rounds=${3:-3}
command -v wrk >/dev/null || { echo "bench/nginx.sh needs wrk (apt-get install wrk)"; exit 1; }
dir=$(mktemp -d /tmp/fsec-bench-XXXXXX); chmod 755 "$dir"
port=$((30000 + $$ % 5000))
FSEC_ADMIN_PASSWORD=bench-password-1 sh scripts/serve-example.sh "$dir" "$port" "$workers" > "$dir.out" 2>&1 &
pid=$!
trap 'kill -QUIT $pid 2>/dev/null; sleep 0.5; rm -rf "$dir" "$dir".*' EXIT
B=http://127.0.0.1:$port
for _ in $(seq 1 100); do curl -sf "$B/hello" >/dev/null 2>&1 && break; sleep 0.1; done
# A session and a token for the admin user.
jar=$dir.jar
T=$(curl -s -c "$jar" -b "$jar" -H 'Accept: application/json' "$B/login" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
TOKEN=$(curl -s -c "$jar" -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $T" \
  -d '{"email":"admin@example.org","password":"bench-password-1"}' "$B/login?include_auth_token" \
  | sed 's/.*"authentication_token":"\([^"]*\)".*/\1/')
COOKIE=$(awk '$6 == "session" { print "session=" $7 }' "$jar")
[ "$(curl -s -H "Authentication-Token: $TOKEN" "$B/bench/token")" = hello ] || { echo "token check failed"; exit 1; }
[ "$(curl -s -H "Cookie: $COOKIE" "$B/bench/session")" = hello ] || { echo "session check failed"; exit 1; }

rps() { wrk -t1 -c32 -d"${secs}s" "$@" | awk '/Requests\/sec/ { print $2 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
: > "$dir.h"; : > "$dir.t"; : > "$dir.s"; : > "$dir.rt"; : > "$dir.rs"
for r in $(seq 1 "$rounds"); do
  h=$(rps "$B/hello")
  t=$(rps -H "Authentication-Token: $TOKEN" "$B/bench/token")
  s=$(rps -H "Cookie: $COOKIE" "$B/bench/session")
  echo "$h" >> "$dir.h"; echo "$t" >> "$dir.t"; echo "$s" >> "$dir.s"
  awk -v a="$t" -v b="$h" 'BEGIN { printf "%.3f\n", a / b }' >> "$dir.rt"
  awk -v a="$s" -v b="$h" 'BEGIN { printf "%.3f\n", a / b }' >> "$dir.rs"
done
echo "# nginx + fsec, $workers worker(s), wrk -t1 -c32 -d${secs}s, $rounds rounds, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "| path | req/s (median) | ratio to hello (median of rounds) | target |"
echo "|---|---|---|---|"
echo "| content_by_lua hello | $(median < "$dir.h") | 1.00 | |"
echo "| token-authenticated hello | $(median < "$dir.t") | $(median < "$dir.rt") | >= 0.85 |"
echo "| session-authenticated hello | $(median < "$dir.s") | $(median < "$dir.rs") | >= 0.85 |"

# Head-of-line blocking: p99 of token requests, idle vs 4 logins hashing.
p99() { wrk -t1 -c8 -d"${secs}s" --latency -H "Authentication-Token: $TOKEN" "$B/bench/token" \
        | awk '/ 99%/ { print $2 }'; }
idle=$(p99)
logins() {
  end=$(( $(date +%s) + secs + 1 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    j=$dir.l$1; t=$(curl -s -c "$j" -b "$j" -H 'Accept: application/json' "$B/login" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
    curl -s -o /dev/null -b "$j" -c "$j" -H 'Content-Type: application/json' -H "X-CSRF-Token: $t" \
      -d '{"email":"admin@example.org","password":"wrong-password"}' "$B/login"
  done
}
lpids=""
for i in 1 2 3 4; do logins "$i" & lpids="$lpids $!"; done
busy=$(p99)
for p in $lpids; do wait "$p" 2>/dev/null || true; done
echo
echo "| token requests | p99 |"
echo "|---|---|"
echo "| idle | $idle |"
echo "| with 4 logins hashing (thread pool: $(grep -o 'threads=[0-9]*' "$dir/conf/nginx.conf")) | $busy |"
rss=$(ps -o rss= --ppid "$pid" | awk '{ s += $1; n++ } END { printf "%.1f", s / n / 1024 }')
echo
echo "Resident memory per worker after the run: $rss MiB (argon2id t=2 m=64 MiB hashes run in the thread pool)"

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
  cur=$(ps -o rss= --ppid "$pid" | sort -n | tail -1)
  [ "${cur:-0}" -gt "$peak" ] && peak=$cur
  alive=0; for p in $mpids; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && break
  sleep 0.05
done
echo "50 simultaneous logins: peak worker RSS $(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }') MiB," \
     "answers: $(sort "$dir.codes" | uniq -c | awk '{ printf "%s x %s ", $1, $2 }')"
