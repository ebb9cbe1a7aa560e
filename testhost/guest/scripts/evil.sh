# shellcheck shell=sh
# Guest side of the evil_guest scenario: a hostile virtio driver
# (/khyve/khyve_guest_evil, appended to the initramfs by the scenario) takes
# the device from the kernel and submits malformed rings; then the kernel's
# own driver gets the device back and must find it working.
#   khyve.evil=blk|blk-ro|net  which device to attack (default blk; blk-ro:
#                        an honest write to a disk the host opened read-only)
#   khyve.ring=GPA       2 MiB the kernel was told to leave alone (memmap=2M$GPA)
#   khyve.pattern=SHA    (blk) digest of the whole disk, checked afterwards
evil=/khyve/khyve_guest_evil
kind=${KHYVE_EVIL:-blk}
if [ ! -x $evil ]; then
	echo "KHYVE-FAIL: evil-binary: $evil is not in the initramfs"
	exit 1
fi
grep -i "reserved" /proc/iomem | sed 's/^/guest iomem: /' | head -n 8
$evil "$kind" "$KHYVE_RING"
rc=$?
if [ $rc -eq 0 ]; then
	echo "KHYVE-PASS: evil-driver-finished"
else
	echo "KHYVE-FAIL: evil-driver-finished: exit status $rc"
fi
if [ "$kind" != net ]; then
	i=0
	while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if [ ! -b /dev/vda ]; then
		echo "KHYVE-FAIL: evil-kernel-driver-back: no /dev/vda after rebinding"
	else
		size=$(cat /sys/block/vda/size)
		sum=$(head -c $((size * 512)) /dev/vda | sha256sum | cut -d' ' -f1)
		if [ "$sum" = "$KHYVE_PATTERN" ]; then
			echo "KHYVE-PASS: evil-kernel-driver-back (disk reads back intact)"
		else
			echo "KHYVE-FAIL: evil-kernel-driver-back: /dev/vda sha256 $sum"
		fi
	fi
else
	i=0
	while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if ip link set eth0 up 2>/dev/null && [ -e /sys/class/net/eth0 ]; then
		echo "KHYVE-PASS: evil-kernel-driver-back (eth0 up)"
	else
		echo "KHYVE-FAIL: evil-kernel-driver-back: no eth0 after rebinding"
	fi
fi
dmesg | grep -iE "virtio|nobody cared" | tail -n 5 | sed 's/^/guest dmesg: /'
exit $rc
