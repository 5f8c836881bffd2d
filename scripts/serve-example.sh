#!/bin/sh
# Start the OpenResty example app in the foreground.
# Usage: scripts/serve-example.sh [DIR [PORT [WORKERS]]]
#   DIR      where the app lives: config, logs, database, mail (var/example)
#   PORT     127.0.0.1 port (8080)
#   WORKERS  nginx worker processes (2)
# Needs a build (build/luajit/fsec/core.so). The app's Lua files and the
# module are copied into DIR/lib so that workers (user nobody when root)
# can read them wherever the checkout is.
# Installed beside the example (Debian's fsec-example package:
# /usr/share/fsec/examples/openresty/serve.sh DIR), it serves that copy
# of the app with the fsec of the system's Lua paths (lua-fsec); DIR is
# then required.
# FSEC_DATABASE, FSEC_SECRETS_DIR and FSEC_MAIL_DIR put the database, the
# secrets and the mail elsewhere than DIR/var and DIR/secrets (examples/openresty/
# fsec_example.lua: paths), for nodes that share them (run-cluster.sh).
# FSEC_MAIL_SERVER (and FSEC_MAIL_PORT) send real mail over SMTP through
# the outbox (docs/mail.md) instead of files in the mail folder.
# FSEC_DEV_MAILBOX=1 turns on the development mailbox at /mail (every
# reset link readable there: loopback and this site's Host only; see
# examples/openresty/dev_mailbox.lua). Off by default; scripts/run.sh,
# the demo, turns it on.
set -eu
# Secrets, database, mail and logs are the owner's alone: files 0600,
# folders 0700 (a shell's usual umask 022 left the secret key readable
# by every local user, who could then forge an admin's token). nginx and
# bootstrap.lua inherit this umask.
umask 077
here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$here/nginx.conf.in" ]; then # installed beside the example
  root="" ex=$here
  [ $# -ge 1 ] || { echo "usage: $0 DIR [PORT [WORKERS]]" >&2; exit 2; }
  dir=$1
else # scripts/ of a checkout
  root=$(cd "$here/.." && pwd) ex=$root/examples/openresty
  dir=${1:-$root/var/example}
fi
port=${2:-8080}
workers=${3:-2}
# One nginx per DIR: a second start would replace the files the running
# one has mapped (core.so, fsec-argon2) and share its database and logs.
# Checked before anything is touched.
if [ -d "$dir" ]; then dir=$(cd "$dir" && pwd); fi
if [ -f "$dir/logs/nginx.pid" ]; then
  pid=$(cat "$dir/logs/nginx.pid" 2>/dev/null || true)
  case $pid in
    ''|*[!0-9]*) ;;
    *)
      if [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = nginx ]; then
        echo "fsec example: already running from $dir (nginx pid $pid); stop it first (Ctrl-C there, or kill -QUIT $pid)" >&2
        exit 1
      fi ;;
  esac
fi
# A port another program listens on: one clear line, not nginx's bind()
# errors after a banner that said all was well (ss: iproute2, on every
# Debian; without it nginx's own error stands).
if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
  echo "fsec example: port $port is in use (another program listens there); stop it or give another port (PORT=9000 sh scripts/run.sh)" >&2
  exit 1
fi
mkdir -p "$dir/conf" "$dir/logs" "$dir/tmp" "$dir/var/mail" "$dir/lib" "$dir/secrets"
dir=$(cd "$dir" && pwd)
# The secrets live in DIR/secrets, the master's alone (it reads them in
# init_by_lua, before the workers start): never in DIR/var, which the
# workers own (a worker, or any process of their user, could read the
# secret key there and forge every token, or put its own key in). An
# older start kept them in DIR/var: they move.
if [ -z "${FSEC_SECRETS_DIR:-}" ]; then
  for f in secret_key password_salt totp_secret admin-password.txt; do
    if [ -f "$dir/var/$f" ] && [ ! -L "$dir/var/$f" ] && [ ! -e "$dir/secrets/$f" ]; then
      mv "$dir/var/$f" "$dir/secrets/$f"
      [ "$(id -u)" -ne 0 ] || chown root:root "$dir/secrets/$f"
    fi
  done
