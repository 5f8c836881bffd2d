#!/bin/sh
# The API reference builds with LDoc (Debian's lua-ldoc) from config.ld
# without a single warning: LDoc is strict about doc comments (a @param
# naming no argument, an argument with no @param once others have one, a
# comment it cannot attach), and a warning means a page that says
# something false or nothing. Any line LDoc prints other than its two
# progress lines fails; so does a module of config.ld without its page.
# Usage: sh spec/check-ldoc.sh [BUILD_DIR]   (output: BUILD_DIR/docs/api)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out="$build/docs/api"
command -v ldoc >/dev/null 2>&1 || {
  echo "check-ldoc: ldoc is not installed (sh scripts/deps.sh test installs lua-ldoc)"; exit 1; }
cd "$root"
rm -rf "$out"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
ldoc --fatalwarnings -d "$out" . >"$log" 2>&1 || rc=$?
bad=0
if grep -v -e '^reading configuration from config\.ld$' -e "^output written to $out\$" "$log"; then
  echo "check-ldoc: LDoc warned (the lines above): fix the doc comments"
  bad=1
fi
[ "$rc" -eq 0 ] || { echo "check-ldoc: ldoc exited with $rc"; bad=1; }
# every module config.ld lists has its page, with its functions on it
mods=0
for f in $(sed -n 's/^ *"\(lua\/[^"]*\.lua\)",*$/\1/p' config.ld); do
  mods=$((mods + 1))
  m=$(sed -n 's/^-- *@module *\([a-z.]*\)$/\1/p' "$f")
  [ -n "$m" ] || { echo "check-ldoc: $f has no @module"; bad=1; continue; }
  [ -s "$out/modules/$m.html" ] || { echo "check-ldoc: no page for $m ($f)"; bad=1; }
done
[ "$mods" -ge 10 ] || { echo "check-ldoc: config.ld lists $mods modules (want the public ones)"; bad=1; }
grep -q 'Security:hash_password' "$out/modules/fsec.html" ||
  { echo "check-ldoc: fsec's page lacks Security:hash_password"; bad=1; }
[ "$bad" -eq 0 ] || exit 1
echo "check-ldoc: $mods modules, 0 warnings: $out/index.html"
