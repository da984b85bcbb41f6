#!/usr/bin/env bash
# Make (once) and print the path of a cached Debian 12 minbase tree that can boot under
# systemd-nspawn and install the sysmond .deb without network: systemd, dbus, curl and
# the package's Depends are in it already. The tree is never booted itself: the test
# copies it. Cached under $SYSMOND_TEST_CACHE (default /var/cache/sysmond-test), keyed by
# suite + package list, so a change of either makes a new tree.
#   usage: packaging/mkroot.sh            -> prints the tree's path on stdout
set -euo pipefail
SUITE=bookworm
MIRROR=${SYSMOND_TEST_MIRROR:-http://deb.debian.org/debian}
# systemd + systemd-sysv + dbus: a bootable init; curl: the HTTP checks from inside;
# python3 (3.11) and libpython3.11-stdlib: the .deb's Depends; procps: ps/pgrep for checks.
INCLUDE=systemd,systemd-sysv,dbus,curl,ca-certificates,python3,python3.11,procps
CACHE=${SYSMOND_TEST_CACHE:-/var/cache/sysmond-test}
key=$(printf '%s %s %s' "$SUITE" "$INCLUDE" 1 | sha256sum | cut -c1-12)
tree=$CACHE/$SUITE-$key
if [ -f "$tree/.sysmond-complete" ]; then echo "$tree"; exit 0; fi
command -v debootstrap >/dev/null || { echo "debootstrap not installed" >&2; exit 1; }
mkdir -p "$CACHE"
# One builder at a time; whoever waited finds the tree made.
exec 9>"$CACHE/.lock"
flock -w 1200 9 || { echo "timed out waiting for $CACHE/.lock" >&2; exit 1; }
if [ -f "$tree/.sysmond-complete" ]; then echo "$tree"; exit 0; fi
tmp=$(mktemp -d "$CACHE/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "debootstrap $SUITE into $tmp (a few minutes the first time)" >&2
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp/root" "$MIRROR" \
  >"$tmp/debootstrap.log" 2>&1 || { tail -30 "$tmp/debootstrap.log" >&2; exit 1; }
# Boot quietly and fast: no getty on the console, a machine-id, no apt caches to copy.
chroot "$tmp/root" systemctl mask console-getty.service getty@.service \
  systemd-networkd-wait-online.service >/dev/null 2>&1 || true
: > "$tmp/root/etc/machine-id"
echo sysmond-test > "$tmp/root/etc/hostname"
rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*_Packages
touch "$tmp/root/.sysmond-complete"
rm -rf "$tree"
mv "$tmp/root" "$tree"
echo "$tree"
