#!/bin/sh
# The scale-out example: two nodes of the example app (nginx + fsec,
# WORKERS workers each) on one PostgreSQL, behind a third nginx that
# balances between them (round robin), all on 127.0.0.1, in the
# foreground; Ctrl-C stops all of it, PostgreSQL too.
#   PORT=9000 PG_PORT=55440 WORKERS=2 sh scripts/run-cluster.sh
# The balancer listens on PORT (8080), the nodes on PORT+1 and PORT+2,
# PostgreSQL on PG_PORT (else the port it had, or a free one from 55432).
# Everything lives in var/cluster (CLUSTER_DIR), the owner's alone: pg/ (the server
# and its data, kept across runs: scripts/pg-local.sh), secrets/ (the
# secret key, the salt and the admin's first password: one set that both
# nodes sign and hash with), db/ (the workers' copy of the database
# password file), mail/ (both nodes' mail), a/ and b/ (the nodes:
# scripts/serve-example.sh), lb/ (the balancer).
# CLUSTER_DB=sqlite: both nodes on one SQLite file (var/cluster/db/auth.db)
# instead, without PostgreSQL: one machine only (SQLite's locks do not
# cross machines), for trying the nodes without a server.
# As scripts/run.sh, the demo turns the development mailbox on
# (FSEC_DEV_MAILBOX=0 turns it off); mail links name the balancer.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
kind=${CLUSTER_DB:-postgresql}
case $kind in
  postgresql|sqlite) ;;
  *) echo "run-cluster: CLUSTER_DB is postgresql or sqlite, not '$kind'" >&2; exit 2 ;;
