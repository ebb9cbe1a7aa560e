# Test-host side of bench/run.sh (busybox sh, run by testhost/host-init as
# /khyve/scenario.sh). Alternates khyve and QEMU runs and prints one line per
# measurement, read by bench/run.sh:
#
#   BENCH-RESULT <test> <vmm> <run> key=value...
#
# Environment (from /khyve/env): BENCH_RUNS, BENCH_TESTS (boot blk net),
# BENCH_SECS (per timed phase), BENCH_MIB (sequential block I/O size),
# BENCH_SETTLE (idle seconds after boot before reading smaps), BENCH_NCMIB.
. "$KHYVE_LIB"

runs=${BENCH_RUNS:-5}
tests=${BENCH_TESTS:-boot blk net}
secs=${BENCH_SECS:-5}
mib=${BENCH_MIB:-256}
settle=${BENCH_SETTLE:-3}
ncmib=${BENCH_NCMIB:-0} # > 0: also busybox nc, this many MiB each way
G=/bench/guest # vmlinuz (the kit's cloud kernel) and the kit's initrd + bench files
base="console=ttyS0 quiet"
qemu_common="-enable-kvm -cpu host -m 256 -nographic -nodefaults -serial stdio -kernel $G/vmlinuz -initrd $G/initrd.img"

result() { # TEST VMM RUN FIGURES LOG
	echo "BENCH-RESULT $1 $2 $3 $4"
	case $4 in
	*none* | "")
		fail "$1-$2-$3" "no figure: ${4:-empty}"
		tr -d '\r' <"$5" | tail -n 8 | sed 's/^/  log: /'
		;;
	esac
}

khyve_cmd() { # CMDLINE DEVICES...: a shell command: bhyveload, then exec bhyve
	_cl=$1
	shift
	echo "bhyveload -m 256 -h $G -e kernel=vmlinuz -e initrd=initrd.img -e cmdline='$_cl' bench >/dev/null &&" \
		"exec bhyve -A -c 1 -m 256 -s 0:0,hostbridge $* -s 31,lpc -l com1,stdio bench"
}

guest_figure() { # LOG MARKER: the key=value part of the guest's MARKER line
	tr -d '\r' <"$1" | sed -n "s/^$2 //p" | head -n1
}

# ---- boot to guest init, and VMM memory overhead ------------------------------

bench_boot() {
	cl="$base khyve.script=bench_idle"
	i=1
	while [ $i -le "$runs" ]; do
		for vmm in khyve qemu-pc qemu-microvm; do
			case $vmm in
			khyve) cmd=$(khyve_cmd "$cl") ;;
			qemu-pc) cmd="exec qemu-system-x86_64 -M pc $qemu_common -append '$cl'" ;;
			qemu-microvm) cmd="exec qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off $qemu_common -append '$cl'" ;;
			esac
			r=$(khyve-bench boot --settle "$settle" --ram-mib 256 --timeout 120 --log "boot-$vmm-$i.log" -- sh -c "$cmd")
			result boot "$vmm" $i "$r $(guest_figure "boot-$vmm-$i.log" BENCH-GUEST-KERNEL)" "boot-$vmm-$i.log"
			[ $vmm = khyve ] && bhyvectl --vm=bench --destroy
		done
		i=$((i + 1))
	done
}

# ---- virtio-blk on a RAM disk (O_DIRECT on both sides) ------------------------

