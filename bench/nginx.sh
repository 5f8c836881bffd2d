#!/bin/sh
# nginx + fsec side by side with a bare content_by_lua hello, in one run,
# on the example app serving a database of 100k users:
# - requests per second of token- and session-authenticated hellos
#   against the plain hello (alternating wrk runs, medians, per-round
#   ratios), and the worker CPU time per request of each (the same ratio
#   measured on the server side, steadier when wrk shares the cores);
# - the instructions per request of the same paths, counted by valgrind
#   in one nginx process (FSEC_BENCH_INSTR=0 skips it): a figure that
#   does not move with the machine's other load;
# - the p99 of token requests while 4 logins hash at once, against idle,
#   with wrk saturating the worker and paced far below saturation;
# - resident memory per worker against the same nginx without fsec, and
#   its peak during 50 simultaneous logins;
# - a soak of mixed load, FSEC_BENCH_SOAK seconds (20; 600 for the
#   10-minute run; 0 skips it): each worker's memory must stay flat after
#   the warm-up.
# Usage: sh bench/nginx.sh [WORKERS=1] [SECONDS=5] [ROUNDS=5] [USERS=100000]
set -eu
cd "$(dirname "$0")/.."
workers=${1:-1}; secs=${2:-5}; rounds=${3:-5}; users=${4:-100000}
command -v wrk >/dev/null || { echo "bench/nginx.sh needs wrk (apt-get install wrk)"; exit 1; }
[ -x build/bench/bench_store ] && [ -x build/bench/argon2_burn ] && [ -f build/luajit/fsec/core.so ] || {
  cmake -S . -B build >/dev/null && cmake --build build -j "$(nproc)" >/dev/null; }
dir=$(mktemp -d /tmp/fsec-bench-XXXXXX); chmod 755 "$dir"
port=$((30000 + ($$ % 2500) * 2))
# skip ports in use: listened on (a run that did not stop), or the local
# end of any connection (these ports are in the kernel's ephemeral range,
# so a client's connection may hold one: nginx's bind() then fails)
while ss -Htan | awk '{ print $4 }' | grep -qE ":($port|$((port + 1)))\$"; do port=$((port + 2)); done
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
FSEC_TOTP_SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n') # the example's two-factor key
# links in mail name this site (the example warns without it)
FSEC_EXTERNAL_URL=http://127.0.0.1:$port
export FSEC_SECRET_KEY FSEC_PASSWORD_SALT FSEC_TOTP_SECRET FSEC_EXTERNAL_URL
ntok=$((users < 10000 ? users : 10000))
luajit bench/make_tokens.lua "$dir" "$ntok" "$dir.tokens"

FSEC_ADMIN_PASSWORD=bench-password-1 FSEC_THROTTLE=off sh scripts/serve-example.sh "$dir" "$port" "$workers" > "$dir.out" 2>&1 &
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
vg=""
# (|| true: under set -e a kill that fails, one of them already gone,
# would end the trap there and leave the run's files in /tmp)
trap 'kill -QUIT $pid $plain ${vg:-} 2>/dev/null || true; sleep 0.5; rm -rf "$dir" "$dir".*' EXIT
# a run stopped by a signal (Ctrl-C, a closed pipe) stops its nginx too
trap 'exit 2' INT TERM HUP PIPE
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
# this first session is the soak's (below): by then over a minute old
COOKIE0=$COOKIE; login0=$(date +%s)
[ "$(curl -s -H "Authentication-Token: $TOKEN" "$B/bench/token")" = hello ] || { echo "token check failed"; exit 1; }
[ "$(curl -s -H "Cookie: $COOKIE" "$B/bench/session")" = hello ] || { echo "session check failed"; exit 1; }

