#!/bin/sh
# vmrun.sh: run a guest the way the bhyve manual's vmrun.sh does: load, run,
# and load again while the guest reboots; destroy the VM when it powers off,
# halts or fails. See bhyve(8) and bhyveload(8).
#
# usage: vmrun.sh [-hA] [-c cpus] [-m mem] [-t tapN] [-d disk]... [-I iso]
#                 [-C console] [-H hostdir] [-e name=value]... vmname
set -u
# Lists (disks, -e values) are kept one item per line, so paths may hold
# spaces (not commas: bhyve's -s splits on them, as FreeBSD's does).
nl='
'

BHYVE=${BHYVE:-bhyve}
BHYVELOAD=${BHYVELOAD:-bhyveload}
BHYVECTL=${BHYVECTL:-bhyvectl}
DEFAULT_CPUS=1
DEFAULT_MEMSIZE=512M
DEFAULT_TAPDEV=tap0
DEFAULT_CONSOLE=stdio
DEFAULT_DISKSIZE=8G
DEFAULT_DISK=./diskdev

usage() {
	cat <<USAGE
usage: vmrun.sh [-hA] [-c cpus] [-m mem] [-t tapN] [-d disk] [-I iso]
                [-C console] [-H hostdir] [-e name=value] vmname

  -c cpus      virtual CPUs (default $DEFAULT_CPUS)
  -m mem       guest memory (default $DEFAULT_MEMSIZE)
  -t tapN      tap device for virtio-net (default $DEFAULT_TAPDEV; -t none for no network)
  -d disk      disk image, repeatable (default $DEFAULT_DISK); created
               ($DEFAULT_DISKSIZE, sparse) if missing; the first one is booted with
               bhyveload -d unless -e kernel=... is given
  -I iso       installation media, attached as an extra virtio-blk disk (read-only)
  -C console   console device for COM1 (default $DEFAULT_CONSOLE)
  -H hostdir   with -e kernel=..., load the kernel from this host directory
  -e name=val  passed to bhyveload (kernel=, initrd=, cmdline=)
  -A           no ACPI tables
  -h           this help

The VM is reloaded and restarted while the guest reboots (bhyve exit 0) and
destroyed when it powers off (1), halts (2), triple-faults (3) or fails (4);
vmrun.sh exits with that status. When standard input is not a terminal the
loader does not prompt: it boots the default entry.
USAGE
	exit "${1:-1}"
}

cpus=$DEFAULT_CPUS
mem=$DEFAULT_MEMSIZE
tap=$DEFAULT_TAPDEV
console=$DEFAULT_CONSOLE
disks=""
iso=""
hostdir=""
loader_env=""
acpi="-A"

[ "${1:-}" = --help ] && usage 0
while getopts ":hAc:m:t:d:I:C:H:e:" opt; do
	case $opt in
	c) cpus=$OPTARG ;;
	m) mem=$OPTARG ;;
	t) tap=$OPTARG ;;
	d) disks="$disks$nl$OPTARG" ;;
	I) iso=$OPTARG ;;
	C) console=$OPTARG ;;
	H) hostdir=$OPTARG ;;
	e) loader_env="$loader_env
$OPTARG" ;;
	A) acpi="" ;;
	h) usage 0 ;;
	:) echo "vmrun.sh: option -$OPTARG needs a value" >&2; exit 4 ;;
	*) echo "vmrun.sh: unknown option -$OPTARG (see -h)" >&2; exit 4 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "vmrun.sh: exactly one VM name is required" >&2; exit 4; }
vmname=$1
[ -n "$disks" ] || disks=$DEFAULT_DISK

# A stale VM of that name from an earlier run goes first (as the manual's vmrun.sh).
if $BHYVECTL --vm="$vmname" --get-lowmem >/dev/null 2>&1; then
	$BHYVECTL --vm="$vmname" --destroy >/dev/null 2>&1
fi

# Disks: create missing images as sparse files.
old_ifs=$IFS
IFS=$nl
set -f
for d in $disks; do
	[ -n "$d" ] || continue
	[ -n "${first_disk:-}" ] || first_disk=$d
	if [ ! -e "$d" ]; then
		echo "vmrun.sh: creating $DEFAULT_DISKSIZE disk image $d"
		truncate -s "$DEFAULT_DISKSIZE" "$d" || { echo "vmrun.sh: cannot create $d" >&2; exit 4; }
	fi
done
set +f
IFS=$old_ifs

# bhyve's command line, built as argv (a function has its own "$@").
run_bhyve() {
	set -- -H -c "$cpus" -m "$mem" -s 0:0,hostbridge -s 31:0,lpc -l "com1,$console"
	[ -n "$acpi" ] && set -- "$acpi" "$@"
	slot=2
	if [ "$tap" != none ]; then
		set -- "$@" -s "$slot:0,virtio-net,$tap"
		slot=$((slot + 1))
	fi
	old_ifs=$IFS
	IFS=$nl
	set -f
	for d in $disks; do
		[ -n "$d" ] || continue
		set -- "$@" -s "$slot:0,virtio-blk,$d"
		slot=$((slot + 1))
	done
	set +f
	IFS=$old_ifs
	[ -n "$iso" ] && set -- "$@" -s "$slot:0,virtio-blk,$iso,ro"
	$BHYVE "$@" "$vmname"
}

# A signal (Ctrl-C reaches bhyve too, which presses the power button) ends
# the loop after the running command instead of killing this script, so the
# VM is still destroyed.
stop=""
trap 'stop=1' INT TERM HUP

# The loader prompts only on a terminal; otherwise (a pipe or FIFO console)
# it would wait for commands on stdin, so it gets none and boots.
load() {
	if [ -t 0 ]; then
		$BHYVELOAD "$@"
	else
		$BHYVELOAD "$@" </dev/null
	fi
}

status=0
while :; do
	# Word splitting of the -e values is avoided by rebuilding argv here.
	set --
	[ -n "$hostdir" ] && set -- "$@" -h "$hostdir"
	have_kernel=""
	old_ifs=$IFS
	IFS=$nl
	set -f
	for kv in $loader_env; do
		[ -n "$kv" ] || continue
		case $kv in kernel=*) have_kernel=1 ;; esac
		set -- "$@" -e "$kv"
	done
	set +f
	IFS=$old_ifs
	[ -n "$have_kernel" ] || set -- "$@" -d "$first_disk"
	load -m "$mem" -c "$console" "$@" "$vmname"
	status=$?
	[ $status -eq 0 ] || { status=4; break; }
	[ -z "$stop" ] || break
	run_bhyve
	status=$?
	[ $status -eq 0 ] || break
	echo "vmrun.sh: $vmname rebooted"
	[ -z "$stop" ] || break
done

case $status in
1) echo "vmrun.sh: $vmname powered off" ;;
2) echo "vmrun.sh: $vmname halted" ;;
3) echo "vmrun.sh: $vmname triple fault" ;;
*) echo "vmrun.sh: $vmname exited with status $status" ;;
esac
$BHYVECTL --vm="$vmname" --destroy >/dev/null 2>&1
exit $status
