#include "emulation_test_util.h"
#include "virtio/virtio_net.h"

#include <linux/if_tun.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "memory/guest_memory.h"
#include "virtio/queue.h"
#include "virtio_fake_driver.h"

namespace khyve {
namespace {

using namespace virtio_net;

using namespace test;


// A tap stand-in: one end of a SOCK_SEQPACKET pair (frame boundaries kept).
struct SocketPort : NetPort {
    Fd dev, host;
    int fd_override = 0;  // set to -1 to make the port fail with EBADF
    unsigned offload = ~0u;
    std::string nm = "sock";
    SocketPort() {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
            throw sys_error("socketpair");
        dev.reset(sv[0]);
        host.reset(sv[1]);
        int sz = 1 << 20;
        ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    int fd() const override { return fd_override ? fd_override : dev.get(); }
    bool set_offload(unsigned f) override {
        offload = f;
        return true;
    }
    const std::string& name() const override { return nm; }
};

constexpr uint64_t kOffer = kFMac | kFStatus | kFCsum | kFHostTso4 | kFHostTso6 | kFGuestCsum | kFGuestTso4;

struct NetHarness {
    FakeRings rings{2};
    FakeInterrupt irq;
    FakeWorker worker;
    SocketPort* port;
    std::unique_ptr<VirtioNet> dev;
    int port_fd;

    explicit NetHarness(uint64_t features = kOffer, uint16_t mtu = 0) {
        auto p = std::make_unique<SocketPort>();
        port = p.get();
        port_fd = p->dev.get();
        VirtioNet::Options o;
        o.mac = {0x02, 1, 2, 3, 4, 5};
        o.mtu = mtu;
        o.queue_size = FakeRings::kSize;
        dev = std::make_unique<VirtioNet>(std::move(p), o);
        VirtioActivation a;
        a.mem = &rings.mem;
        a.features = (features & dev->features()) | virtio::kFVersion1;
        a.queues = rings.queues;
        a.interrupt = &irq;
        a.worker = &worker;
        EXPECT_TRUE(dev->activate(a));
    }
    bool watching() const { return worker.fds.count(port_fd) != 0; }

