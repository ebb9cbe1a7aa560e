# shellcheck shell=sh
# khyve-testhost-powercut: 2
# Power-cut durability: two guests write numbered blocks to their disks with
# a flush after each and report "FLUSHED n" (guest/scripts/durability.sh),
# one disk on the io_uring engine (aio=io_uring), one on the thread engine
# (aio=threads). Each disk is a raw block device of the test host
# ($KHYVE_CUT_DISKS), written through the test host's page cache. Once both
# guests are writing, the whole test host loses power (run.sh SIGKILLs its
# qemu on the KHYVE-POWER-CUT line): only what bhyve's FLUSH made the test
# host write out survives. powercut.cut then checks from outside that every
# block a guest reported flushed is on its disk, and that neither guest
# printed an I/O failure. With FLUSH doing nothing the check fails (the test
# host's dirty pages die with it).
# shellcheck disable=SC1090 # lib.sh, path set by run.sh
. "$KHYVE_LIB"

target=20
# shellcheck disable=SC2086
set -- $KHYVE_CUT_DISKS
[ $# -eq 2 ] && pass "two-cut-disks ($*)" || fail two-cut-disks "KHYVE_CUT_DISKS='$KHYVE_CUT_DISKS'"
k=0
for aio in io_uring threads; do
	k=$((k + 1))
	eval "dev=\${$k}"
	bhyveload -m 192 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
		-e cmdline="console=ttyS0 quiet khyve.script=durability" vm$k
	bhyve -A -H -c 1 -m 192 -s 0:0,hostbridge -s "2:0,virtio-blk,$dev,aio=$aio" \
		-s 31,lpc -l com1,stdio vm$k </dev/null >vm$k.log 2>&1 &
	eval "pid$k=\$!"
	# Every line the guest prints reaches the serial log as "  vmK| ...":
	# what the test host said before the cut is all that is left of it.
	(tail -f vm$k.log | while IFS= read -r line; do echo "  vm$k| $line"; done) &
done
wait_for_line vm1.log "^FLUSHED $target" 300 "$pid1" && wait_for_line vm2.log "^FLUSHED $target" 300 "$pid2"
if grep -q "^FLUSHED $target" vm1.log && grep -q "^FLUSHED $target" vm2.log; then
	pass "both-guests-flushing (FLUSHED $target on io_uring and threads)"
else
	fail both-guests-flushing "not both guests reached FLUSHED $target"
fi
grep -q "block I/O on a thread" vm1.log && fail vm1-on-io-uring "vm1 fell back to the thread engine"
sleep 0.5
echo "KHYVE-POWER-CUT"
# run.sh kills the test host now; nothing after this line runs.
sleep 600
