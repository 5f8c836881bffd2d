#!/bin/sh
# ctest bench.pg: the PostgreSQL benchmarks run for real, on a real server,
# and say what they claim (issue 22). bench/pg.sh starts a server in a
# temporary folder; bench_pg fills it and prints its six rows with figures;
# bench/pg_capacity.sh measures every operation (and, with pgbouncer, shows
# the transaction-mode failure of per-connection prepared statements that
# docs/scaling.md builds on); bench/flask/app.py (the Flask-Security peer)
# makes its users on PostgreSQL through psycopg2; the server stops.
# Usage: sh bench/check-pg.sh BENCH_PG   (the built bench_pg)
# Exit 77 (skipped) without PostgreSQL, unless FSEC_REQUIRE_PG=1.
set -eu
cd "$(dirname "$0")/.."
bench_pg=$1
fail() { echo "bench.pg: $*" >&2; exit 1; }
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  [ "${FSEC_REQUIRE_PG:-0}" = 1 ] && fail "PostgreSQL is not installed (sh scripts/deps.sh bench)"
  echo "bench.pg: skipped, PostgreSQL is not installed"; exit 77
fi
dir=$(mktemp -d /tmp/fsec-pg-check-XXXXXX)
chmod 755 "$dir"
trap 'sh bench/pg.sh stop "$dir/pg" 2>/dev/null || true; rm -rf "$dir"' EXIT

uri=$(sh bench/pg.sh start "$dir/pg")
case $uri in "postgresql://fsec@127.0.0.1:"*"/fsec?passfile=$dir/pg/pgpass") ;;
  *) fail "bench/pg.sh start printed '$uri'" ;; esac
[ "$(stat -c %a "$dir/pg/pgpass")" = 600 ] || fail "the passfile is not 0600"
grep -q "$(cut -d: -f5 "$dir/pg/pgpass")" "$dir/pg/uri" && fail "the password is in the URI"
psql() { env -u LD_PRELOAD -u PGPASSWORD -u PGPASSFILE /usr/bin/psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

# bench_pg: the tables with 300 users, then its rows, each with a figure
"$bench_pg" "$uri" 300 1 > "$dir/store.md" 2> "$dir/store.err" || { cat "$dir/store.err" >&2; fail "bench_pg failed"; }
[ "$(psql "$uri" -c 'select count(*) from users u join roles_users ru on ru.user_id = u.id')" -ge 300 ] \
  || fail "bench_pg did not make 300 users with their role"
rows=$(awk -F'|' 'NF >= 6 && $4 ~ / [0-9]+\.[0-9]+ (us|ms) *$/ { n++ } END { print n + 0 }' "$dir/store.md")
[ "$rows" -eq 6 ] || { cat "$dir/store.md" >&2; fail "bench_pg printed $rows rows with a raw figure, not 6"; }
if [ -f core/src/store_pg.c ]; then  # the lead's slot is filled: fsec's column has figures too
  grep -q '(store)' "$dir/store.md" && fail "the store has its PostgreSQL backend but bench_pg did not run it"
else
  [ "$(grep -c '| (store) |' "$dir/store.md")" -eq 6 ] || fail "bench_pg: fsec's column should wait for the store"
fi
logins=$(psql "$uri" -c 'select count(*) from sessions')
[ "$logins" -ge 40 ] || fail "bench_pg's login writes left $logins sessions"

# pg_capacity: every operation measured, commits counted as made
FSEC_BENCH_FSYNC_SECONDS=0 FSEC_BENCH_PG_BIN=$bench_pg sh bench/pg_capacity.sh "$dir/pg" 300 1 2 1 > "$dir/cap.md" \
  || { cat "$dir/cap.md" >&2; fail "bench/pg_capacity.sh failed"; }
for op in token login login1 login1_notify register register_epoch logout logout_epoch; do
  awk -F'|' -v op="$op" '$2 ~ "^ " op " $" && $4 + 0 > 0 { ok = 1 } END { exit !ok }' "$dir/cap.md" \
    || { cat "$dir/cap.md" >&2; fail "no figure for $op"; }
done
awk -F'|' '$2 == " login " { exit !($6 + 0 > 2.9 * $4 && $6 + 0 < 3.1 * $4 + 1) }' "$dir/cap.md" \
  || fail "a login is 3 commits"
if command -v pgbouncer >/dev/null; then
  grep -q '| unnamed .* | none |$' "$dir/cap.md" || { cat "$dir/cap.md" >&2; fail "pgbouncer: unnamed statements failed"; }
  grep -q '| named, prepared .*prepared statement already exists' "$dir/cap.md" \
    || { cat "$dir/cap.md" >&2; fail "pgbouncer 1.18 in transaction mode took named prepared statements"; }
fi

# the peer on PostgreSQL (bench/compare_flask.sh with FSEC_BENCH_PG)
furi=$(sh bench/pg.sh db "$dir/pg" flask_check)
export BENCH_DIR="$dir/flask" BENCH_DATABASE_URI="postgresql+psycopg2://${furi#postgresql://}"
/usr/bin/python3 bench/flask/app.py init 2 check-password-1 || fail "the Flask-Security peer did not start on PostgreSQL"
[ "$(/usr/bin/python3 bench/flask/app.py count)" = 3 ] || fail "the peer's users are not in PostgreSQL"
[ "$(psql "$furi" -c 'select count(*) from "user"')" = 3 ] || fail "the peer's users are not in PostgreSQL"
[ ! -e "$dir/flask/auth.db" ] || fail "the peer wrote a SQLite file"

sh bench/pg.sh stop "$dir/pg"
[ ! -e "$dir/pg/data/postmaster.pid" ] || fail "the server did not stop"
echo "bench.pg: ok"