    // Guest transmits [hdr | frame], the header and frame in separate descriptors.
    void transmit(const NetHdr& h, const std::vector<uint8_t>& frame) {
        uint64_t hg = rings.alloc(12), fg = rings.alloc(frame.size());
        std::memcpy(rings.host(hg), &h, 12);
        if (!frame.empty()) std::memcpy(rings.host(fg), frame.data(), frame.size());
        std::vector<FakeRings::Buf> bufs{{hg, 12, false}};
        if (!frame.empty()) bufs.push_back({fg, uint32_t(frame.size()), false});
        rings.push(1, bufs);
        dev->queue_notify(1);
    }
    std::vector<uint8_t> host_read() {
        std::vector<uint8_t> b(70000);
        ssize_t n = ::read(port->host.get(), b.data(), b.size());
        if (n < 0) return {};
        b.resize(size_t(n));
        return b;
    }
    void host_send(const NetHdr& h, size_t frame_len, uint8_t fill) {
        std::vector<uint8_t> b(12 + frame_len, fill);
        std::memcpy(b.data(), &h, 12);
        b[10] = b[11] = 0xee;  // tun leaves num_buffers alone: the device must set it
        ASSERT_EQ(::write(port->host.get(), b.data(), b.size()), ssize_t(b.size()));
    }
};

std::vector<uint8_t> frame_of(size_t n, uint8_t seed) {
    std::vector<uint8_t> f(n);
    for (size_t i = 0; i < n; i++) f[i] = uint8_t(seed + i);
    return f;
}

TEST(VirtioNetHeader, TxHeaderChecks) {
    const uint64_t all = kFCsum | kFHostTso4 | kFHostTso6 | kFHostEcn;
    NetHdr h{};
    EXPECT_TRUE(tx_header_ok(h, 60, 0));
    h.flags = kHdrFDataValid;  // receive-only flag
    EXPECT_FALSE(tx_header_ok(h, 60, all));
    h = {};
    h.flags = kHdrFNeedsCsum;
    h.csum_start = 34;
    h.csum_offset = 16;
    EXPECT_TRUE(tx_header_ok(h, 60, all));
    EXPECT_FALSE(tx_header_ok(h, 60, 0));   // CSUM not negotiated
    EXPECT_FALSE(tx_header_ok(h, 51, all)); // checksum field past the frame
    h.gso_type = kGsoTcpV4;
    h.gso_size = 1448;
    h.hdr_len = 54;
    EXPECT_TRUE(tx_header_ok(h, 60, all));
    EXPECT_FALSE(tx_header_ok(h, 60, kFCsum));  // no HOST_TSO4
    h.gso_size = 0;
    EXPECT_FALSE(tx_header_ok(h, 60, all));
    h.gso_size = 1448;
    h.gso_type = kGsoTcpV6 | kGsoEcn;
    EXPECT_TRUE(tx_header_ok(h, 60, all));
    EXPECT_FALSE(tx_header_ok(h, 60, all & ~kFHostEcn));
    h.gso_type = kGsoUdp;
    EXPECT_FALSE(tx_header_ok(h, 60, all));  // UFO never offered
    h.gso_type = kGsoTcpV4;
    h.flags = 0;
    EXPECT_FALSE(tx_header_ok(h, 60, all));  // GSO without partial checksum
}

TEST(VirtioNetHeader, TunOffloadsFollowGuestFeatures) {
    EXPECT_EQ(tun_offload_flags(0), 0u);
    EXPECT_EQ(tun_offload_flags(kFGuestTso4), 0u);  // TSO without CSUM is meaningless
    EXPECT_EQ(tun_offload_flags(kFGuestCsum), unsigned(TUN_F_CSUM));
    EXPECT_EQ(tun_offload_flags(kFGuestCsum | kFGuestTso4 | kFGuestTso6 | kFGuestEcn | kFGuestUfo),
              unsigned(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN));
}

TEST(VirtioNet, ConfigSpaceAndFeatures) {
    NetHarness h(kOffer, 9000);
    uint8_t cfg[kConfigSize];
    h.dev->read_config(0, cfg);
    EXPECT_EQ(0, std::memcmp(cfg, "\x02\x01\x02\x03\x04\x05", 6));
    uint16_t st, mtu;
    std::memcpy(&st, cfg + kCfgStatus, 2);
    std::memcpy(&mtu, cfg + kCfgMtu, 2);
    EXPECT_EQ(st, kStatusLinkUp);
    EXPECT_EQ(mtu, 9000);
    EXPECT_TRUE(h.dev->features() & kFMtu);
    EXPECT_FALSE(h.dev->features() & kFHostUfo);
    EXPECT_FALSE(h.dev->features() & kFGuestUfo);
    EXPECT_EQ(h.port->offload, unsigned(TUN_F_CSUM | TUN_F_TSO4));  // as negotiated
    EXPECT_TRUE(h.watching());
}

TEST(VirtioNet, TransmitReachesPortWithHeader) {
    NetHarness h;
    NetHdr hdr{};
    hdr.num_buffers = 0x4444;  // reserved on transmit: not passed on
    auto f = frame_of(60, 7);
    h.transmit(hdr, f);
    auto got = h.host_read();
    ASSERT_EQ(got.size(), 72u);
    NetHdr out;
    std::memcpy(&out, got.data(), 12);
    EXPECT_EQ(out.num_buffers, 0);
    EXPECT_EQ(0, std::memcmp(got.data() + 12, f.data(), 60));
    auto u = h.rings.used(1);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 0u);
    EXPECT_EQ(h.dev->counters().tx_packets.get(), 1u);
    EXPECT_EQ(h.dev->counters().tx_bytes.get(), 60u);  // the frame, not the virtio header
    EXPECT_EQ(h.rings.queues[1].counters().used.get(), 1u);
    EXPECT_GT(h.irq.used, 0);
}

TEST(VirtioNet, BadTransmitsDroppedButReturned) {
    NetHarness h;
    NetHdr hdr{};
    h.transmit(hdr, frame_of(kMaxFrame + 1, 1));  // too long
    h.transmit(hdr, frame_of(10, 1));             // shorter than an Ethernet header
    h.transmit(hdr, {});                          // header only
    NetHdr bad{};
    bad.gso_type = kGsoUdp;
    bad.gso_size = 1000;
    bad.flags = kHdrFNeedsCsum;
    h.transmit(bad, frame_of(100, 1));            // UFO was not offered
    for (int i = 0; i < 4; i++) EXPECT_TRUE(h.rings.used(1)) << i;
    EXPECT_TRUE(h.host_read().empty());
    EXPECT_EQ(h.dev->counters().tx_dropped.get(), 4u);
    EXPECT_EQ(h.dev->counters().tx_packets.get(), 0u);
    EXPECT_EQ(h.dev->counters().tx_bytes.get(), 0u);
    // The largest legal frame still goes through.
    h.transmit(hdr, frame_of(kMaxFrame, 3));
    EXPECT_EQ(h.host_read().size(), size_t(kMaxFrame) + 12);
}

TEST(VirtioNet, ReceiveIntoOneBufferSetsNumBuffers) {
    NetHarness h;  // no MRG_RXBUF
    uint64_t buf = h.rings.alloc(2048);
    std::memset(h.rings.host(buf), 0xcc, 2048);
    h.rings.push(0, {{buf, 2048, true}});
    h.dev->queue_notify(0);
    NetHdr in{};
    in.flags = kHdrFDataValid;
    h.host_send(in, 100, 0x42);
    h.worker.fds.at(h.port_fd)();
    auto u = h.rings.used(0);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 112u);
    NetHdr got;
    std::memcpy(&got, h.rings.host(buf), 12);
    EXPECT_EQ(got.num_buffers, 1);
    EXPECT_EQ(got.flags, kHdrFDataValid);
    EXPECT_EQ(h.rings.host(buf)[12], 0x42);
    EXPECT_EQ(h.rings.host(buf)[111], 0x42);
    EXPECT_EQ(h.rings.host(buf)[112], 0xcc);
    EXPECT_EQ(h.dev->counters().rx_packets.get(), 1u);
    EXPECT_EQ(h.dev->counters().rx_bytes.get(), 100u);
}

// With guest TSO the stash cannot reach 64 KiB here, so the frame goes
// through the read-ahead copy; without it, straight into guest buffers.
class VirtioNetMrg : public ::testing::TestWithParam<bool> {};

TEST_P(VirtioNetMrg, MergeableBuffersSpreadOneFrame) {
    NetHarness h(GetParam() ? kOffer | kFMrgRxbuf : (kOffer & ~kFGuestTso4) | kFMrgRxbuf);
    std::vector<uint64_t> bufs;
    for (int i = 0; i < 8; i++) {
        bufs.push_back(h.rings.alloc(256));
        h.rings.push(0, {{bufs.back(), 256, true}});
    }
    h.dev->queue_notify(0);
    h.host_send(NetHdr{}, 600, 0x17);  // 612 bytes: 256 + 256 + 100
    h.worker.fds.at(h.port_fd)();
    auto a = h.rings.used(0), b = h.rings.used(0), c = h.rings.used(0);
    ASSERT_TRUE(a && b && c);
    EXPECT_FALSE(h.rings.used(0));
    EXPECT_EQ(a->len, 256u);
    EXPECT_EQ(b->len, 256u);
    EXPECT_EQ(c->len, 100u);
    NetHdr got;
    std::memcpy(&got, h.rings.host(bufs[0]), 12);
    EXPECT_EQ(got.num_buffers, 3);
    EXPECT_EQ(h.rings.host(bufs[2])[99], 0x17);
    // The next frame starts in the fourth buffer.
    h.host_send(NetHdr{}, 50, 0x18);
    h.worker.fds.at(h.port_fd)();
    auto d = h.rings.used(0);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->id, 3u);
    EXPECT_EQ(d->len, 62u);
    std::memcpy(&got, h.rings.host(bufs[3]), 12);
    EXPECT_EQ(got.num_buffers, 1);
}

