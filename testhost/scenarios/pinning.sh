# shellcheck shell=sh
# khyve-testhost-smp: 2
# -p VCPU:HOSTCPU (bhyve's pinning): in a test host with two CPUs, a guest
# with two vCPUs pinned crosswise (-p 0:1 -p 1:0). Each vCPU thread ("vcpu N")
# may run on its host CPU only; the other threads keep both CPUs.
# shellcheck disable=SC1090 # lib.sh, path set by run.sh
. "$KHYVE_LIB"

cpus=$(grep -c '^processor' /proc/cpuinfo)
[ "$cpus" -ge 2 ] && pass "host-has-$cpus-cpus" || fail host-has-2-cpus "the test host has $cpus CPU(s)"
bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=idle" vm1
bhyve -A -H -c 2 -p 0:1 -p 1:0 -m 256 -s 0:0,hostbridge -s 31,lpc -l com1,stdio vm1 \
	</dev/null >vm1.log 2>&1 &
pid=$!
wait_for_line vm1.log "^KHYVE-GUEST-IDLE" 240 $pid

# allowed PID NAME: Cpus_allowed_list of the thread called NAME.
allowed() {
	for _t in /proc/$1/task/*; do
		[ "$(cat "$_t/comm" 2>/dev/null)" = "$2" ] && sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$_t/status"
	done
}
a0=$(allowed $pid "vcpu 0")
a1=$(allowed $pid "vcpu 1")
main=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$pid/status)
echo "  | vcpu 0: '$a0', vcpu 1: '$a1', main thread: '$main'"
[ "$a0" = 1 ] && pass vcpu0-on-cpu1 || fail vcpu0-on-cpu1 "vcpu 0 may run on '$a0'"
[ "$a1" = 0 ] && pass vcpu1-on-cpu0 || fail vcpu1-on-cpu0 "vcpu 1 may run on '$a1'"
[ "$main" = 0-1 ] && pass main-thread-unpinned || fail main-thread-unpinned "the main thread may run on '$main'"
kill -KILL $pid
wait $pid
bhyvectl --vm=vm1 --destroy
finish
