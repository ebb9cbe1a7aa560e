# Boot benchmark: report when the kernel started /init (guest clock, from the
# kernel log, which keeps the line despite `quiet`), then stay up (idle) until
# khyve-bench has read the VMM's memory figures and killed the VMM.
t=$(dmesg | sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' | head -n1)
echo "BENCH-GUEST-KERNEL kernel_s=${t:-none}"
sleep 600
