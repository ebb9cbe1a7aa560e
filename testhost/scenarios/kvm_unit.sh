# shellcheck shell=sh
# khyve-testhost-tools: khyve_unit usdt_attach.sh perf readelf
# The unit tests that need a /dev/kvm, on the test host's real (nested)
# kvm-amd: CI's own machine may have none, where they skip; here a skip is a
# failure. Then a tracer attaches to the USDT probes (tests/cli/usdt_attach.sh) on a kernel that has uprobes, and sees them fire.
# shellcheck disable=SC1090 # lib.sh, path set by run.sh
. "$KHYVE_LIB"

# tiny_guests: every TinyGuest test ran and passed; none skipped.
khyve_unit --gtest_filter='TinyGuest.*' >"$KHYVE_SCRATCH/tiny.log" 2>&1
rc=$?
sed 's/^/  | /' "$KHYVE_SCRATCH/tiny.log"
ran=$(grep -c '^\[       OK \] TinyGuest\.' "$KHYVE_SCRATCH/tiny.log")
if [ $rc -ne 0 ]; then
	fail tiny-guests "khyve_unit exited $rc"
elif grep -q '^\[  SKIPPED \]' "$KHYVE_SCRATCH/tiny.log"; then
	fail tiny-guests "a test skipped: $(grep -m1 -B1 '^\[  SKIPPED \]' "$KHYVE_SCRATCH/tiny.log" | head -1)"
elif [ "$ran" -lt 8 ]; then
	fail tiny-guests "only $ran TinyGuest tests passed"
else
	pass "tiny-guests ($ran passed)"
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
