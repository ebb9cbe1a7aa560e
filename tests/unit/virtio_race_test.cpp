// A guest rewriting its ring while the device walks it (time of check against
// time of use): a thread scribbles over the descriptor table and the avail
// ring of a live queue while this one pops and consumes chains. Every chain
// that comes out must still be what Queue promises (buffers wholly inside
// RAM, at most queue-size descriptors, readable before writable, length sums
// that add up), the queue may break but never crash or hang, and a reset
// brings it back. Under the ASan build (scripts/sanitize.sh, in CI) a read
// outside the fake RAM would stop the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <random>
#include <thread>

#include "virtio_fake_driver.h"

namespace khyve {
namespace {

TEST(VirtioRace, GuestRewritingTheRingWhileTheDeviceWalksIt) {
    test::FakeRings r(1);
    Queue& q = r.queues[0];
    const auto& st = r.st[0];
    const uint8_t* ram_begin = r.ram.data();
    const uint8_t* ram_end = ram_begin + r.ram.size();
    // What the scribbler may touch: the descriptor table and the avail ring.
    const uint64_t desc_bytes = 16ull * test::FakeRings::kSize;
    const uint64_t avail_bytes = 4 + 2ull * test::FakeRings::kSize;
    // Buffers the honest side posts, inside RAM.
    const uint64_t hdr = r.alloc(64), data = r.alloc(4096), status = r.alloc(16);

    std::atomic<bool> stop{false};
    std::thread guest([&] {
        std::mt19937_64 rng(12345);
        while (!stop.load(std::memory_order_relaxed)) {
            const bool desc = rng() & 1;
            const uint64_t base = desc ? st.desc : st.avail;
            const uint64_t off = rng() % (desc ? desc_bytes : avail_bytes);
            uint8_t* p = r.host(base + off);
            // Byte-wise atomic stores: the guest's side of shared memory.
            __atomic_store_n(p, static_cast<uint8_t>(rng()), __ATOMIC_RELAXED);
        }
    });

    unsigned chains = 0, broken = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
    std::vector<uint8_t> buf(1 << 16);
    while (std::chrono::steady_clock::now() < until) {
        r.push(0, {{hdr, 64, false}, {data, 4096, true}, {status, 16, true}});
        for (int n = 0; n < 2 * test::FakeRings::kSize; ++n) {
            auto c = q.pop();
            if (!c) break;
            ++chains;
            auto d = c->descriptors();
            ASSERT_LE(d.size(), size_t(test::FakeRings::kSize) * 2);  // direct + one indirect table at most
            uint64_t rd = 0, wr = 0;
            bool seen_writable = false;
            for (const Descriptor& x : d) {
                ASSERT_GE(x.host.data(), ram_begin);
                ASSERT_LE(x.host.data() + x.host.size(), ram_end);
                ASSERT_EQ(x.host.size(), x.len);
                ASSERT_FALSE(seen_writable && !x.writable) << "readable after writable";
                seen_writable |= x.writable;
                (x.writable ? wr : rd) += x.len;
            }
            ASSERT_EQ(rd, c->readable_bytes());
            ASSERT_EQ(wr, c->writable_bytes());
            Reader rdr = c->reader();
            while (rdr.available())
                ASSERT_GT(rdr.read(std::span<uint8_t>(buf.data(), std::min(buf.size(), rdr.available()))), 0u);
            Writer w = c->writer();
            size_t written = 0;
            while (w.available())
                written += w.write(std::span<const uint8_t>(buf.data(), std::min(buf.size(), w.available())));
            q.add_used(*c, static_cast<uint32_t>(written));
        }
        q.flush_used();
        if (q.broken()) {
            ++broken;
            // The driver's reset: the queue starts over on the same rings.
            q.reset();
            q.set_size(test::FakeRings::kSize);
            q.set_desc_addr(st.desc);
            q.set_avail_addr(st.avail);
            q.set_used_addr(st.used);
            q.set_ready(true);
            ASSERT_EQ(q.start(r.mem, virtio::kFVersion1), QueueError::kNone);
            r.st[0].avail_idx = 0;
            r.st[0].used_seen = 0;
            r.st[0].next_desc = 0;
            std::memset(r.host(st.avail), 0, avail_bytes);
            std::memset(r.host(st.used), 0, 4 + 8ull * test::FakeRings::kSize);
        }
    }
    stop = true;
    guest.join();
    std::printf("race: %u chains walked, %u times broken and reset\n", chains, broken);
    EXPECT_GT(chains, 0u);
    EXPECT_GT(broken, 0u);  // the scribbling did reach the device
}

}  // namespace
}  // namespace khyve
