# shellcheck shell=sh
# Jailer-style privilege drop: bhyve -o khyve.user=65534:65534 -o
# khyve.chroot=DIR opens /dev/kvm, the disk and its control socket as root,
# then every thread runs as uid/gid 65534 inside DIR. The guest boots and
# does I/O; the operator (root) still queries and destroys the VM through the
# control socket; -D with khyve.user is refused with one line.
# shellcheck disable=SC1090 # lib.sh, path set by run.sh
. "$KHYVE_LIB"

jail=$KHYVE_SCRATCH/jail
mkdir -p "$jail"
truncate -s 64M disk1.img
start_disk_guest vm1 idle disk1.img -o khyve.user=65534:65534 -o "khyve.chroot=$jail"
pid=$GUEST_PID
wait_for_line vm1.log "^KHYVE-GUEST-IDLE" 180 $pid && pass guest-boots-unprivileged ||
	fail guest-boots-unprivileged "no KHYVE-GUEST-IDLE"

total=0
dropped=0
for t in /proc/$pid/task/*; do
	total=$((total + 1))
	uids=$(sed -n 's/^Uid:[[:space:]]*//p' "$t/status" | tr -s '\t ' ' ')
	gids=$(sed -n 's/^Gid:[[:space:]]*//p' "$t/status" | tr -s '\t ' ' ')
	groups=$(sed -n 's/^Groups:[[:space:]]*//p' "$t/status" | tr -s '\t ' ' ')
	echo "  | thread ${t##*/} ($(cat "$t/comm")): Uid $uids, Gid $gids, Groups $groups"
	[ "$uids" = "65534 65534 65534 65534" ] && [ "$gids" = "65534 65534 65534 65534" ] &&
		[ "${groups% }" = 65534 ] && dropped=$((dropped + 1))
done
[ $total -ge 3 ] && [ $dropped -eq $total ] && pass "every-thread-uid-65534 ($total threads)" ||
	fail every-thread-uid-65534 "$dropped of $total threads run as 65534"
root=$(readlink /proc/$pid/root)
[ "$root" = "$jail" ] && pass "root-is-the-jail" || fail root-is-the-jail "bhyve's root is '$root'"
check operator-get-stats bhyvectl --vm=vm1 --get-stats
bhyvectl --vm=vm1 --destroy
wait_exit $pid 30
rc=$?
[ $rc -eq 4 ] && pass "operator-destroys (bhyve exit 4)" || fail operator-destroys "bhyve exited $rc"
expect_in_file destroyed-by-bhyvectl vm1.log "VM destroyed by bhyvectl"
ls /dev/vmm >ls.txt
expect_not_in_file vm-object-gone ls.txt '^vm1$'

# -D needs root to remove the VM object: refused, one line, exit 4.
bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img -e cmdline="console=ttyS0" vm2
bhyve -D -o khyve.user=65534 -m 256 -s 0:0,hostbridge -s 31,lpc -l com1,stdio vm2 </dev/null >vm2.log 2>&1
rc=$?
[ $rc -eq 4 ] && [ "$(wc -l <vm2.log)" -eq 1 ] && pass "minus-D-with-user-refused ($(cat vm2.log))" ||
	fail minus-D-with-user-refused "exit $rc: $(head -2 vm2.log)"
bhyvectl --vm=vm2 --destroy
finish
