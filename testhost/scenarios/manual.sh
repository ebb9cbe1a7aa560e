# The bhyve Operator's Manual's command sequence, typed as the manual has it
# (bhyveload takes the kernel from the host with -h/-e until -d lands).
. "$KHYVE_LIB"

tunctl -t tap0 >/dev/null
ip addr add 192.168.100.1/24 dev tap0
ip link set tap0 up
cp "$KIT/images/mbr.img" mydiskimage
check bhyveload bhyveload -m 256 -M 0 -h "$KIT/cloud" -e kernel=vmlinuz -e initrd=initrd.img \
	-e cmdline="console=ttyS0 quiet khyve.script=manual" myguestname
run_guest guest.log 300 bhyve -a -A -m 256 -M 0 -I -H -g 0 -s 0:0,hostbridge -s 1:0,virtio-net,tap0 \
	-s 2:0,virtio-blk,mydiskimage -S 31,uart,stdio myguestname
rc=$?
[ $rc -eq 1 ] && pass bhyve-powered-off || fail bhyve-powered-off "bhyve exited $rc"
expect_guest_ok manual guest.log
ls /dev/vmm >ls.txt
expect_in_file ls-dev-vmm ls.txt '^myguestname$'
check bhyvectl-destroy bhyvectl --vm=myguestname --destroy
ls /dev/vmm >ls2.txt
expect_not_in_file destroyed ls2.txt '^myguestname$'
finish
