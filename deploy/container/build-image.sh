#!/usr/bin/env bash
# Builds the notrack image from the package tarball (npm pack): stages the npm install of the tarball beside the
# Containerfile, then builds with podman (or $CONTAINER_ENGINE: docker, buildah). Push it with your engine.
#   bash deploy/container/build-image.sh --tag registry.example.com/notrack:0.1.0 notrack-dev-notrack-0.1.0.tgz
#   --base IMAGE   Debian 12 with Node.js 20 (default node:20-bookworm-slim; build-base.sh makes one offline)
#   --offline      build without network (the base must already hold iptables, ipset and libbpf1)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: $0 --tag NAME[:TAG] [--base IMAGE] [--offline] PACKAGE.tgz" >&2; exit 64; }
tag= base= offline=0 tarball=
while (($#)); do
  case "$1" in
    --tag) tag=${2:?}; shift 2 ;;
    --base) base=${2:?}; shift 2 ;;
    --offline) offline=1; shift ;;
    -h|--help) usage ;;
    -*) echo "build-image.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$tarball" ] || usage; tarball=$1; shift ;;
  esac
done
[ -n "$tag" ] && [ -n "$tarball" ] || usage
[ -f "$tarball" ] || { echo "build-image.sh: $tarball: no such file" >&2; exit 1; }
engine=${CONTAINER_ENGINE:-podman}

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$here/Containerfile" "$here/entrypoint.sh" "$context/"
# The package as `npm install --global --prefix /usr/local` lays it out, built here so the image build needs neither
# a registry nor a compiler. Its one native part (koffi) ships prebuilt binaries for the build machine's platform.
echo "build-image.sh: staging $(basename "$tarball")"
npm install --global --prefix "$context/stage/usr/local" --no-audit --no-fund --omit=dev "$tarball" >/dev/null
rm -rf "$context/stage/usr/local/etc"

args=(build --file "$context/Containerfile" --tag "$tag")
[ -n "$base" ] && args+=(--build-arg "BASE=$base")
if ((offline)); then
  case "$engine" in
    podman|buildah) args+=(--pull=never --network=none) ;;
    docker) args+=(--network=none) ;;
  esac
fi
echo "build-image.sh: $engine ${args[*]}"
"$engine" "${args[@]}" "$context"
echo "build-image.sh: built $tag"
