#include "net/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cstring>

#include "common/error.h"

namespace khyve {

std::unique_ptr<Tap> Tap::open(const std::string& requested) {
    std::string name = requested;
    if (name.rfind("/dev/", 0) == 0) name = name.substr(5);
    if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos)
        throw Error("virtio-net: bad tap name '" + requested + "'");

    Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) throw sys_error("virtio-net: open /dev/net/tun");

    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.data(), name.size());
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) throw sys_error("virtio-net: TUNSETIFF " + name);
    // The kernel may silently drop flags it does not know: check.
    if (::ioctl(fd.get(), TUNGETIFF, &ifr) < 0) throw sys_error("virtio-net: TUNGETIFF " + name);
    if (!(ifr.ifr_flags & IFF_VNET_HDR)) throw Error("virtio-net: " + name + ": no vnet header support");

    int hdr = 12;  // virtio_net_hdr_v1, what VERSION_1 drivers use
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &hdr) < 0) throw sys_error("virtio-net: TUNSETVNETHDRSZ " + name);
    if (::ioctl(fd.get(), TUNSETOFFLOAD, 0u) < 0) throw sys_error("virtio-net: TUNSETOFFLOAD " + name);
    return std::unique_ptr<Tap>(new Tap(std::move(fd), std::string(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ))));
}

bool Tap::set_offload(unsigned tun_flags) {
    return ::ioctl(fd_.get(), TUNSETOFFLOAD, static_cast<unsigned long>(tun_flags)) == 0;
}

}  // namespace khyve
