# The seccomp filters in a real bhyve (the default, no option given): a
# thread of each kind (control = the main thread, vCPU, device I/O = the
# virtio-blk worker, gdb = the gdb stub's server with -g) is made to call
# socket(2) through ptrace (tests/testhost/syscall_inject.c). First the same
# thread runs getpid(2), which its filter allows, so the injection itself is
# shown to work. By default the kernel kills the whole of bhyve with SIGSYS at
# the refused call (status 159) and its audit line names syscall 41; with
# KHYVE_SECCOMP=trap (debugging) bhyve names the syscall and the thread kind
# on one line and exits 4; with -o khyve.seccomp=false socket(2) works.
. "$KHYVE_LIB"

# pick_thread PID KIND: the TID of a thread of that kind.
pick_thread() {
	for _t in /proc/$1/task/*; do
		_tid=${_t##*/}
		_sys=$(cut -d' ' -f1 "$_t/syscall" 2>/dev/null)
		_nf=$(sed -n 's/^Seccomp_filters:[[:space:]]*//p' "$_t/status" 2>/dev/null)
		case $2 in
		control) [ "$_tid" = "$1" ] && { echo "$_tid"; return; } ;;
		vcpu) [ "$_tid" != "$1" ] && [ "$_sys" = 16 ] && { echo "$_tid"; return; } ;;
		# The virtio worker: created by a (filtered) vCPU thread, so two
		# filters, and waiting in epoll.
		device) [ "$_nf" = 2 ] && { [ "$_sys" = 232 ] || [ "$_sys" = 281 ]; } && { echo "$_tid"; return; } ;;
		# The gdb server names itself; it must carry its own filter.
		gdb) [ "$(cat "$_t/comm" 2>/dev/null)" = gdb ] && [ -n "$_nf" ] && [ "$_nf" -ge 1 ] &&
			{ echo "$_tid"; return; } ;;
		esac
	done
}

# audit_count: the kernel's seccomp kill records for socket(2) so far.
audit_count() { dmesg | grep -c 'type=1326.* sig=31 .*syscall=41 '; }

n=0
for kind in control vcpu device gdb trap-device; do
	n=$((n + 1))
	truncate -s 64M disk$n.img
	extra=
	[ $kind = gdb ] && extra="-g 1234"
	mode=kill
	case $kind in trap-*) mode=trap kind=${kind#trap-} ;; esac
	audits=$(audit_count)
	# The default needs no setting; trap is the debugging mode.
	if [ $mode = trap ]; then export KHYVE_SECCOMP=trap; else unset KHYVE_SECCOMP; fi
	# shellcheck disable=SC2086
	start_disk_guest vm$n idle disk$n.img $extra
	unset KHYVE_SECCOMP
	pid=$GUEST_PID
	wait_for_line vm$n.log "^KHYVE-GUEST-IDLE" 180 $pid
	# An idle guest's vCPU thread waits in KVM_RUN (ioctl); look a few times.
	tid=
	tries=0
	while [ -z "$tid" ] && [ $tries -lt 50 ]; do
		tid=$(pick_thread $pid $kind)
		[ -n "$tid" ] || sleep 0.1
		tries=$((tries + 1))
	done
	if [ -z "$tid" ]; then
		fail "$mode-$kind-thread-found" "no $kind thread in bhyve $pid"
		kill -KILL $pid
		wait $pid
		continue
	fi
	out=$(khyve_syscall_inject "$tid" 39 2>&1)
	[ "$out" = "returned $pid" ] && pass "$mode-$kind-getpid-allowed" ||
		fail "$mode-$kind-getpid-allowed" "getpid in thread $tid: $out"
	out=$(khyve_syscall_inject "$tid" 41 2 1 0 2>&1)
	want=killed
	[ $mode = trap ] && want=refused
	[ "$out" = $want ] && pass "$mode-$kind-socket-$want" ||
		fail "$mode-$kind-socket-$want" "socket in thread $tid: $out"
	wait $pid
	rc=$?
	if [ $mode = kill ]; then
		[ $rc -eq 159 ] && pass "kill-$kind-bhyve-sigsys" || fail "kill-$kind-bhyve-sigsys" "bhyve exited $rc"
		now=$(audit_count)
		[ "$now" -gt "$audits" ] && pass "kill-$kind-audit-names-socket" ||
			fail "kill-$kind-audit-names-socket" "no new seccomp audit line for syscall 41"
		dmesg | grep 'type=1326' | tail -1 | sed 's/^/  | /'
	else
		[ $rc -eq 4 ] && pass "trap-$kind-bhyve-exit-4" || fail "trap-$kind-bhyve-exit-4" "bhyve exited $rc"
		case $kind in control) label=control ;; vcpu) label=vCPU ;; device) label="device I/O" ;; gdb) label=gdb ;; esac
		expect_in_file "trap-$kind-named" vm$n.log "seccomp refused syscall 41 in a $label thread"
	fi
	tr -d '\r' <vm$n.log | grep "^bhyve:" | sed 's/^/  | /'
	kill -KILL $pid 2>/dev/null
	bhyvectl --vm=vm$n --destroy
	rm -f disk$n.img
done
# The same injection with -o khyve.seccomp=false: socket(2) now succeeds, so
# the refusals above are the filters' doing.
truncate -s 64M disk0.img
bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=idle" vm0
bhyve -A -H -c 1 -m 256 -o khyve.seccomp=false -s 0:0,hostbridge -s 2:0,virtio-blk,disk0.img \
	-s 31,lpc -l com1,stdio vm0 </dev/null >vm0.log 2>&1 &
pid=$!
wait_for_line vm0.log "^KHYVE-GUEST-IDLE" 180 $pid
out=$(khyve_syscall_inject "$pid" 41 2 1 0 2>&1)
case $out in
"returned "[0-9]*) pass "unfiltered-socket-allowed ($out)" ;;
*) fail unfiltered-socket-allowed "socket with seccomp off: $out" ;;
esac
kill -0 $pid 2>/dev/null && pass unfiltered-bhyve-alive || fail unfiltered-bhyve-alive "bhyve died"
kill -KILL $pid 2>/dev/null
wait $pid
bhyvectl --vm=vm0 --destroy
finish
