# virtio-blk benchmark on /dev/vda (a RAM disk in the test host): sequential
# O_DIRECT write and read in 1 MiB requests, then 4 KiB random reads.
mib=${KHYVE_MIB:-64}
secs=${KHYVE_SECS:-4}
[ -b /dev/vda ] || { echo "KHYVE-FAIL: bench-blk: no /dev/vda"; exit 1; }
echo "BENCH-BLK-WRITE $(khyve-bench blk-write /dev/vda "$mib" 1024)"
echo "BENCH-BLK-READ $(khyve-bench blk-read /dev/vda "$mib" 1024)"
echo "BENCH-BLK-RAND $(khyve-bench blk-randread /dev/vda "$secs")"
