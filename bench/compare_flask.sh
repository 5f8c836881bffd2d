#!/bin/sh
# fsec against the system it replaces, over HTTP, side by side in one run:
# the fsec example app (nginx + fsec, examples/openresty/) and a minimal
# Flask-Security-Too 5.1.2 app (bench/flask/app.py, gunicorn sync workers)
# doing the same work, with the same users, the same argon2id parameters,
# the same number of worker processes, on loopback. Alternating wrk runs
# (the side that goes first swaps every round), medians, per-round ratios.
# Prints a markdown table: req/s of each side and fsec's ratio, and the
# server processes' CPU time per answered request.
# Usage: sh bench/compare_flask.sh [WORKERS=2] [SECONDS=5] [ROUNDS=3] [USERS=20]
#   FSEC_BENCH_CONNS (32): wrk connections for the GETs
#   FSEC_BENCH_FORM_CONNS (4): clients logging in / registering at once
#   FSEC_BENCH_DATA=FILE: also write "label ratio" lines for bench/run.sh's plot
#   FSEC_BENCH_RPS=FILE: also write "test fsec-req/s flask-req/s" lines
#   FSEC_BENCH_TESTS ("token session close login register"): which runs
#   FSEC_BENCH_PG=PGDIR: Flask-Security on PostgreSQL (psycopg2), in a new
#     database of the server `sh bench/pg.sh start PGDIR` runs; fsec on the
#     same server once its store has the PostgreSQL backend and the example
#     takes FSEC_DATABASE (until then fsec stays on SQLite, and the table
#     says so)
set -eu
cd "$(dirname "$0")/.."
workers=${1:-2}; secs=${2:-5}; rounds=${3:-3}; users=${4:-20}
conns=${FSEC_BENCH_CONNS:-32}; fconns=${FSEC_BENCH_FORM_CONNS:-4}
PY=/usr/bin/python3   # Debian's Python, where python3-flask-security lives
PW=bench-password-1
command -v wrk >/dev/null || { echo "compare_flask.sh needs wrk (sh scripts/deps.sh bench)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "compare_flask.sh needs sqlite3 (sh scripts/deps.sh bench)" >&2; exit 1; }
$PY -c 'import flask_security, flask_sqlalchemy, gunicorn, argon2' 2>/dev/null \
  || { echo "compare_flask.sh needs Debian's Flask-Security and gunicorn (sh scripts/deps.sh bench)" >&2; exit 1; }
pgdir=${FSEC_BENCH_PG:-}
if [ -n "$pgdir" ]; then
  $PY -c 'import psycopg2' 2>/dev/null \
    || { echo "compare_flask.sh needs python3-psycopg2 for FSEC_BENCH_PG (sh scripts/deps.sh bench)" >&2; exit 1; }
fi
[ -f build/luajit/fsec/core.so ] || { echo "compare_flask.sh needs a build (build/luajit/fsec/core.so)" >&2; exit 1; }

dir=$(mktemp -d /tmp/fsec-cmp-XXXXXX); chmod 755 "$dir"
port=$((36000 + ($$ % 450) * 2))
# skip ports in use: listened on (a run that did not stop), or the local
# end of any connection (these ports are in the kernel's ephemeral range,
# so a client's connection may hold one: nginx's bind() then fails)
while ss -Htan | awk '{ print $4 }' | grep -qE ":($port|$((port + 1)))\$"; do port=$((port + 2)); done
fport=$((port + 1))
npid=""; gpid=""
# (under set -e a kill that fails, its process already gone, would end
# the trap there: a failed start of nginx left gunicorn running)
cleanup() {
  [ -n "$npid" ] && kill -QUIT "$npid" 2>/dev/null || true
  [ -n "$gpid" ] && kill -TERM "$gpid" 2>/dev/null || true
  sleep 0.5; rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The same users on both sides: user00001..N (role member) and the admin.
mkdir -p "$dir/fsec/var/mail" "$dir/flask"
# links in mail name this site (the example warns without it)
FSEC_EXTERNAL_URL=http://127.0.0.1:$port; export FSEC_EXTERNAL_URL
# Where each side keeps its users: Flask-Security on SQLite or PostgreSQL
# (FSEC_BENCH_PG); fsec on SQLite, or on the same PostgreSQL when its store
# can (see the usage above).
fstore="SQLite (WAL, synchronous=FULL)"; gstore=$fstore
if [ -n "$pgdir" ]; then
  u=$(sh bench/pg.sh db "$pgdir" "flask_$$")
  BENCH_DATABASE_URI="postgresql+psycopg2://${u#postgresql://}"; export BENCH_DATABASE_URI
  gstore="PostgreSQL (psycopg2, pooled)"
  if [ -f core/src/store_pg.c ] && grep -q FSEC_DATABASE examples/openresty/fsec_example.lua; then
    u=$(sh bench/pg.sh db "$pgdir" "fsec_$$")
    # the workers' copy of the password file (as root they run as nobody;
    # the server's folder is the postgres user's alone), as run-cluster.sh
    cp "$pgdir/pgpass" "$dir/fsec/pgpass"
    [ "$(id -u)" -ne 0 ] || chown nobody:nogroup "$dir/fsec/pgpass"
    FSEC_DATABASE=$(echo "$u" | sed "s|passfile=.*|passfile=$dir/fsec/pgpass|"); export FSEC_DATABASE
    fstore="PostgreSQL (libpq, in nginx's thread pool)"
  else
    fstore="SQLite: fsec's PostgreSQL store has not landed yet"
  fi
fi
LUA_PATH="lua/?.lua;examples/openresty/?.lua;;" LUA_CPATH="build/luajit/?.so;;" \
  luajit bench/flask/fsec_users.lua "$dir/fsec" "$users" "$PW"
FSEC_ADMIN_PASSWORD=$PW FSEC_THROTTLE=off sh scripts/serve-example.sh "$dir/fsec" "$port" "$workers" > "$dir/fsec.out" 2>&1 &
npid=$!
fsec_users() {
  if [ -n "${FSEC_DATABASE:-}" ]; then
    env -u LD_PRELOAD psql -XAtq "$FSEC_DATABASE" -c 'select count(*) from users'
  else sqlite3 "$dir/fsec/var/auth.db" 'select count(*) from users'; fi
}
flask_users() { BENCH_DIR=$dir/flask $PY bench/flask/app.py count; }
BENCH_DIR=$dir/flask $PY bench/flask/app.py init "$users" "$PW"
BENCH_DIR=$dir/flask $PY -m gunicorn -w "$workers" -k sync -b "127.0.0.1:$fport" \
  --chdir bench/flask app:app > "$dir/flask.out" 2>&1 &
gpid=$!
F=http://127.0.0.1:$port; G=http://127.0.0.1:$fport
for _ in $(seq 1 100); do
  curl -sf "$F/hello" >/dev/null 2>&1 && curl -sf "$G/hello" >/dev/null 2>&1 && break; sleep 0.1
done
curl -sf "$F/hello" >/dev/null || { cat "$dir/fsec.out"; echo "fsec did not start" >&2; exit 1; }
curl -sf "$G/hello" >/dev/null || { cat "$dir/flask.out"; echo "Flask-Security did not start" >&2; exit 1; }

# Sign every user in on both sides (no User-Agent, as wrk sends none):
# a token and a session cookie each.
signin() {  # BASE EMAIL JAR -> authentication token
  t=$(curl -s -A '' -c "$3" -b "$3" -H 'Accept: application/json' "$1/login" \
      | sed 's/.*"csrf_token": *"\([^"]*\)".*/\1/')
  curl -s -A '' -c "$3" -b "$3" -H 'Content-Type: application/json' -H "X-CSRF-Token: $t" \
    -d "{\"email\":\"$2\",\"password\":\"$PW\"}" "$1/login?include_auth_token" \
    | sed -n 's/.*"authentication_token": *"\([^"]*\)".*/\1/p'
}
for side in fsec flask; do
  base=$F; [ $side = flask ] && base=$G
  : > "$dir/$side.tokens"; : > "$dir/$side.cookies"
  for i in $(seq 1 "$users"); do
    jar=$dir/$side.jar; rm -f "$jar"
    echo "$(signin "$base" "$(printf 'user%05d@example.org' "$i")" "$jar")" >> "$dir/$side.tokens"
    awk '$6 == "session" { print "session=" $7 }' "$jar" >> "$dir/$side.cookies"
  done
  [ "$(grep -c . "$dir/$side.tokens")" -eq "$users" ] && [ "$(grep -c . "$dir/$side.cookies")" -eq "$users" ] \
    || { echo "$side: sign-in of the benchmark users failed" >&2; exit 1; }
  [ "$(curl -s -A '' -H "Authentication-Token: $(head -1 "$dir/$side.tokens")" "$base/bench/token")" = hello ] \
    || { echo "$side: token check failed" >&2; exit 1; }
  [ "$(curl -s -A '' -H "Cookie: $(head -1 "$dir/$side.cookies")" "$base/bench/session")" = hello ] \
    || { echo "$side: session check failed" >&2; exit 1; }
done
ufsec0=$(fsec_users)
uflask0=$(flask_users)

hz=$(getconf CLK_TCK)
ticks() {  # utime + stime of the server's worker processes (children of
           # PID) and of their children (fsec's argon2 helpers)
  for p in $(ps -o pid= --ppid "$1"); do
    for q in $p $(ps -o pid= --ppid "$p"); do
      sed 's/.*) //' "/proc/$q/stat" 2>/dev/null | awk '{ print $12 + $13 }'
    done
  done | awk '{ s += $1 } END { print s + 0 }'
}
# run SIDE TEST ROUND: one wrk run; appends req/s and CPU us per answer.
run() {
  base=$F; pid=$npid; [ "$1" = flask ] && { base=$G; pid=$gpid; }
  c0=$(ticks "$pid")
  case $2 in
    token) wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s -s bench/flask/wrk_get.lua "$base/bench/token" \
             -- Authentication-Token "$dir/$1.tokens" ;;
    session) wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s -s bench/flask/wrk_get.lua "$base/bench/session" \
             -- Cookie "$dir/$1.cookies" ;;
    close) wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s -H 'Connection: close' -s bench/flask/wrk_get.lua \
             "$base/bench/token" -- Authentication-Token "$dir/$1.tokens" ;;
    login) wrk -t"$fconns" -c"$fconns" -d"${secs}s" --timeout 30s -s bench/flask/wrk_form.lua "$base" \
             -- login "$PW" "$users" ;;
    register) wrk -t"$fconns" -c"$fconns" -d"${secs}s" --timeout 30s -s bench/flask/wrk_form.lua "$base" \
             -- register "bench-password-2" "$3" ;;
  esac > "$dir/wrk.out" 2>&1
  c1=$(ticks "$pid")
  set -- "$@" $(awk '/^RESULT/ { print $2, $3, $4, $5 }' "$dir/wrk.out")
  [ $# -ge 6 ] || { cat "$dir/wrk.out" >&2; echo "wrk failed ($1 $2)" >&2; exit 1; }
  echo "$5" >> "$dir/bad.$2.$1"
  [ $# -ge 7 ] && echo "round $3: $7" | tr _ ' ' >> "$dir/why.$2.$1"
  [ "$2" = register ] && echo "$4" >> "$dir/ok.register.$1"
  awk -v n="$4" -v s="$6" 'BEGIN { printf "%.2f\n", n / s }' >> "$dir/rps.$2.$1"
  awk -v n="$4" -v c=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.1f\n", n ? c / hz * 1e6 / n : 0 }' >> "$dir/cpu.$2.$1"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
last() { tail -1 "$1"; }

tests=${FSEC_BENCH_TESTS:-"token session close login register"}
for r in $(seq 1 "$rounds"); do
  for t in $tests; do
    if [ $((r % 2)) -eq 1 ]; then run fsec "$t" "$r"; run flask "$t" "$r"
    else run flask "$t" "$r"; run fsec "$t" "$r"; fi
    awk -v a="$(last "$dir/rps.$t.fsec")" -v b="$(last "$dir/rps.$t.flask")" \
      'BEGIN { printf "%.2f\n", b ? a / b : 0 }' >> "$dir/ratio.$t"
    awk -v a="$(last "$dir/cpu.$t.flask")" -v b="$(last "$dir/cpu.$t.fsec")" \
      'BEGIN { printf "%.2f\n", b ? a / b : 0 }' >> "$dir/cpuratio.$t"
  done
done

label() {
  case $1 in
    token) echo "token-authenticated GET (keep-alive)" ;;
    session) echo "session-authenticated GET (keep-alive)" ;;
    close) echo "token-authenticated GET, Connection: close" ;;
    login) echo "JSON login (GET csrf_token + POST /login)" ;;
    register) echo "JSON registration (GET csrf_token + POST /register)" ;;
  esac
}
# The goal of docs' performance baseline (G7) for the token path.
target() { [ "$1" = token ] && echo ">= 20× req/s, >= 30× CPU" || true; }
echo "# fsec against Flask-Security 5.1.2 over HTTP, $workers worker processes each, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "Stores: fsec on $fstore; Flask-Security on $gstore."
echo
echo "GETs: wrk -t1 -c$conns -d${secs}s rotating over $users users' tokens or cookies;" \
     "login and registration: $fconns clients, each GET form + POST JSON; $rounds rounds, medians."
