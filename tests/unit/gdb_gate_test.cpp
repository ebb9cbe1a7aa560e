#include "gdb/vcpu_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace khyve::gdb {
namespace {

using namespace std::chrono_literals;

// Fake vCPU threads: checkpoint, then "run" a little, counting iterations.
struct Vcpus {
    explicit Vcpus(unsigned n)
        : gate(n, [this](unsigned v) { kicks[v]++; }), counts(n), kicks(n), served(n) {
        for (unsigned v = 0; v < n; ++v)
            threads.emplace_back([this, v] {
                while (!stop) {
                    gate.checkpoint(v, [this, v] { served[v]++; });
                    counts[v]++;
                    std::this_thread::sleep_for(1ms);
                }
                gate.retire(v);
            });
    }
    ~Vcpus() {
        stop = true;
        gate.shutdown();
        for (auto& t : threads) t.join();
    }
    std::vector<uint64_t> snapshot() {
        std::vector<uint64_t> s;
        for (auto& c : counts) s.push_back(c.load());
        return s;
    }
    VcpuGate gate;
    std::vector<std::atomic<uint64_t>> counts, kicks, served;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
};

TEST(GdbGate, PauseHoldsEveryVcpuAndResumeReleases) {
    Vcpus v(3);
    std::this_thread::sleep_for(20ms);
    v.gate.pause_all();
    EXPECT_TRUE(v.gate.paused());
    auto a = v.snapshot();
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(v.snapshot(), a);
    // Parked threads still serve requests (run_on_vcpu keeps working).
    EXPECT_GT(v.served[0].load(), 0u);
    v.gate.resume(std::nullopt);
    EXPECT_FALSE(v.gate.paused());
    std::this_thread::sleep_for(50ms);
    auto b = v.snapshot();
    for (size_t i = 0; i < b.size(); ++i) EXPECT_GT(b[i], a[i]) << i;
}

TEST(GdbGate, ResumeOneLeavesOthersParked) {
    Vcpus v(3);
    v.gate.pause_all();
    auto a = v.snapshot();
    v.gate.resume(1u);
    std::this_thread::sleep_for(50ms);
    auto b = v.snapshot();
    EXPECT_EQ(b[0], a[0]);
    EXPECT_GT(b[1], a[1]);
    EXPECT_EQ(b[2], a[2]);
    // The stepping vCPU reports: request_pause from "its" side stops it too.
    v.gate.request_pause();
    v.gate.pause_all();
    auto c = v.snapshot();
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(v.snapshot(), c);
}

TEST(GdbGate, RequestPauseKicksRunningVcpus) {
    Vcpus v(2);
    std::this_thread::sleep_for(20ms);
    v.gate.request_pause();
    EXPECT_GE(v.kicks[0].load() + v.kicks[1].load(), 1u);
    v.gate.pause_all();
    v.gate.resume(std::nullopt);
}

TEST(GdbGate, NotStartedAndRetiredVcpusCountAsPaused) {
    VcpuGate gate(2, [](unsigned) {});
    gate.pause_all();  // nobody started: returns at once
    std::atomic<bool> passed{false};
    std::thread t([&] {
        gate.checkpoint(0);
        passed = true;
        gate.retire(0);
    });
    std::this_thread::sleep_for(30ms);
    EXPECT_FALSE(passed.load());  // started while paused: parked at once
    gate.resume(std::nullopt);
    t.join();
    EXPECT_TRUE(passed.load());
    gate.pause_all();  // vCPU 0 retired, 1 never started
    gate.shutdown();
    gate.checkpoint(1);  // never blocks after shutdown
}

}  // namespace
}  // namespace khyve::gdb
