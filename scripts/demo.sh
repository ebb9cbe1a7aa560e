#!/usr/bin/env bash
# The demo: builds khyve and the guest kit, then boots the test host on this
# terminal, where bhyveload and bhyve start a Debian cloud guest; you land on
# the guest's busybox shell. Exit it to power the guest off, then exit the
# test host's shell (or press Ctrl-A x) to leave.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE="${KHYVE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j "${KHYVE_JOBS:-$(nproc)}"
bash testhost/kit.sh
exec testhost/run.sh --build build --interactive demo