echo "CPU: utime+stime of the server's worker processes per answered request."
echo
echo "| operation | fsec req/s | Flask-Security req/s | fsec ÷ Flask-Security (req/s) | fsec CPU µs/req | Flask-Security CPU µs/req | Flask-Security ÷ fsec (CPU) | target |"
echo "|---|---|---|---|---|---|---|---|"
num() { median < "$1" | awk '{ printf($1 >= 100 ? "%.0f" : "%.1f", $1) }'; }
for t in $tests; do
  echo "| $(label $t) | $(num "$dir/rps.$t.fsec") | $(num "$dir/rps.$t.flask") | **$(median < "$dir/ratio.$t")×** |" \
       "$(num "$dir/cpu.$t.fsec") | $(num "$dir/cpu.$t.flask") | $(median < "$dir/cpuratio.$t")× | $(target $t) |"
done
if [ -n "${FSEC_BENCH_DATA:-}" ]; then
  for t in $tests; do
    printf '"%s" %s %s\n' "$(label $t | sed 's/ (.*//')" "$(median < "$dir/ratio.$t")" "$(median < "$dir/cpuratio.$t")"
  done > "$FSEC_BENCH_DATA"
fi
if [ -n "${FSEC_BENCH_RPS:-}" ]; then
  for t in $tests; do echo "$t $(median < "$dir/rps.$t.fsec") $(median < "$dir/rps.$t.flask")"; done > "$FSEC_BENCH_RPS"
