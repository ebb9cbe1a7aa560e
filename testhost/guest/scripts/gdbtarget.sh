# Guest side of the gdb scenario: show /proc/version (the host compares it
# with linux_banner read through gdb), then call sync(2) twice a second so a
# breakpoint on the sync syscall is hit, for at most ~60 s.
echo "KHYVE-GUEST-VERSION $(cat /proc/version)"
echo "KHYVE-GDB-READY"
i=0
while [ $i -lt 60 ] && [ ! -e /tmp/stop ]; do
	sync
	sleep 0.5
	i=$((i + 1))
done
