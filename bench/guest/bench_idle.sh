# Boot benchmark: stay up (idle) until khyve-bench has read the VMM's memory
# figures and killed the VMM.
sleep 600