esac
port=${PORT:-8080} workers=${WORKERS:-2}
port_a=$((port + 1)) port_b=$((port + 2))
for p in "$port" "$port_a" "$port_b"; do # before anything starts: one clear line
  if [ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
    echo "run-cluster: port $p is in use (the balancer takes PORT, the nodes PORT+1 and PORT+2); give another PORT" >&2
    exit 1
  fi
done
scripts/deps.sh cluster
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

umask 077 # secrets, data and logs: files 0600, folders 0700
var=${CLUSTER_DIR:-$root/var/cluster}
mkdir -p "$var"
var=$(cd "$var" && pwd)
mkdir -p "$var/secrets" "$var/db" "$var/mail" "$var/lb/conf" "$var/lb/logs" "$var/lb/tmp"
worker_user=""
if [ "$(id -u)" -eq 0 ]; then
  # nginx workers run as nobody (scripts/serve-example.sh) and PostgreSQL
  # as postgres: they pass through var/ and var/cluster (searchable, not
  # listable) to what is theirs (the database and the mail; pg/); the
  # secrets stay root's (nginx's master reads them).
  chmod 711 "$var"
  [ "$var" != "$root/var/cluster" ] || chmod 711 "$root/var"
  chown nobody:nogroup "$var/db" "$var/mail" "$var/lb/tmp"
  worker_user="user nobody nogroup;"
fi

pids=""
stop_all() {
  trap - INT TERM EXIT
  for pid in $pids; do kill -QUIT "$pid" 2>/dev/null || true; done
  for pid in $pids; do # nginx's graceful stop, then a hard one after 10 s
    n=0
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$kind" = postgresql ]; then sh scripts/pg-local.sh stop "$var/pg"; fi
  echo "run-cluster: stopped"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

if [ "$kind" = postgresql ]; then
  uri=$(sh scripts/pg-local.sh start "$var/pg" "${PG_PORT:-}")
  # the workers' copy of the password file (they connect; the server's
  # folder is the postgres user's alone)
  cp "$var/pg/pgpass" "$var/db/pgpass.tmp" && mv -f "$var/db/pgpass.tmp" "$var/db/pgpass"
  [ -z "$worker_user" ] || chown nobody:nogroup "$var/db/pgpass"
  FSEC_DATABASE=$(echo "$uri" | sed "s|passfile=.*|passfile=$var/db/pgpass|")
else
  FSEC_DATABASE=$var/db/auth.db
fi
FSEC_SECRETS_DIR=$var/secrets FSEC_MAIL_DIR=$var/mail
FSEC_EXTERNAL_URL=http://127.0.0.1:$port # mail links: the balancer's site
FSEC_DEV_MAILBOX=${FSEC_DEV_MAILBOX:-1}
export FSEC_DATABASE FSEC_SECRETS_DIR FSEC_MAIL_DIR FSEC_EXTERNAL_URL FSEC_DEV_MAILBOX

up() { grep -q "stop: Ctrl-C" "$1" 2>/dev/null; } # serve-example.sh's banner is out
start_node() { # NAME PORT: in the background, its output in var/cluster/NAME.out
  sh scripts/serve-example.sh "$var/$1" "$2" "$workers" > "$var/$1.out" 2>&1 &
  pids="$pids $!"
}
wait_node() { # NAME PID
  while ! up "$var/$1.out"; do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "run-cluster: node $1 did not start:" >&2
      cat "$var/$1.out" >&2
      exit 1
    fi
    sleep 0.1
  done
}
# On PostgreSQL both nodes start at once (bootstrap.lua takes whatever the
# other made first). On SQLite b starts once a's workers hold the file
# open: its first opener's journal files are then a's workers' own.
start_node a "$port_a"
pid_a=${pids##* }
[ "$kind" = postgresql ] || wait_node a "$pid_a"
start_node b "$port_b"
wait_node a "$pid_a"
wait_node b "${pids##* }"

# The balancer: round robin over the two nodes. A POST is never sent to
# the second node after the first took it (nginx's default for requests
# that are not idempotent), so a registration is not made twice. The
# nodes see the balancer's address: in production give them the
# client's with the realip module (docs/openresty.md).
cat > "$var/lb/conf/nginx.conf" <<EOF
# made by scripts/run-cluster.sh
$worker_user
daemon off;
master_process on;
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 1024; }
http {
  # the path only, as the nodes log it (examples/openresty/nginx.conf.in):
  # no query string (?auth_token=...), no mailed link's token
  map \$uri \$fsec_log_path {
    ~^(/(?:reset|confirm|login|change-email|tf-setup|us-setup|wan-register|wan-signin|wan-verify))/[^/]+\$  \$1/<token>;
    default                              \$uri;
  }
  log_format cluster '\$remote_addr [\$time_local] "\$request_method \$fsec_log_path" \$status -> \$upstream_addr';
  access_log logs/access.log cluster;
  client_body_temp_path tmp/body;
  proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi;
  scgi_temp_path tmp/scgi;
  upstream fsec_nodes {
    server 127.0.0.1:$port_a;
    server 127.0.0.1:$port_b;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://fsec_nodes;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;   # the site's Host, as the mailbox's fence wants it
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
EOF
nginx -p "$var/lb" -c conf/nginx.conf -e logs/error.log &
pid_lb=$!
pids="$pids $pid_lb"
while [ "$(cat "$var/lb/logs/nginx.pid" 2>/dev/null)" != "$pid_lb" ]; do
  kill -0 "$pid_lb" 2>/dev/null || { echo "run-cluster: the balancer did not start:" >&2; cat "$var/lb/logs/error.log" >&2; exit 1; }
  sleep 0.1
done

echo "fsec cluster: http://127.0.0.1:$port/ (balancer) -> nodes a :$port_a and b :$port_b, $workers workers each"
if [ "$kind" = postgresql ]; then
  echo "database: PostgreSQL $(echo "$FSEC_DATABASE" | sed 's|?.*||') (data in $var/pg; log $var/pg/server.log)"
else
  echo "database: SQLite $FSEC_DATABASE (one machine only)"
fi
if [ "$FSEC_DEV_MAILBOX" = 1 ]; then
  echo "DEVELOPMENT MAILBOX ON: $FSEC_EXTERNAL_URL/mail shows every reset and sign-in link (never in production)"
else
  echo "mail: files in $var/mail"
fi
if [ -f "$var/secrets/admin-password.txt" ]; then
  echo "admin sign-in (as first set): $(cat "$var/secrets/admin-password.txt")"
fi
echo "logs: $var/a/logs/error.log $var/b/logs/error.log $var/lb/logs/ (access.log names the node)"
echo "stop: Ctrl-C"
# Until Ctrl-C (the traps stop everything), or until one part dies: then
# the rest is stopped too.
while :; do
  for pid in $pids; do
    kill -0 "$pid" 2>/dev/null || { echo "run-cluster: a part stopped (pid $pid); stopping the rest" >&2; exit 1; }
  done
  sleep 1
done
