# A Debian 12 (bookworm) root for the checks that need a fresh system:
# scripts/fresh-check.sh (the README's commands) and spec/check-deb.sh
# (the .debs installed). Sourced (". scripts/debian-root.sh"), not run.
# Needs root and debootstrap (scripts/deps.sh contrib).

# The Debian mirror the host uses (first non-security one in its sources).
debian_root_mirror() {
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -E '^(URIs:|deb )' | grep -o -E 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ') || true
  echo "${m:-http://deb.debian.org/debian}"
}

# debian_root_make ROOT [PACKAGE,...]: debootstrap a minbase bookworm
# (the smallest Debian: whatever a check needs must come from the
# sources, scripts/deps.sh or the packages under test) into ROOT.
debian_root_make() {
  mirror=$(debian_root_mirror)
  echo "== debootstrap bookworm into $1 ($mirror)"
  debootstrap --variant=minbase ${2:+--include="$2"} bookworm "$1" "$mirror" >"$1.debootstrap.log" 2>&1 \
    || { tail -n 20 "$1.debootstrap.log" >&2; return 1; }
  rm -f "$1.debootstrap.log"
}

# debian_root_host_settings ROOT: the host's apt sources (same mirror),
# CA certificates and DNS.
debian_root_host_settings() {
  rm -f "$1"/etc/apt/sources.list "$1"/etc/apt/sources.list.d/*
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # only Debian's archive: a third-party repository (a newer Node) is
    # what these checks keep out
    if grep -q -E 'debian\.org|/debian' "$f" && ! grep -q -E 'nodesource|google' "$f"; then
      cp "$f" "$1$f"
    fi
  done
  if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$1/usr/local/share/ca-certificates"
    cp -r /usr/local/share/ca-certificates/. "$1/usr/local/share/ca-certificates/"
  fi
  mkdir -p "$1/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
  cp /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
}

# debian_root_mount ROOT / debian_root_umount ROOT: /proc, /sys and /dev
# inside it (umount is safe to call more than once, from a trap).
debian_root_mount() {
  mount -t proc proc "$1/proc"
  mount --rbind /sys "$1/sys" && mount --make-rslave "$1/sys"
  mount --rbind /dev "$1/dev" && mount --make-rslave "$1/dev"
}
debian_root_umount() {
  for m in dev sys proc; do
    if mountpoint -q "$1/$m" 2>/dev/null; then umount -R -l "$1/$m"; fi
  done
}
