// Requests through VirtioBlk over an in-memory backend that completes at once.
// The input builds descriptor chains (header, data, status buffers with
// fuzzer-chosen sizes, addresses and flags) in fake guest RAM, negotiates a
// feature set, pokes the config space, and lets the device run.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/uio.h>

#include "block/block_backend.h"
#include "fuzz_common.h"
#include "virtio/queue.h"
#include "virtio/virtio_blk.h"

using namespace khyve;

namespace {

class MemBackend : public BlockBackend {
public:
    MemBackend(size_t size, bool ro) : image_(size), ro_(ro) {}
    uint64_t size() const override { return image_.size(); }
    bool read_only() const override { return ro_; }
    uint32_t logical_sector_size() const override { return 512; }
    uint32_t physical_sector_size() const override { return 4096; }
    void set_completion(BlockCompletionFn fn) override { done_ = std::move(fn); }
    void set_write_through(bool) override {}
    void read(uint64_t off, std::span<const iovec> iov, uint64_t tag) override { move(off, iov, tag, false); }
    void write(uint64_t off, std::span<const iovec> iov, uint64_t tag) override { move(off, iov, tag, true); }
    void flush(uint64_t tag) override { done_(tag, 0); }
    void discard(uint64_t off, uint64_t len, uint64_t tag) override { zero(off, len, tag); }
    void write_zeroes(uint64_t off, uint64_t len, bool, uint64_t tag) override { zero(off, len, tag); }
    void drain() override {}

private:
    // The device promised the range is inside the image: hold it to that.
    void check(uint64_t off, uint64_t len) {
        if (off > image_.size() || len > image_.size() - off) __builtin_trap();
    }
    void move(uint64_t off, std::span<const iovec> iov, uint64_t tag, bool to_image) {
        uint64_t total = 0;
        for (const auto& v : iov) total += v.iov_len;
        check(off, total);
        if (to_image && ro_) __builtin_trap();
        for (const auto& v : iov) {
            if (to_image) std::memcpy(&image_[off], v.iov_base, v.iov_len);
            else std::memcpy(v.iov_base, &image_[off], v.iov_len);
            off += v.iov_len;
        }
        done_(tag, int64_t(total));
    }
    void zero(uint64_t off, uint64_t len, uint64_t tag) {
        check(off, len);
        if (ro_) __builtin_trap();
        std::memset(&image_[off], 0, len);
        done_(tag, 0);
    }
    std::vector<uint8_t> image_;
    bool ro_;
    BlockCompletionFn done_;
};

constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000, kData = 0x4000;
constexpr uint64_t kRam = 0x40000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    const bool ro = in.ConsumeBool();
    const size_t image = size_t(in.ConsumeIntegralInRange(1, 64)) * 512;
    VirtioBlk::Options o;
    o.queue_size = 16;
    o.discard = in.ConsumeBool();
    o.max_discard_sectors = in.ConsumeIntegralInRange<uint32_t>(1, 1u << 22);
    o.serial = in.ConsumeRandomLengthString(24);
    VirtioBlk dev(std::make_unique<MemBackend>(image, ro), o);

    fuzz::FakeRam ram;
    ram.add(0, kRam);
    std::vector<Queue> queues;
    queues.emplace_back(16);
    Queue& q = queues[0];
    q.set_size(16);
    q.set_desc_addr(kDesc);
    q.set_avail_addr(kAvail);
    q.set_used_addr(kUsed);
    q.set_ready(true);
    const uint64_t features = (dev.features() & in.ConsumeIntegral<uint64_t>()) | virtio::kFVersion1 |
                              (in.ConsumeBool() ? virtio::kFIndirectDesc : 0);
    if (q.start(ram.mem, features) != QueueError::kNone) return 0;

    fuzz::CountingInterrupt irq;
    fuzz::ManualWorker worker;
    VirtioActivation act;
    act.mem = &ram.mem;
    act.features = features;
    act.queues = queues;
    act.interrupt = &irq;
    act.worker = &worker;

    // Config space before and after activation, as a driver would.
    auto poke_config = [&] {
        uint32_t off = in.ConsumeIntegralInRange<uint32_t>(0, virtio_blk::kConfigSize - 1);
        uint32_t len = in.ConsumeIntegralInRange<uint32_t>(1, std::min<uint32_t>(8, virtio_blk::kConfigSize - off));
        uint8_t b[8] = {};
        if (in.ConsumeBool()) {
            auto v = in.ConsumeBytes<uint8_t>(len);
            v.resize(len);
            dev.write_config(off, {v.data(), len});
        } else {
            dev.read_config(off, {b, len});
        }
    };
    poke_config();
    if (!dev.activate(act)) return 0;

    uint16_t next_desc = 0, avail_idx = 0;
    uint64_t bump = kData;
    for (int req = 0; req < 24 && in.remaining_bytes() > 0; ++req) {
        if (in.ConsumeIntegralInRange(0, 7) == 0) poke_config();
        // One request: a header buffer, some data buffers, a status buffer;
        // each field chosen by the input, defaults shaped like a real driver's.
        const unsigned nbufs = in.ConsumeIntegralInRange(1, 5);
        uint16_t head = next_desc;
        for (unsigned i = 0; i < nbufs; ++i) {
            uint32_t len = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint32_t>(0, 4096)
                                            : (i == 0 ? 16 : i + 1 == nbufs ? 1 : 512);
            uint64_t gpa = in.ConsumeIntegralInRange(0, 15) == 0 ? in.ConsumeIntegral<uint64_t>() : bump;
            bump += (len + 15) & ~uint64_t(15);
            if (bump > kRam - 0x2000) bump = kData;
            bool writable = in.ConsumeBool() ? in.ConsumeBool() : (i > 0 && (i + 1 == nbufs || in.ConsumeBool()));
            if (i == 0 && gpa + 16 <= kRam) {
                virtio_blk::ReqHeader h{};
                h.type = in.ConsumeBool() ? in.ConsumeIntegral<uint32_t>()
                                          : std::array<uint32_t, 6>{0, 1, 4, 8, 11, 13}[in.ConsumeIntegralInRange(0, 5)];
                h.sector = in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>() : in.ConsumeIntegralInRange<uint64_t>(0, 80);
                ram.fill(gpa, reinterpret_cast<uint8_t*>(&h), sizeof h);
            } else if (gpa < kRam && in.ConsumeBool()) {
                auto payload = in.ConsumeBytes<uint8_t>(std::min<size_t>(len, 64));
                ram.fill(gpa, payload.data(), payload.size());
            }
            uint16_t idx = next_desc;
            next_desc = uint16_t((next_desc + 1) % 16);
            uint16_t flags = uint16_t((i + 1 < nbufs ? 1 : 0) | (writable ? 2 : 0));
            uint8_t d[16];
            std::memcpy(d, &gpa, 8);
            std::memcpy(d + 8, &len, 4);
            std::memcpy(d + 12, &flags, 2);
            std::memcpy(d + 14, &next_desc, 2);
            ram.fill(kDesc + 16ull * idx, d, 16);
        }
        ram.fill(kAvail + 4 + 2ull * (avail_idx % 16), reinterpret_cast<uint8_t*>(&head), 2);
        ++avail_idx;
        ram.fill(kAvail + 2, reinterpret_cast<uint8_t*>(&avail_idx), 2);
        if (in.ConsumeBool() || in.remaining_bytes() == 0) {
            dev.queue_notify(0);
            worker.run(dev.completion_fd());
        }
        if (q.broken() || irq.needs_reset) break;
    }
    dev.queue_notify(0);
    worker.run(dev.completion_fd());
    dev.reset();
    return 0;
}
