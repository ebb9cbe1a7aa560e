#!/usr/bin/env bash
# Runs bench/scenario.sh in the test host (see testhost/README.md) with
# qemu-system-x86_64 staged next to khyve, then prints a table of medians.
#
#   bench/run.sh [--build DIR] [--runs N] [--tests "boot blk net"] [--secs S]
#                [--mib M] [--nc-mib M] [--timeout SEC] [--raw FILE] [--scenario FILE]
#
# --scenario FILE runs another test-host script in the same staging (e.g.
# bench/profile_boot.sh); its whole console log is in the log file.
# --nc-mib M adds busybox nc transfers of M MiB each way (as the virtio_net
# scenario does) to the net test.
# Like testhost/run.sh's test-host mode, plus: qemu-system-x86_64 with its
# shared libraries and firmware, the static tool khyve-bench (built here from
# bench/khyve-bench.c), brd.ko for a RAM disk, and a guest initramfs that is
# the kit's cloud initrd with khyve-bench and bench/guest/*.sh appended (a
# second cpio archive; the kernel unpacks both). Both VMMs boot the same
# kernel and that same initramfs.
#
# What testhost/run.sh would need so this could reuse it instead: a way to
# stage extra files (KHYVE_TESTHOST_EXTRA="host-path[:dest]..." going
# through stage_binary for executables) and extra key=value lines in
# /khyve/env. Until then the staging below mirrors run_testhost().
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${KHYVE_CACHE:-$ROOT/.cache}
KIT=$CACHE/kit

usage() {
  echo "usage: $0 [--build DIR] [--runs N] [--tests LIST] [--secs S] [--mib M] [--nc-mib M] [--timeout SEC] [--raw FILE] [--scenario FILE]" >&2
  exit 2
}

build=$ROOT/build
runs=5
tests="boot blk net"
secs=5
mib=256
ncmib=0
timeout=1500
raw=
scenario=$HERE/scenario.sh
while (($#)); do
  case $1 in
  --build) build=${2:?}; shift 2 ;;
  --runs) runs=${2:?}; shift 2 ;;
  --tests) tests=${2:?}; shift 2 ;;
  --secs) secs=${2:?}; shift 2 ;;
  --mib) mib=${2:?}; shift 2 ;;
  --nc-mib) ncmib=${2:?}; shift 2 ;;
  --timeout) timeout=${2:?}; shift 2 ;;
  --raw) raw=${2:?}; shift 2 ;;
  --scenario) scenario=${2:?}; shift 2 ;;
  *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ && $secs =~ ^[1-9][0-9]*$ && $mib =~ ^[1-9][0-9]*$ && $ncmib =~ ^[0-9]+$ && $timeout =~ ^[0-9]+$ ]] || usage
build=$(cd "$build" && pwd)
for t in bhyve bhyveload bhyvectl; do
  [[ -x $build/$t ]] || { echo "bench: $build/$t missing (build first)" >&2; exit 2; }
done
qemu=$(command -v qemu-system-x86_64) || { echo "bench: qemu-system-x86_64 not found" >&2; exit 2; }

"$ROOT/testhost/kit.sh" >&2
# shellcheck disable=SC1091
. "$KIT/env"

stage=$build/bench-stage
logdir=$build/testhost-logs
log=$logdir/bench.log
mkdir -p "$logdir"
rm -rf "$stage"
mkdir -p "$stage/root" "$stage/guest"

# stage_binary FILE DEST STAGE-ROOT: FILE and the shared libraries it needs;
# testhost_qemu WANT: the emulator for the test host.
# shellcheck source=testhost/common.sh
. "$ROOT/testhost/common.sh"

cc=${CC:-gcc}
"$cc" -O2 -Wall -Wextra -Werror -static -o "$build/khyve-bench" "$HERE/khyve-bench.c"

for t in bhyve bhyveload bhyvectl; do stage_binary "$build/$t" "khyve/bin/$t" "$stage/root"; done
install -D -m 755 "$build/khyve-bench" "$stage/root/khyve/bin/khyve-bench"
# At its own path: QEMU finds firmware relative to /proc/self/exe. The
# symlink puts it on host-init's PATH.
stage_binary "$qemu" usr/bin/qemu-system-x86_64 "$stage/root"
ln -s /usr/bin/qemu-system-x86_64 "$stage/root/khyve/bin/qemu-system-x86_64"
# Firmware QEMU loads for -M pc / microvm with -kernel (option ROMs of the
# NICs are switched off with romfile=).
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/linuxboot.bin \
  /usr/share/qemu/kvmvapic.bin /usr/share/qemu/qboot.rom /usr/share/qemu/bios-microvm.bin \
  /usr/share/qemu/pvh.bin /usr/share/qemu/multiboot_dma.bin; do
  [[ -e $f ]] && install -D -m 644 "$(readlink -f "$f")" "$stage/root/$f"
