# shellcheck shell=sh
# khyve-testhost-tools: khyve_unit usdt_attach.sh perf readelf
# The unit tests that need a /dev/kvm or back a docs/SECURITY.md claim, on
# the test host's real (nested) kvm-amd and Debian kernel: CI's own machine
# may lack /dev/kvm, where the KVM ones skip; here a skip is a failure.
# Then a tracer attaches to the USDT probes (tests/cli/usdt_attach.sh) on a
# kernel that has uprobes, and sees them fire.
# shellcheck disable=SC1090 # lib.sh, path set by run.sh
. "$KHYVE_LIB"

# The unit tests behind docs/SECURITY.md's claims and those that need a
# /dev/kvm, on the test host's Debian kernel: every one listed must run and
# pass; none may skip (no seccomp, no restricted io_uring, no root, no KVM).
filter='TinyGuest.*:SandboxSeccomp.*:SandboxPrivileges.*:SandboxMode.*:DiskbootSandbox.*:RunAs.*:UringRing.*:ControlServer.*'
listed=$(khyve_unit --gtest_filter="$filter" --gtest_list_tests | grep -c '^  ')
khyve_unit --gtest_filter="$filter" >"$KHYVE_SCRATCH/unit.log" 2>&1
rc=$?
sed 's/^/  | /' "$KHYVE_SCRATCH/unit.log"
ran=$(grep -c '^\[       OK \] ' "$KHYVE_SCRATCH/unit.log")
tiny=$(grep -c '^\[       OK \] TinyGuest\.' "$KHYVE_SCRATCH/unit.log")
if [ $rc -ne 0 ]; then
	fail unit-tests "khyve_unit exited $rc"
elif grep -q '^\[  SKIPPED \]' "$KHYVE_SCRATCH/unit.log"; then
	fail unit-tests "a test skipped: $(grep -m1 -B1 '^\[  SKIPPED \]' "$KHYVE_SCRATCH/unit.log" | head -1)"
elif [ "$ran" -ne "$listed" ] || [ "$tiny" -lt 8 ]; then
	fail unit-tests "$ran of $listed tests passed ($tiny TinyGuest)"
else
	pass "unit-tests ($ran of $listed passed, $tiny TinyGuest, none skipped)"
fi

# usdt: perf records khyve:pio and khyve:vm_exit through uprobes.
[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
bash "$KHYVE_BUILD/usdt_attach.sh" "$KHYVE_BUILD/khyve_unit" >"$KHYVE_SCRATCH/usdt.log" 2>&1
rc=$?
sed 's/^/  | /' "$KHYVE_SCRATCH/usdt.log"
case $rc in
0) pass usdt-attach ;;
77) fail usdt-attach "skipped: $(grep -m1 SKIP "$KHYVE_SCRATCH/usdt.log")" ;;
*) fail usdt-attach "usdt_attach.sh exited $rc" ;;
esac
finish
