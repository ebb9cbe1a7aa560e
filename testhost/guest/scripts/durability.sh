# shellcheck shell=sh
# Guest side of the durability scenario: writes numbered 4 KiB blocks to
# /dev/vda, each with O_DIRECT followed by fsync (a virtio-blk FLUSH), and
# prints "FLUSHED n" only after block n's flush completed. The host SIGKILLs
# bhyve somewhere in this loop and then checks blocks 1..n in the image.
# Block n is 256 records of "BLK%012d\n" (16 bytes each).
i=1
while [ $i -lt 16000 ]; do
	# Through a file: dd reading a pipe may get a short block.
	awk -v n=$i 'BEGIN { for (r = 0; r < 256; r++) printf "BLK%012d\n", n }' >/tmp/block
	dd if=/tmp/block of=/dev/vda bs=4096 seek=$i count=1 oflag=direct conv=fsync,notrunc 2>/dev/null || {
		echo "KHYVE-FAIL: guest-write-$i: dd failed"
		exit 1
	}
	echo "FLUSHED $i"
	i=$((i + 1))
done
