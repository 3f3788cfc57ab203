#!/usr/bin/env bash
# Installs notrack from its package tarball where notrack-agent.service expects it (/usr/local/bin/notrack), with the
# unit and its settings file. Run as root: bash install.sh notrack-dev-notrack-<version>.tgz
#   --root DIR   install under DIR instead of / (a staging tree, an image build); no systemctl then
# An existing /etc/notrack/notrack-agent.env is kept: it holds the repository and the Git token.
set -euo pipefail

usage() { echo "usage: $0 [--root DIR] PACKAGE.tgz" >&2; exit 64; }
root=/
tarball=
while (($#)); do
  case "$1" in
    --root) root=${2:?--root needs a folder}; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "install.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$tarball" ] || usage; tarball=$1; shift ;;
  esac
done
[ -n "$tarball" ] || usage
[ -f "$tarball" ] || { echo "install.sh: $tarball: no such file" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm is needed (Node.js 20 or later)" >&2; exit 1; }
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")

prefix="${root%/}/usr/local"
etc="${root%/}/etc"
mkdir -p "$prefix" "$etc/systemd/system" "$etc/notrack"

# npm -g with --prefix /usr/local links bin/notrack into /usr/local/bin, the path the unit runs.
npm install --global --prefix "$prefix" --no-audit --no-fund "$tarball"
package="$prefix/lib/node_modules/@notrack-dev/notrack"
"$prefix/bin/notrack" --version

install -m 0644 "$package/deploy/systemd/notrack-agent.service" "$etc/systemd/system/notrack-agent.service"
if [ -e "$etc/notrack/notrack-agent.env" ]; then
  echo "install.sh: keeping $etc/notrack/notrack-agent.env"
else
  install -m 0600 "$package/deploy/systemd/notrack-agent.env" "$etc/notrack/notrack-agent.env"
  echo "install.sh: set NOTRACK_REPO and NOTRACK_GIT_TOKEN in $etc/notrack/notrack-agent.env"
fi
chmod 0700 "$etc/notrack"

if [ "$root" = / ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "install.sh: installed; start with: systemctl enable --now notrack-agent"
else
  echo "install.sh: installed under $root"
fi
