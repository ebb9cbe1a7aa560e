# shellcheck shell=sh
# khyve-testhost-tools: qemu-img
# qcow2 images made by Debian's qemu-img, read by a real guest: a compressed
# qcow2 of the kit's pattern disk under an empty qcow2 overlay (a backing
# chain), and a qcow2 of the kit's MBR disk (ext4 partition). The guest reads
# the whole pattern disk back with the right sha256 and mounts the ext4
# partition; afterwards qemu-img check finds the images clean and unchanged.
# A qcow2 opened read-write is refused with one line (khyve reads qcow2 only).
# shellcheck disable=SC1090 # lib.sh, path set by run.sh
. "$KHYVE_LIB"

qemu-img convert -c -O qcow2 "$KIT/images/pattern.img" base-c.qcow2
qemu-img create -q -f qcow2 -F qcow2 -b base-c.qcow2 overlay.qcow2
qemu-img convert -O qcow2 "$KIT/images/mbr.img" mbr.qcow2
before=$(cat base-c.qcow2 overlay.qcow2 mbr.qcow2 | sha256sum)
qemu-img info --backing-chain overlay.qcow2 | sed 's/^/  | /'

bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=disk khyve.pattern=$KHYVE_PATTERN_SHA256" vm1
run_guest vm1.log 180 bhyve -A -H -c 1 -m 256 -s 0:0,hostbridge \
	-s 2:0,virtio-blk,overlay.qcow2,ro -s 3:0,virtio-blk,mbr.qcow2,ro -s 31,lpc -l com1,stdio vm1
rc=$?
[ $rc -eq 1 ] && pass bhyve-powered-off || fail bhyve-powered-off "bhyve exited $rc"
expect_guest_ok disk vm1.log
expect_in_file chain-read-by-guest vm1.log 'KHYVE-PASS: guest-pattern-vda'
expect_in_file qcow2-ext4-mounted vm1.log 'KHYVE-PASS: guest-mount-vdb'
bhyvectl --vm=vm1 --destroy

[ "$(cat base-c.qcow2 overlay.qcow2 mbr.qcow2 | sha256sum)" = "$before" ] && pass images-unchanged ||
	fail images-unchanged "a qcow2 file changed"
check qemu-img-check-overlay qemu-img check overlay.qcow2
check qemu-img-check-mbr qemu-img check mbr.qcow2

bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img -e cmdline="console=ttyS0" vm2
bhyve -m 256 -s 0:0,hostbridge -s 2:0,virtio-blk,mbr.qcow2 -s 31,lpc -l com1,stdio vm2 </dev/null >vm2.log 2>&1
rc=$?
[ $rc -eq 4 ] && [ "$(wc -l <vm2.log)" -eq 1 ] && grep -q "read-only in khyve so far" vm2.log &&
	pass "read-write-qcow2-refused ($(cat vm2.log))" || fail read-write-qcow2-refused "exit $rc: $(head -2 vm2.log)"
bhyvectl --vm=vm2 --destroy
finish
