#!/usr/bin/env bash
# Builds the guest kit: Debian kernels, guest initramfs images, test disks and
# the test host's kernel, modules and base initramfs. See testhost/README.md.
#
#   testhost/kit.sh [--refresh]
#
# Kernels come from Debian's archive through apt (`apt-get download`, then
# `dpkg-deb -x` into the cache): nothing is installed into the host. The kernel
# ABI is read from the linux-image-{cloud-,}amd64 meta-packages. A rebuild
# happens only when an input (this script, testhost/guest/, busybox) changed
# or with --refresh (which also re-reads the current ABI).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${KHYVE_CACHE:-$ROOT/.cache}
KIT=$CACHE/kit
IMG=$ROOT/scripts/image
refresh=0
[[ ${1:-} == --refresh ]] && refresh=1

say() { echo "kit: $*" >&2; }
# die exits 3 so the ERR trap, which also fires in the parent of a failing
# $(...), does not report the same failure twice.
die() { echo "kit: error: $*" >&2; exit 3; }
trap '[[ $? == 3 ]] || echo "kit: error: line $LINENO: $BASH_COMMAND failed" >&2' ERR

for tool in apt-cache apt-get dpkg-deb depmod modprobe cpio sfdisk mkfs.ext4 busybox openssl; do
  command -v "$tool" >/dev/null || die "$tool not found; run scripts/install-deps.sh"
done

