# Guest side of the bhyveload -d scenario: the kernel came from the disk.
echo "KHYVE-PASS: guest-booted-via-$KHYVE_BOOTKIND"
