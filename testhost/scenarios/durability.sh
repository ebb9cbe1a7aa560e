# SIGKILL durability: the guest writes numbered blocks with a flush after
# each and reports "FLUSHED n"; bhyve is SIGKILLed in the middle of those
# writes, at a different point each round. Every block up to the last
# reported n must be in the image with its exact content.
. "$KHYVE_LIB"

# expect_blocks ROUND IMAGE N: blocks 1..N hold their records.
expect_blocks() {
	_bad=0
	_k=1
	while [ $_k -le "$3" ]; do
		awk -v n=$_k 'BEGIN { for (r = 0; r < 256; r++) printf "BLK%012d\n", n }' >expected.blk
		dd if="$2" bs=4096 skip=$_k count=1 2>/dev/null >actual.blk
		if ! cmp -s expected.blk actual.blk; then
			echo "  block $_k: $(cmp expected.blk actual.blk 2>&1 | head -n 1)"
			_bad=$((_bad + 1))
		fi
		_k=$((_k + 1))
	done
	[ $_bad -eq 0 ] && pass "$1-flushed-blocks-intact ($3 blocks)" ||
		fail "$1-flushed-blocks-intact" "$_bad of $3 flushed blocks wrong"
}

round=0
for point in "3 0" "12 0.3" "30 0.7" "45 0.1"; do
	round=$((round + 1))
	set -- $point
	target=$1
	extra=$2
	name=r$round
	truncate -s 64M disk$round.img
	bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
		-e cmdline="console=ttyS0 quiet khyve.script=durability" vm$round
	bhyve -A -H -c 1 -m 256 -s 0:0,hostbridge -s 2:0,virtio-blk,disk$round.img \
		-s 31,lpc -l com1,stdio vm$round </dev/null >vm$round.log 2>&1 &
	pid=$!
	waited=0
	while ! grep -q "^FLUSHED $target" vm$round.log && [ $waited -lt 1800 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.1
		waited=$((waited + 1))
	done
	sleep "$extra"
	if kill -KILL $pid 2>/dev/null; then
		pass "$name-killed-mid-write (after FLUSHED $target + ${extra}s)"
	else
		fail "$name-killed-mid-write" "bhyve had already exited"
	fi
	wait $pid
	last=$(tr -d '\r' <vm$round.log | sed -n 's/^FLUSHED \([0-9]*\)$/\1/p' | tail -n 1)
	echo "$name: last reported FLUSHED ${last:-none}"
	tr -d '\r' <vm$round.log | grep -E "KHYVE-FAIL|bhyve:" | sed 's/^/  | /'
	if [ -z "$last" ] || [ "$last" -lt "$target" ]; then
		fail "$name-reached-target" "the guest reported ${last:-no} flush before the kill"
	else
		expect_blocks "$name" disk$round.img "$last"
	fi
	bhyvectl --vm=vm$round --destroy
	rm -f disk$round.img
done
finish
