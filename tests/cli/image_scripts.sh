#!/usr/bin/env bash
# The image scripts and vmrun.sh without a guest: disks made by create,
# partition and format are what sfdisk, e2fsck and debugfs expect; the
# Debian source comes from one-line and deb822 apt files; bad input gives one
# line and exit 4; vmrun.sh loops on reboot and destroys the VM at the end
# (with stand-in bhyve/bhyveload/bhyvectl). Needs no root, no network.
# usage: image_scripts.sh SOURCE_DIR
set -u
src=${1:?source dir}
img=$src/scripts/image
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
failed=0 passed=0

ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
# expect4 NAME REGEX CMD...: exit 4, exactly one stderr line matching REGEX.
expect4() {
	local name=$1 regex=$2 rc lines
	shift 2
	"$@" >out 2>err </dev/null
	rc=$? lines=$(wc -l <err)
	if [[ $rc -eq 4 && $lines -eq 1 ]] && grep -Eq -- "$regex" err; then ok "$name: $(cat err)"
	else bad "$name" "exit $rc, $lines stderr line(s): $(head -n3 err)"; fi
}
# expect0 NAME CMD...
expect0() {
	local name=$1
	shift
	if "$@" >out 2>err </dev/null; then ok "$name"; else bad "$name" "exit $?: $(tail -n2 err)"; fi
}

for s in "$img"/khyve-* "$src/scripts/vmrun.sh"; do
	"$s" --help >out 2>&1 && grep -q '^usage:' out && ok "${s##*/} --help" || bad "${s##*/} --help" "no usage"
done

# create
expect0 create "$img/khyve-img-create" a.img 64M
[[ $(stat -c %s a.img) == 67108864 && $(stat -c %b a.img) == 0 ]] && ok create-sparse-64M ||
	bad create-sparse-64M "size $(stat -c %s a.img), $(stat -c %b a.img) blocks"
expect4 create-exists 'exists' "$img/khyve-img-create" a.img 64M
expect4 create-bad-size "invalid size '12X'" "$img/khyve-img-create" b.img 12X
expect4 create-no-args 'expected IMAGE' "$img/khyve-img-create"
[[ -e b.img ]] && bad create-bad-size-no-file "b.img created" || ok create-bad-size-no-file

# partition, both kinds
for kind in mbr gpt; do
	cp --sparse=always a.img $kind.img
	expect0 "partition-$kind" "$img/khyve-img-partition" -t $kind $kind.img
	label=$(sfdisk -d $kind.img 2>/dev/null | sed -n 's/^label: //p')
	[[ $label == "$([[ $kind == mbr ]] && echo dos || echo gpt)" ]] && ok "partition-$kind-label" ||
		bad "partition-$kind-label" "label '$label'"
	where=$("$img/khyve-img-partition" -s 1 $kind.img)
	[[ $where == "1048576 "* ]] && ok "partition-$kind-at-1MiB ($where)" || bad "partition-$kind-at-1MiB" "$where"
	expect4 "partition-$kind-again" 'already has a partition table' "$img/khyve-img-partition" -t $kind $kind.img
	expect4 "partition-$kind-no-2" 'no partition 2' "$img/khyve-img-partition" -s 2 $kind.img
done
expect4 partition-bad-kind "invalid table kind 'bsd'" "$img/khyve-img-partition" -t bsd a.img
expect4 partition-missing 'does not exist' "$img/khyve-img-partition" nothere.img

# format, with a tree, into each kind; the table survives, the fs is clean
mkdir -p tree/etc tree/boot
echo marker >tree/etc/khyve-marker
ln -s boot/vmlinuz-x tree/vmlinuz
for kind in mbr gpt; do
	sfdisk -d $kind.img >table.before 2>/dev/null
	expect0 "format-$kind" "$img/khyve-img-format" -L t-$kind -U 4b687976-6500-4000-8000-0000000000aa -d tree $kind.img
	sfdisk -d $kind.img 2>/dev/null | diff -q table.before - >/dev/null && ok "format-$kind-table-intact" ||
		bad "format-$kind-table-intact" "partition table changed"
	e2fsck -fn "$kind.img?offset=1048576" >fsck.out 2>&1 && ok "format-$kind-fsck-clean" ||
		bad "format-$kind-fsck-clean" "$(tail -n2 fsck.out)"
	got=$(debugfs -R 'cat /etc/khyve-marker' "$kind.img?offset=1048576" 2>/dev/null)
	[[ $got == marker ]] && ok "format-$kind-tree-copied" || bad "format-$kind-tree-copied" "got '$got'"
	got=$(debugfs -R 'stat /vmlinuz' "$kind.img?offset=1048576" 2>/dev/null | grep -o 'Fast link dest: .*')
	[[ $got == *boot/vmlinuz-x* ]] && ok "format-$kind-symlink" || bad "format-$kind-symlink" "got '$got'"