workers_of() { pgrep -P "$(cat "$1/logs/nginx.pid")" | tr '\n' ' '; }
# smaps FIELD ROOT: a field of /proc/PID/smaps_rollup (Rss, Pss,
# Private_Dirty), mean over ROOT's workers, in MiB. Private_Dirty is what
# each worker holds alone (its heap, copied pages); Rss also counts the
# library pages every process on the machine shares, Pss a share of them.
smaps() { for p in $(workers_of "$2"); do awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/smaps_rollup"; done \
          | awk '{ s += $1; n++ } END { printf "%.1f", s / n / 1024 }'; }
snap() { echo "$(smaps Rss "$1") $(smaps Pss "$1") $(smaps Private_Dirty "$1")"; }
# Memory at start: one login and two checks served (above), one hello
# served by the plain nginx.
curl -s "http://127.0.0.1:$plain_port/hello" > /dev/null
set -- $(snap "$dir"); rss_s=$1; pss_s=$2; pd_s=$3
for p in $(workers_of "$dir"); do cat "/proc/$p/smaps" > "$dir.smaps-start.$p"; done # the table by mapping
set -- $(snap "$dir/plain"); rssp_s=$1; pssp_s=$2; pdp_s=$3
mem_s=$(curl -s "$B/bench/memory")
# the workers' CPU ticks: user, and user + system
cpu_ticks() { u=0; t=0; for p in $(workers_of "$dir"); do set -- $(awk '{ print $14, $14 + $15 }' "/proc/$p/stat"); u=$((u + $1)); t=$((t + $2)); done; echo "$u $t"; }
# wrk run: prints "req/s worker-CPU-us-per-request user-CPU-us-per-request"
run() {
  a=$(cpu_ticks)
  out=$(wrk -t1 -c32 -d"${secs}s" "$@")
  b=$(cpu_ticks)
  echo "$out" | awk -v a="$a" -v b="$b" -v hz="$(getconf CLK_TCK)" '
    BEGIN { split(a, x, " "); split(b, y, " ") }
    /requests in/ { n = $1 } /Requests\/sec/ { r = $2 }
    END { printf "%s %.2f %.2f\n", r, (y[2] - x[2]) / hz * 1e6 / n, (y[1] - x[1]) / hz * 1e6 / n }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a / b }'; }
# hello also runs with the very header the checked requests carry (not
# checked): nginx's parsing of a 150-byte token or cookie is the cost of
# carrying a credential, not of checking it; the last column compares
# with that.
for f in uh h hT hC t s ti si ta sa rt rs rti rsi rta rsa ct cs cti csi cta csa ch chT chC rct rcs rcti rcsi rcta rcsa qt qs qti qsi qta qsa; do : > "$dir.$f"; done
for r in $(seq 1 "$rounds"); do
  set -- $(run "$B/bench/hello"); echo "$1" >> "$dir.h"; echo "$2" >> "$dir.ch"; echo "$3" >> "$dir.uh"
  set -- $(run -H "Authentication-Token: $TOKEN" "$B/bench/hello"); echo "$1" >> "$dir.hT"; echo "$2" >> "$dir.chT"
  set -- $(run -H "Authentication-Token: $TOKEN" "$B/bench/token"); echo "$1" >> "$dir.t"; echo "$2" >> "$dir.ct"
  set -- $(run -H "Authentication-Token: $TOKEN" "$B/bench/token-inline"); echo "$1" >> "$dir.ti"; echo "$2" >> "$dir.cti"
  set -- $(run -H "Authentication-Token: $TOKEN" "$B/bench/token-admit"); echo "$1" >> "$dir.ta"; echo "$2" >> "$dir.cta"
  login
  set -- $(run -H "Cookie: $COOKIE" "$B/bench/hello"); echo "$1" >> "$dir.hC"; echo "$2" >> "$dir.chC"
  set -- $(run -H "Cookie: $COOKIE" "$B/bench/session"); echo "$1" >> "$dir.s"; echo "$2" >> "$dir.cs"
  set -- $(run -H "Cookie: $COOKIE" "$B/bench/session-inline"); echo "$1" >> "$dir.si"; echo "$2" >> "$dir.csi"
  set -- $(run -H "Cookie: $COOKIE" "$B/bench/session-admit"); echo "$1" >> "$dir.sa"; echo "$2" >> "$dir.csa"
  h=$(tail -1 "$dir.h"); ch=$(tail -1 "$dir.ch")
  for f in t s ti si ta sa; do
    ratio "$(tail -1 "$dir.$f")" "$h" >> "$dir.r$f"
    ratio "$ch" "$(tail -1 "$dir.c$f")" >> "$dir.rc$f"
  done
  for f in t ti ta; do ratio "$(tail -1 "$dir.$f")" "$(tail -1 "$dir.hT")" >> "$dir.q$f"; done
  for f in s si sa; do ratio "$(tail -1 "$dir.$f")" "$(tail -1 "$dir.hC")" >> "$dir.q$f"; done
done
echo "# nginx + fsec, $workers worker(s), $users users, wrk -t1 -c32 -d${secs}s, $rounds rounds, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "| path | req/s (median) | ratio to hello (median of rounds) | worker CPU per request | CPU ratio (hello / path) | target | ratio to hello sent the same header |"
echo "|---|---|---|---|---|---|---|"
echo "| content_by_lua hello at /bench/hello (the length of the checked paths) | $(median < "$dir.h") | 1.00 | $(median < "$dir.ch") us | 1.00 | | |"
echo "| for reference: the same hello sent the token header | $(median < "$dir.hT") | | $(median < "$dir.chT") us | | | |"
echo "| for reference: the same hello sent the session cookie | $(median < "$dir.hC") | | $(median < "$dir.chC") us | | | |"
line() { echo "| $1 | $(median < "$dir.$2") | $(median < "$dir.r$2") | $(median < "$dir.c$2") us | $(median < "$dir.rc$2") | >= 0.85 | $(median < "$dir.q$2") |"; }
line "token-authenticated hello (protect() in access_by_lua)" t
line "token-authenticated hello (protect() in content_by_lua)" ti
line "token-authenticated hello (admit() in access_by_lua: nothing in ngx.ctx, as before proxy_pass)" ta
line "session-authenticated hello (protect() in access_by_lua)" s
line "session-authenticated hello (protect() in content_by_lua)" si
line "session-authenticated hello (admit() in access_by_lua)" sa

# Instructions per request, counted by valgrind (callgrind) in one nginx
# process serving the same app, prefix and database: unlike CPU time,
# the count does not move with what else the machine runs, so fsec's
# cost beyond the hello is measured to a few dozen instructions. Each
# checked path is compared with a hello at a location of the same
# length (nginx's request-line parsing and location lookup cost with
# the path: about 600 instructions between /bench/hello and
# /bench/session-inline). The count is turned into microseconds at this
# run's hello: its user CPU per request over its instructions (what
# valgrind counts is user space; the kernel's share of a request, its
# reads and writes, is the same with or without fsec). Three rows price
# what lua-nginx-module itself adds once a request uses it as protect()
# does: an empty access_by_lua phase, the first touch of ngx.ctx, and
# both (the floor of any access_by_lua check that hands the user on);
# two more price a value handed on and read back, through ngx.ctx and
# through the other per-request store lua-nginx-module offers (an nginx
# variable: ngx.var), to show which is the cheaper floor.
# Left out of every count: lua-nginx-module's clearing of the Lua
# coroutine it reuses for the next request (lua_resetthread writes nil
# over the coroutine's whole stack, which keeps the size of the deepest
# request it served until the collector shrinks it: 100 to 1,400
# instructions a request by the history of the worker, not the path).
# FSEC_BENCH_INSTR=0 skips this (so does a machine without valgrind).
if [ "${FSEC_BENCH_INSTR:-1}" != 0 ] && command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
  vport=$((port + 3))
  while ss -ltn | grep -qE "127\.0\.0\.1:$vport "; do vport=$((vport + 1)); done
  hello='content_by_lua_block { ngx.say("hello") } }'
  sed -e 's/^master_process on;/master_process off;/' -e 's|^pid logs/nginx.pid;|pid logs/instr.pid;|' \
      -e "s/127\.0\.0\.1:$port;/127.0.0.1:$vport;/" -e 's|error_log logs/error.log|error_log logs/instr.log|' \
      -e "s|location = /bench/hello {|location = /bench/empty { access_by_lua_block { } $hello\n    location = /bench/empty-ctx { access_by_lua_block { ngx.ctx.x = 1 } $hello\n    location = /bench/ctx-rd { access_by_lua_block { ngx.ctx.x = \"1\" } content_by_lua_block { local x = ngx.ctx.x; ngx.say(x and \"hello\" or \"none\") } }\n    location = /bench/var-rd { set \$fsec_bench_x \"\"; access_by_lua_block { ngx.var.fsec_bench_x = \"1\" } content_by_lua_block { local x = ngx.var.fsec_bench_x; ngx.say(x and \"hello\" or \"none\") } }\n    location = /bench/ctx-x { content_by_lua_block { ngx.ctx.x = 1; ngx.say(\"hello\") } }\n    location = /bench/hello-inline { $hello\n    location = /bench/hello-s { $hello\n    location = /bench/hello-s-inline { $hello\n    location = /bench/hello-admit { $hello\n    location = /bench/hello-s-admit { $hello\n    location = /bench/hello {|" \
      "$dir/conf/nginx.conf" > "$dir/conf/instr.conf"
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
    nginx -p "$dir" -c conf/instr.conf -e logs/instr.log > "$dir.vg" 2>&1 &
  vg=$!
  VB=http://127.0.0.1:$vport
  for _ in $(seq 1 600); do curl -sf "$VB/hello" >/dev/null 2>&1 && break; sleep 0.1; done
fi
if [ -n "$vg" ] && ! curl -sf "$VB/hello" >/dev/null 2>&1; then
  echo "bench/nginx.sh: nginx under valgrind did not answer: no instruction counts ($(tail -3 "$dir.vg" | tr '\n' ' '))" >&2
  kill "$vg" 2>/dev/null; vg=""
fi
if [ -n "$vg" ]; then
  # instr PATH HEADER: instructions per request: a full collection (every
  # window starts from the same state of the collector), wrk on one
  # keep-alive connection for 2 s to warm LuaJIT's traces, then
  # FSEC_BENCH_INSTR_SECS (5) counted, some 20,000 requests under
  # valgrind: long enough that the collector's cycles are in the count in
  # proportion to the garbage (2,000 requests held a whole sweep or none
  # of one: +-2,500). Prints the count without lua_resetthread's, then
  # lua_resetthread's own.
  instr() {
    curl -s "$VB/bench/memory?gc=1" > /dev/null
    wrk -t1 -c1 -d2s -H "$2" "$VB$1" > /dev/null
    callgrind_control -z "$vg" > /dev/null 2>&1
    n=$(wrk -t1 -c1 -d"${FSEC_BENCH_INSTR_SECS:-5}s" -H "$2" "$VB$1" | awk '/requests in/ { print $1 }')
    rm -f "$dir/cg.out".*
    callgrind_control -d "$vg" > /dev/null 2>&1
    cat "$dir/cg.out".* > "$dir.cg" 2>/dev/null
    reset=$(callgrind_annotate --inclusive=yes --threshold=100 "$dir.cg" 2>/dev/null \
            | awk '/[:]lua_resetthread[ ]/ { gsub(",", "", $1); print $1; exit }')
    awk -v n="$n" -v r="${reset:-0}" '/^(totals|summary):/ { t = $2 } END { printf "%.0f %.0f\n", (t - r) / n, r / n }' "$dir.cg"
  }
  # resets: each window's lua_resetthread per request, for the note
  : > "$dir.resets"
  count() { set -- $(instr "$1" "$2"); echo "$2" >> "$dir.resets"; echo "$1"; }
  T="Authentication-Token: $TOKEN"
  ih=$(count /bench/hello "$T"); ihi=$(count /bench/hello-inline "$T")
  iae=$(count /bench/empty "$T"); ictx=$(count /bench/ctx-x "$T"); iaec=$(count /bench/empty-ctx "$T")
  ictxr=$(count /bench/ctx-rd "$T"); ivarr=$(count /bench/var-rd "$T")
  it=$(count /bench/token "$T"); iti=$(count /bench/token-inline "$T")
  iha=$(count /bench/hello-admit "$T"); ita=$(count /bench/token-admit "$T")
  login
  C="Cookie: $COOKIE"
  ihs=$(count /bench/hello-s "$C"); ihsi=$(count /bench/hello-s-inline "$C")
  is=$(count /bench/session "$C"); isi=$(count /bench/session-inline "$C")
  ihsa=$(count /bench/hello-s-admit "$C"); isa=$(count /bench/session-admit "$C")
  kill -QUIT "$vg" 2>/dev/null; wait "$vg" 2>/dev/null || true; vg=""
  uhus=$(median < "$dir.uh")
  # irow TITLE COUNT HELLO TARGET: instructions, beyond the hello, in us
  irow() { awk -v t="$1" -v c="$2" -v h="$3" -v us="$uhus" -v hi="$ih" -v g="$4" 'BEGIN {
    printf "| %s | %d | %+d | %.2f us | %s |\n", t, c, c - h, (c - h) * us / hi, g }'; }
  echo
  echo "| instructions per request (callgrind, one nginx process, wrk on one connection for ${FSEC_BENCH_INSTR_SECS:-5} s after 2 s; each path against a hello at a location of the same length; us at this run's hello: $uhus us of user CPU for $ih instructions) | instructions | beyond the hello | us beyond the hello | target |"
  echo "|---|---|---|---|---|"
  irow "content_by_lua hello at /bench/hello, sent the token header" "$ih" "$ih" ""
  irow "lua-nginx-module alone: an empty access_by_lua phase before the hello (/bench/empty)" "$iae" "$ih" ""
  irow "lua-nginx-module alone: the hello touching ngx.ctx (its table made, freed at the end; /bench/ctx-x)" "$ictx" "$ih" ""
  irow "lua-nginx-module alone: an access_by_lua phase that hands a value on in ngx.ctx, the floor of any access check that passes the user on (/bench/empty-ctx)" "$iaec" "$ih" ""
  irow "lua-nginx-module alone: a value handed on in ngx.ctx and read back by the content handler (/bench/ctx-rd)" "$ictxr" "$ih" ""
  irow "lua-nginx-module alone: the same through an nginx variable, its other per-request store (set in the location, ngx.var both ways; /bench/var-rd)" "$ivarr" "$ih" ""
  irow "token-authenticated hello (protect() in access_by_lua, /bench/token)" "$it" "$ih" "<= 1.0 us"
  irow "token-authenticated hello (protect() in content_by_lua, /bench/token-inline)" "$iti" "$ihi" "<= 1.0 us"
  irow "token-authenticated hello (admit() in access_by_lua: protect() handing nothing on in ngx.ctx, for content that is not Lua, /bench/token-admit)" "$ita" "$iha" "<= 1.0 us"
  irow "session-authenticated hello (protect() in access_by_lua, /bench/session)" "$is" "$ihs" "<= 1.0 us"
  irow "session-authenticated hello (protect() in content_by_lua, /bench/session-inline)" "$isi" "$ihsi" "<= 1.0 us"
  irow "session-authenticated hello (admit() in access_by_lua, /bench/session-admit)" "$isa" "$ihsa" "<= 1.0 us"
  awk -v a="$iaec" -v h="$ih" -v us="$uhus" -v t="$it" -v s="$is" -v hs="$ihs" 'BEGIN {
    printf "\nprotect() itself in access_by_lua (beyond the floor lua-nginx-module sets there: the access phase and ngx.ctx, /bench/empty-ctx): token %+d instructions (%.2f us), session %+d (%.2f us).\n",
      t - a, (t - a) * us / h, s - hs - (a - h), (s - hs - (a - h)) * us / h }'
  awk -v c="$ictxr" -v v="$ivarr" 'BEGIN { printf "An nginx variable in place of ngx.ctx, written in access_by_lua and read in content_by_lua: %+d instructions a request (%s).\n", v - c,
    (v < c ? "cheaper: a handoff through it would lower the floor" : "ngx.ctx is the cheaper store") }'
  sort -n "$dir.resets" | awk '{ v[NR] = $1 } END { printf "lua_resetthread, left out of every row: %d to %d instructions a request over the windows above.\n", v[1], v[NR] }'
