#include "gdb/vcpu_gate.h"

namespace khyve::gdb {

VcpuGate::VcpuGate(unsigned vcpus, Kick kick) : kick_(std::move(kick)), state_(vcpus, State::NotStarted) {}

bool VcpuGate::must_wait(unsigned vcpu) const {
    return !shutdown_ && paused_ && !(only_ && *only_ == vcpu);
}

void VcpuGate::checkpoint(unsigned vcpu, const std::function<void()>& serve) {
    std::unique_lock lk(mu_);
    if (vcpu >= state_.size()) return;
    while (must_wait(vcpu)) {
        if (state_[vcpu] != State::Parked) {
            state_[vcpu] = State::Parked;
            parked_cv_.notify_all();
        }
        vcpu_cv_.wait_for(lk, serve_interval);
        if (serve) {
            lk.unlock();
            serve();
            lk.lock();
        }
    }
    state_[vcpu] = State::Running;
}

void VcpuGate::retire(unsigned vcpu) {
    std::lock_guard lk(mu_);
    if (vcpu >= state_.size()) return;
    state_[vcpu] = State::Retired;
    parked_cv_.notify_all();
}

void VcpuGate::request_pause() {
    std::vector<unsigned> running;
    {
        std::lock_guard lk(mu_);
        if (shutdown_) return;
        paused_ = true;
        only_.reset();
        for (unsigned i = 0; i < state_.size(); ++i)
            if (state_[i] == State::Running) running.push_back(i);
    }
    // Outside the lock: a kick may take the vCPU's own locks.
    for (unsigned v : running) kick_(v);
}

void VcpuGate::pause_all() {
    request_pause();
    std::unique_lock lk(mu_);
    parked_cv_.wait(lk, [&] {
        if (shutdown_) return true;
        for (State s : state_)
            if (s == State::Running) return false;
        return true;
    });
}

void VcpuGate::resume(std::optional<unsigned> only) {
    {
        std::lock_guard lk(mu_);
        paused_ = only.has_value();
        only_ = only;
    }
    vcpu_cv_.notify_all();
}

void VcpuGate::poke() { vcpu_cv_.notify_all(); }

void VcpuGate::shutdown() {
    {
        std::lock_guard lk(mu_);
        shutdown_ = true;
        paused_ = false;
        only_.reset();
    }
    vcpu_cv_.notify_all();
    parked_cv_.notify_all();
}

bool VcpuGate::paused() const {
    std::lock_guard lk(mu_);
    return paused_;
}

}  // namespace khyve::gdb
