// How a FileBackend hands BlockOp steps to the kernel: io_uring when the
// kernel and the seccomp policy allow it, else one worker thread making the
// same calls synchronously (preadv/pwritev2/fdatasync/fallocate).
#pragma once

#include <functional>
#include <memory>

#include "block/block_op.h"

namespace khyve {

// Called once per op, when op->finished(), on an engine thread or inline in
// submit(). Takes ownership of the op.
using IoDoneFn = std::function<void(BlockOp*)>;

class IoEngine {
public:
    virtual ~IoEngine() = default;
    // op is unfinished; the engine owns it until it passes it to done.
    virtual void submit(BlockOp* op) = 0;
    virtual void commit() = 0;
    virtual const char* name() const = 0;
};

// nullptr when io_uring is unavailable (ENOSYS, EPERM from seccomp, ...).
std::unique_ptr<IoEngine> make_uring_engine(int fd, IoDoneFn done);
// syscall, when set, replaces run_step_sync (tests inject host errors with it).
using StepRunner = std::function<int64_t(int fd, const BlockStep&)>;
std::unique_ptr<IoEngine> make_thread_engine(int fd, IoDoneFn done, StepRunner syscall = {});

// Runs one step with plain system calls: >= 0 or -errno.
int64_t run_step_sync(int fd, const BlockStep& s);

}  // namespace khyve