fi

# Head-of-line blocking: p99 of token requests (wrk -c8), medians of
# $rounds alternating rounds. Idle; beside work at nice 19 that is not
# nginx's (a busy loop; argon2 back to back, as the pool's thread hashes
# during a burst of logins): the floor this machine sets, since wrk, nginx
# and the hashing share its cores; then with 4 logins always in flight
# (wrk with bench/wrk/login.lua), for an unknown address (one argon2
# each, nothing written) and for the right password (one argon2, one
# commit). Twice: with wrk saturating the worker, where the p99 is the
# queue of 8 connections and so follows the throughput the hashing leaves
# (the cores are shared); and paced (bench/wrk/paced.lua: each connection
# waits 1 ms after an answer), far from saturation, where the p99 is each
# request's own latency: what a login in flight makes a request wait.
PACE=""
p99() { wrk -t1 -c8 -d"${secs}s" --latency $PACE -H "Authentication-Token: $TOKEN" "$B/bench/token" \
        | awk -v rf="$dir.rate" '/ 99%/ { v = $2; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else m = 1e6;
                        sub(/[a-z]+$/, "", v); printf "%.0f\n", v * m }
                        /Requests\/sec/ { print $2 >> rf }'; }
# beside CMD...: p99 while CMD runs at nice 19
beside() { nice -n 19 "$@" & bp=$!; sleep 0.5; p=$(p99); kill $bp; wait $bp 2>/dev/null || true; echo "$p"; }
# busy EMAIL PASSWORD: p99 while 4 such logins are always in flight
busy() {
  FSEC_BENCH_EMAIL=$1 FSEC_BENCH_PASSWORD=$2 \
    wrk -t1 -c4 -d"$((secs + 2))s" -s bench/wrk/login.lua "$B/login" > "$dir.logins" &
  lw=$!
  sleep 1
  p=$(p99)
  wait $lw || true
  echo "$p"
  awk '/requests in/ { print $1 }' "$dir.logins" >> "$dir.nlogins"
}
pool="thread pools: $(grep -o 'thread_pool [a-z_]* threads=[0-9]*' "$dir/conf/nginx.conf" | sed 's/thread_pool //' | paste -sd, - | sed 's/,/, /g'), argon2 in the hashing thread's helper process at nice 19"
# hol TITLE: the five rows, $rounds rounds, with wrk run as $PACE says
hol() {
  for f in pi ps pa pu po nlogins rate; do : > "$dir.$f"; done
  for r in $(seq 1 "$rounds"); do
    p99 >> "$dir.pi"
    beside sh -c 'while :; do :; done' >> "$dir.ps"
    beside ./build/bench/argon2_burn >> "$dir.pa"
    busy nobody@example.org whatever-password >> "$dir.pu"
    busy admin@example.org bench-password-1 >> "$dir.po"
  done
  idle=$(median < "$dir.pi")
  echo
  echo "| token requests, $1 ($rounds rounds; $pool) | p99, median | against idle | each round (us) |"
  echo "|---|---|---|---|"
  row "idle" pi
  row "floor: a busy loop at nice 19, outside nginx" ps
  row "floor: argon2 back to back at nice 19, outside nginx (bench/argon2_burn)" pa
  row "4 logins of an unknown address in flight: one argon2 each, nothing written" pu
  row "4 successful logins in flight: one argon2 and one commit (synchronous=FULL) each" po
  echo
  echo "Token requests per second, median of the runs: $(median < "$dir.rate"). Logins answered per run: $(tr '\n' ' ' < "$dir.nlogins")"
}
vs_idle() { awk -v a="$1" -v b="$idle" 'BEGIN { printf "%.1fx", a / b }'; }
row() { m=$(median < "$dir.$2"); echo "| $1 | $m us | $(vs_idle "$m") | $(sort -n "$dir.$2" | tr '\n' ' ')|"; }
hol "wrk saturating the worker"
PACE="-s bench/wrk/paced.lua"
hol "paced (each of 8 connections waits 1 ms after an answer)"

