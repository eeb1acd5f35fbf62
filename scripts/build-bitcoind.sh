#!/usr/bin/env bash
# Builds bitcoind and bitcoin-cli from the Bitcoin Core tree vendored in the
# libbitcoinkernel-sys crate (the one the `kernel` feature already downloads), so the tests
# can hold ferry to a real Bitcoin Core without fetching anything else.
#
#   scripts/build-bitcoind.sh        # prints the folder holding bin/bitcoind and bin/bitcoin-cli
#   export BITCOIND_EXE="$(scripts/build-bitcoind.sh)/bin/bitcoind"
#
# The result is cached in $FERRY_BITCOIND_CACHE (default ~/.cache/ferry-bitcoind/<crate
# version>); a second run finds it and returns at once. Needs cmake, a C++ compiler, Boost
# headers and libevent (Debian: cmake g++ libboost-dev libevent-dev). About 15 minutes on
# 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the crate version whose Bitcoin Core tree we build (the one Cargo.lock resolves
# for bitcoinkernel). A different version is refused rather than silently built.
PINNED_SYS_VERSION="0.4.1"

log() { echo "build-bitcoind: $*" >&2; }

# On a fresh machine the crate is not unpacked yet: fetch what Cargo.lock names first.
cargo fetch >&2
manifest=$(cargo metadata --format-version 1 --features kernel --no-default-features 2>/dev/null |
  python3 -c '
import json, sys
meta = json.load(sys.stdin)
for p in meta["packages"]:
    if p["name"] == "libbitcoinkernel-sys":
        print(p["version"], p["manifest_path"])
        break
')
if [ -z "$manifest" ]; then
  log "libbitcoinkernel-sys not found by cargo metadata (is the kernel feature's dependency fetched? run: cargo fetch)"
  exit 1
fi
read -r version manifest_path <<<"$manifest"
if [ "$version" != "$PINNED_SYS_VERSION" ]; then
  log "libbitcoinkernel-sys is $version, this script is pinned to $PINNED_SYS_VERSION; update PINNED_SYS_VERSION after checking the build"
  exit 1
fi
src="$(dirname "$manifest_path")/bitcoin"
cache="${FERRY_BITCOIND_CACHE:-$HOME/.cache/ferry-bitcoind/$version}"

if [ -x "$cache/bin/bitcoind" ] && [ -x "$cache/bin/bitcoin-cli" ]; then
  log "cached: $cache/bin/bitcoind"
  echo "$cache"
  exit 0
fi

for tool in cmake c++; do
  command -v "$tool" >/dev/null || { log "needs $tool (Debian: apt-get install cmake g++ libboost-dev libevent-dev)"; exit 1; }
done
[ -d /usr/include/boost ] || { log "needs Boost headers (Debian: libboost-dev)"; exit 1; }
[ -f /usr/include/event2/event.h ] || { log "needs libevent headers (Debian: libevent-dev)"; exit 1; }

build="$cache/build"
mkdir -p "$build"
log "building Bitcoin Core $(grep -m1 -o 'CLIENT_VERSION_MAJOR [0-9]*' "$src/CMakeLists.txt" | cut -d' ' -f2).x from $src into $cache"
start=$SECONDS
# The crate leaves out ip_asn.dat, hence no embedded ASMap. Only the daemon and the cli:
# the tests need nothing else, and every extra target costs minutes on 2 cores.
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_DAEMON=ON -DBUILD_CLI=ON \
  -DBUILD_BITCOIN_BIN=OFF -DBUILD_TX=OFF -DBUILD_UTIL=OFF -DBUILD_WALLET_TOOL=OFF \
  -DENABLE_WALLET=OFF -DBUILD_GUI=OFF -DBUILD_TESTS=OFF -DBUILD_BENCH=OFF \
  -DBUILD_FUZZ_BINARY=OFF -DBUILD_KERNEL_LIB=OFF -DENABLE_IPC=OFF -DWITH_ZMQ=OFF \
  -DENABLE_EXTERNAL_SIGNER=OFF -DWITH_EMBEDDED_ASMAP=OFF -DWITH_CCACHE=OFF \
  -DINSTALL_MAN=OFF -DCMAKE_INSTALL_PREFIX="$cache" >&2
cmake --build "$build" -j"$(nproc)" >&2
cmake --install "$build" --strip >&2
# The object files are ~1 GB and only needed to resume a failed build.
rm -rf "$build"
log "built in $((SECONDS - start)) s: $cache/bin/bitcoind"
echo "$cache"