fi
# Copy each file to a temporary name in its folder, then rename it over
# the old one: a process that has the old file mapped keeps its inode
# (cp over it would rewrite a loaded core.so in place, and fails on a
# running fsec-argon2 with "Text file busy").
install_files() { # SOURCE... FOLDER
  for dest; do :; done
  while [ $# -gt 1 ]; do
    tmp="$dest/.$(basename "$1").tmp.$$"
    cp "$1" "$tmp"
    mv -f "$tmp" "$dest/$(basename "$1")"
    shift
  done
}
install_files "$ex"/fsec_example.lua "$ex"/dev_mailbox.lua "$dir/lib"
if [ -n "$root" ]; then
  mkdir -p "$dir/lib/fsec/datastore" "$dir/lib/fsec/openresty" "$dir/lib/fsec/lang"
  install_files "$root"/lua/fsec.lua "$dir/lib"
  install_files "$root"/lua/fsec/*.lua "$root"/build/luajit/fsec/core.so "$root"/build/luajit/fsec/fsec-argon2 "$dir/lib/fsec"
  install_files "$root"/lua/fsec/datastore/*.lua "$dir/lib/fsec/datastore"
  install_files "$root"/lua/fsec/openresty/*.lua "$dir/lib/fsec/openresty"
  install_files "$root"/lua/fsec/lang/*.lua "$dir/lib/fsec/lang"
else
  # the system's fsec (lua_package_path's ';;'), not one a checkout left
  rm -rf "$dir/lib/fsec" "$dir/lib/fsec.lua"
fi
# What an earlier start (or an older version) left readable is closed;
# data folders hold secrets whoever owns them.
chmod 700 "$dir" "$dir/conf" "$dir/logs" "$dir/tmp" "$dir/var" "$dir/var/mail" "$dir/secrets"
chmod -R go-rwx "$dir/var" "$dir/logs" "$dir/tmp" "$dir/conf" "$dir/secrets"
user_line=""
if [ "$(id -u)" -eq 0 ]; then
  # Workers run as nobody: through group nogroup they reach their data
  # via DIR (searchable, not listable: 0710) and read the code in lib (a
  # copy of the checkout; root-owned, so a worker cannot change what the
  # master loads on a reload). Other users get nothing.
  chgrp nogroup "$dir" && chmod 710 "$dir"
  chgrp -R nogroup "$dir/lib" && chmod -R u=rwX,g=rX,o= "$dir/lib"
  if setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$dir/lib/fsec_example.lua" 2>/dev/null; then
    user_line="user nobody nogroup;"
  else
    # the folder sits where nobody cannot reach it (e.g. under /root)
    echo "fsec example: $dir is not readable by user nobody; nginx workers run as root" >&2
    user_line="user root root;"
    chmod 700 "$dir"
  fi
fi
sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|$workers|g" \
    -e "s|@USER@|$user_line|" "$ex/nginx.conf.in" > "$dir/conf/nginx.conf"
# FSEC_THROTTLE=off: without nginx's per-address limits (and fsec's, in
# fsec_example.lua), for the benchmarks, which load it from one client
if [ "${FSEC_THROTTLE:-}" = off ]; then
  sed -i -e '/limit_conn fsec_credential_conn/d' -e '/limit_req zone=fsec_credential_rate/d' "$dir/conf/nginx.conf"
fi
# links in mail: this site, not the Host header a client sends (set
# before bootstrap.lua too: its fsec.new would warn without it)
FSEC_EXTERNAL_URL=${FSEC_EXTERNAL_URL:-http://127.0.0.1:$port}
export FSEC_EXTERNAL_URL
LUA_PATH="$dir/lib/?.lua;;" LUA_CPATH="$dir/lib/?.so;;" luajit "$ex/bootstrap.lua" "$dir"
if [ "$user_line" = "user nobody nogroup;" ]; then
  chown -R nobody:nogroup "$dir/var" "$dir/tmp"
  # logs/ stays root's: the master opens its files as root, following
  # what the folder holds, so a folder the workers could write would let
  # them point access.log at any file of the system (CVE-2016-1247). They
  # only pass through it (group nogroup): nginx hands a reopened log
  # file (USR1, logrotate) to them, and they reopen it by name. A link
  # left there by an older start, when the workers owned the folder, goes.
  chown root:nogroup "$dir/logs" && chmod 710 "$dir/logs"
  find "$dir/logs" -maxdepth 1 -type l -exec rm -f {} +
  # a database file elsewhere (FSEC_DATABASE; not a postgresql:// URI) is
  # the workers' too, journal files included (its folder is the caller's
  # to open to them: scripts/run-cluster.sh)
  case ${FSEC_DATABASE:-} in
    ''|*://*) ;;
    *) for f in "$FSEC_DATABASE" "$FSEC_DATABASE-wal" "$FSEC_DATABASE-shm"; do
         [ ! -e "$f" ] || chown nobody:nogroup "$f"
       done ;;
  esac
fi
# How to use it, printed once nginx has bound the port: a banner before
# that would send the reader to a URL that refuses connections, or sit
# above nginx's error when it cannot start at all.
secrets=${FSEC_SECRETS_DIR:-$dir/secrets} mail=${FSEC_MAIL_DIR:-$dir/var/mail}
banner() {
  echo "fsec example: http://127.0.0.1:$port/"
  if [ "${FSEC_DEV_MAILBOX:-}" = 1 ]; then
    # loud: whoever reads the mailbox can reset any password (dev_mailbox.lua
    # refused to start unless FSEC_EXTERNAL_URL is a loopback address)
    echo "************************************************************************"
    echo "* DEVELOPMENT MAILBOX ON: $FSEC_EXTERNAL_URL/mail shows every reset and"
    echo "* sign-in link (files in $mail). Loopback clients and Host"
    echo "* $FSEC_EXTERNAL_URL only. Never in production: unset FSEC_DEV_MAILBOX."
    echo "************************************************************************"
  elif [ -n "${FSEC_MAIL_SERVER:-}" ]; then
    echo "mail: SMTP to $FSEC_MAIL_SERVER:${FSEC_MAIL_PORT:-25} through the outbox (docs/mail.md)"
  else
    echo "mail: files in $mail (FSEC_DEV_MAILBOX=1 shows them at /mail)"
  fi
  if [ -f "$secrets/admin-password.txt" ]; then
    echo "admin sign-in (as first set): $(cat "$secrets/admin-password.txt")"
  fi
  echo "logs: $dir/logs/error.log   stop: Ctrl-C"
}
# nginx writes its pid file after it has opened its listening sockets
# (and run init_by_lua): the pid file naming this process (nginx after
# the exec below) means the port answers. A stale one is gone first (the
# check at the top found no nginx behind it). The watcher ends with nginx.
rm -f "$dir/logs/nginx.pid"
(
  while kill -0 $$ 2>/dev/null; do
    if [ "$(cat "$dir/logs/nginx.pid" 2>/dev/null)" = "$$" ]; then banner; exit 0; fi
    sleep 0.1
  done
) &
exec nginx -p "$dir" -c conf/nginx.conf -e logs/error.log
