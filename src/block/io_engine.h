// How a FileBackend hands BlockOp steps to the kernel: io_uring when the
// kernel and the seccomp policy allow it, else one worker thread making the
// same calls synchronously (preadv/pwritev2/fdatasync/fallocate).
#pragma once

#include <functional>
#include <memory>

#include "block/block_op.h"

namespace khyve {

// Called once per op, when op->finished(), on an engine thread or inline in
// submit(), and given the op.
using IoDoneFn = std::function<void(std::unique_ptr<BlockOp>)>;

class IoEngine {
public:
    virtual ~IoEngine() = default;
    // op is unfinished; the engine holds it until it passes it to done.
    virtual void submit(std::unique_ptr<BlockOp> op) = 0;
    virtual void commit() = 0;
    virtual const char* name() const = 0;
    // Engines reaped by their owner's event loop: an fd that turns readable
    // when reap() has completions to hand out; -1 for engines that complete
    // on a thread of their own (reap() then does nothing).
    virtual int completion_fd() const { return -1; }
    // Hands every ready completion to done on the calling thread; with wait,
    // first blocks until at least one is ready. Only one thread reaps.
    virtual void reap(bool /*wait*/) {}
};

// nullptr when io_uring is unavailable (ENOSYS, EPERM from seccomp, ...).
// caller_reaps: no completion thread; the owner polls completion_fd() and
// calls reap() (a virtio-blk worker then submits and completes on one thread).
std::unique_ptr<IoEngine> make_uring_engine(int fd, IoDoneFn done, bool caller_reaps = false);
// syscall, when set, replaces run_step_sync (tests inject host errors with it).
using StepRunner = std::function<int64_t(int fd, const BlockStep&)>;
std::unique_ptr<IoEngine> make_thread_engine(int fd, IoDoneFn done, StepRunner syscall = {});

// Runs one step with plain system calls: >= 0 or -errno.
int64_t run_step_sync(int fd, const BlockStep& s);

}  // namespace khyve
