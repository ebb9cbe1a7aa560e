// A statistics counter: bumped on hot paths (vCPU exits, virtqueue work) from
// one thread, read now and then from the control thread. Relaxed atomics are
// enough: nobody orders other memory by a counter, and a reader only needs
// each value to be a value the counter really had.
#pragma once

#include <atomic>
#include <cstdint>

namespace khyve {

class Counter {
public:
    Counter() = default;
    // Copying takes the current value, so structs of counters stay copyable
    // (a Queue moved into a vector keeps its count).
    Counter(const Counter& o) noexcept : v_(o.get()) {}
    Counter& operator=(const Counter& o) noexcept {
        v_.store(o.get(), std::memory_order_relaxed);
        return *this;
    }

    void add(uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    Counter& operator++() noexcept {
        add(1);
        return *this;
    }
    uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }
    void reset() noexcept { v_.store(0, std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

}  // namespace khyve
