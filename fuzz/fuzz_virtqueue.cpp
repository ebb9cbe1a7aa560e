// Random guest memory and ring addresses -> Queue::start/pop/add_used/flush.
// The guest owns RAM: between pops it may rewrite any of it, which the input
// also drives. Every byte a chain hands out must lie inside RAM (ASan checks
// the reads and writes below).
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_common.h"
#include "virtio/chain.h"
#include "virtio/queue.h"

using namespace khyve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    fuzz::FakeRam ram;
    ram.add(0, 0x10000);        // 64 KiB at 0
    ram.add(0x20000, 0x4000);   // a second region with a hole before it

    Queue q(uint16_t(1u << in.ConsumeIntegralInRange(0, 8)));
    q.set_size(in.ConsumeIntegral<uint16_t>() & 0x1ff);
    auto addr = [&] {
        // Mostly near the rings, sometimes anywhere (edges, overflow).
        return in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>()
                                : uint64_t(in.ConsumeIntegralInRange<uint32_t>(0, 0x24000));
    };
    q.set_desc_addr(addr());
    q.set_avail_addr(addr());
    q.set_used_addr(addr());
    q.set_ready(true);
    uint64_t features = virtio::kFVersion1;
    if (in.ConsumeBool()) features |= virtio::kFIndirectDesc;
    if (in.ConsumeBool()) features |= virtio::kFEventIdx;

    // Initial RAM contents: the rest of the input up to 64 KiB, at a chosen spot.
    uint64_t at = in.ConsumeIntegralInRange<uint32_t>(0, 0x23000);
    auto image = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 0x4000));
    ram.fill(at, image.data(), image.size());

    if (q.start(ram.mem, features) != QueueError::kNone) return 0;
    std::vector<uint8_t> buf(4096);
    for (int round = 0; round < 64 && in.remaining_bytes() > 0; ++round) {
        switch (in.ConsumeIntegralInRange(0, 3)) {
            case 0: {  // the guest pokes RAM
                uint64_t gpa = in.ConsumeIntegralInRange<uint32_t>(0, 0x24000);
                auto b = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(1, 64));
                ram.fill(gpa, b.data(), b.size());
                break;
            }
            case 1: {  // the device consumes chains
                for (int n = 0; n < 8; ++n) {
                    auto c = q.pop();
                    if (!c) break;
                    Reader r = c->reader();
                    while (r.available()) r.read(buf);
                    Writer w = c->writer();
                    if (in.ConsumeBool()) {
                        for (auto s : w.take_spans(w.available())) std::memset(s.data(), 0xa5, s.size());
                    } else {
                        std::memset(buf.data(), 0x5a, buf.size());
                        while (w.available()) w.write(buf);
                    }
                    uint32_t len = in.ConsumeBool() ? in.ConsumeIntegral<uint32_t>() : uint32_t(w.bytes_written());
                    q.add_used(*c, len);
                    if (q.broken()) return 0;
                }
                break;
            }
            case 2:
                q.flush_used();
                break;
            case 3:
                if (auto c = q.pop()) q.undo_pop();
                q.has_available();
                break;
        }
        if (q.broken()) break;
    }
    return 0;
}
