#!/usr/bin/env bash
# khyve against QEMU, side by side in the test host: builds khyve (Release, in
# build-bench/), prepares the guest kit, runs bench/run.sh (alternating khyve
# and QEMU runs; bench/run.sh prepares the kit) and prints a table of medians and ratios.
#
#   scripts/bench.sh [--runs N] [--tests "boot blk net"] [--secs S] [--mib M]
#
# Options go to bench/run.sh (see there). Results: docs/PERFORMANCE.md explains
# what each figure means and what limits it. KHYVE_BENCH_BUILD overrides the
# build directory.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
build=${KHYVE_BENCH_BUILD:-$ROOT/build-bench}
bash scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "${KHYVE_JOBS:-2}" --target bhyve bhyveload bhyvectl
exec bench/run.sh --build "$build" "$@"
