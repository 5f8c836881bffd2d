#!/bin/sh
# Build fsec's Debian packages (debian/) from this checkout's sources:
# git's files (committed or not; never ignored ones such as build/), or
# for an unpacked tarball everything but builds, copied to a temporary
# folder with the orig tarball source format 3.0 (quilt) wants, then
# `dpkg-buildpackage -us -uc` there. Needs what debian/control's
# Build-Depends name (sh scripts/deps.sh deb); not root.
#   sh scripts/build-deb.sh [OUTDIR]     (OUTDIR: debs)
# OUTDIR gets the five packages (libfsec0, libfsec-dev, lua-fsec, fsec,
# fsec-example), OUTDIR/extra the rest: debug symbols, source package,
# .changes, build log. docs/debian.md says what each package holds.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-debs}
fail() { echo "build-deb: $*" >&2; exit 1; }
for t in dpkg-buildpackage dpkg-parsechangelog dh; do
  command -v $t >/dev/null || fail "$t missing: sh scripts/deps.sh deb"
done

# debian/changelog carries CMakeLists.txt's version.
version=$(sed -n 's/^project(fsec VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || fail "no project(fsec VERSION ...) in CMakeLists.txt"
debversion=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[ "${debversion%-*}" = "$version" ] ||
  fail "debian/changelog is at $debversion, CMakeLists.txt at $version"

mkdir -p "$out/extra"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/fsec-$version"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # files deleted but not yet committed are left out
  (cd "$src" && git ls-files -co --exclude-standard -z |
     xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
     tar --null -T - -cf -) | tar -xf - -C "$tmp/fsec-$version"
else
  (cd "$src" && tar -cf - --exclude=./build --exclude='./build-*' --exclude=./build.luarocks \
     --exclude=./var --exclude=./debs --exclude=node_modules .) | tar -xf - -C "$tmp/fsec-$version"
fi
(cd "$tmp" && tar --exclude="fsec-$version/debian" -cJf "fsec_$version.orig.tar.xz" "fsec-$version")
echo "build-deb: dpkg-buildpackage -us -uc (fsec $debversion; log: $out/extra/build.log)"
(cd "$tmp/fsec-$version" && dpkg-buildpackage -us -uc -j"$(nproc)") > "$out/extra/build.log" 2>&1 ||
  { tail -n 40 "$out/extra/build.log" >&2; fail "dpkg-buildpackage failed"; }
for p in libfsec0 libfsec-dev lua-fsec fsec fsec-example; do
  set -- "$tmp/${p}_${debversion}"_*.deb
  [ -f "$1" ] || fail "no $p package was built"
  mv "$1" "$out/"
done
find "$tmp" -maxdepth 1 -type f -exec mv {} "$out/extra/" \;
echo "build-deb: $(cd "$out" && echo *.deb) in $out"
