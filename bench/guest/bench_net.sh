# virtio-net benchmark over the test host's tap0 (192.168.100.1): TCP for
# KHYVE_SECS seconds guest->host (the host's receiver measures), then
# host->guest (measured here).
host=192.168.100.1
secs=${KHYVE_SECS:-5}
ip link set lo up
ip link set eth0 up || { echo "KHYVE-FAIL: bench-net: no eth0"; exit 1; }
ip addr add 192.168.100.2/24 dev eth0
ping -c 1 -W 10 $host >/dev/null || echo "KHYVE-FAIL: bench-net: no reply from $host"
echo "BENCH-NET-G2H-SENDER $(khyve-bench tcp-send --retry 10 $host 5001 "$secs")"
echo "BENCH-NET-H2G $(khyve-bench tcp-recv 5002)"
# The same with busybox nc at both ends, as testhost/guest/scripts/net.sh
# does (whole file through nc; the host side writes to its tmpfs).
if [ "${KHYVE_NCMIB:-0}" -gt 0 ]; then
	rate='{ s = $2 - $1; printf "bytes=%d seconds=%.2f mib_s=%.2f", $3, s, (s > 0 ? $3 / s / 1048576 : 0) }'
	head -c $((KHYVE_NCMIB * 1048576)) /dev/zero >/tmp/out
	t0=$(cut -d' ' -f1 /proc/uptime)
	nc $host 5003 </tmp/out || echo "KHYVE-FAIL: bench-net: nc send failed"
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "BENCH-NET-NC-G2H $(echo "$t0 $t1 $((KHYVE_NCMIB * 1048576))" | awk "$rate")"
	rm -f /tmp/out
	mkfifo /tmp/hold
	t0=$(cut -d' ' -f1 /proc/uptime)
	nc $host 5004 <>/tmp/hold >/tmp/in || echo "KHYVE-FAIL: bench-net: nc receive failed"
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "BENCH-NET-NC-H2G $(echo "$t0 $t1 $(wc -c </tmp/in)" | awk "$rate")"
fi
