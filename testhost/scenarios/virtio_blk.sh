# virtio-blk on Debian's cloud kernel (virtio as modules): ext4 on MBR and GPT
# images mounts and takes a write that is in the image after power-off; a
# read-only pattern disk reads back the host's sha256; virtio-rnd feeds the
# guest's hwrng.
. "$KHYVE_LIB"

cp "$KIT/images/mbr.img" "$KIT/images/gpt.img" .
bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=disk khyve.pattern=$KHYVE_PATTERN_SHA256" vm1
run_guest vm1.log 240 bhyve -A -H -c 1 -m 256 -s 0:0,hostbridge \
	-s 2:0,virtio-blk,mbr.img -s 3:0,virtio-blk,gpt.img \
	-s 4:0,virtio-blk,"$KIT/images/pattern.img",ro -s 5:0,virtio-rnd \
	-s 31,lpc -l com1,stdio vm1
rc=$?
[ $rc -eq 1 ] && pass guest-powered-off || fail guest-powered-off "bhyve exited $rc"
expect_guest_ok disk vm1.log
# The test host's kernel (6.1) has restricted io_uring rings: the disks must
# not have fallen back to the thread engine (bhyve says so on stderr).
expect_not_in_file blk-on-io-uring vm1.log 'block I/O on a thread'
expect_in_file mbr-mounted vm1.log 'KHYVE-PASS: guest-mount-vda'
expect_in_file gpt-mounted vm1.log 'KHYVE-PASS: guest-mount-vdb'
expect_in_file pattern-read vm1.log 'KHYVE-PASS: guest-pattern-vdc'
# The guest's write reached the image files (the text lands in a data block).
grep -aq "KHYVE-GUEST-WROTE vda" mbr.img && pass mbr-write-persisted ||
	fail mbr-write-persisted "the guest's file is not in mbr.img"
grep -aq "KHYVE-GUEST-WROTE vdb" gpt.img && pass gpt-write-persisted ||
	fail gpt-write-persisted "the guest's file is not in gpt.img"
bhyvectl --vm=vm1 --destroy
finish
