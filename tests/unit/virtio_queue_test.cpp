#include "virtio/queue.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "common/mapping.h"
#include "memory/guest_memory.h"
#include "virtio/virtio_device.h"

namespace khyve {
namespace {

constexpr uint16_t F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;

// A hand-built split ring in 64 KiB of fake guest RAM at GPA 0.
struct Ring {
    static constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000, kBuf = 0x8000;
    static constexpr uint16_t kSize = 8;
    std::vector<uint8_t> ram = std::vector<uint8_t>(0x10000);
    GuestMemory mem;
    Queue q{kSize};

    explicit Ring(uint64_t features = virtio::kFVersion1 | virtio::kFIndirectDesc) {
        mem.add_region(0, ram.size(), ram.data());
        q.set_desc_addr(kDesc);
        q.set_avail_addr(kAvail);
        q.set_used_addr(kUsed);
        q.set_ready(true);
        EXPECT_EQ(q.start(mem, features), QueueError::kNone);
    }
    template <class T>
    void put(uint64_t gpa, T v) { std::memcpy(&ram[gpa], &v, sizeof v); }
    template <class T>
    T get(uint64_t gpa) const {
        T v;
        std::memcpy(&v, &ram[gpa], sizeof v);
        return v;
    }
    void desc_at(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next = 0) {
        put(table + 16 * i, addr);
        put(table + 16 * i + 8, len);
        put<uint16_t>(table + 16 * i + 12, flags);
        put<uint16_t>(table + 16 * i + 14, next);
    }
    void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
        desc_at(kDesc, i, addr, len, flags, next);
    }
    void push(uint16_t head) {
        uint16_t idx = get<uint16_t>(kAvail + 2);
        put<uint16_t>(kAvail + 4 + 2 * (idx % kSize), head);
        put<uint16_t>(kAvail + 2, idx + 1);
    }
    uint16_t used_idx() const { return get<uint16_t>(kUsed + 2); }
    void expect_error(QueueError e) {
        EXPECT_FALSE(q.pop());
        EXPECT_TRUE(q.broken());
        EXPECT_EQ(q.error(), e) << to_string(q.error());
    }
};

TEST(VirtioQueue, GoodChainReadWriteAndUsed) {
    Ring r;
    const char msg[] = "hello, device!!";  // 16 bytes with NUL
    std::memcpy(&r.ram[Ring::kBuf], msg, 16);
    r.desc(0, Ring::kBuf, 10, F_NEXT, 1);
    r.desc(1, Ring::kBuf + 10, 6, F_NEXT, 2);
    r.desc(2, Ring::kBuf + 0x100, 32, F_WRITE);
    r.push(0);

    auto c = r.q.pop();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->head(), 0);
    EXPECT_EQ(c->readable_bytes(), 16u);
    EXPECT_EQ(c->writable_bytes(), 32u);
    Reader rd = c->reader();
    char got[16];
    EXPECT_EQ(rd.read({reinterpret_cast<uint8_t*>(got), 16}), 16u);
    EXPECT_STREQ(got, msg);
    EXPECT_EQ(rd.available(), 0u);
    EXPECT_FALSE(rd.read_obj<uint32_t>());

    Writer w = c->writer();
    EXPECT_TRUE(w.write_obj<uint64_t>(0x1122334455667788ull));
    EXPECT_EQ(w.bytes_written(), 8u);
    EXPECT_EQ(w.available(), 24u);
    EXPECT_EQ(r.get<uint64_t>(Ring::kBuf + 0x100), 0x1122334455667788ull);

    EXPECT_FALSE(r.q.pop());  // empty, not broken
    EXPECT_FALSE(r.q.broken());

    r.q.add_used(*c, 8);
    EXPECT_EQ(r.used_idx(), 0);  // not published before flush
    EXPECT_TRUE(r.q.flush_used());
    EXPECT_EQ(r.used_idx(), 1);
    EXPECT_EQ(r.get<uint32_t>(Ring::kUsed + 4), 0u);
    EXPECT_EQ(r.get<uint32_t>(Ring::kUsed + 8), 8u);
}

