#include "virtio/device_worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "sandbox/seccomp.h"

namespace khyve {

DeviceWorker::DeviceWorker(std::string name, std::function<bool()> after_callback, FailureSink on_failure,
                           WaitFn wait)
    : name_(std::move(name)), after_(std::move(after_callback)), on_failure_(std::move(on_failure)), wait_(wait) {
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_.valid()) throw sys_error(name_ + ": epoll_create1");
    stop_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!stop_.valid()) throw sys_error(name_ + ": eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = stop_.get();
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, stop_.get(), &ev) != 0) throw sys_error(name_ + ": epoll_ctl");
}

DeviceWorker::~DeviceWorker() { stop(); }

void DeviceWorker::add_fd(int fd, std::function<void()> on_ready) {
    {
        // Before the fd is watched, so its first event finds the callback.
        std::lock_guard lk(mu_);
        cbs_[fd] = std::make_shared<std::function<void()>>(std::move(on_ready));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) != 0 &&
        (errno != EEXIST || ::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)) {
        Error e = sys_error(name_ + ": cannot watch fd " + std::to_string(fd) + " (epoll_ctl)");
        std::lock_guard lk(mu_);
        cbs_.erase(fd);
        throw e;
    }
}

void DeviceWorker::remove_fd(int fd) {
    // Not watched (ENOENT) or already closed (EBADF: epoll dropped it) is
    // fine: removing is idempotent.
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT && errno != EBADF)
        throw sys_error(name_ + ": cannot unwatch fd " + std::to_string(fd) + " (epoll_ctl)");
    std::lock_guard lk(mu_);
    cbs_.erase(fd);
}

void DeviceWorker::start() { thread_ = std::thread([this] { run(); }); }

void DeviceWorker::halt() noexcept {
    halted_ = true;
    const uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(stop_.get(), &one, sizeof one);
}

void DeviceWorker::stop() noexcept {
    halt();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
        try {
            thread_.join();
        } catch (...) {
        }
    }
}

void DeviceWorker::run() {
    run_guarded(name_ + " worker", on_failure_, [this] {
        enter_thread_sandbox(ThreadKind::DeviceIo);
        loop();
    });
}

void DeviceWorker::loop() {
    epoll_event evs[16];
    while (!halted_) {
        int n = wait_(ep_.get(), evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw sys_error("epoll_wait");
        }
        for (int i = 0; i < n && !halted_; ++i) {
            if (evs[i].data.fd == stop_.get()) return;
            std::shared_ptr<std::function<void()>> cb;
            {
                std::lock_guard lk(mu_);
                auto it = cbs_.find(evs[i].data.fd);
                if (it != cbs_.end()) cb = it->second;
            }
            if (!cb) continue;
            (*cb)();
            if (after_()) halted_ = true;
        }
    }
}

}  // namespace khyve
