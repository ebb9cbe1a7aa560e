# shellcheck shell=sh
# Guest side of a smoke test: the guest booted, its console works, and it
# reports what it sees. Prints KHYVE-PASS/KHYVE-FAIL lines for the host side.
echo "KHYVE-PASS: guest-boot"
echo "guest: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpu(s), $(awk '/MemTotal/{print $2" kB"}' /proc/meminfo)"
ls /sys/bus/pci/devices 2>/dev/null | while read -r d; do
	echo "guest: pci $d $(cat /sys/bus/pci/devices/$d/vendor):$(cat /sys/bus/pci/devices/$d/device)"
done
ls /sys/bus/virtio/devices 2>/dev/null | while read -r d; do
	echo "guest: virtio $d id=$(cat /sys/bus/virtio/devices/$d/device)"
done
if [ -w /tmp ] && echo ok >/tmp/probe && [ "$(cat /tmp/probe)" = ok ]; then
	echo "KHYVE-PASS: guest-tmpfs"
else
	echo "KHYVE-FAIL: guest-tmpfs: cannot write /tmp"
fi