# Memory: resident memory per worker, fsec against the same nginx
# without it, on the USERS database, after token requests of $ntok
# different users (fsec's user cache full, SQLite's page cache warm).
# kinds FILE...: Private_Dirty by kind of mapping from copies of
# workers' /proc/PID/smaps, mean over the files, in KiB: one "kind KiB"
# line each, in a fixed order. Pool threads' stacks are the 8 MiB
# mappings behind a guard page, malloc's thread arenas the 64 MiB
# reservations (a written part, then the rest unmapped).
kinds() {
  for f; do
    awk '/^[0-9a-f]+-[0-9a-f]+ / { n++; perm[n] = $2; path[n] = $6; size[n] = 0; pd[n] = 0; next }
         $1 == "Size:" { size[n] = $2 } $1 == "Private_Dirty:" { pd[n] = $2 }
         END {
           for (i = 1; i <= n; i++) {
             k = "anon"
             if (path[i] == "[heap]") k = "heap"
             else if (path[i] == "[stack]") k = "stack"
             else if (path[i] != "") k = "file"
             else if (perm[i] ~ /x/) k = "mcode"
             else if (perm[i] ~ /^rw/ && size[i] == 8192 && i > 1 && perm[i - 1] ~ /^---/ && path[i - 1] == "") k = "tstack"
             else if (perm[i] ~ /^rw/ && ((i < n && perm[i + 1] ~ /^---/ && path[i + 1] == "" && size[i] + size[i + 1] == 65536) || size[i] == 65536)) k = "arena"
             s[k] += pd[i]
           }
           split("anon heap arena tstack mcode file stack", ks, " ")
           for (j = 1; j <= 7; j++) printf "%s %d\n", ks[j], s[ks[j]] + 0
         }' "$f"
  done | awk '{ s[$1] += $2; c[$1]++; if (!($1 in o)) { o[$1] = ++m; name[m] = $1 } }
              END { for (j = 1; j <= m; j++) printf "%s %.0f\n", name[j], s[name[j]] / c[name[j]] }'
}
# smaps_now ROOT TAG: copies of ROOT's workers' smaps, for kinds
smaps_now() { for p in $(workers_of "$1"); do cat "/proc/$p/smaps" > "$dir.smaps-$2.$p"; done; }
# A third nginx without fsec has the example's thread pools and, after
# its hellos, as many of lua-nginx-module's worker-thread Lua states as
# fsec's worker made (one job each, all posted at once: nginx makes a
# state for each job posted while the others hold theirs, and keeps it):
# what lua-nginx-module itself holds for the same pools and states.
pools_port=$((port + 4))
while ss -ltn | grep -qE "127\.0\.0\.1:$pools_port "; do pools_port=$((pools_port + 1)); done
mkdir -p "$dir/pools/conf" "$dir/pools/logs" "$dir/pools/lib"
# the job holds its state 0.3 s (the next job posted needs another one)
# and answers with that state's live heap
cat > "$dir/pools/lib/fsec_bench_job.lua" <<'EOF'
local ffi = require "ffi"
ffi.cdef "int usleep(unsigned int usec);"
return { run = function(ms) ffi.C.usleep(ms * 1000); collectgarbage("collect"); return collectgarbage("count") * 1024 end }
EOF
# A synthetic Lua heap for the same nginx (LuaJIT's own share, below):
# build(bytes, churn) holds about BYTES more live Lua data (small tables
# and strings, as a heap of code and records is made of) and sets the
# garbage each /churn request then makes (CHURN bytes, as measured in
# fsec's worker), in each worker at its first /churn request; /live
# answers a worker's live heap after a full collect.
cat > "$dir/pools/lib/fsec_bench_synth.lua" <<'EOF'
local held, units = {}, 0
local M = {}
local function live() collectgarbage("collect"); return collectgarbage("count") * 1024 end
function M.build(bytes, churn, pause, stepmul)
  -- the collector set as fsec's worker's (the example's gc_pause, gc_stepmul)
  if pause then collectgarbage("setpause", pause) end
  if stepmul then collectgarbage("setstepmul", stepmul) end
  -- one garbage unit's bytes, counted with the collector stopped
  collectgarbage("stop")
  local c0, sink = collectgarbage("count"), nil
  for i = 1, 1000 do sink = { i, i, i } end
  local per_unit = (collectgarbage("count") - c0) * 1024 / 1000
  collectgarbage("restart")
  units = math.floor(churn / per_unit + 0.5)
  M.built = true
  local target = live() + bytes
  while live() < target do
    for _ = 1, 500 do held[#held + 1] = { ("synthetic-%08d"):format(#held), #held, sink ~= nil } end
  end
  return live()
end
function M.churn() local t; for i = 1, units do t = { i, i, i } end; return t end
M.live = live
return M
EOF
cat > "$dir/pools/conf/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off; worker_processes $workers; pid logs/nginx.pid; error_log logs/error.log warn;
$(grep '^thread_pool ' "$dir/conf/nginx.conf")
events { worker_connections 1024; }
http {
  access_log off; client_body_temp_path /tmp; proxy_temp_path /tmp; fastcgi_temp_path /tmp;
  uwsgi_temp_path /tmp; scgi_temp_path /tmp;
  lua_package_path "$dir/pools/lib/?.lua;;";
$(sed -n '/^  init_by_lua_block {/,/^    end$/p' examples/openresty/nginx.conf.in)
  }
  server { listen 127.0.0.1:$pools_port; location = /hello { content_by_lua_block { ngx.say("hello") } }
    location = /job { content_by_lua_block {
      local ok, heap = ngx.run_worker_thread(ngx.var.arg_pool, "fsec_bench_job", "run", 300)
      ngx.say(ok and string.format("%d", heap) or "failed: " .. tostring(heap)) } }
    location = /churn { content_by_lua_block { local s = require "fsec_bench_synth"
      if not s.built then local a = ngx.req.get_uri_args()
        s.build(tonumber(a.bytes), tonumber(a.churn), tonumber(a.pause), tonumber(a.stepmul)) end
      s.churn(); ngx.say("hello") } }
    location = /malloc { content_by_lua_block { local mi = package.loaded.fsec_bench_mallinfo
      local use, free, mm = mi.get()
      ngx.say(string.format('{"in_use":%d,"free":%d,"mmapped":%d,"in_use_at_init":%d}', use, free, mm, mi.at_init)) } }
    location = /live { content_by_lua_block { ngx.say(string.format("%d", require("fsec_bench_synth").live())) } }
    location = /semaphore { content_by_lua_block {
      package.loaded.fsec_bench_semaphore = require("ngx.semaphore").new(0); ngx.say("made") } } }
}
EOF
nginx -p "$dir/pools" -c conf/nginx.conf -e logs/error.log &
pools=$!
trap 'kill -QUIT $pid $plain $pools ${vg:-} 2>/dev/null || true; sleep 0.5; rm -rf "$dir" "$dir".*' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$pools_port/hello" >/dev/null 2>&1 && break; sleep 0.1; done
wrk -t1 -c8 -d2s "http://127.0.0.1:$plain_port/hello" > /dev/null
wrk -t1 -c8 -d2s "http://127.0.0.1:$pools_port/hello" > /dev/null
mem0=$(curl -s "$B/bench/memory?gc=1"); set -- $(snap "$dir"); rss0=$1; pss0=$2; pd0=$3
mal_f=$(curl -s "$B/bench/malloc") # glibc malloc in use and free, for the split below
smaps_now "$dir" after
# one of fsec's worker-thread states (the last one a job used)
tmem=$(curl -s "$B/bench/thread-memory")
# LuaJIT's traces as they stand now, for the split of mem0's heap below:
# the token warm-up over every user further down compiles more, which
# are not in mem0 (its first call counts every trace's snapshots: its
# garbage collected at once)
jt0=$(curl -s "$B/bench/jit-traces"); curl -s "$B/bench/memory?gc=1" > /dev/null
set -- $(snap "$dir/pools"); rssq0=$1; pssq0=$2; pdq0=$3
# fsec's worker-thread states: those that opened fsec.core (lua_states)
# but the worker's own; as many jobs per worker at once (several
# workers: spread as nginx's accept spreads them), over the pools
nstates=$(($(echo "$mem0" | sed -n 's/.*"lua_states":\([0-9]*\).*/\1/p') - 1))
pool_names=$(grep -o '^thread_pool [a-z_]*' "$dir/conf/nginx.conf" | sed 's/thread_pool //')
: > "$dir.jobs"
jpids=""; i=0
while [ "$i" -lt $((nstates * workers)) ]; do
  for pn in $pool_names; do
    [ "$i" -lt $((nstates * workers)) ] || break
    curl -s "http://127.0.0.1:$pools_port/job?pool=$pn" >> "$dir.jobs" & jpids="$jpids $!"; i=$((i + 1))
  done
done
for j in $jpids; do wait "$j" || true; done
set -- $(snap "$dir/pools"); rssq=$1; pssq=$2; pdq=$3
# fsec's worker made an ngx.semaphore (a request waited for a job slot):
# one in this nginx too. lua-nginx-module allocates them 4096 at a time,
# writes the whole block at the first, and keeps a worker's only block.
sema=""; pdqs=$pdq
if echo "$tmem" | grep -q '"semaphore":true'; then
  for p in $(workers_of "$dir/pools"); do curl -s "http://127.0.0.1:$pools_port/semaphore" > /dev/null; done
  set -- $(snap "$dir/pools"); pdqs=$3; sema=1
fi
smaps_now "$dir/pools" pools
mal_q=$(curl -s "http://127.0.0.1:$pools_port/malloc")
# LuaJIT's own share. churn_of PATH [HEADER]: the Lua bytes one request
# to PATH allocates in fsec's worker: a full collect, then 200 requests
# on one connection (one worker), the heap counted before and after (no
# collection runs between: the next cycle starts when the heap doubles),
# less what the counting request itself allocates.
churn_of() {
  urls=$(for _ in $(seq 1 200); do printf '%s ' "$B$1"; done)
  if [ $# -gt 1 ]; then out=$(curl -s -H "$2" "$B/bench/memory?gc=1" "$B/bench/memory" $urls "$B/bench/memory")
  else out=$(curl -s "$B/bench/memory?gc=1" "$B/bench/memory" $urls "$B/bench/memory"); fi
  echo "$out" | sed -n 's/.*"lua_heap_bytes":\([0-9]*\).*/\1/p' \
    | awk 'NR == 1 { a = $1 } NR == 2 { b = $1 } NR == 3 { c = $1 } END { printf "%.0f\n", ((c - b) - (b - a)) / 200 }'
}
ch_hello=$(churn_of /bench/hello)
ch_tok=$(churn_of /bench/token "Authentication-Token: $TOKEN")
# a fresh session: a cookie over a minute old is re-signed on every
# answer (wrk and curl keep no new cookie), and that whole check's
# garbage is not the cached check's
login
ch_ses=$(churn_of /bench/session "Cookie: $COOKIE")
# The nginx above (pools, states, semaphore) given, in each worker, a
# synthetic live Lua heap as large as fsec's worker's beyond its own,
# and requests that make the garbage of fsec's token request beyond the
# hello's; then as many requests as LuaJIT needs to settle (a cycle
# every few thousand). Its Private_Dirty beyond its live heap's growth
# is what LuaJIT keeps for a heap and a churn of fsec's size: the GC's
# headroom and the allocator's free pages, not fsec's.
plive0=$(curl -s "http://127.0.0.1:$pools_port/live")
lua_fsec=$(echo "$mem0" | sed -n 's/.*"lua_heap_bytes":\([0-9]*\).*/\1/p')
synth=$((lua_fsec - plive0)); synth_churn=$((ch_tok > ch_hello ? ch_tok - ch_hello : 0))
# Measured as fsec's worker is (its rows above follow a full collect),
# and also before that collect: between two cycles LuaJIT holds the
# garbage of a cycle as well (a cycle starts when the heap reaches
# gc_pause % of the live heap after the last one).
gcp=$(sed -n 's/^ *gc_pause = \([0-9]*\).*/\1/p' examples/openresty/fsec_example.lua)
gcs=$(sed -n 's/^ *gc_stepmul = \([0-9]*\).*/\1/p' examples/openresty/fsec_example.lua)
wrk -t1 -c8 -d5s "http://127.0.0.1:$pools_port/churn?bytes=$synth&churn=$synth_churn&pause=${gcp:-200}&stepmul=${gcs:-200}" > /dev/null
set -- $(snap "$dir/pools"); pdsy_load=$3
plive1=$(curl -s "http://127.0.0.1:$pools_port/live")
smaps_now "$dir/pools" synth
set -- $(snap "$dir/pools"); pdsy=$3
wrk -t1 -c8 -d3s -s bench/flask/wrk_get.lua "$B/bench/token" -- Authentication-Token "$dir.tokens" > "$dir.warm"
mem=$(curl -s "$B/bench/memory?gc=1")
field() { echo "$2" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
set -- $(snap "$dir/plain"); rssp=$1; pssp=$2; pdp=$3
set -- $(snap "$dir"); rss1=$1; pss1=$2; pd1=$3
# LuaJIT's compiled traces in the worker: their IR and snapshots in the
# live heap (estimated from jit.util's counts, leaving the traces alone:
# the soak below must meet the JIT as it is), and their machine code (the
# executable mappings, by kind as the table below counts them, beyond the
# nginx without fsec). After the soak, jit.flush() checks the estimate.
jt=$(curl -s "$B/bench/jit-traces")
trace_heap=$(mib "$(field bytes "$jt")")
trace_code=$(kinds "$dir".smaps-after.* | awk '$1 == "mcode" { printf "%.1f", $2 / 1024 }')
cache0=$(field cache_bytes "$mem0"); cache1=$(field cache_bytes "$mem")
lua0=$(field lua_heap_bytes "$mem0"); lua1=$(field lua_heap_bytes "$mem")
# users cached: a token's user lives in the token's entry, a session's
# in the users cache; the larger count is the number of users
max() { [ "${1:-0}" -gt "${2:-0}" ] && echo "${1:-0}" || echo "${2:-0}"; }
n0=$(max "$(field user_cache_entries "$mem0")" "$(field token_cache_entries "$mem0")")
n1=$(max "$(field user_cache_entries "$mem")" "$(field token_cache_entries "$mem")")
# with cache_dict the users cached are its records (each worker's L1 holds the hottest)
n0=$(max "$n0" "$(field shared_cache_records "$mem0")"); n1=$(max "$n1" "$(field shared_cache_records "$mem")")
helper=$(for p in $(workers_of "$dir"); do for h in $(pgrep -P "$p"); do awk '/^VmRSS/ { print $2 }' "/proc/$h/status"; done; done \
         | awk '{ s += $1; n++ } END { if (n) printf "%.1f MiB (%d process(es), idle)", s / n / 1024, n; else print "none started" }')
echo
echo "| memory per worker ($users users), MiB | Rss | Pss | Private_Dirty |"
echo "|---|---|---|---|"
echo "| at start: nginx + Lua module, no fsec | $rssp_s | $pssp_s | $pdp_s |"
echo "| at start: nginx + fsec (a login and two checks served) | $rss_s | $pss_s | $pd_s |"
slots=$(field cache_slot_bytes "$mem_s")
caches_s=$(awk -v a="$(mib "$(field cache_bytes "$mem_s")")" -v b="$(mib "$slots")" 'BEGIN { printf "%.1f", a + b }')
echo "| at start: added by fsec | $(sub "$rss_s" "$rssp_s") | $(sub "$pss_s" "$pssp_s") | $(sub "$pd_s" "$pdp_s") ($(mib "$(field lua_heap_bytes "$mem_s")") MiB live Lua heap) |"
echo "| of which SQLite's page cache / the slots the two 10000-entry caches of users and tokens allocate at start | | | $(mib "$(field cache_bytes "$mem_s")") / $(mib "$slots") |"
echo "| **at start: added beyond both caches** | | | **$(sub "$(sub "$pd_s" "$pdp_s")" "$caches_s")** |"
echo "| nginx + Lua module, no fsec, after the runs above | $rssp | $pssp | $pdp |"
echo "| nginx + fsec, after the runs above ($n0 users cached) | $rss0 | $pss0 | $pd0 |"
echo "| added by fsec | $(sub "$rss0" "$rssp") | $(sub "$pss0" "$pssp") | $(sub "$pd0" "$pdp") |"
echo "| of which SQLite's page cache (bound: database_cache_kib, 8 MiB by default) / the user caches' slots | | | $(mib "$cache0") / $(mib "$slots") |"
echo "| added beyond the page cache | | | $(sub "$(sub "$pd0" "$pdp")" "$(mib "$cache0")") |"
echo "| **added beyond both caches (target <= 2)** | | | **$(sub "$(sub "$(sub "$pd0" "$pdp")" "$(mib "$cache0")")" "$(mib "$slots")")** |"
echo "| nginx + Lua module, no fsec, the example's thread pools, after the same hellos | $rssq0 | $pssq0 | $pdq0 |"
echo "| the same after $nstates jobs at once: $nstates of lua-nginx-module's worker-thread Lua states, as many as fsec's worker has | $rssq | $pssq | $pdq |"
echo "| of which lua-nginx-module's thread pools and $nstates worker-thread Lua states (this row minus the plain nginx's) | | | $(sub "$pdq" "$pdp") |"
[ -z "$sema" ] || echo "| the same with one ngx.semaphore, as fsec's worker has (jobs.lua's wait for a slot): lua-nginx-module's block of 4096 | | | $pdqs (+$(sub "$pdqs" "$pdq")) |"
echo "| **added by fsec beyond both caches and lua-nginx-module's own pools, states and semaphores** | | | **$(sub "$(sub "$(sub "$pd0" "$pdqs")" "$(mib "$cache0")")" "$(mib "$slots")")** |"
synth_mib=$(mib $((plive1 - plive0)))
headroom=$(sub "$(sub "$pdsy" "$pdqs")" "$synth_mib")
echo "| the same nginx given a synthetic live Lua heap of fsec's worker's size (+$synth_mib MiB over its own $(mib "$plive0")) and fsec's token request's garbage ($synth_churn bytes a request beyond the hello's), the example's gc_pause ${gcp:-200} and gc_stepmul ${gcs:-200}, after 5 s of requests and a full collect | | | $pdsy (+$(sub "$pdsy" "$pdqs")) |"
echo "| of which LuaJIT's own: Private_Dirty beyond the live heap it was given (the allocator's free pages after a full collect) | | | $headroom |"
echo "| the same before that full collect (the collector's headroom: a cycle's garbage held until the heap doubles) | | | $pdsy_load (+$(sub "$pdsy_load" "$pdsy")) |"
echo "| nginx + fsec after token requests of $ntok users ($n1 cached) | $rss1 | $pss1 | $pd1 |"
echo "| of which SQLite's page cache / fsec's user cache (live Lua heap over the first row's) | | | $(mib "$cache1") / $(mib $((lua1 - lua0))) |"
echo
echo "Live Lua heap: $(mib "$lua0") MiB with $n0 users cached (fsec's modules), $(mib "$lua1") MiB with $n1." \
     "Cache cost per user: $(awk -v a="$lua1" -v b="$lua0" -v n="$n1" -v m="$n0" 'BEGIN { printf "%.0f", (a - b) / (n > m ? n - m : 1) }') bytes" \
     "(target <= 256; bound: cache_size entries, 10000 by default). argon2 helper: $helper." \
     "Lua garbage per request in fsec's worker: $ch_hello bytes for the hello, $ch_tok for a token check, $ch_ses for a session check."
sh0=$(field shared_cache_bytes "$mem0"); sh1=$(field shared_cache_bytes "$mem")
[ -z "$sh1" ] || echo "Shared cache (cache_dict $(mib "$(field shared_cache_capacity "$mem")") MiB):" \
  "$(mib $((sh1 - sh0))) MiB for $((n1 - n0)) more records ($(awk -v a="$sh1" -v b="$sh0" -v n="$n1" -v m="$n0" 'BEGIN { printf "%.0f", (a - b) / (n > m ? n - m : 1) }') bytes each);" \
  "with every worker's L1, $(awk -v s="$sh1" -v h="$lua1" -v b="$lua0" -v w="$workers" 'BEGIN { printf "%.1f", (s + w * (h - b)) / 1048576 }') MiB in all for $n1 users (target <= 4)."

# Where fsec's Private_Dirty is, by kind of mapping (kinds above): the
# fsec worker at start and after the runs, against the nginx with the
# same pools, as many worker-thread states (and a semaphore if fsec's
# worker made one).
kinds "$dir".smaps-start.* > "$dir.kinds-start"
kinds "$dir".smaps-after.* > "$dir.kinds-after"
kinds "$dir".smaps-pools.* > "$dir.kinds-pools"
kinds "$dir".smaps-synth.* > "$dir.kinds-synth"
kib_row() { awk -v k="$2" -v t="$1" 'FNR == 1 { f++ } $1 == k || k == "" { v[f] += $2 }
  END { printf "| %s | %d | %d | %+d | %d | %+d | %d | %+d |\n", t, v[1], v[2], v[2] - v[1], v[3], v[2] - v[3], v[4], v[2] - v[4] }' \
  "$dir.kinds-start" "$dir.kinds-after" "$dir.kinds-pools" "$dir.kinds-synth"; }
echo
echo "| Private_Dirty per worker by mapping, KiB | nginx + fsec at start | nginx + fsec after the runs | grown | nginx + Lua module, same pools and $nstates thread states${sema:+, a semaphore} | fsec's share after the runs | the same nginx with a synthetic Lua heap and churn of fsec's size | fsec's share beyond LuaJIT's for that heap |"
echo "|---|---|---|---|---|---|---|---|"
kib_row "anonymous: the Lua heaps (LuaJIT's allocator; the worker's and each thread state's), the caches' slots, nginx's large allocations" anon
kib_row "malloc's main heap (nginx's pools, SQLite's connection and page cache, fsec's C objects)" heap
kib_row "malloc arenas of the pool threads (what jobs allocate in C)" arena
kib_row "pool threads' stacks" tstack
kib_row "LuaJIT's machine code (the worker's traces and the thread states')" mcode
kib_row "pages written in mapped files (libraries' relocations and data, SQLite's shared memory)" file
kib_row "the worker's own stack" stack
kib_row "total" ""
theap=$(field heap_bytes "$tmem")
pheap=$(grep -E '^[0-9]+$' "$dir.jobs" | median)
echo
echo "Worker-thread Lua states: $nstates in fsec's worker (lua_states), each kept by nginx for good." \
     "One of them holds $(awk -v b="${theap:-0}" 'BEGIN { printf "%.0f", b / 1024 }') KiB live Lua heap" \
     "(fsec's modules: $(echo "$tmem" | sed -n 's/.*"modules":"\([^"]*\)".*/\1/p'));" \
     "one of lua-nginx-module's with only a job module loaded, $(awk -v b="${pheap:-0}" 'BEGIN { printf "%.0f", b / 1024 }') KiB."


# Soak: FSEC_BENCH_SOAK seconds (default 20; 600 for the 10-minute run)
# of mixed load: token requests rotating over the $ntok users (the caches
# churn), session requests, failed logins (argon2 in the pool, a throttle
# row each) and hellos. Each worker's Private_Dirty and Rss are sampled;
# the growth that counts is after the warm-up (the first minute, or the
# first half of a run shorter than 2 minutes), when the caches are full
# and LuaJIT has compiled its traces: what fsec keeps growing would show
# there. The default 20 s is a quick look; the target is the 600 s run's.
# The session requests carry the first login's cookie, over a minute old
# from the start: fsec re-signs it on every answer (wrk never takes the
# new one) through the whole check. A cookie taken at the start turned
# due for re-signing at 60 s, exactly the warm-up's end, and the soak's
# mix changed there: the whole check's traces, compiled after the
# warm-up, were most of the growth it then measured.
soak=${FSEC_BENCH_SOAK:-20}
if [ "$soak" -gt 0 ]; then
  warm=$((soak >= 120 ? 60 : soak / 2)); step=$((soak >= 120 ? 10 : 2))
  age=$(($(date +%s) - login0))
  [ "$age" -gt 61 ] || sleep $((62 - age))
  curl -s -D "$dir.resign" -H "Cookie: $COOKIE0" "$B/bench/session" > "$dir.resign-body"
  grep -qi '^set-cookie: ' "$dir.resign" && [ "$(cat "$dir.resign-body")" = hello ] || {
    echo "soak: the first login's session was not re-signed"; exit 1; }
  wrk -t1 -c4 -d"${soak}s" -s bench/flask/wrk_get.lua "$B/bench/token" -- Authentication-Token "$dir.tokens" > "$dir.s1" 2>&1 &
  s1=$!
  wrk -t1 -c2 -d"${soak}s" -H "Cookie: $COOKIE0" "$B/bench/session" > "$dir.s2" 2>&1 &
  s2=$!
  FSEC_BENCH_EMAIL=admin@example.org FSEC_BENCH_PASSWORD=wrong-password \
    wrk -t1 -c1 -d"${soak}s" -s bench/wrk/login.lua "$B/login" > "$dir.s3" 2>&1 &
  s3=$!
  wrk -t1 -c1 -d"${soak}s" "$B/bench/hello" > "$dir.s4" 2>&1 &
  s4=$!
  # each sample: seconds, Private_Dirty and Rss (MiB), and LuaJIT's traces
  # as /bench/jit-traces estimates them (no flush, no collection: the JIT
  # and the heap are left as the load made them): traces, their bytes in
  # the Lua heap, and the Lua heap as it stands (garbage included)
  jsample() { j=$(curl -s "$B/bench/jit-traces"); echo "$(field traces "$j") $(field bytes "$j") $(field heap "$j")"; }
  : > "$dir.soak"
  t=0
  while [ "$t" -le "$soak" ]; do
    echo "$t $(smaps Private_Dirty "$dir") $(smaps Rss "$dir") $(jsample)" >> "$dir.soak"
    smaps_now "$dir" "soak-$t" # the growth by kind of mapping, below
    sleep "$step"; t=$((t + step))
  done
  wait $s1 $s2 $s3 $s4 || true
  echo "$t $(smaps Private_Dirty "$dir") $(smaps Rss "$dir") $(jsample)" >> "$dir.soak"
  # the live Lua heap (a full collect) now, against the one after the
  # warm-up run above: a Lua object kept per request would show here
  msoak=$(curl -s "$B/bench/memory?gc=1")
  mal_soak=$(curl -s "$B/bench/malloc") # glibc in use now, against mal_f (the memory rows)
  reqs=$(cat "$dir.s1" "$dir.s2" "$dir.s3" "$dir.s4" | awk '/requests in/ { n += $1 } END { print n + 0 }')
  echo
  echo "| soak: ${soak} s of mixed load (token requests over $ntok users, sessions re-signed, failed logins, hellos; $reqs requests), MiB per worker | Private_Dirty | Rss |"
  echo "|---|---|---|"
  awk -v w="$warm" 'NR == 1 { print "| at the start | " $2 " | " $3 " |" }
    $1 >= w && !seen { seen = 1; pw = $2; rw = $3; print "| after the warm-up (" $1 " s) | " $2 " | " $3 " |" }
    seen { if ($2 > mp) mp = $2; if ($3 > mr) mr = $3 }
    { lp = $2; lr = $3 }
    END { print "| at the end | " lp " | " lr " |"
          printf "| **growth after the warm-up (highest sample - first; target <= 0.5)** | **%.1f** | **%.1f** |\n", mp - pw, mr - rw }' "$dir.soak"
  # The same samples by kind of mapping (kinds): what grows after the
  # warm-up, in KiB per worker (the kinds' order: kinds above).
  : > "$dir.ksoak"
  t=0
  while [ "$t" -le "$soak" ]; do
    kinds "$dir".smaps-soak-"$t".* | awk -v t="$t" '{ printf "%s %s %s\n", t, $1, $2 }' >> "$dir.ksoak"
    t=$((t + step))
  done
  echo
  echo "| soak by mapping, Private_Dirty KiB per worker | at the start | after the warm-up | at the end | growth after the warm-up (highest - first) |"
  echo "|---|---|---|---|---|"
  awk -v w="$warm" '!($2 in o) { o[$2] = ++m; name[m] = $2 }
    { k = $2 } NR == 1 || $1 == 0 { s[k] = $3 }
    $1 >= w && !(k in pw) { pw[k] = $3; tw = $1 } $1 >= w && $3 > mx[k] { mx[k] = $3 } { e[k] = $3 }
    END { for (j = 1; j <= m; j++) { k = name[j]
            printf "| %s | %d | %d | %d | %+d |\n", k, s[k], pw[k], e[k], mx[k] - pw[k] } }' "$dir.ksoak"
  # LuaJIT's traces over the same samples, and the growth net of them:
  # per sample, Private_Dirty less the traces' estimated heap and the
  # machine code (the mcode mappings); then highest - first after the
  # warm-up, as above. The Lua heap as it stands less the traces is
  # fsec's and the application's objects with the garbage not yet
  # collected: a collection per sample would change what is measured.
  # The estimate is the worker's that answered /bench/jit-traces: with
  # several workers, one worker's traces against the workers' mean.
  awk '$2 == "mcode" { print $1, $3 }' "$dir.ksoak" > "$dir.msoak"
  echo
  echo "| soak: LuaJIT's traces (one worker), and the growth net of them, per worker | at the start | after the warm-up | at the end | growth after the warm-up (highest - first) |"
  echo "|---|---|---|---|---|"
  awk -v w="$warm" 'FNR == NR { mc[$1] = $2 / 1024; next }
    !($1 in mc) { next } # the sample after the loop has no mappings copied
    { n++; v[1, n] = $4; v[2, n] = $5 / 1048576; v[3, n] = mc[$1]; v[4, n] = ($6 - $5) / 1048576
      v[5, n] = $2 - $5 / 1048576 - mc[$1]; if ($1 >= w && !f) { f = n; tw = $1 } }
    END {
      split("traces|their estimated heap (IR and snapshots), MiB|their machine code (mcode mappings), MiB|the Lua heap as it stands (no collection: a cycle'"'"'s garbage included, so its highest - first follows the collector, not growth) less the traces, MiB|**Private_Dirty net of LuaJIT'"'"'s traces (less their heap and machine code), MiB; target <= 0.5**", nm, "|")
      for (r = 1; r <= 5; r++) {
        mx = v[r, f]; for (i = f; i <= n; i++) if (v[r, i] > mx) mx = v[r, i]
        fmt = (r == 1 ? "| %s | %d | %d | %d | %+d |\n" : "| %s | %.2f | %.2f | %.2f | %+.2f |\n")
        if (r == 5) fmt = "| %s | %.2f | %.2f | %.2f | **%.1f** |\n"
        printf fmt, nm[r], v[r, 1], v[r, f], v[r, n], mx - v[r, f]
      } }' "$dir.msoak" "$dir.soak"
  echo
  echo "Every ${step} s, KiB: $(awk '$2 == "anon" { a = a " " $3 } $2 == "mcode" { m = m " " $3 } $2 == "heap" { h = h " " $3 }
    END { print "anon" a "; mcode" m "; heap" h }' "$dir.ksoak"); traces$(awk '{ printf " %d", $4 }' "$dir.soak")." \
    "Live Lua heap (full collect): $(mib "$(field lua_heap_bytes "$msoak")") MiB after the soak, $(mib "$lua1") MiB before it."
fi
# The traces' estimate against what jit.flush() frees (now, after
# everything above: the soak is over)
jt2=$(curl -s "$B/bench/jit-traces?flush=1")
echo
echo "LuaJIT's traces in the worker's live heap: estimated $(mib "$(field bytes "$jt")") MiB for $(field traces "$jt") traces" \
     "at the memory rows; at the end $(mib "$(field bytes "$jt2")") MiB for $(field traces "$jt2"), of which jit.flush()" \
     "then freed $(mib $(( $(field before "$jt2") - $(field after "$jt2") ))) MiB (with the compiler's own buffers)."

# What fsec controls over the soak: its live data before and after it,
# both after a full collect. Lua: the worker's live heap less LuaJIT's
# traces; after the soak that is the heap jit.flush() left (no estimate),
# before it the heap at the memory rows less the traces' estimate then,
# scaled by what the flush freed against the estimate after the soak (as
# the split below). C: glibc's bytes in use (mallinfo2, every arena and
# the mmapped chunks). What grows here is kept by fsec (or the Lua
# modules it loaded); what grows beyond it in the soak's tables is the
# JIT's traces and what the allocators keep for them.
m_in() { echo "$1" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"; }
if [ "$soak" -gt 0 ] && [ -n "$(m_in "$mal_f" in_use)" ] && [ -n "$(m_in "$mal_soak" in_use)" ]; then
  est_b=$(field bytes "$jt"); est_e=$(field bytes "$jt2"); fr=$(( $(field before "$jt2") - $(field after "$jt2") ))
  tr_b=$est_b; if [ "${est_e:-0}" -gt 0 ] && [ "$fr" -gt 0 ]; then tr_b=$(( est_b * fr / est_e )); fi
  own_lb=$(( lua1 - tr_b )); own_la=$(field after "$jt2")
  # less SQLite's page cache (bounded, database_cache_kib: the soak's
  # token requests over the users read their pages into it)
  own_cb=$(( $(m_in "$mal_f" in_use) - cache0 )); own_ca=$(( $(m_in "$mal_soak" in_use) - $(field cache_bytes "$msoak") ))
  kib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1024 }'; }
  echo
  echo "| what fsec controls over the soak: its live data, after a full collect, KiB per worker | before the soak | after it | growth |"
  echo "|---|---|---|---|"
  echo "| fsec's live Lua heap less LuaJIT's traces (after: what jit.flush() left; before: the heap less the traces' estimate, scaled by the flush) | $(kib "$own_lb") | $(kib "$own_la") | $(kib $((own_la - own_lb))) |"
  echo "| glibc's bytes in use (mallinfo2: fsec's C, SQLite's connection, nginx's), less SQLite's page cache | $(kib "$own_cb") | $(kib "$own_ca") | $(kib $((own_ca - own_cb))) |"
  echo "| **fsec's live data: growth over the soak (MiB; target <= 0.5, and none that keeps growing)** | | | **$(sub "$(mib $((own_la + own_ca)))" "$(mib $((own_lb + own_cb)))")** |"
fi

# Where the Private_Dirty fsec's worker adds beyond the nginx with the
# same pools, states and semaphore is, split within that worker itself
# (after the runs and a full collect; no synthetic heap, so no collector
# cycle of another process in the figure): each kind of mapping above,
# less what is live in it. Live: the Lua heaps (collectgarbage's count,
# the worker's and its thread states'), glibc's bytes in use
# (mallinfo2: its chunks in the main heap and thread arenas, and the
# large ones it mmaps, which land among the anonymous pages). What is
# written and not live is the allocators' own: LuaJIT's allocator keeps
# the pages of freed objects (it returns a segment only when all of it
# is free), glibc keeps its freed chunks; the synthetic heap above
# shows LuaJIT doing so without any fsec code.
kv() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
kd() { echo $(( $(kv "$dir.kinds-after" "$1") - $(kv "$dir.kinds-pools" "$1") )); }
mal() { echo "$2" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
# (glibc without mallinfo2: no /malloc, no table)
if [ -n "$(mal in_use "$mal_f")" ] && [ -n "$(mal in_use "$mal_q")" ]; then
  d_use=$(( $(mal in_use "$mal_f") - $(mal in_use "$mal_q") ))
  # of which nginx's configuration: in use in init_by_lua before fsec loads
  # (the example's has many locations; the compared nginx's a few)
  d_cfg=$(( $(mal in_use_at_init "$mal_f") - $(mal in_use_at_init "$mal_q") ))
  d_mm=$(( $(mal mmapped "$mal_f") - $(mal mmapped "$mal_q") ))
  d_live=$(( lua0 - plive0 + nstates * (${theap:-0} - ${pheap:-0}) ))
  th_b=$(field bytes "$jt0")
  # The estimate errs low (what it leaves out: the objects only traces
  # kept alive, such as their constants): scaled by what jit.flush()
  # freed after the soak against the estimate then.
  est_end=$(field bytes "$jt2"); freed=$(( $(field before "$jt2") - $(field after "$jt2") ))
  if [ "${est_end:-0}" -gt 0 ] && [ "$freed" -gt 0 ]; then th_b=$(( th_b * freed / est_end )); fi
  kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
  r_lnm=$(sub "$pdqs" "$pdp")
  r_traces=$(kb $(( th_b + $(kd mcode) * 1024 )))
  r_lj=$(kb $(( $(kd anon) * 1024 - d_live - d_mm )))
  r_glibc=$(kb $(( ($(kd heap) + $(kd arena)) * 1024 - d_use )))
  r_lua=$(kb $(( d_live - th_b - slots )))
  r_cfg=$(kb "$d_cfg")
  r_c=$(kb $(( d_use - d_cfg + d_mm - cache0 )))
  r_files=$(kb $(( ($(kd file) + $(kd stack) + $(kd tstack)) * 1024 )))
  r_own=$(kb $(( d_live - th_b - slots + d_use - d_cfg + d_mm - cache0 + ($(kd file) + $(kd stack) + $(kd tstack)) * 1024 )))
  echo
  echo "| where fsec's worker's memory beyond the bounded caches is, after the runs and a full collect (Private_Dirty, MiB per worker; each kind of mapping less what is live in it) | MiB |"
  echo "|---|---|"
  echo "| **beyond both caches** (the table above) | **$(sub "$(sub "$(sub "$pd0" "$pdp")" "$(mib "$cache0")")" "$(mib "$slots")")** |"
  echo "| lua-nginx-module's thread pools, $nstates worker-thread Lua states and semaphore block (the nginx with the same, less the plain one) | $r_lnm |"
  echo "| LuaJIT's compiled traces ($(field traces "$jt0")): their heap (estimated from jit.util's counts, scaled by what jit.flush() freed against the estimate after the soak) and their machine code | $r_traces |"
  echo "| LuaJIT's allocator: anonymous pages written, beyond the live Lua heaps (worker and thread states) and glibc's mmapped chunks: freed objects' pages it keeps | $r_lj |"
  echo "| glibc's malloc: main heap and thread arenas written, beyond the bytes in use (mallinfo2): freed chunks it keeps (below zero: bytes in use on pages the worker still shares with the master) | $r_glibc |"
  echo "| nginx's configuration: the example's (its many locations) beyond the compared nginx's, glibc's bytes in use in init_by_lua before fsec loads | $r_cfg |"
  echo "| fsec's live Lua heap beyond the nginx's (modules, configuration, requests' state; the worker's and its thread states'), less the traces and the caches' slots | $r_lua |"
  echo "| fsec's C allocations in use beyond the nginx's (SQLite's connection and statements, libsodium, OpenSSL; glibc's in use since init_by_lua began, and its mmapped chunks), less SQLite's page cache | $r_c |"
  echo "| pages written in mapped files (libraries' data, SQLite's shared memory) and stacks | $r_files |"
  echo "| **fsec's own live data beyond both caches: its Lua heap, its C allocations, its written pages (the three rows above; target <= 2)** | **$r_own** |"
fi

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