INSTANTIATE_TEST_SUITE_P(VirtioNet, VirtioNetMrg, ::testing::Bool(),
                         [](const auto& i) { return i.param ? "ReadAhead" : "ZeroCopy"; });

TEST(VirtioNet, HeldPacketWaitsForEnoughBuffers) {
    NetHarness h(kOffer | kFMrgRxbuf);
    uint64_t b0 = h.rings.alloc(256), b1 = h.rings.alloc(256);
    h.rings.push(0, {{b0, 256, true}});
    h.rings.push(0, {{b1, 256, true}});
    h.host_send(NetHdr{}, 600, 0x21);  // 612 bytes > 512 posted
    h.worker.fds.at(h.port_fd)();
    EXPECT_FALSE(h.rings.used(0));
    EXPECT_FALSE(h.watching());
    uint64_t b2 = h.rings.alloc(256);
    h.rings.push(0, {{b2, 256, true}});
    h.dev->queue_notify(0);
    auto a = h.rings.used(0), b = h.rings.used(0), c = h.rings.used(0);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(c->len, 100u);
    EXPECT_EQ(h.rings.host(b2)[99], 0x21);
    NetHdr got;
    std::memcpy(&got, h.rings.host(b0), 12);
    EXPECT_EQ(got.num_buffers, 3);
}

