# khyve-testhost-tools: gdb
# khyve-testhost-qemu: backports
# Debian's gdb against a running guest through bhyve -G: two vCPU threads,
# read linux_banner at its System.map address (the guest runs with nokaslr)
# and compare it with the guest's /proc/version, single-step a vCPU
# (KVM_SET_GUEST_DEBUG, #DB exits), break on the sync syscall, hit it twice
# (continue steps over it), delete it and detach; the guest then powers off
# normally.
# The breakpoint kind depends on where this runs. On hardware KVM (direct
# mode) it is gdb's `break` (int3 patched into the guest, #BP intercepted) and
# then `hbreak`. In the TCG test host only `hbreak` (debug registers): QEMU's
# TCG treats a nested guest's int3 as a software interrupt and never raises
# the #BP intercept kvm-amd asked for, so the guest takes its own int3. The
# test host runs under the backported QEMU because 7.2 does not arm DR7
# breakpoints loaded by VMRUN either.
. "$KHYVE_LIB"

banner=$(awk '$3 == "linux_banner" {print $1}' "$KIT/cloud/System.map")
syncfn=$(awk '$3 == "__x64_sys_sync" {print $1}' "$KIT/cloud/System.map")
[ -n "$banner" ] && [ -n "$syncfn" ] && pass system-map || fail system-map "symbols missing"

bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet nokaslr khyve.script=gdbtarget" vm1
bhyve -A -H -c 2 -m 256 -G 127.0.0.1:1234 -s 0:0,hostbridge -s 31,lpc -l com1,stdio vm1 \
	>vm1.log 2>&1 </dev/null &
pid=$!
i=0
while ! grep -q KHYVE-GDB-READY vm1.log && [ $i -lt 1500 ]; do sleep 0.1; i=$((i + 1)); done
grep -q KHYVE-GDB-READY vm1.log && pass guest-ready || fail guest-ready "no KHYVE-GDB-READY"

# Each kind: set, continue to the hit, continue to the next hit, delete.
kinds="hbreak"
[ "$KHYVE_MODE" = direct ] && kinds="break hbreak"
set --
for kind in $kinds; do
	set -- "$@" -ex "$kind *0x$syncfn" \
		-ex "continue" -ex "printf \"KHYVE-GDB-HIT1 $kind %lx\\n\", \$pc" \
		-ex "continue" -ex "printf \"KHYVE-GDB-HIT2 $kind %lx\\n\", \$pc" \
		-ex "info breakpoints" -ex "delete"
done
# gdb reads no terminal (stdin /dev/null) and is watched by a background
# timer rather than timeout(1), whose watcher process gdb would see as a child.
gdb -batch -nx \
	-ex "set architecture i386:x86-64" \
	-ex "target remote 127.0.0.1:1234" \
	-ex "info threads" \
	-ex "x/s 0x$banner" \
	-ex "printf \"KHYVE-PC0 %lx\\n\", \$pc" \
	-ex "stepi" \
	-ex "printf \"KHYVE-PC1 %lx\\n\", \$pc" \
	-ex "stepi" \
	-ex "printf \"KHYVE-PC2 %lx\\n\", \$pc" \
	"$@" \
	-ex "detach" </dev/null >gdb.out 2>&1 &
gdb_pid=$!
# gdb ends a SIGTERM'd "continue" with "Cannot execute this command while the
# target is running" and may still exit 0, so the timer leaves a mark of its
# own; gdb has been seen to hang after the SIGTERM too, hence the SIGKILL.
rm -f gdb.killed
(sleep 120 && kill -0 $gdb_pid 2>/dev/null && touch gdb.killed && kill $gdb_pid && sleep 10 &&
	kill -KILL $gdb_pid 2>/dev/null) &
watch_pid=$!
wait $gdb_pid
rc=$?
kill $watch_pid 2>/dev/null
sed 's/^/  gdb> /' gdb.out
if [ -e gdb.killed ]; then
	fail gdb-session "gdb killed after 120 s (no stop reply; guest console follows)"
	# A breakpoint the hypervisor never sees lands in the guest's own int3 handler.
	grep -n -i -A3 'int3\|oops\|panic' vm1.log | head -20 | sed 's/^/  vm1> /'
elif [ $rc -eq 0 ]; then
	pass gdb-session
else
	fail gdb-session "gdb exited $rc"
fi
want=$(sed -n 's/.*KHYVE-GUEST-VERSION \(Linux version [^\r]*\).*/\1/p' vm1.log | head -n 1 | cut -c1-60)
if [ -n "$want" ] && grep -F "$want" gdb.out >/dev/null; then
	pass linux-banner-matches-proc-version
else
	fail linux-banner-matches-proc-version "guest says '$want'"
fi
expect_in_file two-threads gdb.out 'Thread 2'
pc0=$(sed -n 's/^KHYVE-PC0 //p' gdb.out)
pc1=$(sed -n 's/^KHYVE-PC1 //p' gdb.out)
pc2=$(sed -n 's/^KHYVE-PC2 //p' gdb.out)
case "$pc0:$pc1:$pc2" in
ffffffff*:ffffffff*:ffffffff*) [ "$pc0" != "$pc1" ] || [ "$pc1" != "$pc2" ] &&
	pass single-step-moves-pc || fail single-step-moves-pc "pc stayed at $pc0" ;;
*) fail single-step-moves-pc "pcs '$pc0' '$pc1' '$pc2'" ;;
esac
for kind in $kinds; do
	expect_in_file "$kind-hit" gdb.out "^KHYVE-GDB-HIT1 $kind 0*${syncfn#0x}\$"
	expect_in_file "$kind-hit-again-after-continue" gdb.out "^KHYVE-GDB-HIT2 $kind 0*${syncfn#0x}\$"
done
expect_in_file breakpoint-hit-count gdb.out 'breakpoint already hit 2 times'

i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $pid 2>/dev/null && { kill -KILL $pid; fail guest-finished "bhyve still running"; }
wait $pid
rc=$?
[ $rc -eq 1 ] && pass guest-powered-off-after-detach || fail guest-powered-off-after-detach "bhyve exited $rc"
bhyvectl --vm=vm1 --destroy
finish
