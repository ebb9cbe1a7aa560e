# shellcheck shell=sh
# Guest side of the virtio-blk checks: every /dev/vd? disk that carries the
# kit's ext4 partition must mount and show the marker; a disk holding the
# kit's pattern image must read back the expected sha256.
# Host side passes the expected pattern digest as khyve.pattern=<sha256>.
found=0
for dev in /dev/vd?; do
	[ -b "$dev" ] || continue
	found=1
	if [ -b "${dev}1" ]; then
		mkdir -p "/mnt/${dev#/dev/}"
		if mount -t ext4 "${dev}1" "/mnt/${dev#/dev/}"; then
			marker=$(cat "/mnt/${dev#/dev/}/etc/khyve-marker" 2>/dev/null)
			case $marker in
			KHYVE-DISK-MARKER*) echo "KHYVE-PASS: guest-mount-${dev#/dev/} ($marker)" ;;
			*) echo "KHYVE-FAIL: guest-mount-${dev#/dev/}: marker missing" ;;
			esac
			echo "KHYVE-GUEST-WROTE ${dev#/dev/}" >"/mnt/${dev#/dev/}/written-by-guest" && sync &&
				echo "KHYVE-PASS: guest-write-${dev#/dev/}"
			umount "/mnt/${dev#/dev/}"
		else
			echo "KHYVE-FAIL: guest-mount-${dev#/dev/}: mount failed"
		fi
	elif [ -n "$KHYVE_PATTERN" ]; then
		size=$(cat "/sys/block/${dev#/dev/}/size")
		sum=$(head -c $((size * 512)) "$dev" | sha256sum | cut -d' ' -f1)
		if [ "$sum" = "$KHYVE_PATTERN" ]; then
			echo "KHYVE-PASS: guest-pattern-${dev#/dev/}"
		else
			echo "KHYVE-FAIL: guest-pattern-${dev#/dev/}: sha256 $sum"
		fi
	fi
done
[ $found = 1 ] || echo "KHYVE-FAIL: guest-disks: no /dev/vd? disk"
