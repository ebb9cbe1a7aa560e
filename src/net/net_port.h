// The host side of a virtio-net device: a non-blocking fd that carries one
// Ethernet frame per read()/write(), each preceded by a 12-byte
// virtio_net_hdr_v1 (little-endian). A tap opened with IFF_VNET_HDR and
// TUNSETVNETHDRSZ 12 is exactly that; tests use a SOCK_SEQPACKET socketpair.
#pragma once

#include <string>

namespace khyve {

class NetPort {
public:
    virtual ~NetPort() = default;
    virtual int fd() const = 0;
    // Which offloads the guest accepts on receive, as TUN_F_* flags
    // (TUNSETOFFLOAD): the host must not hand us packets needing others.
    // false if the port refused them.
    virtual bool set_offload(unsigned tun_flags) = 0;
    virtual const std::string& name() const = 0;
};

}  // namespace khyve