done
expect4 format-no-partition 'has no partition table' "$img/khyve-img-format" a.img
expect4 format-bad-dir 'is not a directory' "$img/khyve-img-format" -d nodir mbr.img
expect4 format-partition-3 'no partition 3' "$img/khyve-img-format" -p 3 mbr.img

# The Debian source: os-release and apt files of a made-up host.
mkdir -p etc/apt/sources.list.d
printf 'ID=debian\nVERSION_CODENAME="trixie"\n' >os-release
printf 'deb-src http://src.example/debian trixie main\n# deb http://commented.example/debian trixie main\n' >etc/apt/sources.list
printf 'Types: deb\nURIs: http://off.example/debian\nSuites: trixie\nEnabled: no\n\nTypes: deb deb-src\nURIs: http://sec.example/debian-security\nSuites: trixie-security\n\nTypes: deb\nURIs: http://m.example/debian/\nSuites: trixie trixie-updates\nComponents: main\n' \
	>etc/apt/sources.list.d/debian.sources
src_of() { KHYVE_APT_DIR=$tmp/etc/apt KHYVE_OS_RELEASE=$tmp/os-release "$img/khyve-img-debian" --print-source "$@"; }
got=$(src_of 2>&1)
[[ $got == "trixie http://m.example/debian/" ]] && ok "debian-source-deb822 ($got)" || bad debian-source-deb822 "got '$got'"
printf 'deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian trixie main\n' >etc/apt/sources.list.d/one.list
got=$(src_of 2>&1)
[[ $got == "trixie http://one.example/debian" ]] && ok "debian-source-one-line ($got)" || bad debian-source-one-line "got '$got'"
got=$(src_of --suite trixie-security 2>&1)
[[ $got == "trixie-security http://sec.example/debian-security" ]] && ok "debian-source-suite ($got)" ||
	bad debian-source-suite "got '$got'"
expect4 debian-no-source 'no deb source for sid' src_of --suite sid
expect4 debian-no-login 'root cannot log in' "$img/khyve-img-debian" x.img
expect4 debian-bad-key 'cannot read the SSH key' "$img/khyve-img-debian" --ssh-key nokey x.img
expect4 debian-no-password-file 'cannot read the password file nopw' "$img/khyve-img-debian" --root-password-file nopw x.img
: >empty.pw
expect4 debian-empty-password-file 'no password in empty.pw' "$img/khyve-img-debian" --root-password-file empty.pw x.img
expect4 debian-bad-host "invalid host name" "$img/khyve-img-debian" --root-password x --hostname 'a b' x.img

expect4 host-net-bad-cmd "unknown command 'sideways'" "$img/khyve-host-net" sideways
expect4 cleanup-bad-name "invalid VM name" "$img/khyve-vm-cleanup" '../x'
KHYVE_VMM_DIR=$tmp/vmm expect0 cleanup-nothing-to-do "$img/khyve-vm-cleanup" vmX

# vmrun.sh with stand-ins: two reboots, then power off; VM destroyed once.
cat >fake-bhyve <<'F'
#!/bin/sh
n=$(cat count 2>/dev/null || echo 0); n=$((n + 1)); echo $n >count
echo "bhyve $*" >>calls; [ $n -lt 3 ] && exit 0; exit 1
F
printf '#!/bin/sh\necho "bhyveload $* stdin=$(readlink /proc/self/fd/0)" >>calls\n' >fake-load
printf '#!/bin/sh\necho "bhyvectl $*" >>calls; exit 1\n' >fake-ctl
chmod +x fake-*
BHYVE=./fake-bhyve BHYVELOAD=./fake-load BHYVECTL=./fake-ctl sh "$src/scripts/vmrun.sh" -c 2 -m 1G vm1 >vmrun.out 2>&1 </dev/null
rc=$?
[[ $rc == 1 ]] && ok "vmrun-exit-1-on-poweroff" || bad vmrun-exit-1-on-poweroff "exit $rc: $(tail -n2 vmrun.out)"
[[ $(grep -c '^bhyveload ' calls) == 3 && $(grep -c '^bhyve ' calls) == 3 ]] && ok vmrun-loads-again-after-reboot ||
	bad vmrun-loads-again-after-reboot "$(cat calls)"