bench_blk() {
	insmod "/lib/modules/$(uname -r)/brd.ko" rd_nr=1 rd_size=$((mib * 1024 + 1024)) ||
		{ fail bench-blk "cannot load brd"; return; }
	dd if=/dev/zero of=/dev/ram0 bs=1M count=$((mib + 1)) 2>/dev/null
	cl="$base khyve.script=bench_blk khyve.mib=$mib khyve.secs=$secs"
	i=1
	while [ $i -le "$runs" ]; do
		for vmm in khyve qemu-pc; do
			log=blk-$vmm-$i.log
			case $vmm in
			khyve) cmd=$(khyve_cmd "$cl" -s 2:0,virtio-blk,/dev/ram0,nocache) ;;
			qemu-pc) cmd="exec qemu-system-x86_64 -M pc $qemu_common -append '$cl' \
				-drive file=/dev/ram0,if=none,id=d,format=raw,cache=none,aio=${BENCH_AIO:-io_uring} \
				-device virtio-blk-pci,drive=d" ;;
			esac
			timeout -s KILL 300 sh -c "$cmd" </dev/null >"$log" 2>&1
			result blk-write $vmm $i "$(guest_figure "$log" BENCH-BLK-WRITE)" "$log"
			result blk-read $vmm $i "$(guest_figure "$log" BENCH-BLK-READ)" "$log"
			result blk-randread $vmm $i "$(guest_figure "$log" BENCH-BLK-RAND)" "$log"
			[ $vmm = khyve ] && bhyvectl --vm=bench --destroy
		done
		i=$((i + 1))
	done
}

# ---- virtio-net over tap0 -----------------------------------------------------

bench_net() {
	tunctl -t tap0 >/dev/null || { fail bench-net "tunctl -t tap0 failed"; return; }
	ip addr add 192.168.100.1/24 dev tap0
	ip link set tap0 up
	cl="$base khyve.script=bench_net khyve.secs=$secs khyve.ncmib=$ncmib"
	head -c $((ncmib * 1048576)) /dev/zero >to_guest.bin
	mkfifo hold
	i=1
	while [ $i -le "$runs" ]; do
		for vmm in khyve qemu-pc; do
			log=net-$vmm-$i.log
			case $vmm in
			khyve) cmd=$(khyve_cmd "$cl" -s 1:0,virtio-net,tap0) ;;
			qemu-pc) cmd="exec qemu-system-x86_64 -M pc $qemu_common -append '$cl' \
				-netdev tap,id=n,ifname=tap0,script=no,downscript=no \
				-device virtio-net-pci,netdev=n,romfile=" ;;
			esac
			khyve-bench tcp-recv 5001 >g2h.txt 2>&1 &
			recv=$!
			khyve-bench tcp-send --retry 240 192.168.100.2 5002 "$secs" >h2g-send.txt 2>&1 &
			send=$!
			if [ "$ncmib" -gt 0 ]; then
				nc -l -p 5003 <>hold >from_guest.bin &
				ncrecv=$!
				nc -l -p 5004 <to_guest.bin &
				ncsend=$!
			fi
			timeout -s KILL 300 sh -c "$cmd" </dev/null >"$log" 2>&1
			kill $recv $send $ncrecv $ncsend 2>/dev/null
			wait $recv $send $ncrecv $ncsend 2>/dev/null
			rm -f from_guest.bin
			result net-g2h $vmm $i "$(cat g2h.txt)" "$log"
			result net-h2g $vmm $i "$(guest_figure "$log" BENCH-NET-H2G)" "$log"
			if [ "$ncmib" -gt 0 ]; then
				result net-nc-g2h $vmm $i "$(guest_figure "$log" BENCH-NET-NC-G2H)" "$log"
				result net-nc-h2g $vmm $i "$(guest_figure "$log" BENCH-NET-NC-H2G)" "$log"
			fi
			# khyve's device counters, when it prints them on exit.
			grep -i 'virtio-net' "$log" | tr -d '\r' | sed 's/^/  net-log: /'
			[ $vmm = khyve ] && bhyvectl --vm=bench --destroy
		done
		i=$((i + 1))
	done
}

for t in $tests; do
	echo "bench: $t ($runs runs each, uptime $(cut -d' ' -f1 /proc/uptime))"
	case $t in
	boot) bench_boot ;;
	blk) bench_blk ;;
	net) bench_net ;;
	*) fail bench "unknown test $t" ;;
	esac
done
pass bench-done
finish
