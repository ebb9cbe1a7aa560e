#!/usr/bin/env bash
# The full test: dependencies, build (./build), guest kit, then every ctest
# test: the unit tests and the guest scenarios in the test host.
#   KHYVE_BUILD_TYPE  CMake build type (default RelWithDebInfo)
#   KHYVE_JOBS        parallel build jobs (default: number of CPUs)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

step() { echo "== $* ($((SECONDS))s)"; }

step "install dependencies"
bash scripts/install-deps.sh
step "configure and build"
cmake -S . -B build -DCMAKE_BUILD_TYPE="${KHYVE_BUILD_TYPE:-RelWithDebInfo}"
cmake --build build -j "${KHYVE_JOBS:-$(nproc)}"
step "guest kit"
bash testhost/kit.sh
step "tests"
ctest --test-dir build --output-on-failure
step "sanitizers: unit tests under ASan+UBSan"
bash scripts/sanitize.sh
step "fuzz targets, a few seconds each on the committed corpus"
bash scripts/fuzz.sh --seconds "${KHYVE_FUZZ_SECONDS:-5}"
step "done"