fi

# Every answer was 200 (wrk's errors and other statuses count as bad)...
echo
fail=0
for t in $tests; do for side in fsec flask; do
  b=$(awk '{ s += $1 } END { print s + 0 }' "$dir/bad.$t.$side")
  [ "$b" -eq 0 ] || { echo "WARNING: $side, $(label $t): $b answers were not 200 or failed" \
                           "($(paste -sd';' "$dir/why.$t.$side" | sed 's/;/; /g'))"; fail=1; }
done; done
# ... and each registration answered 200 made exactly one user. wrk stops
# with up to one request per client in flight, which the server may still
# complete: at most $fconns more users per run than answers counted.
for side in fsec flask; do
  [ -f "$dir/ok.register.$side" ] || continue   # no registration run
  if [ $side = fsec ]; then u=$(fsec_users); u0=$ufsec0
  else u=$(flask_users); u0=$uflask0; fi
  ok=$(awk '{ s += $1 } END { print s + 0 }' "$dir/ok.register.$side")
  extra=$((u - u0 - ok))
  if [ "$extra" -ge 0 ] && [ "$extra" -le $((fconns * rounds)) ]; then
    echo "Registration check, $side: $((u - u0)) users added, $ok answers 200 counted ($extra completed after wrk stopped): ok"
  else
    echo "Registration check, $side: $((u - u0)) users added but $ok answers 200 counted: MISMATCH"; fail=1
  fi
done
exit $fail
