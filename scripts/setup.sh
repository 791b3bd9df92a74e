#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine for the harness, idempotently: installs the system tools
# the kernel suites drive (only those missing), then the npm dependencies. Run as root.
#   ./scripts/setup.sh        the suites' tools, npm ci, conntrack-tools 1.4.6 and 1.4.8 for the oracle
#   ./scripts/setup.sh --vm   also what npm run test:vm needs (qemu, busybox, cpio, module tools)
#   ./scripts/setup.sh --adapters   also what the reference adapters need (adapters/nfct-ctypes,
#                             adapters/pyroute2): python3, python3-pyroute2, libnetfilter-conntrack3
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A wanted=([conntrack]=conntrack [ip]=iproute2 [nft]=nftables [socat]=socat [ping]=iputils-ping [patchelf]=patchelf [dpkg-deb]=dpkg)
case "${1:-}" in
  --vm) wanted+=([qemu-system-x86_64]=qemu-system-x86 [cpio]=cpio [xz]=xz-utils [zstd]=zstd [depmod]=kmod [gzip]=gzip) ;;
  --adapters | "") ;;
  *) echo "setup: unknown option $1 (usage: scripts/setup.sh [--vm|--adapters])" >&2; exit 2 ;;
esac
missing=()
for tool in "${!wanted[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("${wanted[$tool]}")
done

# The initramfs needs a statically linked busybox: Debian's plain busybox package is not one.
if [ "${1:-}" = --vm ] && ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
  missing+=(busybox-static)
fi

# The reference adapters run on Debian's python3 (the `python3` on PATH may be another one) with
# Debian's pyroute2 and libnetfilter_conntrack: checked as packages, not as commands.
if [ "${1:-}" = --adapters ]; then
  for pkg in python3 python3-pyroute2 libnetfilter-conntrack3; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages ${missing[*]}; run this script as root (sudo ./scripts/setup.sh)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present (conntrack, iproute2, nftables, socat, iputils-ping, patchelf)"
fi

echo "setup: npm ci"
timeout 900 npm ci --no-audit --no-fund

# Other conntrack-tools versions for the oracle (docs/ci.md: Other conntrack-tools versions), from their
# Debian releases through a private apt sources list; the machine's own apt sources are not touched.
versions="${CTH_CONNTRACK_TOOLS-1.4.6 1.4.8}"
if [ -n "$versions" ]; then
  echo "setup: conntrack-tools $versions for the oracle"
  # shellcheck disable=SC2086 # one argument per version
  timeout 900 node_modules/.bin/tsx scripts/conntrack-tools.ts $versions
fi
