// VirtioConsole over socketpairs: the guest posts receive buffers and
// transmit chains (fuzzer-chosen lengths, flags, sometimes wild addresses),
// the host writes input and drains output (or stalls), EMERG_WRITE and the
// config space are poked. Contract: the guest receives exactly the host's
// input, in order, never more than a buffer holds; the host receives a
// prefix of what the guest sent, and with nothing dropped, received plus
// pending is all of it; pending output stays within kOutputLimit.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "virtio/queue.h"
#include "virtio/virtio_console.h"

using namespace khyve;

namespace {

constexpr uint64_t kRam = 0x40000, kData = 0x10000;
constexpr uint64_t kDesc[2] = {0x1000, 0x4000}, kAvail[2] = {0x2000, 0x5000}, kUsed[2] = {0x3000, 0x6000};
constexpr uint16_t kQ = 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    int a[2], b[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, b) < 0)
        return 0;
    Fd host_in(a[0]), host_out(b[1]);
    int sz = 4096;  // a small socket buffer, so output backs up quickly
    setsockopt(b[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    VirtioConsole dev{Fd(a[1]), Fd(b[0])};

    fuzz::FakeRam ram;
    ram.add(0, kRam);
    std::vector<Queue> queues;
    queues.emplace_back(kQ);
    queues.emplace_back(kQ);
    const uint64_t features = virtio::kFVersion1 | (in.ConsumeBool() ? virtio::kFEventIdx : 0);
    for (int i = 0; i < 2; ++i) {
        queues[i].set_size(kQ);
        queues[i].set_desc_addr(kDesc[i]);
        queues[i].set_avail_addr(kAvail[i]);
        queues[i].set_used_addr(kUsed[i]);
        queues[i].set_ready(true);
        if (queues[i].start(ram.mem, features) != QueueError::kNone) return 0;
    }
    fuzz::CountingInterrupt irq;
    fuzz::ManualWorker worker;
    if (!dev.activate({&ram.mem, features, queues, &irq, &worker})) __builtin_trap();

    std::string input, delivered, sent, received;
    bool exact = true;  // every tx descriptor valid: `sent` is what the device should emit
    uint16_t next[2] = {0, 0}, avail[2] = {0, 0}, used_seen = 0;
    struct RxBuf { uint64_t gpa; uint32_t len; };
    RxBuf rx[kQ] = {};
    uint64_t bump = kData;
    auto alloc = [&](uint32_t len) {
        if (bump + len > kRam) bump = kData;
        uint64_t g = bump;
        bump += (len + 15) & ~15u;
        return g;
    };
    auto desc = [&](int q, uint64_t gpa, uint32_t len, uint16_t flags) {
        uint16_t idx = next[q];
        next[q] = uint16_t((next[q] + 1) % kQ);
        uint8_t d[16];
        std::memcpy(d, &gpa, 8);
        std::memcpy(d + 8, &len, 4);
        std::memcpy(d + 12, &flags, 2);
        std::memcpy(d + 14, &next[q], 2);
        ram.fill(kDesc[q] + 16ull * idx, d, 16);
        return idx;
    };
    auto publish = [&](int q, uint16_t head) {
        ram.fill(kAvail[q] + 4 + 2ull * (avail[q] % kQ), reinterpret_cast<uint8_t*>(&head), 2);
        ++avail[q];
        ram.fill(kAvail[q] + 2, reinterpret_cast<uint8_t*>(&avail[q]), 2);
    };
    auto collect_rx = [&] {  // what the device put in the receive buffers
        uint16_t idx;
        std::memcpy(&idx, ram.blocks[0].data() + kUsed[0] + 2, 2);
        for (; used_seen != idx; ++used_seen) {
            uint32_t e[2];
            std::memcpy(e, ram.blocks[0].data() + kUsed[0] + 4 + 8 * (used_seen % kQ), 8);
            if (e[0] >= kQ || e[1] > rx[e[0]].len) __builtin_trap();
            delivered.append(reinterpret_cast<char*>(ram.blocks[0].data() + rx[e[0]].gpa), e[1]);
        }
        if (delivered != input.substr(0, delivered.size())) __builtin_trap();
    };
    auto drain = [&] {  // the host reads what the socket holds
        char buf[8192];
        ssize_t r;
        while ((r = read(host_out.get(), buf, sizeof buf)) > 0) received.append(buf, size_t(r));
    };
    for (int op = 0; op < 64 && in.remaining_bytes() > 0; ++op) {
        switch (in.ConsumeIntegralInRange(0, 6)) {
            case 0: {  // a receive buffer (one writable descriptor)
                if (uint16_t(avail[0] - used_seen) >= kQ) break;
                uint32_t len = in.ConsumeIntegralInRange<uint32_t>(0, 2048);
                uint64_t g = alloc(len);
                uint16_t h = desc(0, g, len, 2);
                rx[h] = {g, len};
                publish(0, h);
                dev.queue_notify(0);
                break;
            }
            case 1: {  // a transmit chain
                unsigned n = in.ConsumeIntegralInRange(1, 3);
                uint16_t head = next[1];
                for (unsigned i = 0; i < n; ++i) {
                    auto bytes = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange(0, 3000));
                    uint64_t g = alloc(uint32_t(bytes.size()));
                    ram.fill(g, bytes.data(), bytes.size());
                    uint16_t flags = i + 1 < n ? 1 : 0;
                    if (in.ConsumeIntegralInRange(0, 15) == 0) {
                        g = in.ConsumeIntegral<uint64_t>();
                        flags |= in.ConsumeIntegral<uint8_t>() & 6;
                        exact = false;
                    } else {
                        sent.append(bytes.begin(), bytes.end());
                    }
                    desc(1, g, uint32_t(bytes.size()), flags);
                }
                publish(1, head);
                dev.queue_notify(1);
                break;
            }
            case 2: {  // host input
                auto s = in.ConsumeRandomLengthString(4096);
                ssize_t w = write(host_in.get(), s.data(), s.size());
                if (w > 0) input.append(s, 0, size_t(w));
                break;
            }
            case 3: worker.run(a[1]); collect_rx(); break;
            case 4: drain(); break;
            case 5: {
                uint8_t c = in.ConsumeIntegral<uint8_t>();
                dev.write_config(virtio_console::kCfgEmergWr, {&c, 1});
                sent.push_back(char(c));
                break;
            }
            case 6: {
                uint32_t off = in.ConsumeIntegralInRange<uint32_t>(0, 16), len = in.ConsumeIntegralInRange<uint32_t>(1, 8);
                uint8_t buf[8];
                dev.read_config(off, {buf, len});
                break;
            }
        }
        if (dev.output_pending() > virtio_console::kOutputLimit) __builtin_trap();
        if (queues[0].broken() || queues[1].broken()) exact = false;
    }
    worker.run(a[1]);
    collect_rx();
    drain();
    if (exact && dev.output_dropped() == 0) {
        if (received != sent.substr(0, received.size())) __builtin_trap();
        if (received.size() + dev.output_pending() != sent.size()) __builtin_trap();
    }
    dev.reset();
    return 0;
}
