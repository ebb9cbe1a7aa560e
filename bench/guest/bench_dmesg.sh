# Profiling aid: the guest kernel's log lines that follow a gap of more than
# 50 ms (the serial console is slow under nesting, so not the whole log).
dmesg | awk -F'[][]' '{ t = $2 + 0; if (t - p > 0.05) printf "BENCH-DMESG %.3f +%.3f %s\n", t, t - p, $3; p = t }'
