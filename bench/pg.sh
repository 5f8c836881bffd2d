#!/bin/sh
# A local PostgreSQL for the benchmarks (issue 22): Debian's `postgresql`
# package, initdb into DIR, loopback only, stock settings (fsync and
# synchronous_commit on: the figures are a durable server's).
#   sh bench/pg.sh start DIR   initdb (first time) and start; prints the
#                              libpq URI of the benchmark role (also in DIR/uri)
#   sh bench/pg.sh db DIR NAME another database NAME of the same role on
#                              the running server; prints its URI
#   sh bench/pg.sh stop DIR    stop it (DIR is kept; rm -rf it yourself)
# The shell twin of spec/tools/postgres.lua (the specs' server), same
# rules: as root the server runs as `postgres`; the superuser is trusted
# on the unix socket in DIR only; the role `fsec` logs in over TCP with a
# random password that never appears on a command line: it is created
# through psql's stdin and clients read it from DIR/pgpass (0600), which
# the URI names (libpq's passfile parameter).
# FSEC_PG_DB: the database name (fsec_bench).
set -eu
cmd=${1:-}; dir=${2:-}
usage="usage: sh bench/pg.sh start|stop DIR | db DIR NAME"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "$usage" >&2; exit 2; }
db=${FSEC_PG_DB:-fsec_bench}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] \
  || { echo "bench/pg.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
CLEAN="env -u LD_PRELOAD -u PGPASSWORD -u PGPASSFILE -u PGSERVICE"

# as_owner COMMAND: run a server command as the owner of DIR, in DIR.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    $CLEAN runuser -u postgres -- sh -c "cd '$dir' && $*"
  else
    $CLEAN sh -c "cd '$dir' && $*"
  fi
}

free_port() {
  p=$((40000 + $$ % 5000))
  while ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
  echo "$p"
}

case $cmd in
  start)
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb -D data -U postgres --auth-local=trust --auth-host=scram-sha-256 \
                -E UTF8 --locale=C.UTF-8 >initdb.log 2>&1" \
        || { cat "$dir/initdb.log" >&2; exit 1; }
      port=$(free_port)
      cat >> "$dir/data/postgresql.conf" <<EOF

# bench/pg.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
logging_collector = off
EOF
      fresh=1
    else
      port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$dir/data/postgresql.conf" | tail -n 1)
      fresh=0
    fi
    as_owner "$bin/pg_ctl -D data -l server.log -w -t 60 start >/dev/null 2>&1" \
      || { cat "$dir/server.log" >&2; echo "bench/pg.sh: PostgreSQL did not start" >&2; exit 1; }
    if [ "$fresh" = 1 ]; then
      pw=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
      (umask 077; printf '127.0.0.1:%s:%s:fsec:%s\n' "$port" "$db" "$pw" > "$dir/pgpass")
      printf "CREATE ROLE fsec LOGIN PASSWORD '%s';\nCREATE DATABASE %s OWNER fsec;\n" "$pw" "$db" \
        | as_owner "$bin/psql -XAtq -v ON_ERROR_STOP=1 -h '$dir' -p $port -U postgres -d postgres >/dev/null"
      unset pw
    fi
    uri="postgresql://fsec@127.0.0.1:$port/$db?passfile=$dir/pgpass"
    echo "$uri" > "$dir/uri"
    echo "$uri" ;;
  db)
    name=${3:-}
    case $name in ''|*[!a-z0-9_]*) echo "bench/pg.sh: a database name is [a-z0-9_]+" >&2; exit 2 ;; esac
    dir=$(cd "$dir" && pwd)
    port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$dir/data/postgresql.conf" | tail -n 1)
    echo "CREATE DATABASE $name OWNER fsec;" \
      | as_owner "$bin/psql -XAtq -v ON_ERROR_STOP=1 -h '$dir' -p $port -U postgres -d postgres >/dev/null"
    # the role's password line, for this database too
    pw=$(head -n 1 "$dir/pgpass" | cut -d: -f5)
    (umask 077; printf '127.0.0.1:%s:%s:fsec:%s\n' "$port" "$name" "$pw" >> "$dir/pgpass")
    unset pw
    echo "postgresql://fsec@127.0.0.1:$port/$name?passfile=$dir/pgpass" ;;
  stop)
    dir=$(cd "$dir" && pwd)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$bin/pg_ctl -D data -m fast -w -t 60 stop >/dev/null 2>&1" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
