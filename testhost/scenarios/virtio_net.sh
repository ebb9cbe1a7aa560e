# virtio-net on a tap: the guest pings the host's tap address and moves
# 100 MiB over TCP each way with matching sha256 digests.
. "$KHYVE_LIB"

tunctl -t tap0 >/dev/null && pass tap-created || fail tap-created "tunctl -t tap0 failed"
ip addr add 192.168.100.1/24 dev tap0
ip link set tap0 up
head -c $((100 * 1048576)) /dev/urandom >to_guest.bin
to_sha=$(sha256sum <to_guest.bin | cut -d' ' -f1)
mkfifo hold
nc -l -p 5001 <>hold >from_guest.bin &
recv_pid=$!
nc -l -p 5002 <to_guest.bin &
send_pid=$!

bhyveload -m 512 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=net" vm1
run_guest vm1.log 600 bhyve -A -H -c 1 -m 512 -s 0:0,hostbridge -s 1:0,virtio-net,tap0 \
	-s 31,lpc -l com1,stdio vm1
rc=$?
[ $rc -eq 1 ] && pass guest-powered-off || fail guest-powered-off "bhyve exited $rc"
expect_in_file guest-ping vm1.log 'KHYVE-PASS: guest-ping'
sent=$(sed -n 's/.*KHYVE-GUEST-SENT-SHA \([0-9a-f]*\).*/\1/p' vm1.log | head -n 1)
got=$(sha256sum <from_guest.bin | cut -d' ' -f1)
if [ -n "$sent" ] && [ "$sent" = "$got" ]; then
	pass guest-to-host-100MiB
else
	fail guest-to-host-100MiB "guest sent ${sent:-nothing}, host got $got ($(wc -c <from_guest.bin) bytes)"
fi
recv=$(sed -n 's/.*KHYVE-GUEST-RECV-SHA \([0-9a-f]*\).*/\1/p' vm1.log | head -n 1)
if [ "$recv" = "$to_sha" ]; then
	pass host-to-guest-100MiB
else
	fail host-to-guest-100MiB "host sent $to_sha, guest got ${recv:-nothing}"
fi
grep -E 'KHYVE-GUEST-(SEND|RECV)-TIME' vm1.log | sed 's/^/  timing: /'
kill $recv_pid $send_pid 2>/dev/null
bhyvectl --vm=vm1 --destroy
finish
