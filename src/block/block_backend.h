// The storage behind a virtio-blk device, kept apart from the device (bhyve's
// block_if split): the device parses guest requests and checks them; the
// backend moves bytes between host memory and the image, asynchronously.
//
// Every submission completes exactly once through the completion function
// set with set_completion(), with the caller's tag and a result: >= 0 on
// success (bytes moved for read/write, 0 otherwise), -errno on failure. The
// completion may run on a backend thread or, for requests refused before they
// reach the kernel, inline inside the submit call: callers must not hold a
// lock across a submit that the completion also takes.
//
// Submissions may be queued until commit(), so a device handling a burst of
// chains pays one system call. The iovecs passed in are copied; the memory
// they point to must stay valid until the completion.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <span>

namespace khyve {

using BlockCompletionFn = std::function<void(uint64_t tag, int64_t result)>;

class BlockBackend {
public:
    virtual ~BlockBackend() = default;

    virtual uint64_t size() const = 0;  // bytes
    virtual bool read_only() const = 0;
    virtual uint32_t logical_sector_size() const = 0;
    virtual uint32_t physical_sector_size() const = 0;

    virtual void set_completion(BlockCompletionFn fn) = 0;

    // Write-through: every write is stable before it completes. The device
    // turns this on when the driver cannot flush (FLUSH not negotiated) or
    // chose writeback = 0 (CONFIG_WCE).
    virtual void set_write_through(bool on) = 0;

    virtual void read(uint64_t offset, std::span<const iovec> iov, uint64_t tag) = 0;
    virtual void write(uint64_t offset, std::span<const iovec> iov, uint64_t tag) = 0;
    // Completes only after fdatasync succeeded. Once one flush has failed,
    // every later flush fails too (the kernel forgets the lost pages, so a
    // second fdatasync would lie).
    virtual void flush(uint64_t tag) = 0;
    // A hint: the range may be deallocated; completes 0 where unsupported.
    virtual void discard(uint64_t offset, uint64_t len, uint64_t tag) = 0;
    // The range reads as zeros afterwards; may_unmap lets it be deallocated.
    virtual void write_zeroes(uint64_t offset, uint64_t len, bool may_unmap, uint64_t tag) = 0;

    // Hands queued submissions to the kernel.
    virtual void commit() {}
    // Backends whose completions are reaped by the caller's event loop (opened
    // that way): an fd that turns readable when poll_completions() has work;
    // completions then run inside poll_completions() or drain(), on the
    // caller's thread. -1: completions come from a backend thread.
    virtual int completion_fd() const { return -1; }
    virtual void poll_completions() {}
    // Blocks until every submitted request has completed (device reset, teardown).
    virtual void drain() = 0;
};

}  // namespace khyve
