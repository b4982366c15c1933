#!/usr/bin/env bash
# Installs what is missing, builds tutti, and runs every test:
#   1. unit tests under AddressSanitizer + UndefinedBehaviorSanitizer,
#   2. every libFuzzer target for FUZZ_SECONDS (default 60) each,
#   3. the whole ctest suite (unit + interop with Chromium and GStreamer)
#      on the Release build.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
bash scripts/deps.sh --test
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)

step "unit tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTUTTI_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest -L unit --output-on-failure -j"$jobs")

step "fuzz targets, ${FUZZ_SECONDS:-60} s each"
bash tests/fuzz/run

step "all tests (Release build)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure)
