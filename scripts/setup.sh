#!/usr/bin/env bash
# hvsim setup: installs the Debian 12 packages hvsim builds with, fetches the pinned Unicorn 2.1.x
# binary packages from Debian's registry into a project-local prefix (the system's Unicorn 2.0.1,
# if any, is left alone), configures and builds. Idempotent: a second run only rebuilds.
#
#   scripts/setup.sh            # install, fetch, build
#   scripts/setup.sh --demo     # ... and run the hello demo guest
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# DEVNOTE: Unicorn 2.1.1-2+b2 from Debian 13 (trixie, the stable suite) rather than 2.1.4 from sid:
# a stable suite keeps the pinned version (and so the checksum) fetchable, and sid's libunicorn.a
# 2.1.4-4 recurses forever in helper_le_ldq_mmu when linked statically (measured). The contract
# tests in tests/contract pin every 2.1.1 behaviour hvsim relies on.
UC_SUITE=trixie
UC_VERSION=2.1.1-2+b2
UC_DEV_SHA256=479613e244a6023c03708951a5f0e00fc96c83a4b74b4d74c9fe7d3a9050208b
UC_LIB_SHA256=3f760a28c65a93662edbcb21fceb2e0a1c0ab0e8277564fc572e6532949e3e3f
UC_PREFIX=$ROOT/.deps/unicorn-$UC_VERSION

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

PACKAGES=(build-essential cmake ninja-build libcapstone-dev libboost-dev nlohmann-json3-dev
          libgtest-dev libgmock-dev pybind11-dev python3-dev python3-pytest
          ca-certificates dpkg-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

if [ ! -f "$UC_PREFIX/.complete" ]; then
  echo "setup: fetching Unicorn $UC_VERSION from Debian $UC_SUITE"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/dl"
  echo "deb http://deb.debian.org/debian $UC_SUITE main" > "$tmp/sources.list"
  APT_OPTS=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
            -o "Dir::State::Lists=$tmp/lists" -o "Debug::NoLocking=1")
  apt-get -q "${APT_OPTS[@]}" update >/dev/null
  (cd "$tmp/dl" && apt-get -q "${APT_OPTS[@]}" download \
      "libunicorn-dev=$UC_VERSION" "libunicorn2t64=$UC_VERSION" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
  dev=$(ls "$tmp"/dl/libunicorn-dev_*.deb) lib=$(ls "$tmp"/dl/libunicorn2t64_*.deb)
  echo "$UC_DEV_SHA256  $dev" | sha256sum -c --quiet
  echo "$UC_LIB_SHA256  $lib" | sha256sum -c --quiet
  rm -rf "$UC_PREFIX"
  mkdir -p "$UC_PREFIX"
  dpkg-deb -x "$dev" "$UC_PREFIX"
  dpkg-deb -x "$lib" "$UC_PREFIX"
  touch "$UC_PREFIX/.complete"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHVSIM_UNICORN_PREFIX="$UC_PREFIX" >/dev/null
cmake --build build -j2

if [ "${1:-}" = "--demo" ]; then
  ./build/hvsim run --guest build/guest/hello.elf
fi
