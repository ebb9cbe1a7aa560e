# khyve-testhost-tools: gdb
# Needs hardware KVM (direct mode): under the TCG test host, QEMU 7.2 does not
# deliver the guest's int3 to kvm-amd as a #BP intercept, so the guest takes it.
# Debian's gdb against a running guest through bhyve -G: read linux_banner at
# its System.map address (the guest runs with nokaslr) and compare it with the
# guest's /proc/version, break on the sync syscall, hit it, continue; the guest
# then powers off normally.
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

# gdb reads no terminal (stdin /dev/null) and is watched by a background
# timer rather than timeout(1), whose watcher process gdb would see as a child.
gdb -batch -nx \
	-ex "set architecture i386:x86-64" \
	-ex "target remote 127.0.0.1:1234" \
	-ex "info threads" \
	-ex "x/s 0x$banner" \
	-ex "break *0x$syncfn" \
	-ex "continue" \
	-ex "printf \"KHYVE-GDB-RIP %lx\\n\", \$pc" \
	-ex "delete" \
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
expect_in_file breakpoint-hit gdb.out "KHYVE-GDB-RIP 0*${syncfn#0x}"

i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $pid 2>/dev/null && { kill -KILL $pid; fail guest-finished "bhyve still running"; }
wait $pid
rc=$?
[ $rc -eq 1 ] && pass guest-powered-off-after-detach || fail guest-powered-off-after-detach "bhyve exited $rc"
bhyvectl --vm=vm1 --destroy
finish
