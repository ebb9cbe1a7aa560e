# Sourced by testhost/run.sh and bench/run.sh (bash): staging binaries into
# the test host's root, and choosing the QEMU that emulates the test host.
# Copies FILE and the shared libraries it needs (and the dynamic loader) into
# the staging root at the same absolute paths.
stage_binary() {
  local file=$1 dest=$2 stage=$3 lib
  install -D -m 755 "$file" "$stage/$dest"
  # Debug info only grows the initramfs the test host copies under TCG.
  command -v strip >/dev/null && strip --strip-debug "$stage/$dest" 2>/dev/null || true
  ldd "$file" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [[ -f $stage/$lib ]] || install -D -m 755 "$(readlink -f "$lib")" "$stage/$lib"
  done || true  # a static program has no libraries (ldd and grep fail)
}

# The qemu-system-x86_64 that runs the test host: WANT is "backports" (the
# default: Debian's QEMU from the release's -backports suite, fetched into the
# cache by qemu-backports.sh) or "installed" (the host's own). Bookworm's QEMU
# 7.2 left the test host halted with a due, unmasked APIC timer interrupt
# pending (IRR 236, IF=1, HLT) every few dozen scenario runs: a lost wake-up
# in TCG's nested SVM that 10.0 has not shown in 72 runs of the same
# scenarios (testhost/README.md). 7.2 also never fires a nested guest's
# hardware breakpoints, which gdb.sh needs.
testhost_qemu() { # WANT
  case $1 in
  backports) "$(dirname "${BASH_SOURCE[0]}")/qemu-backports.sh" ;;
  installed) command -v qemu-system-x86_64 || { echo "qemu-system-x86_64 is not installed" >&2; return 1; } ;;
  *) echo "test-host QEMU '$1': want backports or installed" >&2; return 1 ;;
  esac
}
