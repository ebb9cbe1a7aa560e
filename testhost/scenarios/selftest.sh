# shellcheck shell=sh
# The harness checks itself; needs no VMM: the test host has a working
# nested KVM and the guest kit is in place.
# shellcheck disable=SC1090 # lib.sh, path set by run.sh
. "$KHYVE_LIB"

check kvm-device test -c /dev/kvm
if [ "$KHYVE_MODE" = testhost ]; then
	check kvm-amd-loaded test -d /sys/module/kvm_amd
	if dmesg | grep -qi "Nested Paging"; then
		pass nested-paging
	else
		fail nested-paging "no 'Nested Paging' in dmesg"
	fi
	check tun-device test -c /dev/net/tun
fi

check kit-cloud test -s "$KIT/cloud/vmlinuz" -a -s "$KIT/cloud/initrd.img" -a -s "$KIT/cloud/System.map"
check kit-generic test -s "$KIT/generic/vmlinuz" -a -s "$KIT/generic/initrd.img"
check kit-guest-init sh -c "cpio -t <'$KIT/cloud/initrd.img' 2>/dev/null | grep -Eqx '(\./)?init'"
check kit-pattern sh -c "cd '$KIT/images' && sha256sum -c pattern.sha256"
check kit-disks test -s "$KIT/images/mbr.img" -a -s "$KIT/images/gpt.img"
check scratch-writable sh -c "echo x >'$KHYVE_SCRATCH/probe'"

for tool in bhyve bhyveload bhyvectl vmrun.sh; do
	if command -v "$tool" >/dev/null; then
		echo "selftest: $tool at $(command -v "$tool")"
	else
		echo "selftest: $tool not built"
	fi
done
finish
