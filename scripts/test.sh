#!/usr/bin/env bash
# Runs hvsim's whole test suite (unit, contract, integration, determinism, python), setting up first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j2 "$@"
