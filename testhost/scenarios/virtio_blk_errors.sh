# virtio-blk when things go wrong: an image on a full host filesystem gives
# the guest I/O errors while bhyve keeps running; a read-only disk refuses
# guest writes and its image is unchanged. Also boots Debian's generic kernel
# (ext4 as a module) from the MBR and GPT images.
. "$KHYVE_LIB"

mkdir -p small
mount -t tmpfs -o size=8m small small || fail tmpfs "cannot mount a small tmpfs"
truncate -s 64M small/full.img
cp "$KIT/images/pattern.img" ro.img
before=$(sha256sum <ro.img)
bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=blkerr" vm1
run_guest vm1.log 240 bhyve -A -H -c 1 -m 256 -s 0:0,hostbridge \
	-s 2:0,virtio-blk,small/full.img -s 3:0,virtio-blk,ro.img,ro -s 31,lpc -l com1,stdio vm1
rc=$?
[ $rc -eq 1 ] && pass vmm-survives-enospc || fail vmm-survives-enospc "bhyve exited $rc"
expect_guest_ok blkerr vm1.log
[ "$(sha256sum <ro.img)" = "$before" ] && pass ro-image-unchanged || fail ro-image-unchanged "ro.img changed"
bhyvectl --vm=vm1 --destroy
umount small

cp "$KIT/images/mbr.img" "$KIT/images/gpt.img" .
bhyveload -m 256 -h "$KIT/generic" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=disk" vm2
run_guest vm2.log 240 bhyve -A -H -c 1 -m 256 -s 0:0,hostbridge \
	-s 2:0,virtio-blk,mbr.img -s 3:0,virtio-blk,gpt.img -s 31,lpc -l com1,stdio vm2
rc=$?
[ $rc -eq 1 ] && pass generic-powered-off || fail generic-powered-off "bhyve exited $rc"
expect_in_file generic-kernel vm2.log 'KHYVE-GUEST-INIT [0-9.-]+-amd64'
expect_not_in_file generic-not-cloud vm2.log 'KHYVE-GUEST-INIT .*cloud'
expect_guest_ok generic-disk vm2.log
expect_in_file generic-mbr vm2.log 'KHYVE-PASS: guest-mount-vda'
expect_in_file generic-gpt vm2.log 'KHYVE-PASS: guest-mount-vdb'
bhyvectl --vm=vm2 --destroy
finish
