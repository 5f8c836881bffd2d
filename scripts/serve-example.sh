#!/bin/sh
# Start the OpenResty example app in the foreground.
# Usage: scripts/serve-example.sh [DIR [PORT [WORKERS]]]
#   DIR      where the app lives: config, logs, database, mail (var/example)
#   PORT     127.0.0.1 port (8080)
#   WORKERS  nginx worker processes (2)
# Needs a build (build/luajit/fsec/core.so). The app's Lua files and the
# module are copied into DIR/lib so that workers (user nobody when root)
# can read them wherever the checkout is.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/var/example}
port=${2:-8080}
workers=${3:-2}
mkdir -p "$dir/conf" "$dir/logs" "$dir/tmp" "$dir/var/mail" "$dir/lib/fsec"
dir=$(cd "$dir" && pwd)
cp "$root"/lua/fsec.lua "$dir/lib/"
cp "$root"/lua/fsec/*.lua "$dir/lib/fsec/"
mkdir -p "$dir/lib/fsec/datastore"
cp "$root"/lua/fsec/datastore/*.lua "$dir/lib/fsec/datastore/"
cp "$root"/build/luajit/fsec/core.so "$root"/build/luajit/fsec/fsec-argon2 "$dir/lib/fsec/"
cp "$root"/examples/openresty/fsec_example.lua "$dir/lib/"
user_line=""
if [ "$(id -u)" -eq 0 ]; then
  if setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$dir/lib/fsec.lua" 2>/dev/null; then
    user_line="user nobody nogroup;"
  else
    # the folder sits where nobody cannot reach it (e.g. under /root)
    echo "fsec example: $dir is not readable by user nobody; nginx workers run as root" >&2
    user_line="user root root;"
  fi
fi
sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|$workers|g" \
    -e "s|@USER@|$user_line|" "$root/examples/openresty/nginx.conf.in" > "$dir/conf/nginx.conf"
LUA_PATH="$dir/lib/?.lua;;" LUA_CPATH="$dir/lib/?.so;;" luajit "$root/examples/openresty/bootstrap.lua" "$dir"
if [ "$user_line" = "user nobody nogroup;" ]; then
  chown -R nobody:nogroup "$dir/var" "$dir/tmp" "$dir/logs"
fi
echo "fsec example: http://127.0.0.1:$port/   (mailbox: http://127.0.0.1:$port/mail, files in $dir/var/mail)"
[ -f "$dir/var/admin-password.txt" ] && echo "admin sign-in: $(cat "$dir/var/admin-password.txt")"
echo "logs: $dir/logs/error.log   stop: Ctrl-C"
# links in mail: this site, not the Host header a client sends
FSEC_EXTERNAL_URL=${FSEC_EXTERNAL_URL:-http://127.0.0.1:$port}
export FSEC_EXTERNAL_URL
exec nginx -p "$dir" -c conf/nginx.conf -e logs/error.log
