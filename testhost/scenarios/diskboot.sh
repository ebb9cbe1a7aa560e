# khyve-testhost-kit: bootimages
# bhyveload -d finds the kernel inside the guest's disk: extlinux.conf on an
# MBR disk, a Boot Loader Specification entry on a GPT disk, Debian's
# /vmlinuz links on an MBR disk (root= set to the partition found); a disk
# without a kernel gives one line and exit 4, leaving no VM behind.
. "$KHYVE_LIB"

boot_from() { # KIND IMAGE
	cp "$KIT/bootimages/$2" disk.img
	bhyveload -m 256 -d disk.img vm-$1 </dev/null >load-$1.txt 2>&1
	rc=$?
	sed 's/^/  load> /' load-$1.txt
	[ $rc -eq 0 ] && pass "$1-bhyveload" || fail "$1-bhyveload" "exit $rc"
	run_guest $1.log 240 bhyve -A -H -m 256 -s 0:0,hostbridge -s 2:0,virtio-blk,disk.img \
		-s 31,lpc -l com1,stdio vm-$1
	rc=$?
	[ $rc -eq 1 ] && pass "$1-powered-off" || fail "$1-powered-off" "bhyve exited $rc"
	bhyvectl --vm=vm-$1 --destroy
}

boot_from extlinux extlinux-mbr.img
expect_in_file extlinux-chosen extlinux.log 'KHYVE-PASS: guest-booted-via-extlinux'
boot_from bls bls-gpt.img
expect_in_file bls-chosen bls.log 'KHYVE-PASS: guest-booted-via-bls'
# The Debian entry has no khyve.script: the guest ends at its shell, where
# we type poweroff once the prompt is there (a FIFO held open is the console).
cp "$KIT/bootimages/debian-mbr.img" disk.img
bhyveload -m 256 -d disk.img vm-debian </dev/null >load-debian.txt 2>&1 && pass debian-bhyveload ||
	fail debian-bhyveload "exit $?"
mkfifo console.in
bhyve -A -H -m 256 -s 0:0,hostbridge -s 2:0,virtio-blk,disk.img -s 31,lpc -l com1,stdio vm-debian \
	<>console.in >debian.log 2>&1 &
pid=$!
i=0
while ! grep -q 'khyve-guest:' debian.log && [ $i -lt 1800 ]; do sleep 0.1; i=$((i + 1)); done
# Opened read-write so that a dead bhyve (no reader) cannot block the write.
echo "poweroff -f" 1<>console.in
wait_exit $pid 60
rc=$?
[ $rc -eq 1 ] && pass debian-powered-off || fail debian-powered-off "bhyve exited $rc"
expect_in_file debian-booted debian.log 'KHYVE-GUEST-INIT'
grep -E "^bhyve:" debian.log | sed "s/^/  debian> /"
# bhyveload chose the partition it found the links on as the root.
expect_in_file debian-root-set debian.log 'Command line: root=/dev/vda1 ro console=ttyS0'
bhyvectl --vm=vm-debian --destroy

cp "$KIT/images/mbr.img" nokernel.img
bhyveload -m 256 -d nokernel.img vm-none </dev/null >none.txt 2>&1
rc=$?
[ $rc -eq 4 ] && pass no-kernel-exit-4 || fail no-kernel-exit-4 "exit $rc"
expect_in_file no-kernel-message none.txt 'no Linux kernel found'
[ "$(wc -l <none.txt)" -eq 1 ] && pass no-kernel-one-line || fail no-kernel-one-line "$(wc -l <none.txt) lines"
ls /dev/vmm >ls.txt 2>/dev/null
expect_not_in_file no-kernel-no-vm ls.txt '^vm-none$'
finish
