#!/bin/bash
# A tracer really attaches to the USDT probes and sees them fire: uprobes on
# khyve:pio and khyve:vm_exit in the unit-test binary, recorded with perf while
# its tiny real-mode guest (tests/unit/kvm_tiny_guest_test.cpp) writes to a
# port on this machine's /dev/kvm. Skips (77) with the reason where the
# kernel, perf or /dev/kvm does not allow it.
#
# The uprobes are written to tracefs directly, under a group of our own:
# perf 6.1's `perf probe sdt_khyve:NAME` fails on a probe placed at more
# than one location (the unit tests fire each probe once more themselves).
# usage: usdt_attach.sh KHYVE_UNIT
set -u
bin=${1:?usage: usdt_attach.sh KHYVE_UNIT}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "uprobes need root"
command -v perf >/dev/null || skip "perf is not installed (Debian: linux-perf)"
command -v readelf >/dev/null || skip "readelf (binutils) is not installed"
[ -w /dev/kvm ] || skip "no usable /dev/kvm for the tiny guest"
tracefs=
for t in /sys/kernel/tracing /sys/kernel/debug/tracing; do
	[ -w "$t/uprobe_events" ] && tracefs=$t && break
done
[ -n "$tracefs" ] || skip "no writable uprobe_events (tracefs not mounted, or a kernel without CONFIG_UPROBE_EVENTS)"

group=khyve_usdt_$$
work=$(mktemp -d)
events=()
cleanup() {
	for e in "${events[@]}"; do echo "-:$group/$e" >>"$tracefs/uprobe_events" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT

# Probe address (from the note) -> file offset (through the LOAD segments).
readelf -lW "$bin" | awk '$1 == "LOAD" {print $2, $3, $5}' >"$work/loads"
readelf -n "$bin" | awk '/Provider:/ {prov = $2} /Name:/ {name = $2}
	/Location:/ && prov == "khyve" {sub(",", "", $2); print name, $2}' >"$work/probes"
n=0
while read -r name addr; do
	case $name in pio | vm_exit) ;; *) continue ;; esac
	off=
	while read -r p_off p_vaddr p_filesz; do
		if (( addr >= p_vaddr && addr < p_vaddr + p_filesz )); then
			off=$(( addr - p_vaddr + p_off ))
		fi
	done <"$work/loads"
	[ -n "$off" ] || { echo "FAIL: no LOAD segment holds khyve:$name at $addr"; exit 1; }
	ev=${name}_$n
	n=$((n + 1))
	if ! echo "p:$group/$ev $bin:$(printf '0x%x' "$off")" >>"$tracefs/uprobe_events" 2>"$work/err"; then
		skip "the kernel refused a uprobe: $(cat "$work/err")"
	fi
	events+=("$ev")
done <"$work/probes"
[ ${#events[@]} -ge 2 ] || { echo "FAIL: khyve:pio or khyve:vm_exit not found in $bin"; exit 1; }
echo "uprobes: ${events[*]} (group $group)"

perf record -q -e "$group:*" -o "$work/perf.data" -- \
	"$bin" --gtest_filter=TinyGuest.PortOutputThenHalt >"$work/test.out" 2>&1 ||
	{ cat "$work/test.out"; echo "FAIL: perf record or the tiny guest failed"; exit 1; }
grep -q "SKIPPED" "$work/test.out" && skip "the tiny guest test skipped: $(grep -m1 -A1 Skipped "$work/test.out" | tail -1)"
perf script -i "$work/perf.data" >"$work/script" 2>/dev/null
pio=$(grep -c "$group:pio_" "$work/script")
exits=$(grep -c "$group:vm_exit_" "$work/script")
echo "perf saw khyve:pio $pio times, khyve:vm_exit $exits times"
head -n 3 "$work/script"
[ "$pio" -gt 0 ] && [ "$exits" -gt 0 ] || { echo "FAIL: the probes did not fire"; exit 1; }
echo "ok: perf attached to khyve:pio and khyve:vm_exit"
