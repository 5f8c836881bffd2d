#!/bin/sh
# What one PostgreSQL sustains here, per fsec operation, with concurrent
# clients: pgbench (Debian's postgresql) runs the statements fsec makes
# (bench/pg/*.sql, prepared: -M prepared, as fsec prepares every
# statement) against the tables bench/bench_pg made. Stock server
# settings: fsync and synchronous_commit on, so every commit waits for
# the disk. Prints markdown: the disk's fdatasync rate (pg_test_fsync),
# then per operation and client count the operations/s, the mean latency
# and the commits/s. With pgbouncer installed, the same token check
# through pgbouncer in transaction mode, prepared and not (docs/scaling.md
# explains why the prepared run fails).
# Usage: sh bench/pg_capacity.sh PGDIR USERS [SECONDS=5] [CLIENTS="1 8 32"] [ROUNDS=3]
#   PGDIR: the folder of `sh bench/pg.sh start PGDIR` (its uri and pgpass)
#   FSEC_BENCH_PG_BIN (build-bench/bench/bench_pg): makes the tables, raw
#     and without triggers (FSEC_BENCH_PG_RAW=1), in a database of their
#     own, capacity_<pid>; the *_epoch.sql scripts move the revocation
#     epoch themselves, as fsec's schema 8 triggers do
#   FSEC_BENCH_FSYNC_SECONDS (2): seconds per pg_test_fsync test, 0: none
# Each cell is the median of ROUNDS runs of SECONDS, the operations
# interleaved round by round (the disk's flush time moves a lot on a VM).
set -eu
cd "$(dirname "$0")/.."
dir=$(cd "$1" && pwd); users=$2; secs=${3:-5}; clients=${4:-"1 8 32"}; rounds=${5:-3}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
bench_pg=${FSEC_BENCH_PG_BIN:-build-bench/bench/bench_pg}
[ -x "$bench_pg" ] || { echo "pg_capacity.sh: no $bench_pg (sh scripts/bench.sh builds it)" >&2; exit 1; }
uri=$(sh bench/pg.sh db "$dir" "capacity_$$")
FSEC_BENCH_PG_RAW=1 "$bench_pg" "$uri" "$users" 0 2>/dev/null
# the URI names its passfile; the environment must not add another
pgb() { env -u LD_PRELOAD -u PGPASSWORD -u PGPASSFILE "$bin/pgbench" -n -D users="$users" "$@"; }

fs=${FSEC_BENCH_FSYNC_SECONDS:-2}   # 0: no disk test (bench/check-pg.sh)
if [ "$fs" -gt 0 ]; then
  fsync_rate=$(env -u LD_PRELOAD "$bin/pg_test_fsync" -s "$fs" -f "$dir/fsync.test" 2>/dev/null \
    | awk '$1 == "fdatasync" && $2 + 0 > 0 { printf "%.0f", $2; exit }')
  rm -f "$dir/fsync.test"
  echo "Disk: \`pg_test_fsync -s $fs\` fdatasync of one 8 kB write: ${fsync_rate:-?} per second" \
       "(the ceiling of commits per second for one client, if each waited for its own flush)."
  echo
fi
echo "| operation (bench/pg/) | clients | operations/s | mean latency | commits/s |"
echo "|---|---|---|---|---|"
# script:commits per run
ops="token:0 login:3 login1:1 login1_notify:1 register:1 register_epoch:1 logout:2 logout_epoch:2"
tmp=$(mktemp -d /tmp/fsec-cap-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for _ in $(seq 1 "$rounds"); do
  for op in $ops; do
    f=${op%%:*}
    for c in $clients; do
      j=2; [ "$c" -lt 2 ] && j=1
      out=$(pgb -M prepared -c "$c" -j "$j" -T "$secs" -f "bench/pg/$f.sql" "$uri" 2>&1) \
        || { echo "$out" >&2; echo "pgbench failed ($f, $c clients)" >&2; exit 1; }
      bad=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
      [ "${bad:-0}" -eq 0 ] || { echo "$out" >&2; echo "pgbench: $bad failed ($f)" >&2; exit 1; }
      echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' >> "$tmp/tps.$f.$c"
      echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' >> "$tmp/lat.$f.$c"
    done
  done
done
median() { sort -g "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for op in $ops; do
  f=${op%%:*}; commits=${op#*:}
  for c in $clients; do
    awk -v f="$f" -v c="$c" -v t="$(median "$tmp/tps.$f.$c")" -v l="$(median "$tmp/lat.$f.$c")" -v k="$commits" 'BEGIN {
      printf "| %s | %d | %.0f | %.2f ms | %s |\n", f, c, t, l, k ? sprintf("%.0f", t * k) : "(reads)" }'
  done
done

# pgbouncer in transaction mode: does a prepared statement survive?
command -v pgbouncer >/dev/null || exit 0
pport=$(sed -n 's/^port = \([0-9]*\).*/\1/p' "$dir/data/postgresql.conf" | tail -n 1)
bport=$((pport + 1))
while ss -Hltn "sport = :$bport" 2>/dev/null | grep -q .; do bport=$((bport + 1)); done
db=capacity_$$
pw=$(grep ":$db:" "$dir/pgpass" | cut -d: -f5)
mkdir -p "$dir/bouncer"
(umask 077
 printf '"fsec" "%s"\n' "$pw" > "$dir/bouncer/userlist.txt"
 printf '127.0.0.1:%s:%s:fsec:%s\n' "$bport" "$db" "$pw" > "$dir/bouncer/pgpass")
unset pw
cat > "$dir/bouncer/pgbouncer.ini" <<EOF
[databases]
$db = host=127.0.0.1 port=$pport dbname=$db
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/bouncer/userlist.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
logfile = $dir/bouncer/pgbouncer.log
pidfile = $dir/bouncer/pgbouncer.pid
EOF
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$dir/bouncer"; chown root: "$dir/bouncer/pgpass"; fi
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_owner pgbouncer -d "$dir/bouncer/pgbouncer.ini" >/dev/null 2>&1
trap 'kill "$(cat "$dir/bouncer/pgbouncer.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$tmp"' EXIT
buri="postgresql://fsec@127.0.0.1:$bport/$db?passfile=$dir/bouncer/pgpass"
for _ in $(seq 1 50); do
  env -u LD_PRELOAD "$bin/psql" -XAtq "$buri" -c 'select 1' >/dev/null 2>&1 && break; sleep 0.1
done
echo
echo "Through pgbouncer $(dpkg-query -W -f='${Version}' pgbouncer 2>/dev/null) in transaction mode" \
     "(default_pool_size 4: 32 clients share 4 server connections), the token check:"
echo
echo "| statements | clients | operations/s | errors |"
echo "|---|---|---|---|"
for mode in extended prepared; do
  out=$(pgb -M "$mode" -c 32 -j 2 -T "$secs" -f bench/pg/token.sql "$buri" 2>&1) || true
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
  exists=$(echo "$out" | grep -c 'already exists' || true)
  aborted=$(echo "$out" | grep -c 'aborted.*does not exist' || true)
  label="unnamed (-M extended: parse + bind each time)"
  [ "$mode" = prepared ] && label="named, prepared once per client connection (-M prepared, as fsec)"
  errs="none"
  [ "$exists" -gt 0 ] || [ "$aborted" -gt 0 ] && errs="$exists PREPAREs failed (\"prepared statement already exists\"); $aborted of 32 clients aborted (\"prepared statement does not exist\")"
  echo "| $label | 32 | ${tps%.*} | $errs |"
done
