#!/usr/bin/env bash
# Installs every Debian package khyve needs to build, test and demo.
# Idempotent: when everything is present it returns at once without touching apt.
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ make pkg-config
  libgtest-dev googletest libbenchmark-dev
  liburing-dev libext2fs-dev libseccomp-dev systemtap-sdt-dev zlib1g-dev libzstd-dev nlohmann-json3-dev
  # qcow2 test images (tests/unit/qcow2_test.cpp: qemu-img, qemu-io)
  qemu-utils
  # fuzzing with libFuzzer (scripts/fuzz.sh)
  clang libclang-rt-14-dev
  # ACPI table checks in the unit tests (iasl, acpiexec)
  acpica-tools
  # test host and guest kit (testhost/)
  qemu-system-x86 busybox-static cpio kmod e2fsprogs fdisk xz-utils
  coreutils util-linux procps
  # image scripts (scripts/image) and the vmrun scenario's Debian guest
  debootstrap dnsmasq-base iproute2
  # gdb (its libraries serve the test host's gdb-minimal too), USDT headers
  gdb
  # USDT checks: readelf -n lists the probes, perf attaches to them (tests/cli/usdt_*.sh)
  binutils linux-perf
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "install-deps: missing ${missing[*]}; run as root" >&2; exit 1; }
  SUDO=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
