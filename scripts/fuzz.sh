#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, ASan+UBSan) in build-fuzz/ and
# runs each for N seconds on its corpus, one after another.
#   scripts/fuzz.sh [--seconds N] [target...]     (default: 10 s, every target)
# The committed seeds (fuzz/corpus/<target>/) are read; what libFuzzer finds
# new goes to build-fuzz/corpus/<target>/. A crashing, leaking or hanging input
# is saved as build-fuzz/artifacts/<target>/crash-* (or leak-*, timeout-*),
# and the script exits non-zero after the other targets have run.
#   KHYVE_JOBS   build jobs (default 2)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

seconds=10
targets=()
while (($#)); do
  case $1 in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --seconds takes a whole number" >&2; exit 2; }

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (install clang and libclang-rt-14-dev)" >&2; exit 2; }

# Standalone configuration of fuzz/: it compiles its own instrumented copy of
# the core and nothing else (no tests, no tools).
BUILD=build-fuzz
CC=clang CXX=clang++ cmake -S fuzz -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "${KHYVE_JOBS:-2}" --target fuzz_all

if ((${#targets[@]} == 0)); then
  for f in fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
summary=()
for t in "${targets[@]}"; do
  bin=$BUILD/$t
  [[ -x $bin ]] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts/$t"
  log=$BUILD/artifacts/$t/last.log
  echo "== $t (${seconds}s)"
  rc=0
  "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
         -artifact_prefix="$BUILD/artifacts/$t/" "$BUILD/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if ((rc != 0)); then
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 || true
    summary+=("$t: FAILED (exit $rc) after ${execs:-?} execs; input: ${artifact:-see $log}")
    failed+=("$t")
  else
    summary+=("$t: ok, ${execs:-?} execs, ${cov:-cov ?}")
  fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz.sh: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
