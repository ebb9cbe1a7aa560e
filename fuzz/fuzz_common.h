// Pieces the fuzz targets share: fake guest RAM that ASan can police (one
// heap block per region, so a byte past the end is caught) and virtio
// plumbing that only counts. The interrupt controller is the unit tests'
// (tests/unit/test_fakes.h).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "memory/guest_memory.h"
#include "virtio/virtio_device.h"
#include "test_fakes.h"

namespace khyve::fuzz {

// Guest RAM made of separate heap blocks at the given GPAs.
struct FakeRam {
    std::vector<std::vector<uint8_t>> blocks;
    GuestMemory mem;
    void add(uint64_t gpa, size_t size) {
        blocks.emplace_back(size);
        mem.add_region(gpa, size, blocks.back().data());
    }
    // Copies bytes into RAM at gpa, clipped to the region that holds gpa.
    void fill(uint64_t gpa, const uint8_t* p, size_t n) {
        if (n == 0) return;
        for (const auto& r : mem.regions()) {
            if (gpa < r.gpa || gpa >= r.gpa + r.size) continue;
            size_t room = size_t(r.gpa + r.size - gpa);
            std::memcpy(r.host + (gpa - r.gpa), p, n < room ? n : room);
            return;
        }
    }
};

struct CountingInterrupt : VirtioInterrupt {
    unsigned used = 0, config = 0, needs_reset = 0;
    void signal_used_queue(uint16_t) override { ++used; }
    void signal_config_changed() override { ++config; }
    void signal_needs_reset() override { ++needs_reset; }
};

// Runs the registered callbacks by hand instead of on a thread.
struct ManualWorker : VirtioWorker {
    std::map<int, std::function<void()>> fds;
    void add_fd(int fd, std::function<void()> cb) override { fds[fd] = std::move(cb); }
    void remove_fd(int fd) override { fds.erase(fd); }
    void run(int fd) {
        auto it = fds.find(fd);
        if (it != fds.end()) {
            auto cb = it->second;  // the callback may remove itself
            cb();
        }
    }
};

}  // namespace khyve::fuzz
