# SIGKILL durability: the guest writes numbered blocks with a flush after
# each and reports "FLUSHED n"; bhyve is SIGKILLed in the middle of those
# writes, at a different point each round. Every block up to the last
# reported n must be in the image with its exact content. In the first
# round, every bhyve thread must be running under its seccomp filter.
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

# expect_all_threads_filtered PID: bhyve runs with its default sandbox: every
# thread (main/control, vCPU, virtio worker, io_uring, console) is under a
# seccomp filter, with no_new_privs and no effective capabilities.
expect_all_threads_filtered() {
	_total=0
	_ok=0
	for _t in /proc/$1/task/*; do
		_total=$((_total + 1))
		_st=$(cat "$_t/status" 2>/dev/null) || continue
		_sc=$(echo "$_st" | sed -n 's/^Seccomp:[[:space:]]*//p')
		_nnp=$(echo "$_st" | sed -n 's/^NoNewPrivs:[[:space:]]*//p')
		_cap=$(echo "$_st" | sed -n 's/^CapEff:[[:space:]]*//p')
		_nf=$(echo "$_st" | sed -n 's/^Seccomp_filters:[[:space:]]*//p')
		echo "  thread ${_t##*/}: Seccomp $_sc ($_nf filters), NoNewPrivs $_nnp, CapEff $_cap, in syscall $(cut -d' ' -f1 "$_t/syscall" 2>/dev/null)"
		[ "$_sc" = 2 ] && [ "$_nnp" = 1 ] && [ "$_cap" = 0000000000000000 ] && _ok=$((_ok + 1))
	done
	if [ $_total -ge 3 ] && [ $_ok -eq $_total ]; then
		pass "seccomp-on-by-default ($_ok threads filtered)"
	else
		fail seccomp-on-by-default "$_ok of $_total bhyve threads filtered and unprivileged"
	fi
}

round=0
for point in "3 0" "12 0.3" "30 0.7" "45 0.1"; do
	round=$((round + 1))
	set -- $point
	target=$1
	extra=$2
	name=r$round
	truncate -s 64M disk$round.img
	start_disk_guest vm$round durability disk$round.img
	pid=$GUEST_PID
	wait_for_line vm$round.log "^FLUSHED $target" 180 $pid
	[ $round -eq 1 ] && expect_all_threads_filtered $pid
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
