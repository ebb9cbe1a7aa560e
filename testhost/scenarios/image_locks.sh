# shellcheck shell=sh
# khyve-testhost-tools: qemu-io qemu-img
# Image locks (QEMU's byte-range scheme on OFD locks): while a bhyve guest
# runs on disk1.img, a second bhyve on the same image is refused with one
# line naming the holder, and Debian's qemu-io cannot write it ("Failed to
# get "write" lock"), while qemu-img info -U (force share) still reads it.
# Once bhyve has exited, qemu-io writes the image.
# shellcheck disable=SC1090 # lib.sh, path set by run.sh
. "$KHYVE_LIB"

truncate -s 64M disk1.img
start_disk_guest vm1 idle disk1.img
pid=$GUEST_PID
wait_for_line vm1.log "^KHYVE-GUEST-IDLE" 180 $pid && pass guest-running || fail guest-running "no KHYVE-GUEST-IDLE"

bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img -e cmdline="console=ttyS0" vm2
bhyve -m 256 -s 0:0,hostbridge -s 2:0,virtio-blk,disk1.img -s 31,lpc -l com1,stdio vm2 </dev/null >vm2.log 2>&1
rc=$?
[ $rc -eq 4 ] && [ "$(wc -l <vm2.log)" -eq 1 ] && grep -q "pid $pid (bhyve) holds the write lock" vm2.log &&
	pass "second-bhyve-refused ($(cat vm2.log))" || fail second-bhyve-refused "exit $rc: $(head -2 vm2.log)"
bhyvectl --vm=vm2 --destroy

qemu-io -f raw -c 'write 0 512' disk1.img >qio.log 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'Failed to get "write" lock' qio.log &&
	pass "qemu-io-write-refused ($(head -1 qio.log))" || fail qemu-io-write-refused "exit $rc: $(head -2 qio.log)"
check qemu-img-info-force-share qemu-img info -U disk1.img

kill -KILL $pid
wait $pid
bhyvectl --vm=vm1 --destroy
check qemu-io-writes-after-bhyve qemu-io -f raw -c 'write -P 0x5a 0 512' disk1.img
finish