done
brd=$(find "$CACHE/extract/$KHYVE_GENERIC_ABI/lib/modules/$KHYVE_GENERIC_ABI" -name 'brd.ko*' | head -n1)
[[ -n $brd ]] || { echo "bench: brd.ko not in the generic kernel package" >&2; exit 2; }
install -D -m 644 "$brd" "$stage/root/lib/modules/$KHYVE_GENERIC_ABI/brd.ko"

# The guest: the kit's cloud kernel, its initrd + khyve-bench + bench scripts.
install -D -m 755 "$build/khyve-bench" "$stage/guest/bin/khyve-bench"
install -D -m 644 -t "$stage/guest/scripts" "$HERE"/guest/*.sh
mkdir -p "$stage/root/bench/guest"
ln -s /kit/cloud/vmlinuz "$stage/root/bench/guest/vmlinuz"
{
  cat "$KIT/cloud/initrd.img"
  (cd "$stage/guest" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
} >"$stage/root/bench/guest/initrd.img"

install -m 755 "$ROOT/testhost/host-init" "$stage/root/init"
install -m 644 "$scenario" "$stage/root/khyve/scenario.sh"
install -m 644 "$ROOT/testhost/lib.sh" "$stage/root/khyve/lib.sh"
{
  cat "$KIT/env"
  echo "KIT=/kit"
  echo "KHYVE_BUILD=/khyve/bin"
  echo "KHYVE_LIB=/khyve/lib.sh"
  echo "KHYVE_SCRATCH=/tmp/khyve"
  echo "KHYVE_MODE=testhost"
  echo "KHYVE_SCENARIO=bench"
  echo "BENCH_RUNS=$runs"
  echo "BENCH_TESTS='$tests'"
  echo "BENCH_SECS=$secs"
  echo "BENCH_MIB=$mib"
  echo "BENCH_NCMIB=$ncmib"
} >"$stage/root/khyve/env"
(cd "$stage/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$stage/run.cpio"
cat "$KIT/testhost/base.cpio" "$stage/run.cpio" >"$stage/initrd.cpio"
rm -f "$stage/run.cpio"

echo "bench: test host, $runs runs of: $tests (log $log)" >&2
t0=$SECONDS
set +e
# The test host runs under the same emulator as the scenarios' (the QEMU
# measured inside it stays the installed one, staged above).
testhost_bin=$(testhost_qemu "${KHYVE_TESTHOST_QEMU:-backports}") || exit 2
timeout -k 5 "$timeout" "$testhost_bin" -accel tcg -cpu EPYC,+svm,+npt -smp 1 -m 3072 \
  -kernel "$KIT/testhost/vmlinuz" -initrd "$stage/initrd.cpio" -append "console=ttyS0 quiet panic=-1" \
  -nographic -no-reboot -nodefaults -serial stdio </dev/null 2>&1 | tr -d '\r' |
  grep --line-buffered -v "TCG doesn't support requested feature" | tee "$log" |
  grep --line-buffered -E '^(BENCH-RESULT|KHYVE-FAIL|bench:|KHYVE-SCENARIO)' >&2
qemu_rc=${PIPESTATUS[0]}
set -e
rm -f "$stage/initrd.cpio"
elapsed=$((SECONDS - t0))
[[ -n $raw ]] && grep '^BENCH-RESULT' "$log" >"$raw"

# ---- table --------------------------------------------------------------------

grep '^BENCH-RESULT' "$log" | "$HERE/table.sh"
echo
echo "test host: ${elapsed}s, $runs runs each; log $log"
status=0
grep -q '^KHYVE-FAIL' "$log" && { echo "bench: failures:"; grep '^KHYVE-FAIL' "$log"; status=1; }
grep -q '^KHYVE-SCENARIO-DONE' "$log" || { echo "bench: no KHYVE-SCENARIO-DONE (qemu status $qemu_rc)"; status=1; }
exit $status
