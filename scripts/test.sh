#!/usr/bin/env bash
# Runs hvsim's whole test suite (unit, contract, integration, determinism, scenarios), setting up
# first. Arguments go to ctest (e.g. -R Vmbus); without arguments a second stage follows: the host
# code built with AddressSanitizer and UndefinedBehaviorSanitizer (HVSIM_SANITIZE, in
# build-sanitize/) runs the model, unit and scenario tests and the scenario catalogue, so a guest
# or a scenario that makes the host touch memory it does not own fails even where the results
# would look right.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j2 "$@"
[ "$#" -eq 0 ] || exit 0

# Debug: GCC 12 at -O2 with the sanitizers reports false -Wstringop-overflow errors in libstdc++.
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHVSIM_SANITIZE=ON >/dev/null
cmake --build build-sanitize -j2 --target hvsim_model_tests hvsim_unit_tests hvsim_scenario_tests hvsim guest/all
export ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in model unit scenario; do
  build-sanitize/tests/hvsim_${t}_tests --gtest_brief=1
done
ctest --test-dir build-sanitize --output-on-failure -j2 -R '^(scenario|scenario_sweep|buggy)\.'
