#!/bin/sh
# A client that floods one endpoint with JSON POSTs, bounded in count,
# rate and time: a batch of RATE requests every second (one curl each,
# PARALLEL of them in flight at most), until STOP exists, MAX requests
# were sent or SECONDS have passed. (Bounded rate: the flooding client runs on the
# machine it attacks, and its own CPU must not be what slows the others.)
# Prints one line per answer: "status seconds retry-after" (retry-after
# empty when there is none); STOP.started appears once it has begun,
# STOP.sent holds how many it sent. While STOP.pause exists it sends no
# new batch (STOP.paused says it is waiting).
# FROM is the source address; with a %d in it, request i comes from FROM
# with i (1..250, cycling) in place of %d: many clients.
# BODY is a printf format: %d becomes the request's number.
# Usage: flood.sh BASE PATH BODY FROM PARALLEL RATE MAX SECONDS STOP
set -eu
base=$1 path=$2 fmt=$3 from=$4 par=$5 rate=$6 max=$7 secs=$8 stop=$9
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
first=$(printf "$from" 1)
# one anonymous CSRF token and its cookie serve every request
T=$(curl -s --interface "$first" -c "$d/jar" -b "$d/jar" -H 'Accept: application/json' "$base/login" |
    sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
# curl's config: one second's batch, RATE requests (awk: no process per
# request); request numbers go on from batch to batch
batch() { # FIRST-NUMBER COUNT
  awk -v first="$1" -v n="$2" -v url="$base$path" -v fmt="$fmt" -v from="$from" -v jar="$d/jar" -v tok="$T" \
      -v secs="$secs" 'BEGIN {
    for (i = first; i < first + n; i++) {
      body = sprintf(fmt, i); gsub(/\\/, "\\\\", body); gsub(/"/, "\\\"", body)
      if (i > first) print "next"
      printf "url = \"%s\"\ndata = \"%s\"\ninterface = \"%s\"\ncookie = \"%s\"\n", url, body, sprintf(from, (i - 1) % 250 + 1), jar
      printf "header = \"Accept: application/json\"\nheader = \"Content-Type: application/json\"\n"
      printf "header = \"X-CSRF-Token: %s\"\nmax-time = %d\noutput = \"/dev/null\"\n", tok, secs
      printf "write-out = \"%%{http_code} %%{time_total} %%header{retry-after}\\\\n\"\n"
    } }' > "$d/cfg.$1"
}
# a batch a second, each printing its answers as they come, until STOP
# appears, MAX requests were sent or SECONDS have passed
end=$(( $(date +%s) + secs ))
sent=0
pids=""
while [ ! -e "$stop" ] && [ "$sent" -lt "$max" ] && [ "$(date +%s)" -lt "$end" ]; do
  if [ -e "$stop.pause" ]; then # paused (STOP.pause): no new batch until it goes
    touch "$stop.paused"
    while [ -e "$stop.pause" ] && [ ! -e "$stop" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
    rm -f "$stop.paused"
    continue
  fi
  n=$rate
  [ $((sent + n)) -gt "$max" ] && n=$((max - sent))
  batch $((sent + 1)) "$n"
  curl -s --no-progress-meter -Z --parallel-immediate --parallel-max "$par" -K "$d/cfg.$((sent + 1))" &
  pids="$pids $!"
  [ -e "$stop.started" ] || touch "$stop.started"
  sent=$((sent + n))
  echo "$sent" > "$stop.sent"
  i=0
  while [ $i -lt 10 ] && [ ! -e "$stop" ] && [ ! -e "$stop.pause" ]; do sleep 0.1; i=$((i + 1)); done
done
alive() { for p in $pids; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while [ ! -e "$stop" ] && [ "$(date +%s)" -lt "$end" ] && alive; do sleep 0.1; done
for p in $pids; do kill "$p" 2>/dev/null || true; done
wait