grep -q '^bhyveload -m 1G -c stdio -d ./diskdev vm1 stdin=/dev/null$' calls && ok vmrun-default-disk-autoboot ||
	bad vmrun-default-disk-autoboot "$(grep -m1 bhyveload calls)"
[[ $(stat -c %s diskdev 2>/dev/null) == 8589934592 ]] && ok vmrun-created-8G-disk || bad vmrun-created-8G-disk "no 8G ./diskdev"
grep -q '^bhyve -A -H -c 2 -m 1G .*-s 2:0,virtio-net,tap0 -s 3:0,virtio-blk,./diskdev vm1$' calls &&
	ok vmrun-machine || bad vmrun-machine "$(grep -m1 '^bhyve ' calls)"
[[ $(tail -n1 calls) == "bhyvectl --vm=vm1 --destroy" ]] && ok vmrun-destroys-at-end || bad vmrun-destroys-at-end "$(tail -n1 calls)"
grep -q 'vm1 powered off' vmrun.out && ok vmrun-says-powered-off || bad vmrun-says-powered-off "$(cat vmrun.out)"
# Paths with spaces stay one argument each (fresh stand-ins that print one
# argument per line).
mkdir -p "sp ace"
printf '#!/bin/sh\nfor a; do echo "[$a]"; done >>argv-bhyve; exit 1\n' >fake-bhyve-argv
printf '#!/bin/sh\nfor a; do echo "[$a]"; done >>argv-load\n' >fake-load-argv
chmod +x fake-*-argv
BHYVE=./fake-bhyve-argv BHYVELOAD=./fake-load-argv BHYVECTL=./fake-ctl sh "$src/scripts/vmrun.sh" \
	-t none -d "sp ace/one disk.img" -d "sp ace/two.img" -I "sp ace/in st.iso" vm3 >/dev/null 2>&1 </dev/null
[[ -f "sp ace/one disk.img" && -f "sp ace/two.img" ]] && ok vmrun-spaces-disks-created || bad vmrun-spaces-disks-created "$(ls "sp ace")"
grep -qx '\[sp ace/one disk.img\]' argv-load && ok vmrun-spaces-loader-disk || bad vmrun-spaces-loader-disk "$(cat argv-load)"
grep -qx '\[2:0,virtio-blk,sp ace/one disk.img\]' argv-bhyve && grep -qx '\[3:0,virtio-blk,sp ace/two.img\]' argv-bhyve &&
	grep -qx '\[4:0,virtio-blk,sp ace/in st.iso,ro\]' argv-bhyve && ok vmrun-spaces-bhyve-args ||
	bad vmrun-spaces-bhyve-args "$(cat argv-bhyve)"
BHYVE=./fake-bhyve BHYVELOAD=false BHYVECTL=./fake-ctl sh "$src/scripts/vmrun.sh" -d a.img vm2 >/dev/null 2>&1 </dev/null
rc=$?
[[ $rc == 4 ]] && ok vmrun-load-failure-exit-4 || bad vmrun-load-failure-exit-4 "exit $rc"
expect4 vmrun-no-name 'exactly one VM name' sh "$src/scripts/vmrun.sh"
expect4 vmrun-bad-option 'unknown option -Z' sh "$src/scripts/vmrun.sh" -Z vm1
expect4 vmrun-no-value 'option -c needs a value' sh "$src/scripts/vmrun.sh" -c

# mount / umount a partition of a script-made image (root and loop devices
# only): the file written through the mount is in the filesystem afterwards,
# and no loop device is left.
if [[ $(id -u) != 0 ]] || ! losetup -f >/dev/null 2>&1; then
	echo "skip mount/umount: needs root and a free loop device"
else
	mkdir -p mnt
	expect0 mount "$img/khyve-img-mount" gpt.img mnt
	echo through-mount >mnt/khyve-written 2>/dev/null
	expect0 umount "$img/khyve-img-umount" mnt
	mountpoint -q mnt && bad umount-unmounted "mnt still mounted" || ok umount-unmounted
	losetup -j gpt.img | grep -q . && bad umount-loop-freed "$(losetup -j gpt.img)" || ok umount-loop-freed
	got=$(debugfs -R 'cat /khyve-written' "gpt.img?offset=1048576" 2>/dev/null)
	[[ $got == through-mount ]] && ok mount-write-landed || bad mount-write-landed "got '$got'"
	e2fsck -fn "gpt.img?offset=1048576" >fsck.out 2>&1 && ok mount-fsck-clean || bad mount-fsck-clean "$(tail -n2 fsck.out)"
fi

echo "image scripts: $passed passed, $failed failed"
((failed == 0))
