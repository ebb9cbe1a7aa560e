# Guest side of the virtio-blk error checks. vda: an image on a nearly full
# host filesystem, vdb: a read-only disk. Writes must fail with I/O errors
# (vda) and be refused (vdb); the VMM must keep running to power off. The
# guest kernel refuses the vdb write itself; the VMM's own refusal of a
# write to a read-only disk is shown by the hostile driver (evil_guest.sh,
# khyve.evil=blk-ro).
if dd if=/dev/zero of=/dev/vda bs=1M count=48 conv=fsync 2>/tmp/dd.err; then
	echo "KHYVE-FAIL: guest-enospc: 48 MiB written to a disk whose host filesystem holds 8 MiB"
else
	echo "KHYVE-PASS: guest-enospc ($(tail -n 1 /tmp/dd.err))"
fi
dmesg | grep -m 3 -iE "I/O error|critical" | sed 's/^/guest dmesg: /'
if [ "$(cat /sys/block/vdb/ro)" = 1 ]; then
	echo "KHYVE-PASS: guest-sees-ro"
else
	echo "KHYVE-FAIL: guest-sees-ro: /sys/block/vdb/ro is $(cat /sys/block/vdb/ro)"
fi
if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>/dev/null; then
	echo "KHYVE-FAIL: guest-ro-write-refused: the write succeeded"
else
	echo "KHYVE-PASS: guest-ro-write-refused"
fi