TEST(VirtioQueue, ReaderSpansAcrossDescriptors) {
    Ring r;
    for (int i = 0; i < 12; ++i) r.ram[Ring::kBuf + i] = static_cast<uint8_t>(i);
    r.desc(0, Ring::kBuf, 3, F_NEXT, 1);
    r.desc(1, Ring::kBuf + 3, 9, 0);
    r.push(0);
    auto c = r.q.pop();
    ASSERT_TRUE(c);
    Reader rd = c->reader();
    auto v = rd.read_obj<uint32_t>();
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 0x03020100u);
    EXPECT_EQ(rd.skip(2), 2u);
    auto spans = rd.take_spans(100);
    ASSERT_EQ(spans.size(), 1u);
    EXPECT_EQ(spans[0].size(), 6u);
    EXPECT_EQ(spans[0][0], 6);
    EXPECT_EQ(c->writer().available(), 0u);
}

TEST(VirtioQueue, DescriptorLoop) {
    Ring r;
    r.desc(0, Ring::kBuf, 4, F_NEXT, 1);
    r.desc(1, Ring::kBuf, 4, F_NEXT, 0);
    r.push(0);
    r.expect_error(QueueError::kChainTooLong);
}

TEST(VirtioQueue, ChainLongerThanSizeSelfLoop) {
    Ring r;
    r.desc(3, Ring::kBuf, 4, F_NEXT, 3);
    r.push(3);
    r.expect_error(QueueError::kChainTooLong);
}

TEST(VirtioQueue, ErrorsAreSticky) {
    Ring r;
    r.desc(0, Ring::kBuf, 4, F_NEXT, 0);
    r.push(0);
    r.expect_error(QueueError::kChainTooLong);
    r.desc(0, Ring::kBuf, 4, 0);  // repaired, but too late
    r.push(0);
    EXPECT_FALSE(r.q.pop());
    EXPECT_TRUE(r.q.broken());
    r.q.add_used(0, 0);
    EXPECT_FALSE(r.q.flush_used());
    EXPECT_EQ(r.used_idx(), 0);
}

TEST(VirtioQueue, HeadIndexOutOfRange) {
    Ring r;
    r.push(Ring::kSize);
    r.expect_error(QueueError::kDescIndex);
}

TEST(VirtioQueue, NextIndexOutOfRange) {
    Ring r;
    r.desc(0, Ring::kBuf, 4, F_NEXT, 9);
    r.push(0);
    r.expect_error(QueueError::kDescIndex);
}

TEST(VirtioQueue, IndirectTable) {
    Ring r;
    const uint64_t t = 0x5000;
    r.desc_at(t, 0, Ring::kBuf, 8, F_NEXT, 1);
    r.desc_at(t, 1, Ring::kBuf + 0x100, 16, F_WRITE);
    r.desc(0, t, 32, F_INDIRECT);
    r.push(0);
    auto c = r.q.pop();
    ASSERT_TRUE(c) << to_string(r.q.error());
    EXPECT_EQ(c->readable_bytes(), 8u);
    EXPECT_EQ(c->writable_bytes(), 16u);
}

TEST(VirtioQueue, IndirectAfterDirectDescriptors) {
    Ring r;
    const uint64_t t = 0x5000;
    r.desc_at(t, 0, Ring::kBuf + 0x100, 16, F_WRITE);
    r.desc(0, Ring::kBuf, 8, F_NEXT, 1);
    r.desc(1, t, 16, F_INDIRECT);
    r.push(0);
    auto c = r.q.pop();
    ASSERT_TRUE(c) << to_string(r.q.error());
    EXPECT_EQ(c->descriptors().size(), 2u);
}

TEST(VirtioQueue, IndirectLoopInsideTable) {
    Ring r;
    const uint64_t t = 0x5000;
    r.desc_at(t, 0, Ring::kBuf, 8, F_NEXT, 1);
    r.desc_at(t, 1, Ring::kBuf, 8, F_NEXT, 0);
    r.desc(0, t, 32, F_INDIRECT);
    r.push(0);
    r.expect_error(QueueError::kChainTooLong);
}

TEST(VirtioQueue, IndirectNextIndexBeyondTable) {
    Ring r;
    const uint64_t t = 0x5000;
    r.desc_at(t, 0, Ring::kBuf, 8, F_NEXT, 2);  // table has 2 entries
    r.desc(0, t, 32, F_INDIRECT);
    r.push(0);
    r.expect_error(QueueError::kDescIndex);
}

TEST(VirtioQueue, NestedIndirect) {
    Ring r;
    const uint64_t t = 0x5000;
    r.desc_at(t, 0, 0x5100, 16, F_INDIRECT);
    r.desc(0, t, 16, F_INDIRECT);
    r.push(0);
    r.expect_error(QueueError::kIndirectNested);
}

