// io_uring engine: the submitting thread (the virtio transport's queue worker)
// prepares SQEs and commit()s them in one io_uring_enter. Completions are
// reaped either by a completion thread per backend or, with caller_reaps, by
// the owner's event loop through an eventfd registered with the ring (no
// thread hop between the CQE and the used ring). The reaper resubmits the
// next step of multi-step ops and hands finished ones to the backend.
// The ring can do nothing but the block operations (block/uring_ring.h).
// Submissions may come from two threads (the queue worker and the completion
// thread), so the SQ side takes a mutex; the CQ side has a single reader and
// takes none.
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <thread>

#include "block/io_engine.h"
#include "block/uring_ring.h"
#include "common/fd.h"
#include "sandbox/seccomp.h"

namespace khyve {
namespace {

constexpr unsigned kRingEntries = 256;

class UringEngine final : public IoEngine {
public:
    UringEngine(int fd, IoDoneFn done) : fd_(fd), done_(std::move(done)) {}
    bool init(bool caller_reaps) {
        if (caller_reaps) {
            cq_event_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
            if (!cq_event_.valid()) return false;
        }
        if (setup_block_ring(&ring_, kRingEntries, cq_event_.get()) < 0) return false;
        ring_ready_ = true;
        if (!caller_reaps) worker_ = std::thread([this] { reap_thread(); });
        return true;
    }
    ~UringEngine() override {
        if (!worker_.joinable()) {
            if (ring_ready_) io_uring_queue_exit(&ring_);
            return;
        }
        {
            std::lock_guard lk(mu_);
            io_uring_sqe* sqe = get_sqe_locked();
            if (sqe) {
                io_uring_prep_nop(sqe);
                io_uring_sqe_set_data64(sqe, 0);  // 0 is the stop token
                io_uring_submit(&ring_);
            }
        }
        worker_.join();
        io_uring_queue_exit(&ring_);
    }

    void submit(std::unique_ptr<BlockOp> op) override {
        std::unique_lock lk(mu_);
        if (!prep_locked(op)) {
            lk.unlock();
            op->advance(-EIO);
            done_(std::move(op));
            return;
        }
        ++pending_;
        if (pending_ >= kRingEntries / 2) flush_locked();
    }
    void commit() override {
        std::lock_guard lk(mu_);
        flush_locked();
    }
    const char* name() const override { return "io_uring"; }
    int completion_fd() const override { return cq_event_.get(); }
    void reap(bool wait) override {
        if (!cq_event_.valid()) return;
        // The eventfd is cleared before the CQ is read: a CQE posted after the
        // last peek signals it again, so none waits unnoticed.
        uint64_t v;
        if (::read(cq_event_.get(), &v, sizeof v) < 0) { /* EAGAIN: nothing signalled */ }
        io_uring_cqe* cqe = nullptr;
        if (wait) {
            int r;
            do r = io_uring_wait_cqe(&ring_, &cqe);
            while (r == -EINTR);
            if (r < 0) return;
        }
        while (io_uring_peek_cqe(&ring_, &cqe) == 0) complete(cqe);
    }

private:
    io_uring_sqe* get_sqe_locked() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (!sqe) {
            io_uring_submit(&ring_);
            pending_ = 0;
            sqe = io_uring_get_sqe(&ring_);
        }
        return sqe;
    }
    void flush_locked() {
        if (pending_) io_uring_submit(&ring_);
        pending_ = 0;
    }
    // Puts op's next step on the ring. On success the ring holds the op: it
    // is released into the SQE's user_data and adopted back from the CQE in
    // complete(), the one place a raw BlockOp pointer exists. On failure op
    // stays with the caller.
    bool prep_locked(std::unique_ptr<BlockOp>& op) {
        io_uring_sqe* sqe = get_sqe_locked();
        if (!sqe) return false;
        const BlockStep& s = op->step();
        switch (s.kind) {
            case BlockStep::kReadv:
                io_uring_prep_readv(sqe, fd_, s.iov, s.iovcnt, s.offset);
                break;
            case BlockStep::kWritev:
                io_uring_prep_writev2(sqe, fd_, s.iov, s.iovcnt, s.offset, s.rw_flags);
                break;
            case BlockStep::kFdatasync:
                io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
                break;
            case BlockStep::kFallocate:
                io_uring_prep_fallocate(sqe, fd_, s.mode, static_cast<off_t>(s.offset),
                                        static_cast<off_t>(s.len));
                break;
        }
        io_uring_sqe_set_data(sqe, op.release());
        return true;
    }

    void reap_thread() {
        enter_thread_sandbox(ThreadKind::DeviceIo);
        for (;;) {
            io_uring_cqe* cqe = nullptr;
            int r = io_uring_wait_cqe(&ring_, &cqe);
            if (r == -EINTR) continue;
            if (r < 0) return;  // the ring is unusable; the destructor still joins
            if (!complete(cqe)) return;
        }
    }

    // One CQE: the op is done, or its next step goes out at once. false for
    // the stop token.
    bool complete(io_uring_cqe* cqe) {
        std::unique_ptr<BlockOp> op(static_cast<BlockOp*>(io_uring_cqe_get_data(cqe)));
        int res = cqe->res;
        io_uring_cqe_seen(&ring_, cqe);
        if (!op) return false;
        if (op->advance(res)) {
            done_(std::move(op));
            return true;
        }
        std::unique_lock lk(mu_);
        if (prep_locked(op)) {
            ++pending_;
            flush_locked();
            return true;
        }
        lk.unlock();
        op->advance(-EIO);
        done_(std::move(op));
        return true;
    }

    int fd_;
    IoDoneFn done_;
    io_uring ring_{};
    bool ring_ready_ = false;
    Fd cq_event_;  // caller_reaps: signalled for every CQE
    std::mutex mu_;
    unsigned pending_ = 0;
    std::thread worker_;
};

}  // namespace

std::unique_ptr<IoEngine> make_uring_engine(int fd, IoDoneFn done, bool caller_reaps) {
    auto e = std::make_unique<UringEngine>(fd, std::move(done));
    if (!e->init(caller_reaps)) return nullptr;
    return e;
}

}  // namespace khyve
