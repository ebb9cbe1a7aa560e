// A Linux tap interface as a NetPort: /dev/net/tun with
// IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, virtio_net_hdr_v1 (12 bytes) framing.
#pragma once

#include <memory>
#include <string>

#include "common/fd.h"
#include "net/net_port.h"

namespace khyve {

class Tap final : public NetPort {
public:
    // Attaches to tap `name` ("tap0"; "/dev/tap0" is accepted too), creating
    // it if absent (a created tap disappears when khyve exits). Throws
    // khyve::Error: bad name, no /dev/net/tun, not permitted (CAP_NET_ADMIN
    // to create), or a kernel without vnet header support.
    static std::unique_ptr<Tap> open(const std::string& name);

    int fd() const override { return fd_.get(); }
    bool set_offload(unsigned tun_flags) override;
    const std::string& name() const override { return name_; }

private:
    Tap(Fd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
    Fd fd_;
    std::string name_;
};

}  // namespace khyve
