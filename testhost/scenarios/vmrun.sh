# khyve-testhost-disk: debian
# khyve-testhost-tools: ip dnsmasq
# The manual's pragmatic guest operation: khyve-host-net sets up bridge0,
# tap0 and dnsmasq; vmrun.sh boots a debootstrapped Debian (systemd) from its
# disk with bhyveload -d (Debian's /vmlinuz links); on the serial console
# (a FIFO) we see a login prompt, log in as root, check the DHCP lease on both
# sides, reboot (vmrun.sh loops: a login prompt again), log in, power off:
# vmrun.sh exits 1 and no VM is left. Slow: two systemd boots, nested in TCG.
. "$KHYVE_LIB"

t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
log=vm1.log
leases=/run/khyve-net/bridge0.leases

# wait_for REGEX SECONDS [FROM]: a line of the console log after byte FROM
# matches; prints nothing, returns 1 on timeout or when vmrun.sh is gone.
wait_for() {
	_i=0
	while [ $_i -lt $(($2 * 5)) ]; do
		tail -c +$((${3:-0} + 1)) $log 2>/dev/null | tr -d '\r' | grep -Eq -- "$1" && return 0
		kill -0 $pid 2>/dev/null || { tail -c +$((${3:-0} + 1)) $log | tr -d '\r' | grep -Eq -- "$1"; return; }
		sleep 0.2
		_i=$((_i + 1))
	done
	return 1
}
offset() { wc -c <$log; }
# Opened read-write so that a dead reader cannot block the write.
type_line() { printf '%s\n' "$1" 1<>console.in; }

# step NAME REGEX SECONDS [FROM]: pass when the console shows REGEX in time.
step() {
	if wait_for "$2" "$3" "${4:-0}"; then
		pass "$1"
		echo "  ($1 at $(elapsed) s)"
	else
		fail "$1" "no '$2' on the console within $3 s"
		return 1
	fi
}

login() { # NAME FROM
	type_line root
	step "$1-password-prompt" 'Password:' 60 "$2" || return 1
	type_line khyve
	step "$1-shell" 'root@debian:~#' 120 "$2"
}

# dnsmasq drops to user nobody; the test host's busybox root has no user database.
[ -f /etc/passwd ] || printf 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n' >/etc/passwd
[ -f /etc/group ] || printf 'root:x:0:\nnogroup:x:65534:\n' >/etc/group

check host-net-up khyve-host-net up -t tap0
ip -br addr show dev bridge0 | sed 's/^/  /'

mkfifo console.in
vmrun.sh -c 1 -m 512M -t tap0 -d "$KHYVE_DISK" vm1 <>console.in >$log 2>&1 &
pid=$!
echo "vmrun.sh started (pid $pid) on $KHYVE_DISK"

ok=1
step first-login-prompt 'debian login:' 600 || ok=0
expect_in_file loader-booted-debian-links $log 'Booting'
expect_in_file root-from-bhyveload $log 'Command line: root=/dev/vda1 ro console=ttyS0'
if [ $ok = 1 ] && login first 0; then
	# networkd may still be waiting for its lease when the shell is ready.
	from=$(offset)
	type_line 'for i in $(seq 60); do ip -4 -o addr show scope global | grep -q inet && break; sleep 1; done; echo "KHYVE-GUEST-ADDR=$(ip -4 -o addr show scope global | sed -n "s/.* inet \([0-9.]*\).*/\1/p" | head -n1)"'
	step guest-has-address 'KHYVE-GUEST-ADDR=[0-9]' 90 "$from"
	# Not anchored: bash's bracketed-paste escapes may precede the line; a
	# digit, so that the echo of the command line itself does not count.
	addr=$(tail -c +$((from + 1)) $log | grep -o 'KHYVE-GUEST-ADDR=[0-9][0-9.]*' | head -n1 | cut -d= -f2)
	echo "  guest address: ${addr:-none}; leases:"
	sed 's/^/    /' $leases 2>/dev/null
	case $addr in
	192.168.200.*) pass guest-address-on-bridge ;;
	*) fail guest-address-on-bridge "guest address '${addr}' is not in 192.168.200.0/24" ;;
	esac
	if [ -n "$addr" ] && grep -q " $addr " $leases 2>/dev/null; then
		pass dnsmasq-lease
	else
		fail dnsmasq-lease "no lease for '$addr' in $leases"
	fi
	check host-pings-guest ping -c 2 -W 3 "$addr"

	from=$(offset)
	type_line reboot
	step vmrun-looped 'vmrun.sh: vm1 rebooted' 300 "$from" &&
		step second-login-prompt 'debian login:' 600 "$from" &&
		login second "$(offset)" &&
		type_line poweroff
fi

i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 1500 ]; do sleep 0.2; i=$((i + 1)); done
if kill -0 $pid 2>/dev/null; then
	fail vmrun-exited "vmrun.sh still running at $(elapsed) s"
	khyve-vm-cleanup -k vm1
	kill $pid 2>/dev/null
fi
wait $pid
rc=$?
echo "  (vmrun.sh exited $rc at $(elapsed) s)"
[ $rc -eq 1 ] && pass vmrun-exit-1-on-poweroff || fail vmrun-exit-1-on-poweroff "vmrun.sh exited $rc"
expect_in_file vmrun-powered-off $log 'vmrun.sh: vm1 powered off'
ls "${KHYVE_VMM_DIR:-/dev/vmm}" >vmm.txt 2>&1
expect_not_in_file no-vm-left vmm.txt '^vm1$'
check cleanup-nothing-left khyve-vm-cleanup -t tap0 vm1
check host-net-down khyve-host-net down
[ -e /sys/class/net/bridge0 ] && fail bridge-removed "bridge0 still exists" || pass bridge-removed
# The whole console, indented so that nothing in it counts as a marker.
tr -d '\r' <$log | sed 's/^/  vm1| /'
finish
