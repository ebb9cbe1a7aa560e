# Guest side of the manual's example: network on virtio-net, the disk on
# virtio-blk, the console on the legacy UART.
ip link set eth0 up && ip addr add 192.168.100.2/24 dev eth0
ping -c 2 -W 5 192.168.100.1 >/dev/null && echo "KHYVE-PASS: guest-net" ||
	echo "KHYVE-FAIL: guest-net: no reply from the host's tap"
mkdir -p /mnt/disk
if mount -t ext4 /dev/vda1 /mnt/disk && grep -q KHYVE-DISK-MARKER /mnt/disk/etc/khyve-marker; then
	echo "KHYVE-PASS: guest-disk"
	umount /mnt/disk
else
	echo "KHYVE-FAIL: guest-disk: /dev/vda1 did not mount with the marker"
fi
[ -c /dev/ttyS0 ] && echo "KHYVE-PASS: guest-console-ttyS0"
