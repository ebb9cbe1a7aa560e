# A malicious guest: a hostile driver inside the guest (tests/guest/
# virtio_evil.c) drives virtio-blk and virtio-net with looping chains,
# buffers outside RAM, broken indirect tables and sector overflows. bhyve
# must stay up (the guest powers off normally afterwards), each attack must
# end in DEVICE_NEEDS_RESET or an IOERR status, the device must work after a
# reset, and the disk image must be unchanged.
. "$KHYVE_LIB"

ring=0x8000000
if [ ! -x "$KHYVE_BUILD/khyve_guest_evil" ]; then
	fail evil-binary "khyve_guest_evil was not built"
	finish
fi
# The guest kit's initramfs plus a second cpio archive carrying the program.
mkdir -p extra/khyve boot
cp "$KHYVE_BUILD/khyve_guest_evil" extra/khyve/
(cd extra && find khyve | cpio -o -H newc -R 0:0 2>/dev/null) >extra.cpio
cat "$KIT/cloud/initrd.img" extra.cpio >boot/initrd.img
cp "$KIT/cloud/vmlinuz" boot/

cp "$KIT/images/pattern.img" evil.img
before=$(sha256sum <evil.img)
bhyveload -m 256 -h boot -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet memmap=2M\$$ring khyve.script=evil khyve.evil=blk khyve.ring=$ring khyve.pattern=$KHYVE_PATTERN_SHA256" vm1
run_guest vm1.log 300 bhyve -A -H -c 1 -m 256 -s 0:0,hostbridge -s 2:0,virtio-blk,evil.img \
	-s 31,lpc -l com1,stdio vm1
rc=$?
[ $rc -eq 1 ] && pass blk-vmm-survived || fail blk-vmm-survived "bhyve exited $rc"
expect_guest_ok blk vm1.log
expect_in_file blk-attacks-ran vm1.log 'KHYVE-PASS: evil-write-sector-wraps-to-0'
[ "$(sha256sum <evil.img)" = "$before" ] && pass blk-image-unchanged ||
	fail blk-image-unchanged "evil.img changed"
bhyvectl --vm=vm1 --destroy

# A disk the host opened read-only: the guest kernel would refuse the write
# itself, so the hostile driver sends it; bhyve must answer IOERR and leave
# the image as it was.
cp "$KIT/images/pattern.img" ro.img
before_ro=$(sha256sum <ro.img)
bhyveload -m 256 -h boot -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet memmap=2M\$$ring khyve.script=evil khyve.evil=blk-ro khyve.ring=$ring khyve.pattern=$KHYVE_PATTERN_SHA256" vm3
run_guest vm3.log 300 bhyve -A -H -c 1 -m 256 -s 0:0,hostbridge -s 2:0,virtio-blk,ro.img,ro \
	-s 31,lpc -l com1,stdio vm3
rc=$?
[ $rc -eq 1 ] && pass blk-ro-vmm-survived || fail blk-ro-vmm-survived "bhyve exited $rc"
expect_guest_ok blk-ro vm3.log
expect_in_file blk-ro-write-reached-the-vmm vm3.log 'KHYVE-PASS: evil-ro-write-refused-by-the-vmm'
[ "$(sha256sum <ro.img)" = "$before_ro" ] && pass blk-ro-image-unchanged ||
	fail blk-ro-image-unchanged "ro.img changed"
bhyvectl --vm=vm3 --destroy

if tunctl -t tap0 >/dev/null 2>&1; then
	ip link set tap0 up
	bhyveload -m 256 -h boot -e kernel=vmlinuz -e initrd=initrd.img \
		-e cmdline="console=ttyS0 quiet memmap=2M\$$ring khyve.script=evil khyve.evil=net khyve.ring=$ring" vm2
	run_guest vm2.log 300 bhyve -A -H -c 1 -m 256 -s 0:0,hostbridge -s 1:0,virtio-net,tap0 \
		-s 31,lpc -l com1,stdio vm2
	rc=$?
	[ $rc -eq 1 ] && pass net-vmm-survived || fail net-vmm-survived "bhyve exited $rc"
	expect_guest_ok net vm2.log
	bhyvectl --vm=vm2 --destroy
else
	fail tap-created "tunctl -t tap0 failed"
fi
finish
