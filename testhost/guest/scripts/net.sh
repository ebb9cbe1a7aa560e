# Guest side of the virtio-net checks: ping the host's tap address, then
# 100 MiB over TCP each way (busybox nc), reporting sha256 digests that the
# host side compares. Host: 192.168.100.1 (tap0), guest: 192.168.100.2.
host=192.168.100.1
mib=${KHYVE_MIB:-100}
ip link set lo up
ip link set eth0 up || { echo "KHYVE-FAIL: guest-eth0: no eth0"; exit 1; }
ip addr add 192.168.100.2/24 dev eth0
if ping -c 3 -W 5 $host; then
	echo "KHYVE-PASS: guest-ping"
else
	echo "KHYVE-FAIL: guest-ping: no reply from $host"
fi
head -c $((mib * 1048576)) /dev/urandom >/tmp/out
echo "KHYVE-GUEST-SENT-SHA $(sha256sum </tmp/out | cut -d' ' -f1)"
start=$(cut -d' ' -f1 /proc/uptime)
nc $host 5001 </tmp/out || echo "KHYVE-FAIL: guest-send: nc failed"
echo "KHYVE-GUEST-SEND-TIME $start $(cut -d' ' -f1 /proc/uptime)"
rm -f /tmp/out
# A FIFO opened read-write never reports EOF: nc ends when the host closes.
mkfifo /tmp/hold
start=$(cut -d' ' -f1 /proc/uptime)
nc $host 5002 <>/tmp/hold >/tmp/in || echo "KHYVE-FAIL: guest-receive: nc failed"
echo "KHYVE-GUEST-RECV-TIME $start $(cut -d' ' -f1 /proc/uptime)"
echo "KHYVE-GUEST-RECV-SHA $(sha256sum </tmp/in | cut -d' ' -f1) $(wc -c </tmp/in)"