TEST(VirtioNet, PacketLargerThanWholeRingDropped) {
    NetHarness h(kOffer | kFMrgRxbuf);
    for (int i = 0; i < FakeRings::kSize; i++) h.rings.push(0, {{h.rings.alloc(16), 16, true}});
    h.host_send(NetHdr{}, 1000, 1);
    h.host_send(NetHdr{}, 20, 2);  // 32 bytes: fits in two buffers
    h.worker.fds.at(h.port_fd)();
    EXPECT_EQ(h.dev->counters().rx_dropped.get(), 1u);
    auto a = h.rings.used(0), b = h.rings.used(0);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->len + b->len, 32u);
}

TEST(VirtioNet, NoBuffersStopsWatchingUntilNotify) {
    NetHarness h;
    h.host_send(NetHdr{}, 60, 0x55);
    ASSERT_TRUE(h.watching());
    h.worker.fds.at(h.port_fd)();
    EXPECT_FALSE(h.watching());  // no spinning on a readable fd we cannot drain
    EXPECT_FALSE(h.rings.used(0));
    uint64_t buf = h.rings.alloc(2048);
    h.rings.push(0, {{buf, 2048, true}});
    h.dev->queue_notify(0);
    ASSERT_TRUE(h.watching());
    h.worker.fds.at(h.port_fd)();
    auto u = h.rings.used(0);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 72u);
}

TEST(VirtioNet, TinyReceiveBufferReturnedEmpty) {
    NetHarness h;
    uint64_t tiny = h.rings.alloc(8), ok = h.rings.alloc(2048);
    h.rings.push(0, {{tiny, 8, true}});
    h.rings.push(0, {{ok, 2048, true}});
    h.host_send(NetHdr{}, 60, 1);
    h.worker.fds.at(h.port_fd)();
    auto a = h.rings.used(0), b = h.rings.used(0);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->len, 0u);
    EXPECT_EQ(b->len, 72u);
    EXPECT_EQ(h.irq.needs_reset, 0);
}

TEST(VirtioNet, VanishedPortIsLinkDownNotCrash) {
    NetHarness h;
    h.port->fd_override = -1;  // every call now fails with EBADF
    h.transmit(NetHdr{}, frame_of(60, 1));
    EXPECT_TRUE(h.rings.used(1));
    EXPECT_FALSE(h.dev->link_up());
    EXPECT_EQ(h.irq.config, 1);
    EXPECT_FALSE(h.watching());
    uint8_t st[2];
    h.dev->read_config(kCfgStatus, st);
    EXPECT_EQ(st[0], 0);
    // Later transmits are consumed, not stalled; no second report.
    h.transmit(NetHdr{}, frame_of(60, 1));
    EXPECT_TRUE(h.rings.used(1));
    EXPECT_EQ(h.irq.config, 1);
    h.dev->queue_notify(0);
    EXPECT_FALSE(h.watching());
}

TEST(VirtioNet, PeerGoneOnSocketPortIsLinkDown) {
    NetHarness h;
    h.port->host.reset();
    h.transmit(NetHdr{}, frame_of(60, 1));  // EPIPE, and no SIGPIPE
    EXPECT_FALSE(h.dev->link_up());
}

TEST(VirtioNetFactory, Options) {
    EXPECT_THROW(test::make_emulated<VirtioNet>("virtio-net", {}), Error);
    EXPECT_THROW(test::make_emulated<VirtioNet>("virtio-net", {{"backend", "tap0"}, {"bogus", "1"}}), Error);
    EXPECT_THROW(test::make_emulated<VirtioNet>("virtio-net", {{"backend", "tap0"}, {"mac", "01:02:03:04:05:06"}}), Error);
    EXPECT_THROW(test::make_emulated<VirtioNet>("virtio-net", {{"backend", "tap0"}, {"mtu", "67"}}), Error);
    EXPECT_THROW(test::make_emulated<VirtioNet>("virtio-net", {{"backend", "tap0"}, {"mtu", "65536"}}), Error);
    std::string name = "khyvef" + std::to_string(::getpid() % 100000);
    std::shared_ptr<VirtioNet> d;
    try {
        d = test::make_emulated<VirtioNet>("virtio-net", {{"backend", name}, {"mtu", "1400"}});
    } catch (const Error& e) {
        GTEST_SKIP() << "no tap here: " << e.what();
    }
    uint8_t mac[6];
    d->read_config(kCfgMac, mac);
    auto want = derive_mac("vm", 2, 0);
    EXPECT_EQ(0, std::memcmp(mac, want.data(), 6));
    EXPECT_TRUE(d->features() & kFMtu);
}

}  // namespace
}  // namespace khyve
