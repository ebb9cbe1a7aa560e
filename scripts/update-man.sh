#!/usr/bin/env bash
# Splices the sections generated from the PCI emulation table into the manual
# pages, between the lines
#   .\" BEGIN generated from the emulation table (scripts/update-man.sh)
#   .\" END generated
#   update-man.sh BUILD_DIR           rewrite man/bhyve.8 and man/bhyve_config.5
#   update-man.sh --check BUILD_DIR   exit 1 (with a diff) if they differ
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
build=${1:?usage: update-man.sh [--check] BUILD_DIR}
gen="$build/emulation_man"
status=0
for page in bhyve.8 bhyve_config.5; do
	file="$ROOT/man/$page"
	grep -q '^\.\\" BEGIN generated from the emulation table' "$file" ||
		{ echo "update-man.sh: $file has no generated section markers" >&2; exit 4; }
	new=$(mktemp)
	awk -v gen="$gen $page" '
		/^\.\\" BEGIN generated from the emulation table/ { print; while ((gen | getline line) > 0) print line; close(gen); skip = 1; next }
		/^\.\\" END generated/ { skip = 0 }
		!skip { print }' "$file" >"$new"
	if [ "$check" = 1 ]; then
		if ! diff -u "$file" "$new"; then
			echo "man/$page differs from the emulation table: run scripts/update-man.sh $build" >&2
			status=1
		fi
		rm -f "$new"
	else
		mv "$new" "$file"
	fi
done
exit $status
