#!/usr/bin/env bash
# Proves the fresh start: builds a clean Debian 12 root file system (mmdebstrap, minbase), gives it Node.js 20 as
# this machine has it, clones this checkout into a private (0700) folder inside it, and runs the README's quick
# start exactly as written (`npm run demo`, then `npm test`) as root with CI=true. Nothing of this machine's
# installed packages or node_modules is visible inside. Run as root on Debian 12; needs mmdebstrap and dpkg-repack.
# Usage: scripts/fresh-machine.sh [work folder]   (default /var/tmp/notrack-fresh; removed at the end)
# NOTRACK_FRESH_ROOTFS=x.tar uses a root tarball made earlier by mmdebstrap instead of building one.
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/var/tmp/notrack-fresh}"
root="$work/root"

[ "$(id -u)" -eq 0 ] || { echo "fresh-machine: run as root" >&2; exit 1; }
for tool in mmdebstrap dpkg-repack; do
  command -v "$tool" >/dev/null || { echo "fresh-machine: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}" || true; done
  # Never delete through a mount (the root binds /dev and /sys): remove the folder only when nothing is mounted in it.
  if grep -q " $work/" /proc/self/mountinfo; then
    echo "fresh-machine: mounts remain under $work; not removing it" >&2
  else
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
# bind OPTIONS… SOURCE TARGET
bind() { mkdir -p "${*: -1}"; mount "$@" && mounted+=("${*: -1}"); }

cleanup
mkdir -p "$root"
if [ -n "${NOTRACK_FRESH_ROOTFS:-}" ]; then
  # A tarball an earlier `mmdebstrap --variant=minbase --include=ca-certificates bookworm x.tar` made (saves minutes).
  echo "fresh-machine: unpacking the minimal Debian 12 root $NOTRACK_FRESH_ROOTFS into $root"
  tar -xf "$NOTRACK_FRESH_ROOTFS" -C "$root"
else
  echo "fresh-machine: building a minimal Debian 12 root in $root"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$root"
fi

# Node.js 20 as installed here (Debian 12 ships 18): the same package, repacked, plus npm as this machine has it.
(cd "$work" && dpkg-repack nodejs >/dev/null 2>&1)
cp "$work"/nodejs_*.deb "$root/tmp/nodejs.deb"

# The root must be a mount point of its own, as / is on a machine: `ip netns exec` remounts / as a slave.
mount --bind "$root" "$root" && mounted+=("$root")
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
bind --rbind /sys "$root/sys"
bind --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run" && mounted+=("$root/run")
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The machine's network trust, not the project's: a local CA (say an egress proxy's) and npm's global settings.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
fi
[ -f /etc/npmrc ] && cp /etc/npmrc "$root/etc/npmrc"
bind --bind -o ro "$checkout" "$root/mnt/checkout"

in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 CI=true \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$@"
}
# A clone needs git; everything else is the README's business. The clone sits under a 0700 folder with umask 077.
in_root bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/nodejs.deb git >/dev/null && rm /tmp/nodejs.deb'
rm -rf "$root/usr/lib/node_modules/npm" && cp -a /usr/lib/node_modules/npm "$root/usr/lib/node_modules/npm"
echo "fresh-machine: node $(in_root node --version), npm $(in_root npm --version)"
in_root bash -c 'umask 077 && mkdir -p /root/private && git clone -q /mnt/checkout /root/private/notrack'
echo "fresh-machine: installed packages before the quick start: $(in_root dpkg-query -W -f='.' | wc -c)"

status=0
echo "fresh-machine: npm run demo"
in_root bash -c 'cd /root/private/notrack && npm run demo' || status=$?
echo "fresh-machine: npm run demo exited $status"
test_status=0
echo "fresh-machine: npm test"
in_root bash -c 'cd /root/private/notrack && npm test' || test_status=$?
echo "fresh-machine: npm test exited $test_status"
[ "$status" -eq 0 ] && [ "$test_status" -eq 0 ]
