# shellcheck shell=sh
# Helpers for test-host scenarios: `. "$KHYVE_LIB"` at the top of a scenario.
#
# Markers (each alone on a line, read by testhost/run.sh):
#   KHYVE-PASS: <check>            a check passed
#   KHYVE-FAIL: <check>: <reason>  a check failed (the run fails)
# Environment: KIT, KHYVE_SCRATCH, KHYVE_BUILD, KHYVE_MODE, KHYVE_SCENARIO,
# KHYVE_PATTERN_SHA256, KHYVE_CLOUD_ABI, KHYVE_GENERIC_ABI (see README.md).

KHYVE_FAILS=0

pass() { # NAME
	echo "KHYVE-PASS: $1"
}

fail() { # NAME REASON
	echo "KHYVE-FAIL: $1: ${2:-failed}"
	KHYVE_FAILS=$((KHYVE_FAILS + 1))
	return 1
}

# check NAME CMD...: passes when CMD exits 0; its output is shown on failure.
check() {
	_name=$1
	shift
	_out=$("$@" 2>&1)
	_rc=$?
	if [ $_rc -eq 0 ]; then
		pass "$_name"
	else
		printf '%s\n' "$_out" | sed 's/^/  > /'
		fail "$_name" "'$*' exited $_rc"
	fi
}

# expect_in_file NAME FILE REGEX: passes when a line of FILE matches the
# extended regular expression.
expect_in_file() {
	if [ ! -f "$2" ]; then
		fail "$1" "$2 does not exist"
	elif grep -Eq -- "$3" "$2"; then
		pass "$1"
	else
		fail "$1" "no line matching '$3' in $2"
	fi
}

# expect_not_in_file NAME FILE REGEX
expect_not_in_file() {
	# A missing file proves nothing: it fails, as expect_in_file does.
	if [ ! -f "$2" ]; then
		fail "$1" "$2 does not exist"
	elif grep -Eq -- "$3" "$2" 2>/dev/null; then
		fail "$1" "unexpected line matching '$3' in $2: $(grep -Em1 -- "$3" "$2")"
	else
		pass "$1"
	fi
}

# wait_for_line FILE REGEX SECONDS [PID]: waits until a line of FILE matches
# the basic regular expression, for at most SECONDS, or until the background
# job PID (when given) has ended. Returns 0 when the line is there.
wait_for_line() {
	_i=0
	while ! grep -q -- "$2" "$1" 2>/dev/null && [ $_i -lt $(($3 * 10)) ]; do
		[ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && break
		sleep 0.1
		_i=$((_i + 1))
	done
	grep -q -- "$2" "$1" 2>/dev/null
}

# start_disk_guest NAME SCRIPT DISK [BHYVE_FLAG...]: loads the kit's cloud
# kernel into VM NAME with khyve.script=SCRIPT and starts bhyve in the
# background (one vCPU, 256 MiB, DISK as virtio-blk in slot 2, COM1 on stdio
# into NAME.log, then any further flags). The background job's PID is in
# $GUEST_PID.
start_disk_guest() {
	_name=$1 _script=$2 _disk=$3
	shift 3
	bhyveload -m 256 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
		-e cmdline="console=ttyS0 quiet khyve.script=$_script" "$_name"
	bhyve -A -H -c 1 -m 256 -s 0:0,hostbridge -s "2:0,virtio-blk,$_disk" \
		-s 31,lpc -l com1,stdio "$@" "$_name" </dev/null >"$_name.log" 2>&1 &
	GUEST_PID=$!
}

# wait_exit PID SECONDS: waits up to SECONDS for the background job PID to
# end, SIGKILLs it if it has not, and returns its exit status (137 = killed).
wait_exit() {
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt $(($2 * 10)) ]; do sleep 0.1; _i=$((_i + 1)); done
	kill -KILL "$1" 2>/dev/null
	wait "$1"
}

# run_guest LOGFILE TIMEOUT CMD...: runs a VMM command (stdin from
# $GUEST_STDIN, default /dev/null), killed after TIMEOUT seconds. Its output
# goes to LOGFILE and, indented with "  | ", to the console, so guest marker
# lines are shown but not counted by run.sh. Returns the command's status;
# 137 (SIGKILL) means it timed out.
run_guest() {
	_log=$1
	_limit=$2
	shift 2
	echo "run_guest: $* (timeout ${_limit}s, log $_log)"
	_t0=$(date +%s)
	{
		timeout -s KILL "$_limit" "$@" <"${GUEST_STDIN:-/dev/null}" 2>&1
		echo $? >"$_log.rc"
	} | tee "$_log" | tr -d '\r' | sed 's/^/  | /'
	_rc=$(cat "$_log.rc" 2>/dev/null || echo 255)
	rm -f "$_log.rc"
	if [ "$_rc" = 137 ] && [ $(($(date +%s) - _t0)) -ge "$_limit" ]; then
		echo "run_guest: timed out after ${_limit}s"
	else
		echo "run_guest: exit $_rc after $(($(date +%s) - _t0))s"
	fi
	return "$_rc"
}

# expect_guest_ok NAME LOGFILE: the guest ran its khyve.script to the end with
# status 0 and reported no KHYVE-FAIL; the guest's own PASS/FAIL lines are
# re-emitted as NAME/<check>.
expect_guest_ok() {
	_name=$1
	_log=$2
	tr -d '\r' <"$_log" | sed -n 's/^KHYVE-PASS: //p' | while read -r _c; do pass "$_name/$_c"; done
	tr -d '\r' <"$_log" | sed -n 's/^KHYVE-FAIL: //p' | while read -r _c; do
		echo "KHYVE-FAIL: $_name/$_c"
	done
	grep -q '^KHYVE-FAIL: ' "$_log" && KHYVE_FAILS=$((KHYVE_FAILS + 1))
	if grep -q '^KHYVE-GUEST-DONE rc=0' "$_log"; then
		pass "$_name"
	else
		fail "$_name" "guest did not finish its script with status 0"
	fi
}

# finish: ends the scenario, non-zero when any check failed.
finish() {
	[ "$KHYVE_FAILS" -eq 0 ]
	exit $?
}
