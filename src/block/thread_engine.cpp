// Fallback engine: one worker thread per backend. Requests run in FIFO order,
// which also keeps a FLUSH behind the writes submitted before it.
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "block/io_engine.h"
#include "sandbox/seccomp.h"

namespace khyve {

int64_t run_step_sync(int fd, const BlockStep& s) {
    ssize_t r = -1;
    switch (s.kind) {
        case BlockStep::kReadv:
            r = ::preadv(fd, s.iov, static_cast<int>(s.iovcnt), static_cast<off_t>(s.offset));
            break;
        case BlockStep::kWritev:
            r = ::pwritev2(fd, s.iov, static_cast<int>(s.iovcnt), static_cast<off_t>(s.offset),
                           s.rw_flags);
            break;
        case BlockStep::kFdatasync:
            r = ::fdatasync(fd);
            break;
        case BlockStep::kFallocate:
            r = ::fallocate(fd, s.mode, static_cast<off_t>(s.offset), static_cast<off_t>(s.len));
            break;
    }
    return r < 0 ? -int64_t(errno) : int64_t(r);
}

namespace {

class ThreadEngine final : public IoEngine {
public:
    ThreadEngine(int fd, IoDoneFn done, StepRunner runner)
        : fd_(fd), done_(std::move(done)), run_(runner ? std::move(runner) : StepRunner(run_step_sync)) {
        worker_ = std::thread([this] { run(); });
    }
    ~ThreadEngine() override {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_one();
        worker_.join();
    }

    void submit(std::unique_ptr<BlockOp> op) override {
        {
            std::lock_guard lk(mu_);
            queue_.push_back(std::move(op));
        }
        cv_.notify_one();
    }
    void commit() override {}
    const char* name() const override { return "thread"; }

private:
    void run() {
        enter_thread_sandbox(ThreadKind::DeviceIo);
        std::unique_lock lk(mu_);
        for (;;) {
            cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stop_ and nothing left
            std::unique_ptr<BlockOp> op = std::move(queue_.front());
            queue_.pop_front();
            lk.unlock();
            while (!op->advance(run_(fd_, op->step()))) {
            }
            done_(std::move(op));
            lk.lock();
        }
    }

    int fd_;
    IoDoneFn done_;
    StepRunner run_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<BlockOp>> queue_;
    bool stop_ = false;
    std::thread worker_;
};

}  // namespace

std::unique_ptr<IoEngine> make_thread_engine(int fd, IoDoneFn done, StepRunner syscall) {
    return std::make_unique<ThreadEngine>(fd, std::move(done), std::move(syscall));
}

}  // namespace khyve
