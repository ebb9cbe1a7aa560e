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
