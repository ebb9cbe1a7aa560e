// virtio-net headers and frames: tx_header_ok() on raw headers, then a whole
// VirtioNet over a SOCK_SEQPACKET socketpair (the NetPort framing a tap has):
// transmitted chains of [virtio_net_hdr_v1 | frame] with input-chosen
// headers, lengths and splits, and received packets of input-chosen sizes
// into input-chosen receive buffers (with and without MRG_RXBUF).
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common/fd.h"
#include "fuzz_common.h"
#include "net/net_port.h"
#include "virtio/queue.h"
#include "virtio/virtio_net.h"

using namespace khyve;

namespace {

struct PairPort : NetPort {
    Fd fd_;
    std::string name_ = "fuzz0";
    explicit PairPort(int fd) : fd_(fd) {}
    int fd() const override { return fd_.get(); }
    bool set_offload(unsigned) override { return true; }
    const std::string& name() const override { return name_; }
};

constexpr uint64_t kRam = 0x40000, kData = 0x8000;
struct RingAt {
    uint64_t desc, avail, used;
    uint16_t next = 0, idx = 0;
};

void push_chain(fuzz::FakeRam& ram, RingAt& r, const std::vector<std::tuple<uint64_t, uint32_t, bool>>& bufs) {
    uint16_t head = r.next;
    for (size_t i = 0; i < bufs.size(); ++i) {
        auto [gpa, len, w] = bufs[i];
        uint16_t at = r.next;
        r.next = uint16_t((r.next + 1) % 16);
        uint16_t flags = uint16_t((i + 1 < bufs.size() ? 1 : 0) | (w ? 2 : 0));
        uint8_t d[16];
        std::memcpy(d, &gpa, 8);
        std::memcpy(d + 8, &len, 4);
        std::memcpy(d + 12, &flags, 2);
        std::memcpy(d + 14, &r.next, 2);
        ram.fill(r.desc + 16ull * at, d, 16);
    }
    ram.fill(r.avail + 4 + 2ull * (r.idx % 16), reinterpret_cast<uint8_t*>(&head), 2);
    ++r.idx;
    ram.fill(r.avail + 2, reinterpret_cast<uint8_t*>(&r.idx), 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);

    // The pure header check first.
    virtio_net::NetHdr h{};
    auto raw = in.ConsumeBytes<uint8_t>(sizeof h);
    if (!raw.empty()) std::memcpy(&h, raw.data(), raw.size());
    const uint64_t features = in.ConsumeIntegral<uint64_t>();
    (void)virtio_net::tx_header_ok(h, in.ConsumeIntegral<uint32_t>(), features);
    (void)virtio_net::tun_offload_flags(features);

    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    Fd peer(sv[1]);
    VirtioNet::Options o;
    o.queue_size = 16;
    o.mtu = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint16_t>(68, 65535) : 0;
    VirtioNet dev(std::make_unique<PairPort>(sv[0]), o);

    fuzz::FakeRam ram;
    ram.add(0, kRam);
    std::vector<Queue> queues;
    queues.emplace_back(16);
    queues.emplace_back(16);
    RingAt rings[2] = {{0x1000, 0x2000, 0x3000}, {0x4000, 0x5000, 0x6000}};
    const uint64_t negotiated = (dev.features() & features) | virtio::kFVersion1;
    for (int i = 0; i < 2; ++i) {
        queues[i].set_size(16);
        queues[i].set_desc_addr(rings[i].desc);
        queues[i].set_avail_addr(rings[i].avail);
        queues[i].set_used_addr(rings[i].used);
        queues[i].set_ready(true);
        if (queues[i].start(ram.mem, negotiated) != QueueError::kNone) return 0;
    }
    fuzz::CountingInterrupt irq;
    fuzz::ManualWorker worker;
    VirtioActivation act;
    act.mem = &ram.mem;
    act.features = negotiated;
    act.queues = queues;
    act.interrupt = &irq;
    act.worker = &worker;
    if (!dev.activate(act)) return 0;

    uint64_t bump = kData;
    auto alloc = [&](uint32_t len) {
        if (bump + len > kRam) bump = kData;
        uint64_t a = bump;
        bump += (len + 15) & ~uint64_t(15);
        return a;
    };
    std::vector<uint8_t> pkt;
    for (int step = 0; step < 32 && in.remaining_bytes() > 0; ++step) {
        switch (in.ConsumeIntegralInRange(0, 3)) {
            case 0: {  // transmit: header + frame split over 1..3 buffers
                uint32_t frame = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint32_t>(0, 70000)
                                                  : in.ConsumeIntegralInRange<uint32_t>(10, 1600);
                virtio_net::NetHdr th{};
                auto hb = in.ConsumeBytes<uint8_t>(sizeof th);
                if (!hb.empty()) std::memcpy(&th, hb.data(), hb.size());
                uint32_t total = uint32_t(sizeof th) + frame;
                if (total > kRam - kData) break;
                uint64_t gpa = alloc(total);
                ram.fill(gpa, reinterpret_cast<uint8_t*>(&th), sizeof th);
                auto body = in.ConsumeBytes<uint8_t>(std::min<uint32_t>(frame, 64));
                ram.fill(gpa + sizeof th, body.data(), body.size());
                unsigned parts = in.ConsumeIntegralInRange(1, 3);
                std::vector<std::tuple<uint64_t, uint32_t, bool>> bufs;
                uint32_t off = 0;
                for (unsigned p = 0; p < parts; ++p) {
                    uint32_t len = p + 1 == parts ? total - off : in.ConsumeIntegralInRange<uint32_t>(0, total - off);
                    bufs.emplace_back(gpa + off, len, in.ConsumeIntegralInRange(0, 15) == 0);
                    off += len;
                }
                push_chain(ram, rings[1], bufs);
                dev.queue_notify(1);
                // Keep the peer's queue empty so sends never block.
                char sink[70000];
                while (::recv(peer.get(), sink, sizeof sink, MSG_DONTWAIT) > 0) {}
                break;
            }
            case 1: {  // post receive buffers
                unsigned parts = in.ConsumeIntegralInRange(1, 3);
                std::vector<std::tuple<uint64_t, uint32_t, bool>> bufs;
                for (unsigned p = 0; p < parts; ++p) {
                    uint32_t len = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint32_t>(0, 66000)
                                                    : in.ConsumeIntegralInRange<uint32_t>(0, 2048);
                    bufs.emplace_back(alloc(len), len, in.ConsumeIntegralInRange(0, 15) != 0);
                }
                push_chain(ram, rings[0], bufs);
                dev.queue_notify(0);
                break;
            }
            case 2: {  // a packet arrives from the host
                uint32_t n = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint32_t>(0, 66000)
                                              : in.ConsumeIntegralInRange<uint32_t>(0, 1600);
                pkt.assign(n, 0x42);
                auto head = in.ConsumeBytes<uint8_t>(std::min<uint32_t>(n, 32));
                if (!head.empty()) std::memcpy(pkt.data(), head.data(), head.size());
                if (::send(peer.get(), pkt.data(), pkt.size(), MSG_DONTWAIT) < 0) break;
                worker.run(dev.port().fd());
                break;
            }
            case 3: {
                uint8_t cfg[4];
                uint32_t off = in.ConsumeIntegralInRange<uint32_t>(0, virtio_net::kConfigSize - 1);
                uint32_t len = std::min<uint32_t>(in.ConsumeIntegralInRange<uint32_t>(1, 4), virtio_net::kConfigSize - off);
                dev.read_config(off, {cfg, len});
                break;
            }
        }
        if (queues[0].broken() || queues[1].broken()) break;
    }
    dev.reset();
    return 0;
}
