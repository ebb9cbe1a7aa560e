# Guest side of the lifecycle scenario: report what the guest sees, then end
# the way khyve.action= asks (poweroff, reboot, halt, or wait for the ACPI
# power button when khyve.action=button).
echo "KHYVE-GUEST-CPUS $(grep -c ^processor /proc/cpuinfo)"
echo "KHYVE-GUEST-MEMKB $(awk '/MemTotal/{print $2}' /proc/meminfo)"
# The APIC timer in TSC-deadline mode (the CPUID bit bhyve sets when KVM
# offers it): the kernel then needs no APIC timer calibration.
grep -qw tsc_deadline_timer /proc/cpuinfo && echo "KHYVE-GUEST-TSC-DEADLINE yes" || echo "KHYVE-GUEST-TSC-DEADLINE no"
if dmesg | grep -iE "ACPI (BIOS )?(Error|Warning)|ACPI Exception" ; then
	echo "KHYVE-GUEST-ACPI-PROBLEMS"
else
	echo "KHYVE-GUEST-ACPI-CLEAN"
fi
# The PIT must reach the IOAPIC where the MADT/MP table say (pin 2).
if dmesg | grep -iE "timer doesn't work|Falling back to|timer not connected"; then
	echo "KHYVE-GUEST-TIMER-FALLBACK"
else
	echo "KHYVE-GUEST-TIMER-OK"
fi
dmesg | grep -E "ACPI: (RSDP|XSDT|FACP|DSDT|APIC)" | sed 's/^/guest dmesg: /'
case "$KHYVE_ACTION" in
poweroff) poweroff -f ;;
reboot) reboot -f ;;
halt) halt -f ;;
button)
	# Wait for the power button (evdev), then power off as an init would.
	for ev in /sys/class/input/event*; do
		if grep -q "Power Button" "$ev/device/name" 2>/dev/null; then
			dev=/dev/input/$(basename "$ev")
		fi
	done
	echo "KHYVE-GUEST-BUTTON-WAIT ${dev:-none}"
	i=0
	while [ $i -lt 600 ]; do i=$((i + 1)); : $((i * i)); done
	[ -n "$dev" ] && dd if="$dev" bs=24 count=1 of=/dev/null 2>/dev/null && echo KHYVE-GUEST-BUTTON && poweroff -f
	;;
esac
