#include "virtio/virtio_rng.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "memory/guest_memory.h"
#include "virtio/queue.h"

namespace khyve {
namespace {

struct CountingInterrupt : VirtioInterrupt {
    int used = 0, config = 0, resets = 0;
    void signal_used_queue(uint16_t i) override {
        EXPECT_EQ(i, 0);
        ++used;
    }
    void signal_config_changed() override { ++config; }
    void signal_needs_reset() override { ++resets; }
};

struct RngRig {
    std::vector<uint8_t> ram = std::vector<uint8_t>(0x40000);
    GuestMemory mem;
    std::vector<Queue> queues{Queue(VirtioRng::kQueueSize)};
    CountingInterrupt irq;
    VirtioRng rng;

    RngRig() {
        mem.add_region(0, ram.size(), ram.data());
        Queue& q = queues[0];
        q.set_size(8);
        q.set_desc_addr(0x1000);
        q.set_avail_addr(0x2000);
        q.set_used_addr(0x3000);
        q.set_ready(true);
        EXPECT_EQ(q.start(mem, virtio::kFVersion1), QueueError::kNone);
        VirtioActivation a;
        a.mem = &mem;
        a.features = virtio::kFVersion1;
        a.queues = queues;
        a.interrupt = &irq;
        EXPECT_TRUE(rng.activate(a));
    }
    void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
        std::memcpy(&ram[0x1000 + 16 * i], &addr, 8);
        std::memcpy(&ram[0x1000 + 16 * i + 8], &len, 4);
        std::memcpy(&ram[0x1000 + 16 * i + 12], &flags, 2);
        std::memcpy(&ram[0x1000 + 16 * i + 14], &next, 2);
    }
    void push(uint16_t head) {
        uint16_t idx;
        std::memcpy(&idx, &ram[0x2002], 2);
        std::memcpy(&ram[0x2004 + 2 * (idx % 8)], &head, 2);
        ++idx;
        std::memcpy(&ram[0x2002], &idx, 2);
    }
    uint32_t used_len(unsigned n) {
        uint32_t v;
        std::memcpy(&v, &ram[0x3004 + 8 * n + 4], 4);
        return v;
    }
    uint16_t used_idx() {
        uint16_t v;
        std::memcpy(&v, &ram[0x3002], 2);
        return v;
    }
};

TEST(VirtioRng, Identity) {
    VirtioRng r;
    EXPECT_EQ(r.device_type(), virtio::kTypeRng);
    EXPECT_EQ(r.num_queues(), 1u);
    EXPECT_EQ(r.config_size(), 0u);
}

TEST(VirtioRng, FillsWritableBuffers) {
    RngRig r;
    r.desc(0, 0x10000, 100, 2 /* write */);
    r.desc(1, 0x10100, 4, 0);  // readable only: nothing to fill
    r.push(0);
    r.push(1);
    r.rng.queue_notify(0);
    EXPECT_EQ(r.used_idx(), 2);
    EXPECT_EQ(r.used_len(0), 100u);
    EXPECT_EQ(r.used_len(1), 0u);
    EXPECT_EQ(r.irq.used, 1);
    // 100 random bytes are not all zero (probability 2^-800).
    bool nonzero = false;
    for (int i = 0; i < 100; ++i) nonzero |= r.ram[0x10000 + i] != 0;
    EXPECT_TRUE(nonzero);
    EXPECT_EQ(r.ram[0x10000 + 100], 0);  // nothing past the buffer
}

TEST(VirtioRng, CapsOneRequest) {
    RngRig r;
    r.desc(0, 0x10000, 0x30000, 2);
    r.push(0);
    r.rng.queue_notify(0);
    EXPECT_EQ(r.used_len(0), VirtioRng::kMaxPerRequest);
}

TEST(VirtioRng, MalformedChainBreaksQueueWithoutCrash) {
    RngRig r;
    r.desc(0, 0x3fff0, 0x100, 2);  // past the end of RAM
    r.push(0);
    r.rng.queue_notify(0);
    EXPECT_TRUE(r.queues[0].broken());
    EXPECT_EQ(r.used_idx(), 0);
    EXPECT_EQ(r.irq.used, 0);
}

TEST(VirtioRng, ActivateNeedsAReadyQueue) {
    std::vector<Queue> qs{Queue(64)};
    CountingInterrupt irq;
    VirtioActivation a;
    a.queues = qs;
    a.interrupt = &irq;
    VirtioRng r;
    EXPECT_FALSE(r.activate(a));
    r.queue_notify(0);  // not active: ignored
    r.reset();
}

}  // namespace
}  // namespace khyve