inputs_hash() {
  {
    cat "$HERE/kit.sh" "$HERE/guest/init" "$IMG"/khyve-img-{create,partition,format}
    for f in "$HERE"/guest/scripts/*.sh; do [[ -f $f ]] && { basename "$f"; cat "$f"; }; done
    dpkg-query -W busybox-static e2fsprogs 2>/dev/null || true
  } | sha256sum | cut -d' ' -f1
}

hash=$(inputs_hash)
if ((!refresh)) && [[ -f $KIT/stamp ]] && [[ $(sed -n 's/^inputs=//p' "$KIT/stamp") == "$hash" ]]; then
  say "up to date ($KIT, $(sed -n 's/^cloud=//p' "$KIT/stamp") / $(sed -n 's/^generic=//p' "$KIT/stamp"))"
  exit 0
fi

start=$SECONDS
mkdir -p "$CACHE/debs" "$CACHE/extract"

# --- kernel packages ---------------------------------------------------------

resolve_abi() { # meta-package -> ABI (uname -r) of the kernel it depends on
  apt-cache depends "$1" 2>/dev/null |
    sed -n 's/^ *|\?Depends: linux-image-\([0-9][^ ]*\)$/\1/p' | sed 's/-unsigned$//' | head -n1
}

cloud_abi=$(resolve_abi linux-image-cloud-amd64)
generic_abi=$(resolve_abi linux-image-amd64)
if [[ -z $cloud_abi || -z $generic_abi ]]; then
  ((EUID == 0)) || die "apt does not know linux-image-amd64; run 'apt-get update' as root"
  say "apt lists lack the kernel meta-packages; running apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
  cloud_abi=$(resolve_abi linux-image-cloud-amd64)
  generic_abi=$(resolve_abi linux-image-amd64)
  [[ -n $cloud_abi && -n $generic_abi ]] ||
    die "cannot resolve the kernel ABI from linux-image-cloud-amd64/linux-image-amd64 (Debian mirror unreachable?)"
fi

# Downloads PACKAGE once into $CACHE/debs and unpacks it into
# $CACHE/extract/NAME; with an ABI, runs depmod there too (kernels). Prints the
# unpacked root.
fetch_pkg() { # PACKAGE NAME [ABI]
  local pkg=$1 dest=$CACHE/extract/$2 abi=${3:-}
  if [[ ! -f $dest/.unpacked ]]; then
    local deb log
    deb=$(ls "$CACHE/debs/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
    if [[ -z $deb ]]; then
      say "downloading $pkg"
      log=$(cd "$CACHE/debs" && apt-get download "$pkg" 2>&1) ||
        die "cannot fetch $pkg: $(grep -m1 '^E:' <<<"$log" || tail -n1 <<<"$log") (Debian mirror unreachable?)"
      deb=$(ls "$CACHE/debs/${pkg}"_*.deb | head -n1)
    fi
    say "unpacking $(basename "$deb")"
    rm -rf "$dest"
    dpkg-deb -x "$deb" "$dest"
    [[ -z $abi ]] || depmod -b "$dest" "$abi"
    touch "$dest/.unpacked"
  fi
  echo "$dest"
}

cloud_root=$(fetch_pkg "linux-image-$cloud_abi" "$cloud_abi" "$cloud_abi")
generic_root=$(fetch_pkg "linux-image-$generic_abi" "$generic_abi" "$generic_abi")
# Programs scenarios run inside the test host that the host must not be made
# to install (gdb-minimal conflicts with a developer's full gdb): fetched by
# package name and unpacked, like the kernels.
gdb_root=$(fetch_pkg gdb-minimal tool-gdb-minimal)

# Debian's linux-image packages ship a placeholder System.map; the real one is
# in the -dbg package (283 MB). Only System.map is kept, cached by ABI.
real_system_map() { # ABI -> path of the real System.map
  local abi=$1 map=$CACHE/extract/sysmap-$1
  if [[ ! -s $map ]]; then
    local pkg=linux-image-$abi-dbg log
    say "downloading $pkg (for System.map)"
    log=$(cd "$CACHE/debs" && apt-get download "$pkg" 2>&1) ||
      die "cannot fetch $pkg: $(grep -m1 '^E:' <<<"$log" || tail -n1 <<<"$log") (Debian mirror unreachable?)"
    dpkg-deb --fsys-tarfile "$CACHE/debs/${pkg}"_*.deb |
      tar -x --wildcards -O "./usr/lib/debug/boot/System.map-$abi" >"$map.tmp"
    mv "$map.tmp" "$map"
    rm -f "$CACHE/debs/${pkg}"_*.deb
  fi
  echo "$map"
}
cloud_system_map=$(real_system_map "$cloud_abi")

# --- helpers -------------------------------------------------------------------

# Copies MODULES (and everything they depend on) from an unpacked kernel into
# STAGE/lib/modules/ABI and writes load.list there: paths relative to that
# directory, in insmod order. Modules missing from this flavour or built into
# its kernel are skipped.
add_modules() {
  local kroot=$1 abi=$2 stage=$3
  shift 3
  local mdir=$kroot/lib/modules/$abi dst=$stage/lib/modules/$abi m rel
  mkdir -p "$dst"
  : >"$dst/load.list"
  for m in "$@"; do
    modprobe -d "$kroot" -S "$abi" --show-depends "$m" 2>/dev/null | while read -r verb path _; do
      [[ $verb == insmod ]] || continue
      rel=${path#"$mdir"/}
      grep -qxF "$rel" "$dst/load.list" && continue
      mkdir -p "$dst/$(dirname "$rel")"
      cp "$path" "$dst/$rel"
      echo "$rel" >>"$dst/load.list"
    done
  done
  cp "$mdir"/modules.{order,builtin,builtin.modinfo} "$dst/" 2>/dev/null || true
  depmod -b "$stage" "$abi"
}

# A busybox userland with every applet as a symlink in /bin.
add_busybox() {
  local stage=$1 applet
  mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,run,mnt,root,etc}
  cp /bin/busybox "$stage/bin/busybox"
  for applet in $(busybox --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$stage/bin/$applet"
  done
  ln -sf ../bin/busybox "$stage/sbin/init"
  # Lets the kernel give PID 1 a console before devtmpfs is mounted.
  mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
}

pack_cpio() { # DIR OUT: uncompressed newc archive, root-owned
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) >"$2"
}

guest_stage() { # STAGE KERNEL-ROOT ABI MODULES...: the guest root file system
  local stage=$1 kroot=$2 abi=$3
  shift 3
  add_busybox "$stage"
  install -m 755 "$HERE/guest/init" "$stage/init"
  mkdir -p "$stage/scripts"
  cp "$HERE"/guest/scripts/*.sh "$stage/scripts/" 2>/dev/null || true
  add_modules "$kroot" "$abi" "$stage" "$@"
}

GUEST_MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  virtio_blk virtio_net failover net_failover virtio_console virtio_rng button evdev
  crc16 mbcache jbd2 crc32c_generic ext4)
# virtio_blk: scenarios may get a disk from run.sh (# khyve-testhost-disk:).
TESTHOST_MODULES=(irqbypass kvm ccp kvm-amd tun bridge virtio_pci virtio_blk)

# --- assemble ------------------------------------------------------------------

work=$(mktemp -d "$CACHE/kit.new.XXXXXX")
trap 'rm -rf "$work"' EXIT
new=$work/kit
mkdir -p "$new"/{cloud,generic,images,testhost}

for flavour in cloud generic; do
  if [[ $flavour == cloud ]]; then abi=$cloud_abi kroot=$cloud_root; else abi=$generic_abi kroot=$generic_root; fi
  say "guest initramfs ($abi)"
  cp "$kroot/boot/vmlinuz-$abi" "$new/$flavour/vmlinuz"
  if [[ $flavour == cloud ]]; then cp "$cloud_system_map" "$new/$flavour/System.map"; fi
  cp "$kroot/boot/config-$abi" "$new/$flavour/config"
  guest_stage "$work/$flavour-root" "$kroot" "$abi" "${GUEST_MODULES[@]}"
  cp "$work/$flavour-root/lib/modules/$abi/load.list" "$new/$flavour/modules.list"
  pack_cpio "$work/$flavour-root" "$new/$flavour/initrd.img"
done
# The generic flavour serves only as a second kernel; its System.map and config
# would just grow the test host's initramfs.
rm -f "$new/generic/System.map" "$new/generic/config"

# Test disks: the cloud guest's userland on one ext4 partition, MBR and GPT,
# made by the image scripts (scripts/image) as an operator would.
say "disk images"
# partition_and_format LABEL(dos|gpt) STAGE OUT UUID: a 64 MiB disk, one ext4
# partition from sector 2048 filled from STAGE (mkfs -d: no mount, no root).
# The fixed time, UUID and hash seed make the same bytes on every build.
partition_and_format() {
  local label=$1 stage=$2 out=$3 uuid=$4 log
  log=$({
    "$IMG/khyve-img-create" "$out" 64M &&
      "$IMG/khyve-img-partition" -t "$([[ $label == dos ]] && echo mbr || echo gpt)" "$out" &&
      E2FSPROGS_FAKE_TIME=1700000000 "$IMG/khyve-img-format" -L "khyve-$label" -U "$uuid" \
        -E root_owner=0:0,hash_seed=4b687976-6500-4000-8000-000000000000 -d "$stage" "$out"
  } 2>&1) || die "image scripts failed on $(basename "$out"): $(tail -n1 <<<"$log")"
}
make_disk() { # LABEL(dos|gpt) OUT
  local label=$1 out=$2 stage=$work/disk-$1
  guest_stage "$stage" "$cloud_root" "$cloud_abi" "${GUEST_MODULES[@]}"
  echo "KHYVE-DISK-MARKER $label" >"$stage/etc/khyve-marker"
  partition_and_format "$label" "$stage" "$out" \
    "$( [[ $label == dos ]] && echo 4b687976-6500-4000-8000-000000000001 || echo 4b687976-6500-4000-8000-000000000002)"
}
# Bootable disks for bhyveload -d, one per boot-configuration kind: the cloud
# kernel and guest initramfs in /boot, plus extlinux.conf, a loader entry, or
# Debian's /vmlinuz and /initrd.img links. Kept out of the test host's base
# initramfs; scenarios that need them ask run.sh for kit/bootimages.
make_boot_disk() { # KIND LABEL OUT
  local kind=$1 label=$2 out=$3 stage=$work/bootdisk-$1
  local args="console=ttyS0 quiet khyve.script=bootdisk khyve.bootkind=$kind"
  guest_stage "$stage" "$cloud_root" "$cloud_abi" "${GUEST_MODULES[@]}"
  mkdir -p "$stage/boot"
  cp "$new/cloud/vmlinuz" "$stage/boot/vmlinuz-$cloud_abi"
  cp "$new/cloud/initrd.img" "$stage/boot/initrd.img-$cloud_abi"
  case $kind in
  extlinux)
    mkdir -p "$stage/boot/extlinux"
    printf 'DEFAULT khyve\nTIMEOUT 10\nLABEL khyve\n  MENU LABEL khyve extlinux\n  LINUX /boot/vmlinuz-%s\n  INITRD /boot/initrd.img-%s\n  APPEND %s\n' \
      "$cloud_abi" "$cloud_abi" "$args" >"$stage/boot/extlinux/extlinux.conf" ;;
  bls)
    mkdir -p "$stage/loader/entries"
    printf 'title khyve bls\nversion %s\nlinux /boot/vmlinuz-%s\ninitrd /boot/initrd.img-%s\noptions %s\n' \
      "$cloud_abi" "$cloud_abi" "$cloud_abi" "$args" >"$stage/loader/entries/khyve.conf" ;;
  debian)
    ln -s "boot/vmlinuz-$cloud_abi" "$stage/vmlinuz"
    ln -s "boot/initrd.img-$cloud_abi" "$stage/initrd.img" ;;
  esac
  partition_and_format "$label" "$stage" "$out" 4b687976-6500-4000-8000-00000000000b
}
make_disk dos "$new/images/mbr.img"
make_disk gpt "$new/images/gpt.img"
# AES-CTR over zeros with a fixed key: the same bytes on every machine.
head -c 4M /dev/zero |
  openssl enc -aes-128-ctr -nosalt -K 6b687976652d6b69742d706174746572 -iv 00000000000000000000000000000000 >"$new/images/pattern.img"
(cd "$new/images" && sha256sum pattern.img >pattern.sha256)
mkdir -p "$new/bootimages"
make_boot_disk extlinux dos "$new/bootimages/extlinux-mbr.img"
make_boot_disk bls gpt "$new/bootimages/bls-gpt.img"
make_boot_disk debian dos "$new/bootimages/debian-mbr.img"
printf '%s\n' "KHYVE-DISK-MARKER dos" >"$new/images/mbr.marker"
printf '%s\n' "KHYVE-DISK-MARKER gpt" >"$new/images/gpt.marker"

# Test host: the generic kernel (it has kvm-amd) and its modules.
say "test host ($generic_abi)"
cp "$generic_root/boot/vmlinuz-$generic_abi" "$new/testhost/vmlinuz"
add_modules "$generic_root" "$generic_abi" "$new/testhost" "${TESTHOST_MODULES[@]}"
for m in irqbypass kvm kvm-amd tun; do
  [[ -n $(modprobe -d "$new/testhost" -S "$generic_abi" --show-depends "$m" 2>/dev/null) ]] ||
    die "test host module $m missing from $generic_abi"
done

mkdir -p "$new/tools"
cp "$gdb_root/usr/bin/gdb" "$new/tools/gdb"

cat >"$new/env" <<EOF
KHYVE_CLOUD_ABI=$cloud_abi
KHYVE_GENERIC_ABI=$generic_abi
KHYVE_PATTERN_SHA256=$(cut -d' ' -f1 "$new/images/pattern.sha256")
EOF

# The test host's base initramfs: busybox, its modules, and the guest kit at
# /kit. run.sh appends a small second archive (binaries, scenario, /init).
say "test host base initramfs"
base=$work/testhost-root
add_busybox "$base"
mkdir -p "$base/kit"
cp -a "$new/testhost/lib" "$base/"
cp "$new/testhost/lib/modules/$generic_abi/load.list" "$base/lib/modules/load.list"
cp -a "$new/cloud" "$new/generic" "$new/images" "$new/env" "$base/kit/"
pack_cpio "$base" "$new/testhost/base.cpio"

echo "inputs=$hash" >"$new/stamp"
echo "cloud=$cloud_abi" >>"$new/stamp"
echo "generic=$generic_abi" >>"$new/stamp"

rm -rf "$KIT"
mv "$new" "$KIT"
# Drop kernels of older ABIs.
for d in "$CACHE"/extract/*; do
  case ${d##*/} in "$cloud_abi" | "$generic_abi" | tool-* | sysmap-"$cloud_abi") ;; *) rm -rf "$d" ;; esac
done
for f in "$CACHE"/debs/*.deb; do
  case ${f##*/} in linux-image-"$cloud_abi"_* | linux-image-"$generic_abi"_* | gdb-minimal_*) ;; *) rm -f "$f" ;; esac
done
say "built $KIT in $((SECONDS - start)) s ($(du -sh --apparent-size "$KIT/testhost/base.cpio" | cut -f1) test-host base initramfs)"
