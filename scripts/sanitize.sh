#!/usr/bin/env bash
# Builds khyve with ASan+UBSan (-DKHYVE_SANITIZE=ON) in build-asan/ and runs
# every test that needs no guest (ctest -LE guest) under the sanitizers.
# Exits non-zero on a build failure, a failing test or a sanitizer report.
#   KHYVE_JOBS   build jobs (default 2)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD=build-asan
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DKHYVE_SANITIZE=ON >/dev/null
cmake --build "$BUILD" -j "${KHYVE_JOBS:-2}"

# Any UBSan finding fails the test that hit it; ASan stops at the first error
# by default. Leak checking stays on (LSan is part of ASan here).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
ctest --test-dir "$BUILD" -LE guest --output-on-failure -j "${KHYVE_JOBS:-2}"
