// Test helpers shared by the virtio device tests: a driver's view of split
// virtqueues in fake guest RAM, and fake interrupt/worker hooks that record
// what a device asked for.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "memory/guest_memory.h"
#include "virtio/queue.h"
#include "virtio/virtio_device.h"

namespace khyve::test {

// ---- A driver's view of split virtqueues in fake guest RAM ----
struct FakeRings {
    static constexpr uint16_t kSize = 16;
    std::vector<uint8_t> ram = std::vector<uint8_t>(4 << 20);
    GuestMemory mem;
    std::vector<Queue> queues;
    struct State {
        uint64_t desc, avail, used;
        uint16_t next_desc = 0, avail_idx = 0, used_seen = 0;
    };
    std::vector<State> st;
    uint64_t bump = 0x100000;

    explicit FakeRings(unsigned n) {
        mem.add_region(0, ram.size(), ram.data());
        for (unsigned i = 0; i < n; i++) {
            queues.emplace_back(kSize);
            st.push_back({0x1000 + 0x3000ull * i, 0x2000 + 0x3000ull * i, 0x3000 + 0x3000ull * i});
        }
        for (unsigned i = 0; i < n; i++) {
            Queue& q = queues[i];
            q.set_size(kSize);
            q.set_desc_addr(st[i].desc);
            q.set_avail_addr(st[i].avail);
            q.set_used_addr(st[i].used);
            q.set_ready(true);
            EXPECT_EQ(q.start(mem, virtio::kFVersion1), QueueError::kNone);
        }
    }
    uint64_t alloc(size_t n) {
        uint64_t a = bump;
        bump += (n + 15) & ~size_t(15);
        return a;
    }
    uint8_t* host(uint64_t gpa) { return ram.data() + gpa; }
    struct Buf {
        uint64_t gpa;
        uint32_t len;
        bool writable;
    };
    uint16_t push(unsigned q, const std::vector<Buf>& bufs) {
        State& s = st[q];
        uint16_t head = s.next_desc;
        for (size_t i = 0; i < bufs.size(); i++) {
            uint16_t idx = s.next_desc;
            s.next_desc = uint16_t((s.next_desc + 1) % kSize);
            uint8_t* d = host(s.desc + 16ull * idx);
            uint16_t flags = uint16_t((i + 1 < bufs.size() ? 1 : 0) | (bufs[i].writable ? 2 : 0));
            std::memcpy(d, &bufs[i].gpa, 8);
            std::memcpy(d + 8, &bufs[i].len, 4);
            std::memcpy(d + 12, &flags, 2);
            std::memcpy(d + 14, &s.next_desc, 2);
        }
        repost(q, head);
        return head;
    }
    // Puts a head into queue q's avail ring (again).
    void repost(unsigned q, uint16_t head) {
        State& s = st[q];
        std::memcpy(host(s.avail + 4 + 2ull * (s.avail_idx % kSize)), &head, 2);
        ++s.avail_idx;
        std::memcpy(host(s.avail + 2), &s.avail_idx, 2);
    }
    struct Used {
        uint32_t id, len;
    };
    std::optional<Used> used(unsigned q) {
        State& s = st[q];
        uint16_t idx;
        std::memcpy(&idx, host(s.used + 2), 2);
        if (idx == s.used_seen) return std::nullopt;
        Used u;
        std::memcpy(&u, host(s.used + 4 + 8ull * (s.used_seen % kSize)), 8);
        ++s.used_seen;
        return u;
    }
};

struct FakeInterrupt : VirtioInterrupt {
    int used = 0, config = 0, needs_reset = 0;
    void signal_used_queue(uint16_t) override { ++used; }
    void signal_config_changed() override { ++config; }
    void signal_needs_reset() override { ++needs_reset; }
};

struct FakeWorker : VirtioWorker {
    std::map<int, std::function<void()>> fds;
    void add_fd(int fd, std::function<void()> cb) override { fds[fd] = std::move(cb); }
    void remove_fd(int fd) override { fds.erase(fd); }
};

}  // namespace khyve::test
