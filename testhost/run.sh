#!/usr/bin/env bash
# Runs one guest scenario in the test host and judges it by its markers.
#
#   testhost/run.sh [--build DIR] [--timeout SEC] [--interactive] SCENARIO
#
# SCENARIO is a name from testhost/scenarios/ (NAME.sh, or NAME.interactive
# with --interactive) or a path. The test host is Debian's generic kernel in
# qemu (TCG, nested SVM) with kvm-amd, the kit at /kit and the binaries from
# the build dir on PATH. When this machine's own /dev/kvm can run stock guests
# (kvm_intel/kvm_amd, not PVM), the scenario runs directly here instead.
# Exit status: 0 pass, 1 fail, 2 usage. See testhost/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${KHYVE_CACHE:-$ROOT/.cache}
KIT=$CACHE/kit

usage() { echo "usage: $0 [--build DIR] [--timeout SEC] [--interactive] SCENARIO" >&2; exit 2; }

build=$ROOT/build
timeout=600
interactive=0
scenario=
while (($#)); do
  case $1 in
  --build) build=${2:?}; shift 2 ;;
  --timeout) timeout=${2:?}; shift 2 ;;
  --interactive) interactive=1; shift ;;
  -h | --help) usage ;;
  -*) usage ;;
  *) [[ -z $scenario ]] || usage; scenario=$1; shift ;;
  esac
done
[[ -n $scenario ]] || usage
[[ $timeout =~ ^[0-9]+$ ]] || usage

if [[ -f $scenario ]]; then
  script=$scenario
elif ((interactive)) && [[ -f $HERE/scenarios/$scenario.interactive ]]; then
  script=$HERE/scenarios/$scenario.interactive
elif [[ -f $HERE/scenarios/$scenario.sh ]]; then
  script=$HERE/scenarios/$scenario.sh
else
  echo "run.sh: no scenario '$scenario' in $HERE/scenarios" >&2
  exit 2
fi
name=$(basename "$script")
name=${name%.*}
script=$(cd "$(dirname "$script")" && pwd)/$(basename "$script")
mkdir -p "$build"
build=$(cd "$build" && pwd)
logdir=$build/testhost-logs
mkdir -p "$logdir"
log=$logdir/$name.log

"$HERE/kit.sh" >&2

# "# khyve-testhost-disk: debian" gives the scenario the debootstrapped Debian
# image (testhost/debian-image.sh) as $KHYVE_DISK: /dev/vda in the test host.
disk=
for d in $(sed -n 's/^# khyve-testhost-disk://p' "$script"); do
  case $d in
  debian) "$HERE/debian-image.sh" >&2; disk=$CACHE/debian/debian.img ;;
  *) echo "run.sh: unknown test-host disk '$d' in $script" >&2; exit 2 ;;
  esac
done

# "# khyve-testhost-powercut: N" gives the scenario N empty 64 MiB raw disks
# ($KHYVE_CUT_DISKS in the test host) and a power cut: when the serial log
# shows a line "KHYVE-POWER-CUT", qemu is SIGKILLed (the test host loses its
# page cache, as a machine loses power), then scenarios/NAME.cut runs here on
# the log and the disk files and prints the verdict. The disks are given with
# cache=writeback: what the test host flushed has reached this machine's page
# cache, which outlives qemu. Such a scenario always runs in the test host.
cut_disks=$(sed -n 's/^# khyve-testhost-powercut: *//p' "$script" | head -n1)
if [[ -n $cut_disks ]]; then
  [[ $cut_disks =~ ^[1-4]$ ]] || { echo "run.sh: khyve-testhost-powercut '$cut_disks' in $name: want 1-4" >&2; exit 2; }
  [[ -f ${script%.*}.cut ]] || { echo "run.sh: $name has a power cut but no ${script%.*}.cut" >&2; exit 2; }
fi

# A /dev/kvm backed by kvm_intel/kvm_amd runs stock kernels; PVM does not.
# KHYVE_TESTHOST=1 forces the test host, KHYVE_TESTHOST=0 the direct mode.
mode=testhost
if [[ -n $cut_disks ]]; then
  mode=testhost
