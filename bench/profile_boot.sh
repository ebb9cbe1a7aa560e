# Profiling scenario for bench/run.sh --scenario: where khyve's boot time goes
# (bhyveload alone, bhyve to the guest's init, the guest kernel's log) next to
# QEMU pc's kernel log. Test-host clock: /proc/uptime (10 ms).
. "$KHYVE_LIB"
G=/bench/guest
up() { cut -d' ' -f1 /proc/uptime; }
cl="console=ttyS0 quiet khyve.script=bench_dmesg"
# Guest RAM of 4 KiB pages (run 1: an existing directory on the test host's
# tmpfs, which bhyveload does not mount on) against the default /dev/vmm, the
# huge-page tmpfs bhyveload mounts (run 2).
mkdir -p /run/vmm-plain
for i in 1 2; do
	[ $i = 1 ] && export KHYVE_VMM_DIR=/run/vmm-plain
	[ $i = 2 ] && unset KHYVE_VMM_DIR
	echo "PROFILE run $i KHYVE_VMM_DIR=${KHYVE_VMM_DIR:-/dev/vmm}"
	t0=$(up)
	bhyveload -m 256 -h $G -e kernel=vmlinuz -e initrd=initrd.img -e cmdline="$cl" bench >/dev/null
	t1=$(up)
	echo "PROFILE bhyveload $t0 -> $t1"
	r=$(khyve-bench boot --settle 4 --timeout 60 --log khyve-$i.log -- bhyve -A -c 1 -m 256 -s 0:0,hostbridge -s 31,lpc -l com1,stdio bench)
	echo "PROFILE bhyve $r"
	bhyvectl --vm=bench --destroy
done
unset KHYVE_VMM_DIR
grep -i huge /proc/meminfo | sed 's/^/PROFILE meminfo /'
tr -d '\r' <khyve-1.log | grep '^BENCH-DMESG' | sed 's/^BENCH-DMESG/khyve-dmesg-1/'
tr -d '\r' <khyve-2.log | grep '^BENCH-DMESG' | sed 's/^BENCH-DMESG/khyve-dmesg/'
r=$(khyve-bench boot --settle 4 --timeout 60 --log qemu.log -- qemu-system-x86_64 -M pc -enable-kvm -cpu host -m 256 \
	-nographic -nodefaults -serial stdio -kernel $G/vmlinuz -initrd $G/initrd.img -append "$cl")
echo "PROFILE qemu-pc $r"
tr -d '\r' <qemu.log | grep '^BENCH-DMESG' | sed 's/^BENCH-DMESG/qemu-dmesg/'
pass profile
finish
