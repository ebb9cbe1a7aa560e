#!/bin/bash
# Every USDT probe of src/trace/probes.h is in the bhyve binary: `readelf -n`
# lists it under provider khyve (what bpftrace -l and perf list sdt read).
# usage: usdt_notes.sh BHYVE
set -u
bin=${1:?usage: usdt_notes.sh BHYVE}
command -v readelf >/dev/null || { echo "SKIP: readelf (binutils) is not installed"; exit 77; }
# probes.h compiles the probes in exactly when the compiler finds the header.
echo '#include <sys/sdt.h>' | ${CXX:-c++} -E -x c++ - >/dev/null 2>&1 ||
	{ echo "SKIP: no <sys/sdt.h> (Debian: systemtap-sdt-dev): the probes are compiled out"; exit 77; }
notes=$(readelf -n "$bin") || { echo "FAIL: readelf -n $bin"; exit 1; }
names=$(printf '%s\n' "$notes" | awk '/Provider: khyve/ {p = 1; next} p && /Name:/ {print $2; p = 0}' | sort -u)
rc=0
for probe in vm_exit vm_exit_return pio mmio virtq_notify virtq_complete blk_submit blk_complete; do
	if printf '%s\n' "$names" | grep -qx "$probe"; then
		echo "ok: khyve:$probe"
	else
		echo "FAIL: khyve:$probe is not in $bin"
		rc=1
	fi
done
exit $rc
