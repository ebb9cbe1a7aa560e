# Sourced by testhost/run.sh and bench/run.sh (bash).
# Copies FILE and the shared libraries it needs (and the dynamic loader) into
# the staging root at the same absolute paths.
stage_binary() {
  local file=$1 dest=$2 stage=$3 lib
  install -D -m 755 "$file" "$stage/$dest"
  # Debug info only grows the initramfs the test host copies under TCG.
  command -v strip >/dev/null && strip --strip-debug "$stage/$dest" 2>/dev/null || true
  ldd "$file" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [[ -f $stage/$lib ]] || install -D -m 755 "$(readlink -f "$lib")" "$stage/$lib"
  done || true  # a static program has no libraries (ldd and grep fail)
}
