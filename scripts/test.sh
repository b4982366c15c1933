#!/usr/bin/env bash
# Installs what is missing, builds tutti, and runs every test:
#   1. the whole ctest suite (unit, bad input, API, interop with GStreamer
#      and Chromium, end-to-end) on an AddressSanitizer + UndefinedBehavior-
#      Sanitizer build: a memory error, undefined behaviour, or a leak at
#      the server's exit (LeakSanitizer makes it exit non-zero, and every
#      test checks the server's exit status) fails the test;
#   2. every libFuzzer target for FUZZ_SECONDS (default 60) each;
#   3. the Release build (what scripts/start.sh runs) and its unit tests.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"
t0=$(date +%s)

step() { printf '\n=== %s (%d s so far) ===\n' "$*" "$(( $(date +%s) - t0 ))"; }

step "dependencies"
bash scripts/deps.sh --test
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)

step "build with ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTUTTI_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"

step "unit and bad-input tests (ASan+UBSan)"
(cd build-asan && ctest -L unit --output-on-failure -j"$jobs")

step "API, interop and end-to-end tests (ASan+UBSan server)"
(cd build-asan && ctest -LE unit --output-on-failure)

step "fuzz targets, ${FUZZ_SECONDS:-60} s each"
bash tests/fuzz/run

step "Release build and its unit tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest -L unit --output-on-failure -j"$jobs")

step "all passed"
