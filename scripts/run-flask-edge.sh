#!/bin/sh
# Run examples/flask-edge in the foreground: a Flask-Security app served by
# gunicorn on 127.0.0.1:UPSTREAM_PORT, behind nginx + fsec on 127.0.0.1:PORT.
# Usage: scripts/run-flask-edge.sh [DIR [PORT [UPSTREAM_PORT]]]
#   DIR            where it lives: conf, logs, the app's database and secrets (var/flask-edge)
#   PORT           nginx's port (8090)
#   UPSTREAM_PORT  gunicorn's port (PORT + 1)
# Needs a build (build/luajit/fsec/core.so), nginx with the Lua module,
# gunicorn and python3-flask-security (scripts/deps.sh test). Ctrl-C stops
# both. The demo users' passwords are in DIR/var/alice-password and
# DIR/var/bob-password (or ALICE_PASSWORD / BOB_PASSWORD at the first start).
# FLASK_EDGE_WORKERS: gunicorn's workers (2).
set -eu
umask 077 # secrets, database and logs: the owner's alone
root=$(cd "$(dirname "$0")/.." && pwd)
ex=$root/examples/flask-edge
dir=${1:-$root/var/flask-edge}
port=${2:-8090}
up=${3:-$((port + 1))}
so=$root/build/luajit/fsec/core.so
[ -f "$so" ] || { echo "flask-edge: no $so: build first (cmake -S . -B build && cmake --build build)" >&2; exit 1; }
if [ -f "$dir/logs/nginx.pid" ] && kill -0 "$(cat "$dir/logs/nginx.pid")" 2>/dev/null; then
  echo "flask-edge: already running from $dir (nginx pid $(cat "$dir/logs/nginx.pid"))" >&2
  exit 1
fi
for p in "$port" "$up"; do
  if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
    echo "flask-edge: port $p is in use; give others (scripts/run-flask-edge.sh DIR PORT UPSTREAM_PORT)" >&2
    exit 1
  fi
done
mkdir -p "$dir/conf" "$dir/logs" "$dir/tmp" "$dir/var" "$dir/lib"
dir=$(cd "$dir" && pwd)

# The code: fsec's Lua and core.so, nginx's side, the Flask app.
cp -R "$root/lua/." "$dir/lib/"
cp "$so" "$dir/lib/fsec/core.so"
cp "$ex/flask_edge.lua" "$ex/app.py" "$dir/lib/"

# Secrets, made once: the Flask app's SECRET_KEY and salt (fsec verifies
# the app's credentials with them), fsec's own key, and the edge's secret
# that nginx adds to every request it passes (the app requires it).
random() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
for name in flask_secret_key password_salt fsec_secret_key edge_secret; do
  [ -s "$dir/var/$name" ] || random > "$dir/var/$name"
done
[ -s "$dir/var/alice-password" ] || printf '%s' "${ALICE_PASSWORD:-$(random | cut -c1-16)}" > "$dir/var/alice-password"
[ -s "$dir/var/bob-password" ] || printf '%s' "${BOB_PASSWORD:-$(random | cut -c1-16)}" > "$dir/var/bob-password"
(cd "$dir/lib" && FLASK_EDGE_VAR=$dir/var ALICE_PASSWORD=$(cat "$dir/var/alice-password") \
  BOB_PASSWORD=$(cat "$dir/var/bob-password") /usr/bin/python3 app.py init)

# As root, nginx's workers and gunicorn run as nobody (as
# scripts/serve-example.sh): they read the code, and own the data.
user_line="" guser=""
chmod 700 "$dir" "$dir/var" "$dir/logs" "$dir/tmp" "$dir/conf"
if [ "$(id -u)" -eq 0 ]; then
  chgrp nogroup "$dir" && chmod 710 "$dir"
  chgrp -R nogroup "$dir/lib" && chmod -R u=rwX,g=rX,o= "$dir/lib"
  if setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$dir/lib/app.py" 2>/dev/null; then
    chown -R nobody:nogroup "$dir/var" "$dir/tmp" "$dir/logs"
    user_line="user nobody nogroup;" guser="--user nobody --group nogroup"
  else
    echo "flask-edge: $dir is not reachable by user nobody; everything runs as root" >&2
    user_line="user root root;"
    chmod 700 "$dir"
  fi
fi

sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@UPSTREAM_PORT@|$up|g" \
    -e "s|@USER@|$user_line|" "$ex/nginx.conf.in" > "$dir/conf/nginx.conf"

# gunicorn, on loopback; its access log names the path only (no tokens)
cd "$dir/lib"
# shellcheck disable=SC2086
FLASK_EDGE_VAR=$dir/var gunicorn --bind "127.0.0.1:$up" --workers "${FLASK_EDGE_WORKERS:-2}" $guser \
  --pid "$dir/logs/gunicorn.pid" --error-logfile "$dir/logs/gunicorn.log" \
  --access-logfile "$dir/logs/gunicorn-access.log" --access-logformat '%(h)s %(t)s "%(m)s %(U)s" %(s)s' \
  app:app &
gpid=$!
stop() { kill "$gpid" 2>/dev/null || true; wait "$gpid" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$up/healthz")" != 000 ]; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 "$gpid" 2>/dev/null; then
    echo "flask-edge: gunicorn did not start:" >&2; cat "$dir/logs/gunicorn.log" >&2; exit 1
  fi
  sleep 0.1
done
echo "flask-edge: http://127.0.0.1:$port/ (Flask on 127.0.0.1:$up); users alice@example.com, bob@example.com"
echo "flask-edge: passwords in $dir/var/alice-password, bob-password; stop: Ctrl-C"
nginx -p "$dir" -c conf/nginx.conf -e logs/error.log
