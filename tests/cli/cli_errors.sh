#!/usr/bin/env bash
# Bad input to bhyve, bhyveload and bhyvectl: one clear line on stderr, exit
# status 4, and no VM object left behind. Runs on any host (no guest boots).
# usage: cli_errors.sh BUILD_DIR KERNEL_DIR
set -u
bin=${1:?build dir}
kdir=${2:-}
export KHYVE_VMM_DIR
KHYVE_VMM_DIR=$(mktemp -d /tmp/khyve-cli-XXXXXX)
export KHYVE_ALLOW_PVM=1
trap 'rm -rf "$KHYVE_VMM_DIR" "$tmp"' EXIT
tmp=$(mktemp -d)
failed=0 passed=0

# expect4 NAME REGEX CMD...: exit 4, exactly one stderr line matching REGEX.
expect4() {
	local name=$1 regex=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [[ $rc -eq 4 && $lines -eq 1 ]] && grep -Eq -- "$regex" "$tmp/err"; then
		echo "ok   $name: $(cat "$tmp/err")"
		passed=$((passed + 1))
	else
		echo "FAIL $name: exit $rc, $lines stderr line(s):"
		sed 's/^/     /' "$tmp/err"
		failed=$((failed + 1))
	fi
}
no_vm_left() {
	if [[ -z $(ls -A "$KHYVE_VMM_DIR") ]]; then
		echo "ok   $1: no VM object left"
		passed=$((passed + 1))
	else
		echo "FAIL $1: left behind: $(ls -A "$KHYVE_VMM_DIR")"
		failed=$((failed + 1))
	fi
}

expect4 bhyve-unknown-flag 'unknown option' "$bin/bhyve" -Q vm
expect4 bhyve-no-name 'name' "$bin/bhyve" -m 256
expect4 bhyve-bad-memory '-m' "$bin/bhyve" -m lots vm
expect4 bhyve-bad-slot 'slot|emulation' "$bin/bhyve" -s 99,hostbridge vm
expect4 bhyve-unknown-emulation 'frobnicator' "$bin/bhyve" -s 3,frobnicator vm
expect4 bhyve-duplicate-slot 'twice' "$bin/bhyve" -s 3,hostbridge -s 3,lpc vm
expect4 bhyve-bad-name 'name' "$bin/bhyve" -m 256 'a/b'
expect4 bhyve-missing-vm 'does not exist' "$bin/bhyve" -m 256 nosuchvm
no_vm_left bhyve-missing-vm
expect4 bhyveload-no-kernel 'kernel' "$bin/bhyveload" -m 256 vm1
no_vm_left bhyveload-no-kernel
expect4 bhyveload-missing-kernel 'cannot read the kernel' "$bin/bhyveload" -m 256 -e kernel=/nonexistent vm1
no_vm_left bhyveload-missing-kernel
printf 'not a kernel' >"$tmp/junk"
expect4 bhyveload-garbage-kernel 'bzImage|vmlinux' "$bin/bhyveload" -m 256 -e kernel="$tmp/junk" vm1
no_vm_left bhyveload-garbage-kernel
expect4 bhyveload-bad-flag 'unknown option' "$bin/bhyveload" -Z vm1
expect4 bhyveload-bad-memory '-m' "$bin/bhyveload" -m 12Q -e kernel=/x vm1
expect4 bhyveload-missing-disk 'cannot open the disk image' "$bin/bhyveload" -m 256 -d /nonexistent/disk.img vm1
no_vm_left bhyveload-missing-disk
# A disk with no file system: the sandboxed parser's one line, naming the image.
printf 'neither a partition table nor a file system' >"$tmp/noise.img"
truncate -s 1M "$tmp/noise.img"
expect4 bhyveload-noise-disk "$tmp/noise.img: no ext2/3/4 filesystem" "$bin/bhyveload" -m 256 -d "$tmp/noise.img" vm1
no_vm_left bhyveload-noise-disk
# A configuration key nobody reads is refused, with the key it most likely meant.
expect4 bhyve-misspelt-key "unknown configuration key 'khyve.secomp' \\(did you mean 'khyve.seccomp'\\?\\)" \
	"$bin/bhyve" -o khyve.secomp=false -s 0,hostbridge vm
expect4 bhyve-unknown-device-option "virtio-blk at 0:2:0: unknown option 'bogus'" \
	"$bin/bhyve" -s 0,hostbridge -s 2,virtio-blk,/x,bogus=1 vm
# --help is a request, not an error (as bhyveload's and bhyvectl's).
if "$bin/bhyve" --help >"$tmp/out" 2>&1 && grep -q "Usage: bhyve" "$tmp/out"; then
	echo "ok   bhyve-help: exit 0"
	passed=$((passed + 1))
else
	echo "FAIL bhyve-help: $(head -1 "$tmp/out")"
	failed=$((failed + 1))
fi
expect4 bhyve-numa-two-domains 'NUMA domains asked for' "$bin/bhyve" -c 2 -m 256 -n 0,128M,0 -n 1,128M,1 vm
expect4 bhyve-numa-bad-key "unknown key 'sz'" "$bin/bhyve" -n id=0,sz=1G,cpus=0 vm
expect4 bhyvectl-no-vm-flag 'vm' "$bin/bhyvectl" --destroy
expect4 bhyvectl-unknown-flag 'unknown' "$bin/bhyvectl" --vm=x --frob
expect4 bhyvectl-missing-vm 'does not exist' "$bin/bhyvectl" --vm=nosuchvm --destroy
expect4 bhyvectl-prometheus-alone 'goes with --get-stats' "$bin/bhyvectl" --vm=x --prometheus
expect4 bhyvectl-prometheus-json 'no --json' "$bin/bhyvectl" --vm=x --get-stats --prometheus --json
expect4 bhyvectl-raw-alone 'goes alone' "$bin/bhyvectl" --vm=x --raw-request --get-stats

if [[ -n $kdir && -f $kdir/vmlinuz ]]; then
	expect4 bhyveload-too-little-memory 'too small' "$bin/bhyveload" -m 16 -h "$kdir" -e kernel=vmlinuz vm1
	no_vm_left bhyveload-too-little-memory
	# A loaded, idle VM: bhyve with other memory sizes is refused; the VM stays.
	"$bin/bhyveload" -m 128 -h "$kdir" -e kernel=vmlinuz vm2
	expect4 bhyve-memory-mismatch 'loaded with 128 MiB' "$bin/bhyve" -m 256 vm2
	"$bin/bhyvectl" --vm=vm2 --destroy
	no_vm_left destroy-after-mismatch
else
	echo "skip kernel checks: no kernel in '${kdir}'"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
