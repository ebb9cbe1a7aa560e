// The verdict of a running machine: the first stop() wins, everyone else
// sees stopping() and winds down; the main thread waits for it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "platform/exit_result.h"

namespace khyve {

class Lifecycle {
public:
    void stop(ExitResult r) {
        {
            std::lock_guard lk(mu_);
            if (verdict_) return;
            verdict_ = std::move(r);
            stopping_.store(true, std::memory_order_release);
        }
        cv_.notify_all();
    }
    bool stopping() const { return stopping_.load(std::memory_order_acquire); }
    // The verdict, or nullopt if none arrived within `timeout`.
    std::optional<ExitResult> wait_for(std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, timeout, [&] { return verdict_.has_value(); });
        return verdict_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<ExitResult> verdict_;
    std::atomic<bool> stopping_{false};
};

}  // namespace khyve
