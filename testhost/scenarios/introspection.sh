# Introspection of a working guest: bhyvectl --get-stats --json twice while
# the guest reads its disk and writes to its console (both replies parse as
# JSON, checked by a grammar in awk; exit and device counters grow), the
# Prometheus exposition parses line by line, the text output names the
# devices, and malformed, oversized, slow and 20 concurrent control requests
# get replies while the VM keeps running. (The USDT probes are checked outside
# the test host: ctest usdt.notes and usdt.attach.)
. "$KHYVE_LIB"

# json_ok FILE: recursive descent over RFC 8259's grammar, one value per file.
json_ok() {
	awk 'BEGIN { RS = "\001" }
	function ws() { while (substr(s, i, 1) ~ /[ \t\n\r]/) i++ }
	function lit(w) { if (substr(s, i, length(w)) != w) return 0; i += length(w); return 1 }
	function str(   c) {
		if (substr(s, i, 1) != "\"") return 0
		i++
		for (;;) {
			c = substr(s, i, 1)
			if (c == "") return 0
			if (c == "\"") { i++; return 1 }
			if (c == "\\") {
				c = substr(s, i + 1, 1)
				if (c == "u") { if (substr(s, i + 2, 4) !~ /^[0-9a-fA-F]{4}$/) return 0; i += 6 }
				else if (index("\"\\/bfnrt", c)) i += 2
				else return 0
			} else if (c < " ") return 0
			else i++
		}
	}
	function num(   m) {
		if (!match(substr(s, i), /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) return 0
		i += RLENGTH
		return 1
	}
	function val(   c) {
		ws()
		c = substr(s, i, 1)
		if (c == "{") {
			i++; ws()
			if (substr(s, i, 1) == "}") { i++; return 1 }
			for (;;) {
				ws(); if (!str()) return 0
				ws(); if (!lit(":")) return 0
				if (!val()) return 0
				ws()
				if (lit("}")) return 1
				if (!lit(",")) return 0
			}
		}
		if (c == "[") {
			i++; ws()
			if (substr(s, i, 1) == "]") { i++; return 1 }
			for (;;) {
				if (!val()) return 0
				ws()
				if (lit("]")) return 1
				if (!lit(",")) return 0
			}
		}
		if (c == "\"") return str()
		if (c == "t") return lit("true")
		if (c == "f") return lit("false")
		if (c == "n") return lit("null")
		return num()
	}
	{ s = $0; i = 1; ok = val(); ws(); exit !(ok && i > length(s)) }' "$1"
}

# prom_ok FILE: every line a # HELP/# TYPE comment or name{labels} value.
prom_ok() {
	awk -v q='"' '
	/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { next }
	/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|untyped)$/ { typed[$3] = 1; next }
	{
		line = $0
		if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { print "bad name: " line; bad++; next }
		name = substr(line, 1, RLENGTH); line = substr(line, RLENGTH + 1)
		if (!(name in typed)) { print "no # TYPE before: " $0; bad++ }
		if (substr(line, 1, 1) == "{") {
			line = substr(line, 2)
			for (;;) {
				if (!match(line, /^[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"/)) { print "bad labels: " $0; bad++; next }
				line = substr(line, RLENGTH + 1)
				if (substr(line, 1, 1) == ",") { line = substr(line, 2); continue }
				if (substr(line, 1, 1) == "}") { line = substr(line, 2); break }
				print "bad labels: " $0; bad++; next
			}
		}
		if (line !~ /^ [-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) { print "bad value: " $0; bad++ }
		samples++
	}
	END { exit !(bad == 0 && samples > 0) }' "$1"
}

# sum KEY FILE: the sum of every "KEY":N in FILE.
sum() {
	grep -o "\"$1\":[0-9]*" "$2" | awk -F: '{ s += $2 } END { print s + 0 }'
}

cp "$KIT/images/pattern.img" disk.img
bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img -e cmdline="console=ttyS0 quiet" vm1
mkfifo console.in
: >vm1.log
bhyve -A -H -c 2 -m 256 -s 0:0,hostbridge -s 2:0,virtio-blk,disk.img -s 31,lpc -l com1,stdio vm1 \
	<>console.in >vm1.log 2>&1 &
pid=$!
i=0
while ! grep -q 'khyve-guest:' vm1.log && [ $i -lt 1800 ]; do sleep 0.1; i=$((i + 1)); done
grep -q 'khyve-guest:' vm1.log && pass guest-shell || fail guest-shell "no shell prompt"
# Work that reaches bhyve: virtio-blk reads (the page cache dropped each
# round) and console output through the UART.
echo 'while :; do dd if=/dev/vda of=/dev/null bs=64k 2>/dev/null; echo 3 >/proc/sys/vm/drop_caches; echo KHYVE-TICK; done &' 1<>console.in
i=0
while [ "$(grep -c '^KHYVE-TICK' vm1.log)" -lt 3 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c '^KHYVE-TICK' vm1.log)" -ge 3 ] && pass guest-working || fail guest-working "no KHYVE-TICK lines"

bhyvectl --vm=vm1 --get-stats --json >s1.json
sleep 3
bhyvectl --vm=vm1 --get-stats --json >s2.json
for f in s1.json s2.json; do
	json_ok $f && pass "json-parses-$f" || { head -c 600 $f; fail "json-parses-$f" "not JSON"; }
done
# The checker must be able to say no.
printf '{"vcpus":[1,2,}\n' >broken.json
json_ok broken.json && fail json-checker-rejects "accepted broken JSON" || pass json-checker-rejects
for key in user_exits user_io_exits requests_read bytes_read notifications used_buffers tx_bytes; do
	a=$(sum $key s1.json)
	b=$(sum $key s2.json)
	echo "  $key: $a -> $b"
	[ "$b" -gt "$a" ] && pass "grows-$key" || fail "grows-$key" "$a -> $b"
done
a=$(grep -o '"kvm":{[^}]*}' s1.json | grep -o '"exits":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')
b=$(grep -o '"kvm":{[^}]*}' s2.json | grep -o '"exits":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')
echo "  kvm exits: $a -> $b"
[ "$b" -gt "$a" ] && pass grows-kvm-exits || fail grows-kvm-exits "$a -> $b"
expect_in_file json-names-disk s2.json '"device":"virtio-blk@2:0","queues":\[\{[^]]*\}\],"type":"virtio-blk"'
expect_in_file json-names-uart s2.json '"device":"com1"'

bhyvectl --vm=vm1 --get-stats --prometheus >metrics.txt
rc=$?
[ $rc -eq 0 ] && pass prometheus-exit-0 || fail prometheus-exit-0 "exit $rc"
if prom_ok metrics.txt >prom.err; then pass prometheus-parses; else
	sed 's/^/  > /' prom.err | head -n 10
	fail prometheus-parses "see above"
fi
printf 'khyve_x{vm="a} 1\n' >broken.prom
prom_ok broken.prom >/dev/null && fail prometheus-checker-rejects "accepted a bad line" || pass prometheus-checker-rejects
expect_in_file prometheus-blk-reads metrics.txt '^khyve_virtio_blk_requests_total\{vm="vm1",device="virtio-blk@2:0",op="read"\} [1-9][0-9]*$'
expect_in_file prometheus-vcpu-exits metrics.txt '^khyve_vcpu_user_exits_total\{vm="vm1",vcpu="1",reason="io"\} [0-9]+$'
expect_in_file prometheus-kvm metrics.txt '^khyve_kvm_vcpu_exits_total\{vm="vm1",vcpu="0"\} [1-9][0-9]*$'
expect_in_file prometheus-help metrics.txt '^# HELP khyve_virtqueue_notifications_total '

bhyvectl --vm=vm1 --get-stats >stats.txt
expect_in_file text-disk stats.txt '^virtio-blk@2:0 stats:$'
expect_in_file text-disk-reads stats.txt '^read requests[[:space:]]+[1-9]'
expect_in_file text-queue stats.txt '^queue 0 notifications from the driver[[:space:]]+[1-9]'
expect_in_file text-uart stats.txt '^bytes transmitted by the guest[[:space:]]+[1-9]'

# Abuse of the control socket: each gets an error reply, the VM carries on.
printf 'this is not json\n' | bhyvectl --vm=vm1 --raw-request >r-malformed.txt
expect_in_file ctl-malformed r-malformed.txt '"error":"malformed request: .*"ok":false'
head -c 70000 /dev/zero | tr '\0' x | bhyvectl --vm=vm1 --raw-request >r-big.txt
expect_in_file ctl-oversized r-big.txt '"error":"request too large, incomplete or too slow"'
printf '{"version":1,"command":"stats","format":"xml"}\n' | bhyvectl --vm=vm1 --raw-request >r-format.txt
expect_in_file ctl-bad-format r-format.txt "unknown stats format 'xml'"
printf '{"version":1,"command":"stats","format":"prometheus"}\n' | bhyvectl --vm=vm1 --raw-request >r-prom.txt
expect_in_file ctl-prometheus-request r-prom.txt '"format":"prometheus".*"text":"# HELP khyve_'
(sleep 3; echo '{"version":1,"command":"status"}') | bhyvectl --vm=vm1 --raw-request >r-slow.txt
expect_in_file ctl-slow r-slow.txt '"error":"request too large, incomplete or too slow"'
n=0
clients=
while [ $n -lt 20 ]; do
	if [ $((n % 2)) -eq 0 ]; then
		bhyvectl --vm=vm1 --get-stats --json >c$n.out 2>&1 &
	else
		printf '[{' | bhyvectl --vm=vm1 --raw-request >c$n.out 2>&1 &
	fi
	clients="$clients $!"
	n=$((n + 1))
done
# Each client by its pid: a bare `wait` would wait for bhyve too.
for c in $clients; do wait "$c"; done
good=$(grep -l '^{"devices":\[' c*.out | wc -l)
refused=$(grep -l '"ok":false' c*.out | wc -l)
echo "  concurrent: $good stats replies, $refused error replies"
[ "$good" -eq 10 ] && [ "$refused" -eq 10 ] && pass ctl-20-concurrent ||
	{ head -n 3 c*.out; fail ctl-20-concurrent "$good good, $refused refused of 20"; }
kill -0 $pid 2>/dev/null && pass vm-still-running || fail vm-still-running "bhyve is gone"
bhyvectl --vm=vm1 --get-rip >rip.txt
expect_in_file still-answers rip.txt '^rip\[0\]	0x'
before=$(grep -c '^KHYVE-TICK' vm1.log)
sleep 2
[ "$(grep -c '^KHYVE-TICK' vm1.log)" -gt "$before" ] && pass guest-still-working || fail guest-still-working "no new ticks"

echo "poweroff -f" 1<>console.in
wait_exit $pid 60
rc=$?
[ $rc -eq 1 ] && pass guest-powered-off || fail guest-powered-off "bhyve exited $rc"
bhyvectl --vm=vm1 --destroy
finish
