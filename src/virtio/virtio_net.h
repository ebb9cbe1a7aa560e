// virtio-net (virtio 1.2, section 5.1) over a NetPort (a tap, or any fd with
// the same framing).
//
// bhyve: -s N,virtio-net,tapN[,mac=xx:xx:xx:xx:xx:xx][,mtu=N]
//
// Queues: 0 = receiveq1, 1 = transmitq1; no control queue, no multiqueue.
// Everything runs on the transport's worker thread:
//  * TX (queue 1 notify): each chain's readable part is [virtio_net_hdr_v1 |
//    frame]; the header is copied and checked against the negotiated
//    offloads, the frame is checked to be 14..65550 bytes, then header copy +
//    guest spans go to the port in one writev (no copy of the payload). Bad
//    frames are dropped and counted; the buffer is always returned.
//  * RX (port readable): buffers popped from receiveq1 are held in a stash
//    until they hold a packet. When the stash can hold the largest packet
//    (65562 bytes with guest TSO, MTU + 30 otherwise), one readv lands the
//    frame straight in guest memory, spread over several buffers with
//    MRG_RXBUF (num_buffers set), in one buffer otherwise (num_buffers = 1).
//    With fewer MRG buffers posted, the packet is read into one host buffer
//    to learn its size and copied once enough buffers are there. Without
//    buffers the device stops watching the port (packets then queue, and are
//    dropped, in the host kernel) and resumes on the next receiveq notify.
//  * A port that vanishes (EIO, EBADF, EBADFD, ENODEV on read or write) is
//    logged once and reported as link down (STATUS); TX buffers are then
//    consumed and dropped so the guest never stalls.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/uio.h>

#include "net/mac.h"
#include "net/net_port.h"
#include "platform/pci_emulation.h"
#include "stats/counters.h"
#include "virtio/chain.h"
#include "virtio/virtio_device.h"

namespace khyve {

namespace virtio_net {
inline constexpr uint64_t kFCsum = 1ull << 0;
inline constexpr uint64_t kFGuestCsum = 1ull << 1;
inline constexpr uint64_t kFMtu = 1ull << 3;
inline constexpr uint64_t kFMac = 1ull << 5;
inline constexpr uint64_t kFGuestTso4 = 1ull << 7;
inline constexpr uint64_t kFGuestTso6 = 1ull << 8;
inline constexpr uint64_t kFGuestEcn = 1ull << 9;
inline constexpr uint64_t kFGuestUfo = 1ull << 10;
inline constexpr uint64_t kFHostTso4 = 1ull << 11;
inline constexpr uint64_t kFHostTso6 = 1ull << 12;
inline constexpr uint64_t kFHostEcn = 1ull << 13;
inline constexpr uint64_t kFHostUfo = 1ull << 14;
inline constexpr uint64_t kFMrgRxbuf = 1ull << 15;
inline constexpr uint64_t kFStatus = 1ull << 16;

inline constexpr uint16_t kStatusLinkUp = 1;

inline constexpr uint8_t kHdrFNeedsCsum = 1;
inline constexpr uint8_t kHdrFDataValid = 2;
inline constexpr uint8_t kGsoNone = 0;
inline constexpr uint8_t kGsoTcpV4 = 1;
inline constexpr uint8_t kGsoUdp = 3;
inline constexpr uint8_t kGsoTcpV6 = 4;
inline constexpr uint8_t kGsoEcn = 0x80;

// Config space (struct virtio_net_config, up to mtu).
inline constexpr uint32_t kCfgMac = 0;
inline constexpr uint32_t kCfgStatus = 6;
inline constexpr uint32_t kCfgMaxPairs = 8;
inline constexpr uint32_t kCfgMtu = 10;
inline constexpr uint32_t kConfigSize = 12;

inline constexpr uint32_t kMaxFrame = 65550;  // largest frame a GSO packet can be
inline constexpr uint32_t kMinFrame = 14;     // an Ethernet header

struct NetHdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};
static_assert(sizeof(NetHdr) == 12);

// Whether a transmitted header asks only for what was negotiated and points
// inside its frame of frame_len bytes.
bool tx_header_ok(const NetHdr& h, uint32_t frame_len, uint64_t features);

// TUN_F_* flags matching the receive offloads the driver accepted.
unsigned tun_offload_flags(uint64_t features);
}  // namespace virtio_net

class VirtioNet final : public VirtioDevice {
public:
    struct Options {
        MacAddress mac{};
        uint16_t mtu = 0;  // 0: no MTU feature (the guest assumes 1500)
        uint16_t queue_size = 256;
    };

    VirtioNet(std::unique_ptr<NetPort> port, Options options);

    uint32_t device_type() const override { return virtio::kTypeNet; }
    uint64_t features() const override { return features_; }
    unsigned num_queues() const override { return 2; }
    uint16_t queue_max_size(unsigned) const override { return queue_size_; }
    uint32_t config_size() const override { return virtio_net::kConfigSize; }
    void read_config(uint32_t offset, std::span<uint8_t> data) override;
    bool activate(const VirtioActivation& activation) override;
    void queue_notify(unsigned index) override;
    void reset() override;

    // Worker callback when the port is readable (public for tests).
    void on_port_readable();
    bool link_up() const { return status_.load() & virtio_net::kStatusLinkUp; }
    // Readable from any thread while the device runs.
    const NetCounters& counters() const { return counters_; }
    NetPort& port() { return *port_; }

private:
    struct Held {
        DescriptorChain chain;
        std::vector<std::span<uint8_t>> spans;
        size_t capacity;
    };

    void process_tx();
    void transmit(const DescriptorChain& chain);
    // true if a packet was taken off the port (delivered or dropped).
    bool receive_one();
    // Pops receive buffers until the stash holds want bytes (MRG_RXBUF) or
    // one buffer (otherwise). true if it holds want bytes.
    bool fill_stash(size_t want);
    // Places a frame of n bytes already in the stash's buffers.
    void deliver(size_t n);
    // After a failed read: true to keep reading.
    bool read_error(int err);
    void watch_port(bool on);
    void port_failed(int err);
    size_t max_rx_bytes() const;

    std::unique_ptr<NetPort> port_;
    uint16_t queue_size_;
    uint64_t features_;
    MacAddress mac_;
    uint16_t mtu_;
    std::atomic<uint16_t> status_{virtio_net::kStatusLinkUp};
    bool port_is_socket_ = false;

    // Worker-thread state, valid between activate() and reset().
    VirtioActivation act_{};
    Queue* rx_ = nullptr;
    Queue* tx_ = nullptr;
    bool mrg_ = false;
    bool watching_ = false;
    int watched_fd_ = -1;
    bool port_dead_ = false;
    std::deque<Held> stash_;
    size_t stash_bytes_ = 0;
    std::vector<iovec> iov_;
    std::vector<uint8_t> pending_;  // one packet read ahead of enough buffers
    size_t pending_len_ = 0;
    NetCounters counters_;
};

// The -s virtio-net entry (src/platform/pci_emulation.h): "backend" (the
// tap, required), "mac", "mtu" (68..65535). Without mac= the address is
// derive_mac(vm_name, slot, function).
extern const PciEmulation kVirtioNetEmulation;

}  // namespace khyve
