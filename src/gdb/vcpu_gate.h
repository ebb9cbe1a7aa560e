// Holds vCPU threads between two KVM_RUNs while the debugger has the guest
// stopped. gdb's all-stop model needs "every vCPU out of the guest" and "let
// only this one vCPU run one instruction"; the gate provides both without the
// vCPU threads knowing about gdb.
//
// Threading: checkpoint() and retire() on vCPU threads; everything else on
// any thread. request_pause() never blocks (a vCPU thread calls it while
// reporting a breakpoint).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace khyve::gdb {

class VcpuGate {
public:
    using Kick = std::function<void(unsigned vcpu)>;  // force the vCPU out of KVM_RUN

    VcpuGate(unsigned vcpus, Kick kick);

    // vCPU thread, right before each KVM_RUN. Returns at once unless the vCPU
    // must stay paused; while parked it calls serve() (pending run_on_vcpu
    // requests) on poke() and at least every `serve_interval`.
    void checkpoint(unsigned vcpu, const std::function<void()>& serve = {});
    // vCPU thread, when its loop ends: never waited for again.
    void retire(unsigned vcpu);

    void request_pause();
    // request_pause(), then wait until no vCPU is between checkpoint() and
    // its next checkpoint() (vCPUs not started yet count as paused).
    void pause_all();
    // Resume every vCPU, or only `only` (the others stay parked).
    void resume(std::optional<unsigned> only);
    // Wake parked vCPUs so they serve requests now (call from kick paths).
    void poke();
    // The machine is stopping: release everyone, never park again.
    void shutdown();

    bool paused() const;

    static constexpr std::chrono::milliseconds serve_interval{20};

private:
    enum class State { NotStarted, Running, Parked, Retired };
    bool must_wait(unsigned vcpu) const;

    mutable std::mutex mu_;
    std::condition_variable vcpu_cv_, parked_cv_;
    Kick kick_;
    std::vector<State> state_;
    bool paused_ = false;
    bool shutdown_ = false;
    std::optional<unsigned> only_;
};

}  // namespace khyve::gdb
