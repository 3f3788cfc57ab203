#!/usr/bin/env bash
# Prepares a Debian 12 machine for building and testing notrack: system packages (only those missing) and npm ci.
# Idempotent and quick when everything is already there; `npm test` and `npm run demo` call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  clang llvm libbpf-dev libbpf1 bpftool linux-libc-dev   # BPF programs: compiler, headers, libbpf.so.1, BTF dump
  iproute2 iptables ipset conntrack                        # the dataplane notrack drives
  git                                                      # the test Git server (git http-backend)
  iputils-ping socat nftables                              # real traffic and rule oracles in the kernel tests, the demo
  procps util-linux mount                                  # sysctl, setpriv (unprivileged tests), mount/umount (bpffs)
  zsh                                                      # the zsh completion script is checked with zsh -n
  prometheus                                               # promtool checks /metrics; the fleet report's tests scrape agents
  podman runc mmdebstrap                                   # the container image test: a Debian base, the image, a run
  ethtool xdp-tools                                        # the wire benchmark: veth GRO and counters, xdp-filter
  openssh-client gpgv gnupg                                # --verify-signatures (ssh-keygen, gpgv); gpg makes test keys
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run as root (sudo) to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
