# shellcheck shell=sh
# An idle guest for host-side checks on a running bhyve (the seccomp
# scenario): says so, then sleeps until the host ends it.
echo "KHYVE-GUEST-IDLE"
sleep 3600
