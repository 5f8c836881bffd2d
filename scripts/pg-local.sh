#!/bin/sh
# A local PostgreSQL in a folder, from Debian's `postgresql` package: the
# server of scripts/run-cluster.sh (the shell counterpart of
# spec/tools/postgres.lua, which the specs use).
# Usage: scripts/pg-local.sh start DIR [PORT]   prints the client's URI
#        scripts/pg-local.sh stop DIR
#        scripts/pg-local.sh uri DIR
# start, the first time: initdb into DIR/data (as the `postgres` user when
# run as root: PostgreSQL refuses to run as root), listening on 127.0.0.1
# only, on PORT or a free port from 55432, its unix socket in DIR; the
# superuser is trusted on that socket only (DIR is the server owner's
# alone). A role `fsec` with a random password owns the database `fsec`:
# the password never appears on a command line (psql reads the SQL from a
# 0600 file) and clients find it in DIR/pgpass (0600), which the URI names
# (libpq's passfile parameter). Later starts keep the data and the
# password (and the port, unless PORT names another or it is taken).
# stop: a fast shutdown (open sessions are cut), waiting until it is down.
set -eu
cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|uri DIR [PORT]" >&2; exit 2; }
port=${3:-}

# Never the sanitizer's preload, nor a password or service from the
# caller's environment.
CLEAN="env -u LD_PRELOAD -u PGPASSWORD -u PGPASSFILE -u PGSERVICE"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "pg-local: no PostgreSQL server installed (apt-get install postgresql)" >&2
  exit 1
fi
root=""
[ "$(id -u)" -eq 0 ] && root=1

# A command of the server's bin folder, as the server's owner, in DIR.
as_owner() {
  if [ -n "$root" ]; then
    $CLEAN runuser -u postgres -- sh -c "cd '$dir' && $*"
  else
    (cd "$dir" && $CLEAN sh -c "$*")
  fi
}

free_port() { # the first port from $1 that nothing listens on
  p=$1
  while [ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; do
    p=$((p + 1))
    [ "$p" -lt $(($1 + 200)) ] || { echo "pg-local: no free port from $1" >&2; exit 1; }
  done
  echo "$p"
}

conf_port() { sed -n 's/^port = \([0-9]*\).*/\1/p' "$dir/data/postgresql.conf" | tail -n 1; }

uri() { echo "postgresql://fsec@127.0.0.1:$(conf_port)/fsec?passfile=$dir/pgpass"; }

running() {
  pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

init() {
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ -z "$root" ] || chown postgres: "$dir"
  as_owner true 2>/dev/null || { echo "pg-local: the postgres user cannot reach $dir (a folder above it is closed to other users)" >&2; exit 1; }
  as_owner "$bin/initdb -D data -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >initdb.log 2>&1" \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # the socket folder is DIR: only the server's owner reaches it
  printf "\n# scripts/pg-local.sh\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nlogging_collector = off\n" \
    "$dir" >> "$dir/data/postgresql.conf"
}

# The role and its database, once: the password goes through a file
# only the server's owner reads, and into the client's password file.
make_role() {
  password=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  ( umask 077
    printf "CREATE ROLE fsec LOGIN PASSWORD '%s';\nCREATE DATABASE fsec OWNER fsec;\n" "$password" > "$dir/role.sql"
    printf '127.0.0.1:*:fsec:fsec:%s\n' "$password" > "$dir/pgpass.new" )
  [ -z "$root" ] || chown postgres "$dir/role.sql"
  ok=1
  as_owner "$bin/psql -XAtq -v ON_ERROR_STOP=1 -h '$dir' -p $(conf_port) -U postgres -d postgres -f role.sql >/dev/null 2>&1" || ok=""
  rm -f "$dir/role.sql"
  [ -n "$ok" ] || { rm -f "$dir/pgpass.new"; echo "pg-local: making the role fsec failed" >&2; exit 1; }
  mv "$dir/pgpass.new" "$dir/pgpass"
}

case $cmd in
  start)
    dir=$(mkdir -p "$dir" && cd "$dir" && pwd)
    [ -f "$dir/data/PG_VERSION" ] || init
    attempt=0
    while ! running; do
      # the port: the one asked for, else the one used before while free
      attempt=$((attempt + 1))
      want=${port:-$(conf_port)}
      if [ -z "$want" ] || { [ -z "$port" ] && [ -n "$(ss -Hltn "sport = :$want" 2>/dev/null)" ]; }; then
        want=$(free_port $((55432 + 7 * (attempt - 1))))
      fi
      [ "$want" = "$(conf_port)" ] || echo "port = $want" >> "$dir/data/postgresql.conf"
      as_owner "$bin/pg_ctl -D data -l server.log -w -t 30 start >/dev/null 2>&1" && break
      # another program may take a free port before the server binds it:
      # a port of our choosing is chosen again (5 tries)
      if [ -n "$port" ] || [ "$attempt" -ge 5 ] || ! grep -q "could not bind" "$dir/server.log"; then
        echo "pg-local: PostgreSQL did not start:" >&2; tail -n 20 "$dir/server.log" >&2; exit 1
      fi
      port_taken=$want
      sed -i "/^port = $port_taken\$/d" "$dir/data/postgresql.conf"
    done
    [ -f "$dir/pgpass" ] || make_role
    uri ;;
  stop)
    [ -d "$dir/data" ] || exit 0
    dir=$(cd "$dir" && pwd)
    if running; then
      as_owner "$bin/pg_ctl -D data -m fast -w -t 30 stop >/dev/null 2>&1" || true
      n=0
      while running && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    fi ;;
  uri)
    dir=$(cd "$dir" && pwd)
    uri ;;
  *) echo "usage: $0 start|stop|uri DIR [PORT]" >&2; exit 2 ;;
esac
