# The manual's lifecycle on Debian's cloud kernel: bhyveload, bhyve -c 2 -A,
# exit statuses for poweroff (1), reboot (0), halt (2) and triple fault (3), /dev/vmm listing
# before and after, bhyvectl --destroy.
. "$KHYVE_LIB"

load() { # NAME ACTION [EXTRA-CMDLINE]
	bhyveload -m 256 -M 0 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
		-e cmdline="console=ttyS0 quiet khyve.script=lifecycle khyve.action=$2 ${3:-}" "$1"
}
boot() { # NAME LOG
	run_guest "$2" 180 bhyve -a -A -m 256 -M 0 -I -H -g 0 -c 2 -s 0:0,hostbridge \
		-S 31,uart,stdio "$1"
}

check bhyveload-creates-vm load vm1 poweroff
expect_in_file dev-vmm-lists-vm-before "$(ls /dev/vmm > ls1.txt; echo ls1.txt)" '^vm1$'
boot vm1 vm1.log
rc=$?
[ $rc -eq 1 ] && pass poweroff-exits-1 || fail poweroff-exits-1 "bhyve exited $rc"
expect_in_file guest-reached-init vm1.log 'KHYVE-GUEST-INIT'
expect_in_file guest-sees-2-cpus vm1.log 'KHYVE-GUEST-CPUS 2'
expect_in_file guest-has-tsc-deadline-timer vm1.log 'KHYVE-GUEST-TSC-DEADLINE yes'
# 256 MiB minus what the kernel reserves: MemTotal between 200 and 256 MiB.
memkb=$(sed -n 's/.*KHYVE-GUEST-MEMKB \([0-9]*\).*/\1/p' vm1.log | head -n 1)
if [ -n "$memkb" ] && [ "$memkb" -gt 204800 ] && [ "$memkb" -le 262144 ]; then
	pass guest-memory-size
else
	fail guest-memory-size "MemTotal ${memkb:-missing} kB for a 256 MiB guest"
fi
expect_in_file acpi-tables-clean vm1.log 'KHYVE-GUEST-ACPI-CLEAN'
# A boot state serves one run: running again needs bhyveload again.
bhyve -A -m 256 -M 0 -c 2 -S 31,uart,stdio vm1 </dev/null >again.txt 2>&1
rc=$?
[ $rc -eq 4 ] && pass rerun-needs-bhyveload || fail rerun-needs-bhyveload "second bhyve exited $rc"
expect_in_file rerun-says-why again.txt 'run bhyveload first'
expect_in_file dev-vmm-lists-vm-after "$(ls /dev/vmm > ls2.txt; echo ls2.txt)" '^vm1$'
check bhyvectl-destroy bhyvectl --vm=vm1 --destroy
expect_not_in_file dev-vmm-empty-after-destroy "$(ls /dev/vmm > ls3.txt; echo ls3.txt)" '^vm1$'

load vm2 reboot
boot vm2 vm2.log
rc=$?
[ $rc -eq 0 ] && pass reboot-exits-0 || fail reboot-exits-0 "bhyve exited $rc"
bhyvectl --vm=vm2 --destroy

load vm3 halt
boot vm3 vm3.log
rc=$?
[ $rc -eq 2 ] && pass halt-exits-2 || fail halt-exits-2 "bhyve exited $rc"
bhyvectl --vm=vm3 --destroy

# Without -A the MP table tells the guest about both CPUs and the IOAPIC
# (Debian's generic kernel: the cloud flavour is built without MP tables).
bhyveload -m 256 -M 0 -h "$KIT/generic" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=lifecycle khyve.action=halt" vm5
run_guest vm5.log 180 bhyve -m 256 -M 0 -H -c 2 -s 0:0,hostbridge -S 31,uart,stdio vm5
rc=$?
[ $rc -eq 2 ] && pass no-acpi-halt-exits-2 || fail no-acpi-halt-exits-2 "bhyve exited $rc"
expect_in_file mptable-two-cpus vm5.log 'KHYVE-GUEST-CPUS 2'
expect_in_file timer-through-ioapic vm1.log 'KHYVE-GUEST-TIMER-OK'
expect_in_file timer-through-ioapic-mptable vm5.log 'KHYVE-GUEST-TIMER-OK'
bhyvectl --vm=vm5 --destroy

# reboot=t makes Linux reset by triple fault: bhyve exits 3.
load vm4 reboot reboot=t
boot vm4 vm4.log
rc=$?
[ $rc -eq 3 ] && pass triple-fault-exits-3 || fail triple-fault-exits-3 "bhyve exited $rc"
bhyvectl --vm=vm4 --destroy
finish
