#!/usr/bin/env bash
# Fetches Debian's newer qemu-system-x86 from the host release's -backports
# suite into the cache (no install) and prints the path of a qemu-system-x86_64
# that runs it. For scenarios that start with "# khyve-testhost-qemu: backports":
# bookworm's QEMU 7.2 loads DR7 from the VMCB on VMRUN without arming its TCG
# breakpoints, so a nested guest's hardware breakpoints never fire; 10.0 does.
# The mirror is the one the host's apt uses for its release (apt-get
# indextargets), the suite <codename>-backports.
#   KHYVE_CACHE  cache directory (default <repo>/.cache)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KHYVE_CACHE:-$ROOT/.cache}
OUT=$CACHE/qemu-backports

die() { echo "qemu-backports.sh: $*" >&2; exit 1; }

if [[ -x $OUT/qemu-system-x86_64 ]]; then
  echo "$OUT/qemu-system-x86_64"
  exit 0
fi

# shellcheck disable=SC1091
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[[ -n $codename ]] || die "no VERSION_CODENAME in /etc/os-release"
site=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null |
  awk -v r="$codename" '$2 == r {print $1; exit}')
[[ -n $site ]] || die "apt has no source for $codename, so no mirror to take $codename-backports from"

work=$CACHE/qemu-backports.tmp
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
echo "deb $site $codename-backports main" >"$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
echo "qemu-backports.sh: fetching qemu-system-x86 from $site $codename-backports" >&2
apt-get "${apt_opts[@]}" -qq update >&2 || die "cannot read $site $codename-backports"
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download \
  qemu-system-x86 qemu-system-common qemu-system-data >&2) ||
  die "cannot download qemu-system-x86 from $codename-backports"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
bin=$work/root/usr/bin/qemu-system-x86_64
[[ -x $bin ]] || die "the package has no qemu-system-x86_64"
missing=$(ldd "$bin" | awk '/not found/ {print $1}' | tr '\n' ' ')
[[ -z $missing ]] || die "qemu from backports needs libraries this host lacks: $missing"

rm -rf "$OUT"
mkdir -p "$OUT"
mv "$work/root" "$OUT/root"
rm -rf "$work"
# Its own firmware directory first, then the host's SeaBIOS (which
# qemu-system-data links to rather than ships).
cat >"$OUT/qemu-system-x86_64" <<EOF
#!/bin/sh
exec "$OUT/root/usr/bin/qemu-system-x86_64" -L "$OUT/root/usr/share/qemu" -L /usr/share/seabios "\$@"
EOF
chmod 755 "$OUT/qemu-system-x86_64"
"$OUT/qemu-system-x86_64" --version | head -n 1 >&2
echo "$OUT/qemu-system-x86_64"
