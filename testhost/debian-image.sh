#!/usr/bin/env bash
# Builds the debootstrapped Debian disk that scenarios with the header
# "# khyve-testhost-disk: debian" get (run.sh attaches it to the test host as
# a virtio disk, snapshot mode: guest writes never reach the file).
#
#   testhost/debian-image.sh [--refresh]
#
# Made by the image scripts like an operator would (scripts/image/
# khyve-img-debian): Debian minbase of this host's suite from this host's
# mirror, the cloud kernel, systemd, a getty on ttyS0, networkd DHCP, host
# name "debian", root password "khyve". The image is $KHYVE_CACHE/debian/
# debian.img (2 GiB sparse, MBR, ext4 on partition 1); downloaded packages
# stay in $KHYVE_CACHE/debian/debs so a rebuild needs no network for them.
# A rebuild happens when an input (this script, the image scripts, the host's
# suite) changed, or with --refresh. Needs root and the Debian mirror.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${KHYVE_CACHE:-$ROOT/.cache}
OUT=$CACHE/debian
IMG=$ROOT/scripts/image
refresh=0
[[ ${1:-} == --refresh ]] && refresh=1

say() { echo "debian-image: $*" >&2; }
die() { echo "debian-image: error: $*" >&2; exit 1; }

hash=$({
  cat "$HERE/debian-image.sh" "$IMG"/khyve-img-{debian,create,partition,format}
  grep -E '^VERSION_CODENAME=' /etc/os-release || true
} | sha256sum | cut -d' ' -f1)
if ((!refresh)) && [[ -f $OUT/stamp && -f $OUT/debian.img ]] && [[ $(cat "$OUT/stamp") == "$hash" ]]; then
  say "up to date ($OUT/debian.img)"
  exit 0
fi
((EUID == 0)) || die "building the Debian image needs root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap not found; run scripts/install-deps.sh"

start=$SECONDS
mkdir -p "$OUT/debs"
rm -f "$OUT/debian.img.new" "$OUT/stamp"
say "building $OUT/debian.img (debootstrap; a few minutes)"
# The password comes on standard input (--root-password-file -), as an
# operator keeping it out of ps would give it.
"$IMG/khyve-img-debian" --root-password-file - --hostname debian --size 2G --table mbr \
  --cache-dir "$OUT/debs" --workdir "$OUT" "$OUT/debian.img.new" <<<khyve >&2 ||
  { rm -f "$OUT/debian.img.new"; die "khyve-img-debian failed"; }
mv "$OUT/debian.img.new" "$OUT/debian.img"
echo "$hash" >"$OUT/stamp"
say "built $OUT/debian.img in $((SECONDS - start)) s ($(du -sh "$OUT/debian.img" | cut -f1) allocated)"
