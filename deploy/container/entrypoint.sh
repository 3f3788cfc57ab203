#!/bin/sh
# Entry of the notrack image: runs notrack with the iptables backend the node uses (nf_tables or legacy), so the
# rules land in the tables the node's own firewall reads. NOTRACK_IPTABLES=nft|legacy forces one.
set -eu

backend=${NOTRACK_IPTABLES:-}
if [ -z "$backend" ]; then
  # The backend that already holds rules wins; a node with rules in neither uses nf_tables (Debian's default).
  legacy=$(iptables-legacy-save 2>/dev/null | grep -c '^-A' || true)
  nft=$(iptables-nft-save 2>/dev/null | grep -c '^-A' || true)
  if [ "${legacy:-0}" -gt 0 ] && [ "${nft:-0}" -eq 0 ]; then backend=legacy; else backend=nft; fi
fi
case "$backend" in
  nft|legacy) ;;
  *) echo "notrack-entrypoint: NOTRACK_IPTABLES must be nft or legacy, not $backend" >&2; exit 64 ;;
esac

# The root file system may be read-only: point the plain names at the chosen backend from a folder in /tmp.
bin=$(mktemp -d /tmp/notrack-iptables.XXXXXX)
for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -s "$(command -v "${tool%%-*}-$backend${tool#"${tool%%-*}"}")" "$bin/$tool"
done
PATH="$bin:$PATH"
export PATH
exec notrack "$@"
