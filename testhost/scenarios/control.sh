# A running VM seen from outside: bhyvectl --get-stats (text and JSON),
# --get-rip/--get-all, refusal of a second bhyve/bhyveload on the same VM,
# SIGTERM pressing the ACPI power button (guest powers off: exit 1), -D
# destroying the VM on power-off, and -p pinning accepted.
. "$KHYVE_LIB"

wait_for() { # FILE REGEX SECONDS
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=lifecycle khyve.action=button" vm1
bhyve -A -D -H -c 2 -p 0:0 -p 1:0 -m 256 -s 0:0,hostbridge -s 31,lpc -l com1,stdio vm1 >vm1.log 2>&1 </dev/null &
pid=$!
if wait_for vm1.log 'KHYVE-GUEST-BUTTON-WAIT' 150; then
	pass guest-running
else
	sed 's/^/  | /' vm1.log
	fail guest-running "the guest did not reach its power-button wait"
fi
expect_not_in_file guest-has-power-button vm1.log 'KHYVE-GUEST-BUTTON-WAIT none'

bhyvectl --vm=vm1 --get-stats >stats1.txt
echo "  stats:"; sed 's/^/  > /' stats1.txt
runtime=$(awk -F'\t' '/vcpu total runtime/ {print $2; exit}' stats1.txt)
exits=$(awk -F'\t' '/number of times in\/out of guest/ {print $2; exit}' stats1.txt)
[ "${runtime:-0}" -gt 0 ] && pass stats-runtime-nonzero || fail stats-runtime-nonzero "runtime '${runtime}'"
[ "${exits:-0}" -gt 0 ] && pass stats-exits-nonzero || fail stats-exits-nonzero "exits '${exits}'"
expect_in_file stats-two-vcpus stats1.txt '^vcpu1 stats:'
expect_in_file stats-manual-counters stats1.txt 'number of NMIs delivered to vcpu'
bhyvectl --vm=vm1 --get-stats --json >stats.json
expect_in_file stats-json stats.json '^\{"devices":\[.*"vcpus":\[\{.*"runtime_ns":[0-9]+'

bhyvectl --vm=vm1 --get-rip >rip.txt
expect_in_file get-rip rip.txt '^rip\[0\]	0x[0-9a-f]{16}$'
bhyvectl --vm=vm1 --vcpu=1 --get-all >all.txt
expect_in_file get-all all.txt '^cr3\[1\]	0x'
bhyvectl --vm=vm1 --get-lowmem >low.txt
expect_in_file get-lowmem low.txt '^lowmem		0x0000000010000000$'

bhyve -A -c 1 -m 256 -l com1,stdio vm1 >second.txt 2>&1 </dev/null
rc=$?
[ $rc -eq 4 ] && pass second-bhyve-refused || fail second-bhyve-refused "exit $rc"
expect_in_file second-bhyve-says-why second.txt 'in use'
bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz vm1 >reload.txt 2>&1
rc=$?
[ $rc -eq 4 ] && pass bhyveload-on-running-refused || fail bhyveload-on-running-refused "exit $rc"

kill -TERM $pid
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
wait $pid
rc=$?
sed 's/^/  | /' vm1.log | tail -n 5
[ $rc -eq 1 ] && pass sigterm-powers-off || fail sigterm-powers-off "bhyve exited $rc"
expect_in_file guest-saw-power-button vm1.log 'KHYVE-GUEST-BUTTON[[:space:]]*$'
# -D: the powered-off guest took its VM object with it.
ls /dev/vmm >ls.txt
expect_not_in_file destroy-on-poweroff ls.txt '^vm1$'
bhyvectl --vm=vm1 --destroy 2>/dev/null
finish