TEST(VirtioQueue, IndirectWithNext) {
    Ring r;
    r.desc_at(0x5000, 0, Ring::kBuf, 8, 0);
    r.desc(0, 0x5000, 16, F_INDIRECT | F_NEXT, 1);
    r.desc(1, Ring::kBuf, 8, 0);
    r.push(0);
    r.expect_error(QueueError::kIndirectWithNext);
}

TEST(VirtioQueue, IndirectLengthNotMultipleOf16) {
    Ring r;
    r.desc(0, 0x5000, 24, F_INDIRECT);
    r.push(0);
    r.expect_error(QueueError::kIndirectLength);
}

TEST(VirtioQueue, IndirectLengthZero) {
    Ring r;
    r.desc(0, 0x5000, 0, F_INDIRECT);
    r.push(0);
    r.expect_error(QueueError::kIndirectLength);
}

TEST(VirtioQueue, IndirectTableTooLarge) {
    Ring r;
    r.desc(0, 0, 16 * (Queue::kMaxIndirect + 1), F_INDIRECT);
    r.push(0);
    r.expect_error(QueueError::kIndirectLength);
}

TEST(VirtioQueue, IndirectTableOutsideRam) {
    Ring r;
    r.desc(0, 0xfff0, 32, F_INDIRECT);
    r.push(0);
    r.expect_error(QueueError::kBufferOutsideRam);
}

TEST(VirtioQueue, IndirectNotNegotiated) {
    Ring r(virtio::kFVersion1);
    r.desc_at(0x5000, 0, Ring::kBuf, 8, 0);
    r.desc(0, 0x5000, 16, F_INDIRECT);
    r.push(0);
    r.expect_error(QueueError::kIndirectNotNegotiated);
}

TEST(VirtioQueue, BufferOutsideRam) {
    Ring r;
    r.desc(0, 0xfffc, 16, 0);
    r.push(0);
    r.expect_error(QueueError::kBufferOutsideRam);
}

TEST(VirtioQueue, BufferAddressWraps) {
    Ring r;
    r.desc(0, ~0ull - 4, 16, F_WRITE);
    r.push(0);
    r.expect_error(QueueError::kBufferOutsideRam);
}

