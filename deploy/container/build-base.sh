#!/usr/bin/env bash
# Makes a base image for the notrack image without a registry: a Debian 12 root file system from Debian's packages
# (mmdebstrap: iptables, ipset, iproute2, libbpf1, ca-certificates, and openssh-client and gpgv for --verify-signatures) plus Node.js 20, imported into podman.
#   bash deploy/container/build-base.sh --tag localhost/notrack-base:bookworm [--node-deb nodejs_20.x.deb]
# Debian 12 ships Node.js 18. Node.js 20 comes from --node-deb (NodeSource's .deb, installed with its
# dependencies), or else this machine's own node binary (20 or later, built for glibc like Debian's) is copied in.
set -euo pipefail

usage() { echo "usage: $0 --tag NAME[:TAG] [--node-deb FILE] [--keep-rootfs FILE]" >&2; exit 64; }
tag= node_deb= keep=
while (($#)); do
  case "$1" in
    --tag) tag=${2:?}; shift 2 ;;
    --node-deb) node_deb=$(realpath "${2:?}"); shift 2 ;;
    --keep-rootfs) keep=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build-base.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$tag" ] || usage
command -v mmdebstrap >/dev/null || { echo "build-base.sh: needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=${keep:-$work/rootfs.tar}

packages=iptables,ipset,iproute2,libbpf1,ca-certificates,libstdc++6,openssh-client,gpgv
hooks=()
if [ -n "$node_deb" ]; then
  packages="$packages,$node_deb"
  echo "build-base.sh: Node.js from $(basename "$node_deb")"
else
  node=$(command -v node || true)
  major=$([ -n "$node" ] && "$node" -p 'process.versions.node.split(".")[0]' || echo 0)
  if [ "$major" -lt 20 ]; then
    echo "build-base.sh: no Node.js 20 here to copy; pass --node-deb with a Node.js 20 .deb" >&2
    exit 1
  fi
  echo "build-base.sh: Node.js $("$node" --version) copied from $node"
  hooks+=(--customize-hook="copy-in $(realpath "$node") /usr/bin")
fi
hooks+=(--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin')
mmdebstrap --quiet --variant=minbase --include="$packages" "${hooks[@]}" bookworm "$rootfs"
podman import --change 'CMD ["/bin/bash"]' "$rootfs" "$tag" >/dev/null
echo "build-base.sh: imported $tag"
