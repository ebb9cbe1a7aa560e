# Profiling aid: the guest kernel's whole log with timestamps, each line
# prefixed so the test host can pick it out of the serial output.
dmesg | sed 's/^/BENCH-DMESG /'