TEST(VirtioQueue, LengthSumOverflowsU32) {
    Ring r;
    // Two 4 GiB - 16 buffers in a sparse region: real RAM, untouched.
    const uint64_t big = 9ull << 30;
    void* p = ::mmap(nullptr, big, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    Mapping m(p, big);
    r.mem.add_region(1ull << 32, big, m.data());
    r.desc(0, 1ull << 32, 0xfffffff0u, F_WRITE | F_NEXT, 1);
    r.desc(1, (1ull << 32) + 0x100000000ull, 0xfffffff0u, F_WRITE);
    r.push(0);
    r.expect_error(QueueError::kLengthOverflow);
}

TEST(VirtioQueue, ZeroLengthChain) {
    Ring r;
    r.desc(0, Ring::kBuf, 0, F_NEXT, 1);
    r.desc(1, Ring::kBuf, 0, F_WRITE);
    r.push(0);
    r.expect_error(QueueError::kEmptyChain);
}

TEST(VirtioQueue, AvailIndexJump) {
    Ring r;
    r.desc(0, Ring::kBuf, 8, 0);
    r.put<uint16_t>(Ring::kAvail + 2, Ring::kSize + 1);
    r.expect_error(QueueError::kAvailIdxJump);
}

TEST(VirtioQueue, AvailIndexFullRingIsFine) {
    Ring r;
    r.desc(0, Ring::kBuf, 8, 0);
    for (int i = 0; i < Ring::kSize; ++i) r.push(0);
    for (int i = 0; i < Ring::kSize; ++i) ASSERT_TRUE(r.q.pop());
    EXPECT_FALSE(r.q.pop());
    EXPECT_FALSE(r.q.broken());
}

TEST(VirtioQueue, WritableBeforeReadable) {
    Ring r;
    r.desc(0, Ring::kBuf, 8, F_WRITE | F_NEXT, 1);
    r.desc(1, Ring::kBuf + 8, 8, 0);
    r.push(0);
    r.expect_error(QueueError::kReadableAfterWritable);
}

TEST(VirtioQueue, ZeroLengthWritableBeforeReadable) {
    Ring r;
    r.desc(0, Ring::kBuf, 0, F_WRITE | F_NEXT, 1);
    r.desc(1, Ring::kBuf + 8, 8, 0);
    r.push(0);
    r.expect_error(QueueError::kReadableAfterWritable);
}

TEST(VirtioQueue, UsedLengthBeyondWritable) {
    Ring r;
    r.desc(0, Ring::kBuf, 8, F_WRITE);
    r.push(0);
    auto c = r.q.pop();
    ASSERT_TRUE(c);
    r.q.add_used(*c, 9);
    EXPECT_EQ(r.q.error(), QueueError::kUsedLength);
}

TEST(VirtioQueue, StartRejectsBadRings) {
    std::vector<uint8_t> ram(0x10000);
    GuestMemory mem;
    mem.add_region(0, ram.size(), ram.data());
    auto try_start = [&](uint64_t d, uint64_t a, uint64_t u, uint16_t size) {
        Queue q(8);
        q.set_size(size);
        q.set_desc_addr(d);
        q.set_avail_addr(a);
        q.set_used_addr(u);
        QueueError e = q.start(mem, 0);
        EXPECT_EQ(q.broken(), e != QueueError::kNone);
        if (e != QueueError::kNone) {
            EXPECT_FALSE(q.pop());
        }
        return e;
    };
    EXPECT_EQ(try_start(0x1000, 0x2000, 0x3000, 8), QueueError::kNone);
    EXPECT_EQ(try_start(0x1008, 0x2000, 0x3000, 8), QueueError::kBadRingAddress);
    EXPECT_EQ(try_start(0x1000, 0x2001, 0x3000, 8), QueueError::kBadRingAddress);
    EXPECT_EQ(try_start(0x1000, 0x2000, 0x3002, 8), QueueError::kBadRingAddress);
    EXPECT_EQ(try_start(0xfff0, 0x2000, 0x3000, 8), QueueError::kBadRingAddress);
    EXPECT_EQ(try_start(0x1000, 0xfff8, 0x3000, 8), QueueError::kBadRingAddress);
    EXPECT_EQ(try_start(0x1000, 0x2000, 0xffc0, 8), QueueError::kBadRingAddress);
    EXPECT_EQ(try_start(0x1000, 0x2000, ~0ull - 3, 8), QueueError::kBadRingAddress);
    EXPECT_EQ(try_start(0x1000, 0x2000, 0x3000, 6), QueueError::kBadSize);
    EXPECT_EQ(try_start(0x1000, 0x2000, 0x3000, 16), QueueError::kBadSize);
    EXPECT_EQ(try_start(0x1000, 0x2000, 0x3000, 0), QueueError::kBadSize);
}

TEST(VirtioQueue, PopBeforeStartIsAnError) {
    Queue q(8);
    EXPECT_FALSE(q.pop());
    EXPECT_EQ(q.error(), QueueError::kNotStarted);
    q.reset();
    EXPECT_FALSE(q.broken());
}

TEST(VirtioQueue, NoInterruptFlagWithoutEventIdx) {
    Ring r;
    r.desc(0, Ring::kBuf, 8, F_WRITE);
    r.push(0);
    r.put<uint16_t>(Ring::kAvail, 1);  // VIRTQ_AVAIL_F_NO_INTERRUPT
    auto c = r.q.pop();
    ASSERT_TRUE(c);
    r.q.add_used(*c, 0);
    EXPECT_FALSE(r.q.flush_used());
    EXPECT_EQ(r.used_idx(), 1);
}

TEST(VirtioQueue, EventIdx) {
    Ring r(virtio::kFVersion1 | virtio::kFEventIdx);
    const uint64_t used_event = Ring::kAvail + 4 + 2 * Ring::kSize;
    const uint64_t avail_event = Ring::kUsed + 4 + 8 * Ring::kSize;
    r.desc(0, Ring::kBuf, 8, F_WRITE);
    for (int i = 0; i < 4; ++i) r.push(0);
    r.put<uint16_t>(used_event, 2);  // interrupt when used.idx passes 2

    auto complete_one = [&] {
        auto c = r.q.pop();
        EXPECT_TRUE(c);
        r.q.add_used(*c, 0);
        return r.q.flush_used();
    };
    EXPECT_EQ(r.get<uint16_t>(avail_event), 0);
    EXPECT_TRUE(complete_one());   // first flush after start always notifies
    EXPECT_EQ(r.get<uint16_t>(avail_event), 0);  // busy: no notification wanted
    EXPECT_FALSE(complete_one());  // used.idx 2: event 2 not yet crossed
    EXPECT_TRUE(complete_one());   // used.idx 3 crosses used_event 2
    EXPECT_FALSE(complete_one());
    EXPECT_FALSE(r.q.pop());
    EXPECT_EQ(r.get<uint16_t>(avail_event), 4);  // dry: notify for the next one
}

// The driver's side of EVENT_IDX (virtio 1.2, 2.7.10): after moving avail.idx
// from old to now, notify if avail_event lies in [old, now).
bool driver_would_notify(const Ring& r, uint16_t old_idx) {
    const uint16_t event = r.get<uint16_t>(Ring::kUsed + 4 + 8 * Ring::kSize);
    const uint16_t now = r.get<uint16_t>(Ring::kAvail + 2);
    return uint16_t(now - event - 1) < uint16_t(now - old_idx);
}

// A transmit burst: the driver keeps adding packets while the device works
// through them. It must notify once for the burst, not once per packet
// (each notification is a VM exit), and again once the device ran dry.
TEST(VirtioQueue, EventIdxOneNotificationPerBusyPeriod) {
    Ring r(virtio::kFVersion1 | virtio::kFEventIdx);
    for (uint16_t i = 0; i < Ring::kSize; ++i) r.desc(i, Ring::kBuf + 16 * i, 16, 0);
    int notifications = 0;
    auto driver_add = [&](uint16_t head) {
        const uint16_t old = r.get<uint16_t>(Ring::kAvail + 2);
        r.push(head);
        if (driver_would_notify(r, old)) ++notifications;
    };
    driver_add(0);
    EXPECT_EQ(notifications, 1);
    for (uint16_t i = 1; i < 6; ++i) {
        auto c = r.q.pop();  // the device is busy with the previous packet...
        ASSERT_TRUE(c);
        r.q.add_used(*c, 0);
        driver_add(i);       // ...while the driver queues the next one
    }
    EXPECT_EQ(notifications, 1) << "the driver was asked to notify during a busy period";
    while (auto c = r.q.pop()) r.q.add_used(*c, 0);
    r.q.flush_used();
    EXPECT_EQ(r.q.last_avail_idx(), 6);
    driver_add(6);  // the device ran dry: this one must be notified
    EXPECT_EQ(notifications, 2);
    ASSERT_TRUE(r.q.pop());
}

// Running dry re-reads avail.idx after publishing avail_event, so a buffer
// the driver added without notifying is still found.
TEST(VirtioQueue, EventIdxBufferAddedBeforeIdleIsNotLost) {
    Ring r(virtio::kFVersion1 | virtio::kFEventIdx);
    r.desc(0, Ring::kBuf, 16, 0);
    r.push(0);
    ASSERT_TRUE(r.q.pop());
    r.push(0);  // not notified: avail_event is still 0
    EXPECT_TRUE(r.q.pop());
    EXPECT_FALSE(r.q.pop());
}

TEST(VirtioQueue, BatchedUsedPublishesOnce) {
    Ring r;
    r.desc(0, Ring::kBuf, 8, F_WRITE);
    r.desc(1, Ring::kBuf + 8, 8, F_WRITE);
    r.push(0);
    r.push(1);
    auto a = r.q.pop(), b = r.q.pop();
    ASSERT_TRUE(a && b);
    r.q.add_used(*b, 8);
    r.q.add_used(*a, 4);
    EXPECT_EQ(r.used_idx(), 0);
    EXPECT_TRUE(r.q.flush_used());
    EXPECT_EQ(r.used_idx(), 2);
    EXPECT_EQ(r.get<uint32_t>(Ring::kUsed + 4), 1u);
    EXPECT_EQ(r.get<uint32_t>(Ring::kUsed + 12), 0u);
    EXPECT_FALSE(r.q.flush_used());  // nothing new
}

TEST(VirtioQueue, UndoPop) {
    Ring r;
    r.desc(0, Ring::kBuf, 8, F_WRITE);
    r.push(0);
    ASSERT_TRUE(r.q.pop());
    EXPECT_FALSE(r.q.has_available());
    r.q.undo_pop();
    EXPECT_TRUE(r.q.has_available());
    EXPECT_TRUE(r.q.pop());
}

}  // namespace
}  // namespace khyve
