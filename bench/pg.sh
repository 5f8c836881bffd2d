#!/bin/sh
# A local PostgreSQL for the benchmarks (issue 22): scripts/pg-local.sh's
# server (Debian's package, initdb into DIR, loopback only, the role
# `fsec` whose random password is only in DIR/pgpass, which the URI
# names), with stock settings: fsync and synchronous_commit on, so the
# figures are a durable server's. The benchmarks add what they need:
#   sh bench/pg.sh start DIR     start (initdb the first time); prints the
#                                URI of the database fsec (also in DIR/uri)
#   sh bench/pg.sh db DIR NAME   another database NAME of the role on the
#                                running server; prints its URI
#   sh bench/pg.sh stop DIR      stop it (DIR is kept; rm -rf it yourself)
set -eu
cmd=${1:-}; dir=${2:-}
usage="usage: sh bench/pg.sh start|stop DIR | db DIR NAME"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "$usage" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
local_pg() { sh "$here/scripts/pg-local.sh" "$@"; }

case $cmd in
  start)
    uri=$(local_pg start "$dir")
    echo "$uri" > "$dir/uri"
    echo "$uri" ;;
  db)
    name=${3:-}
    case $name in ''|*[!a-z0-9_]*) echo "bench/pg.sh: a database name is [a-z0-9_]+" >&2; exit 2 ;; esac
    dir=$(cd "$dir" && pwd)
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    port=$(sed -n 's/^port = \([0-9]*\).*/\1/p' "$dir/data/postgresql.conf" | tail -n 1)
    # as the superuser, on the unix socket in DIR (the server's owner's)
    sql="CREATE DATABASE $name OWNER fsec;"
    if [ "$(id -u)" -eq 0 ]; then
      echo "$sql" | env -u LD_PRELOAD runuser -u postgres -- \
        "$bin/psql" -XAtq -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres >/dev/null
    else
      echo "$sql" | env -u LD_PRELOAD "$bin/psql" -XAtq -v ON_ERROR_STOP=1 -h "$dir" -p "$port" \
        -U postgres -d postgres >/dev/null
    fi
    # the role's password for this database too, in the same 0600 file
    pw=$(head -n 1 "$dir/pgpass" | cut -d: -f5)
    printf '127.0.0.1:*:%s:fsec:%s\n' "$name" "$pw" >> "$dir/pgpass"
    unset pw
    echo "postgresql://fsec@127.0.0.1:$port/$name?passfile=$dir/pgpass" ;;
  stop) local_pg stop "$dir" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