elif [[ ${KHYVE_TESTHOST:-} == 0 ]]; then
  mode=direct
elif [[ ${KHYVE_TESTHOST:-} != 1 && -c /dev/kvm && ! -d /sys/module/kvm_pvm ]] &&
  [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then
  mode=direct
fi

tools=(bhyve bhyveload bhyvectl khyve_guest_evil khyve_syscall_inject)
# "# khyve-testhost-tools: prog..." names further programs a scenario runs:
# the project's own (a build output such as khyve_unit, a test script from
# tests/cli) first, then the kit's tools, then the host's, with its libraries.
tool_path() { # PROG
  if [[ -f $build/$1 && -x $build/$1 ]]; then echo "$build/$1"
  elif [[ -f $ROOT/tests/cli/$1 ]]; then echo "$ROOT/tests/cli/$1"
  elif [[ -x $KIT/tools/$1 ]]; then echo "$KIT/tools/$1"
  else command -v "$1" || { echo "run.sh: $1 (needed by $name) is not installed" >&2; return 1; }
  fi
}
header_tools=$(sed -n 's/^# khyve-testhost-tools://p' "$script")
t0=$SECONDS

# --- run -----------------------------------------------------------------------

run_direct() {
  bin=$(mktemp -d)
  scratch=$(mktemp -d)
  trap 'rm -rf "$bin" "$scratch"' EXIT
  for t in "${tools[@]}"; do [[ -x $build/$t ]] && ln -s "$build/$t" "$bin/$t"; done
  [[ -f $ROOT/scripts/vmrun.sh ]] && ln -s "$ROOT/scripts/vmrun.sh" "$bin/vmrun.sh"
  for t in "$ROOT"/scripts/image/khyve-*; do ln -s "$t" "$bin/"; done
  for t in $header_tools; do
    p=$(tool_path "$t") || exit 1
    [[ $p == "$build/"* || $p == "$ROOT/"* ]] && ln -s "$p" "$bin/$t"
  done
  # The disk is copied: here no snapshot keeps the guest's writes out of it.
  if [[ -n $disk ]]; then
    cp --sparse=always "$disk" "$scratch/testhost-disk.img"
    export KHYVE_DISK=$scratch/testhost-disk.img
  fi
  set -a
  # shellcheck disable=SC1091
  . "$KIT/env"
  set +a
  export KIT KHYVE_BUILD=$bin KHYVE_LIB=$HERE/lib.sh KHYVE_SCRATCH=$scratch KHYVE_MODE=direct \
    KHYVE_SCENARIO=$name PATH=$bin:$PATH
  if ((interactive)); then
    (cd "$scratch" && sh "$script")
    return
  fi
  set +e
  {
    echo "KHYVE-SCENARIO-START $name"
    (cd "$scratch" && exec timeout -k 5 "$timeout" sh "$script" </dev/null 2>&1)
    rc=$?
    # Without DONE the judge reports the timeout, as for the test host.
    ((rc == 124 || rc == 137)) && exit "$rc"
    echo "KHYVE-SCENARIO-EXIT rc=$rc"
    echo "KHYVE-SCENARIO-DONE"
  } | tee "$log"
  qemu_rc=${PIPESTATUS[0]}
  set -e
}

# stage_binary FILE DEST STAGE-ROOT, testhost_qemu WANT
# shellcheck source=testhost/common.sh
. "$HERE/common.sh"

run_testhost() {
  local stage=$build/testhost/$name bins=()
  rm -rf "$stage"
  mkdir -p "$stage/khyve/bin"
  for t in "${tools[@]}"; do
    [[ -x $build/$t ]] && { stage_binary "$build/$t" "khyve/bin/$t" "$stage/root"; bins+=("$t"); }
  done
  if [[ -f $ROOT/scripts/vmrun.sh ]]; then
    mkdir -p "$stage/root/khyve/bin"
    install -m 755 "$ROOT/scripts/vmrun.sh" "$stage/root/khyve/bin/vmrun.sh"
    bins+=(vmrun.sh)
  fi
  # The image scripts (scripts/image) are bash, started through /usr/bin/env.
  local s
  for s in "$ROOT"/scripts/image/khyve-*; do
    install -m 755 "$s" "$stage/root/khyve/bin/"
    bins+=("${s##*/}")
  done
  stage_binary "$(command -v bash)" bin/bash "$stage/root"
  mkdir -p "$stage/root/usr/bin"
  ln -sf /bin/busybox "$stage/root/usr/bin/env"
  # A scenario names extra host programs it needs in a line
  # "# khyve-testhost-tools: prog..."; they are staged with their libraries.
  local tool path
  for tool in $header_tools; do
    path=$(tool_path "$tool") || exit 1
    if [[ $path == *.sh ]]; then install -D -m 755 "$path" "$stage/root/khyve/bin/$tool"
    else stage_binary "$path" "khyve/bin/$tool" "$stage/root"
    fi
    bins+=("$tool")
  done
  # "# khyve-testhost-kit: DIR..." adds kit directories kept out of the base.
  local kdir
  for kdir in $(sed -n 's/^# khyve-testhost-kit://p' "$script"); do
    mkdir -p "$stage/root/kit"
    cp -a "$KIT/$kdir" "$stage/root/kit/"
  done
  mkdir -p "$stage/root/khyve/bin"
  install -m 755 "$HERE/host-init" "$stage/root/init"
  install -m 644 "$script" "$stage/root/khyve/scenario.sh"
  install -m 644 "$HERE/lib.sh" "$stage/root/khyve/lib.sh"
  {
    cat "$KIT/env"
    echo "KIT=/kit"
    echo "KHYVE_BUILD=/khyve/bin"
    echo "KHYVE_LIB=/khyve/lib.sh"
    echo "KHYVE_SCRATCH=/tmp/khyve"
    echo "KHYVE_MODE=testhost"
    echo "KHYVE_SCENARIO=$name"
    # bhyve's own default (2 MiB pages for guest RAM) unless the caller
    # sets KHYVE_VMM_HUGE (0: 4 KiB pages).
    [[ -z ${KHYVE_VMM_HUGE:-} ]] || echo "KHYVE_VMM_HUGE=$KHYVE_VMM_HUGE"
    [[ -z $disk ]] || echo "KHYVE_DISK=/dev/vda"
    if [[ -n $cut_disks ]]; then
      local letters=bcde k devs=
      [[ -n $disk ]] || letters=abcd
      for ((k = 0; k < cut_disks; k++)); do devs+="${devs:+ }/dev/vd${letters:k:1}"; done
      echo "KHYVE_CUT_DISKS='$devs'"
    fi
  } >"$stage/root/khyve/env"
  echo "run.sh: test host with: ${bins[*]:-no VMM binaries}" >&2
  (cd "$stage/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$stage/run.cpio"
  # Two archives back to back: the kernel unpacks both, the second on top.
  cat "$KIT/testhost/base.cpio" "$stage/run.cpio" >"$stage/initrd.cpio"
  rm -f "$stage/run.cpio"

  # nokaslr: a frozen test host's RIP (see watch_testhost) reads straight
  # against the generic kernel's System.map.
  local append="console=ttyS0 quiet panic=-1 nokaslr" serial=stdio
  if ((interactive)); then
    append+=" khyve.interactive=1"
    serial=mon:stdio
    echo "run.sh: interactive test host; Ctrl-A x quits qemu" >&2
  fi
  # The emulator (testhost_qemu in common.sh): a scenario header
  # "# khyve-testhost-qemu: installed|backports", else backports;
  # KHYVE_TESTHOST_QEMU overrides both.
  local want qemu_bin
  want=$(sed -n 's/^# khyve-testhost-qemu: *//p' "$script" | head -n1)
  want=${KHYVE_TESTHOST_QEMU:-${want:-backports}}
  qemu_bin=$(testhost_qemu "$want") || exit 2
  echo "run.sh: test host emulator: $("$qemu_bin" --version | head -n1) ($want)" >&2
  # "# khyve-testhost-smp: N" gives the test host N CPUs (default 1: each
  # one is a host thread under TCG).
  local smp
  smp=$(sed -n 's/^# khyve-testhost-smp: *//p' "$script" | head -n1)
  [[ ${smp:-1} =~ ^[1-4]$ ]] || { echo "run.sh: khyve-testhost-smp '$smp' in $name: want 1-4" >&2; exit 2; }
  # shellcheck disable=SC2054 # the commas belong to -cpu
  local qemu=("$qemu_bin" -accel tcg -cpu EPYC,+svm,+npt -smp "${smp:-1}" -m 3072
    -kernel "$KIT/testhost/vmlinuz" -initrd "$stage/initrd.cpio" -append "$append"
    -nographic -no-reboot -nodefaults -serial "$serial")
  # Snapshot mode: the test host's writes go to a temporary overlay, never
  # to the cached image, and nothing of it is copied into the test host's RAM.
  [[ -z $disk ]] || qemu+=(-drive "file=$disk,if=virtio,format=raw,snapshot=on")
  local k cut_files=()
  for ((k = 1; k <= ${cut_disks:-0}; k++)); do
    rm -f "$stage/cut$k.img"
    truncate -s 64M "$stage/cut$k.img"
    cut_files+=("$stage/cut$k.img")
    qemu+=(-drive "file=$stage/cut$k.img,if=virtio,format=raw,cache=writeback")
  done
  if ((interactive)); then
    set +e
    "${qemu[@]}"
    qemu_rc=$?
    set -e
    return
  fi
  # The test host's /init writes its uptime to a second serial port every
  # 5 s (the heartbeat); the monitor lets watch_testhost read a stalled test
  # host's CPU state.
  qemu+=(-serial "file:$stage/heartbeat" -monitor "pipe:$stage/monitor" -pidfile "$stage/qemu.pid")
  local attempt
  for attempt in 1 2; do
    rm -f "$stage/heartbeat" "$stage/qemu.pid" "$stage/frozen" "$stage/frozen.txt" "$stage"/monitor.*
    mkfifo "$stage/monitor.in" "$stage/monitor.out"
    watch_testhost "$stage" &
    local watcher=$! cutter=
    rm -f "$stage/cut"
    if [[ -n $cut_disks ]]; then
      watch_powercut "$stage" &
      cutter=$!
    fi
    set +e
    # EPYC names features TCG lacks; qemu warns about each, harmlessly.
    timeout -k 5 "$timeout" "${qemu[@]}" </dev/null 2>&1 | tr -d '\r' |
      grep --line-buffered -v "TCG doesn't support requested feature" | tee "$log"
    qemu_rc=${PIPESTATUS[0]}
    set -e
    kill "$watcher" $cutter 2>/dev/null || true
    wait "$watcher" $cutter 2>/dev/null || true
    [[ -f $stage/frozen ]] || break
    froze=$((froze + 1))
    cat "$log" "$stage/frozen.txt" >"$log.froze$froze"
    if ((attempt == 1)); then
      echo "run.sh: the test host froze (CPU state in $log.froze$froze); booting it again, once" >&2
    fi
  done
  rm -f "$stage/initrd.cpio" "$stage"/monitor.*
  if [[ -f $stage/cut ]]; then
    # The verdict from outside: the scenario's .cut script reads the log
    # (what the test host said before it died) and the disk files.
    echo "run.sh: power cut done; checking ${cut_files[*]} with ${script%.*}.cut" >&2
    {
      bash "${script%.*}.cut" "$log" "${cut_files[@]}" 2>&1
      echo "KHYVE-SCENARIO-EXIT rc=$?"
      echo "KHYVE-SCENARIO-DONE after the power cut"
    } | tee -a "$log"
  fi
  rm -f "${cut_files[@]}"
}

# The power cut: SIGKILL to qemu as soon as the serial log has a line
# starting with KHYVE-POWER-CUT.
watch_powercut() { # STAGE
  local stage=$1 pid
  while [[ ! -s $stage/qemu.pid ]]; do sleep 0.2; done
  pid=$(<"$stage/qemu.pid")
  while kill -0 "$pid" 2>/dev/null; do
    if grep -q '^KHYVE-POWER-CUT' "$log" 2>/dev/null; then
      touch "$stage/cut"
      kill -KILL "$pid"
      return 0
    fi
    sleep 0.2
  done
}

# A test host whose heartbeat stops for $stall seconds has frozen below us:
# TCG with nested SVM has been seen to stop for good, idle, with no timer
# armed (testhost/README.md). Its CPU and local APIC state go into the log,
# then qemu is stopped and run_testhost boots the test host once more.
stall=${KHYVE_TESTHOST_STALL:-120}
watch_testhost() { # STAGE
  local stage=$1 size last=-1 quiet=0 pid
  while [[ ! -s $stage/qemu.pid ]]; do sleep 1; done
  pid=$(<"$stage/qemu.pid")
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    size=$(stat -c %s "$stage/heartbeat" 2>/dev/null || echo 0)
    if [[ $size != "$last" ]]; then last=$size quiet=0; continue; fi
    quiet=$((quiet + 5))
    ((quiet >= stall)) || continue
    touch "$stage/frozen"
    {
      echo "run.sh: TEST HOST FROZEN: no heartbeat for ${quiet}s (last: $(tail -n1 "$stage/heartbeat" 2>/dev/null || echo none))"
      printf 'info registers\ninfo lapic\ninfo pic\nx/6i $pc\n' >"$stage/monitor.in"
      # (the monitor echoes each command key by key: only its answers are kept)
      timeout 5 cat "$stage/monitor.out" | tr -d '\r' | grep -av '(qemu)' | sed 's/^/run.sh: frozen | /' || true
    } >>"$stage/frozen.txt" 2>&1
    # The serial log is a pipe into tee: append there through stderr.
    cat "$stage/frozen.txt" >&2
    kill "$pid" 2>/dev/null
    return 0
  done
}

echo "run.sh: scenario $name in $mode mode (log $log)" >&2
qemu_rc=0
froze=0
if [[ $mode == direct ]]; then run_direct; else run_testhost; fi
elapsed=$((SECONDS - t0))

if ((interactive)); then
  echo "run.sh: interactive session ended (status $qemu_rc, ${elapsed}s)"
  exit 0
fi

# --- judge ---------------------------------------------------------------------

passes=$(grep -c '^KHYVE-PASS: ' "$log" || true)
failed=$(grep '^KHYVE-FAIL: ' "$log" | sed 's/^KHYVE-FAIL: //' || true)
scenario_rc=$(sed -n 's/^KHYVE-SCENARIO-EXIT rc=\([0-9]*\).*/\1/p' "$log" | tail -n1)
start_at=$(sed -n 's/^KHYVE-SCENARIO-START .*uptime=\([0-9.]*\).*/\1/p' "$log" | head -n1)
reasons=()
[[ -n $failed ]] && reasons+=("$(grep -c . <<<"$failed") failed: $(head -n3 <<<"$failed" | paste -sd',' -)")
((passes > 0)) || reasons+=("no KHYVE-PASS")
if ! grep -q '^KHYVE-SCENARIO-DONE' "$log"; then
  if ((froze > 1)); then
    reasons+=("the test host froze twice (no heartbeat; CPU state in $log.froze1 and .froze2)")
  elif ((qemu_rc == 124 || qemu_rc == 137)); then
    reasons+=("timed out after ${timeout}s")
  else
    reasons+=("no KHYVE-SCENARIO-DONE (crash?)")
  fi
fi
[[ -n $scenario_rc && $scenario_rc != 0 ]] && reasons+=("scenario exited $scenario_rc")
((qemu_rc == 0 || qemu_rc == 124 || qemu_rc == 137 || froze > 1)) || reasons+=("qemu exited $qemu_rc")

thawed=
((froze != 1)) || thawed=", booted again after $froze test-host freeze(s), see $log.froze1"
detail="$mode mode, ${elapsed}s$thawed${start_at:+, scenario started at test-host uptime ${start_at}s}, log $log"
if ((${#reasons[@]})); then
  summary=$(printf '%s; ' "${reasons[@]}")
  echo "run.sh: FAIL $name: ${summary%; } ($detail)"
  exit 1
fi
echo "run.sh: PASS $name: $passes checks ($detail)"
