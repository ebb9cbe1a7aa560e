// One backend request as a small state machine, shared by both I/O engines
// (io_uring and the fallback thread): step() describes the next system call,
// advance() takes its result. A request may need several steps: short
// transfers are resumed, O_DIRECT requests with unaligned guest buffers go
// through a bounded bounce buffer chunk by chunk (so a guest cannot make us
// allocate its whole request size), and write-zeroes falls back to writing
// zeros when the file system cannot fallocate.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "block/aligned_buffer.h"

namespace khyve {

enum class BlockOpKind { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };

struct BlockStep {
    enum Kind { kReadv, kWritev, kFdatasync, kFallocate } kind;
    const iovec* iov = nullptr;
    unsigned iovcnt = 0;
    uint64_t offset = 0;
    uint64_t len = 0;   // fallocate length
    int mode = 0;       // fallocate mode
    int rw_flags = 0;   // RWF_DSYNC for write-through writes
};

struct BlockOpParams {
    BlockOpKind kind;
    uint64_t tag = 0;
    uint64_t offset = 0;
    uint64_t len = 0;                // discard / write-zeroes length
    std::span<const iovec> iov{};    // read / write
    bool may_unmap = false;
    bool write_through = false;
    size_t mem_align = 1;            // O_DIRECT buffer alignment (1 = buffered I/O)
    size_t len_align = 1;            // O_DIRECT segment length alignment
};

class BlockOp {
public:
    static constexpr size_t kBounceMax = 4u << 20;
    static constexpr unsigned kMaxIov = 1024;  // IOV_MAX

    explicit BlockOp(const BlockOpParams& p);

    BlockOpKind kind() const { return kind_; }
    uint64_t tag() const { return tag_; }

    // The next system call to make. Only valid while !finished().
    const BlockStep& step();
    // Feeds the result of that call (>= 0 or -errno). Returns finished().
    bool advance(int64_t res);
    bool finished() const { return finished_; }
    int64_t result() const { return result_; }

private:
    void finish(int64_t r) {
        finished_ = true;
        result_ = r;
    }
    void build_data_step(bool is_write);
    void build_zero_step();
    void copy_guest(size_t at, uint8_t* dst, size_t n) const;
    void copy_to_guest(size_t at, const uint8_t* src, size_t n) const;

    BlockOpKind kind_;
    uint64_t tag_;
    uint64_t offset_;
    uint64_t total_ = 0;
    uint64_t done_ = 0;
    bool may_unmap_;
    bool write_through_;
    bool zero_fill_ = false;   // write-zeroes by writing zeros
    bool tried_punch_ = false;
    std::vector<iovec> iov_;
    std::vector<iovec> piece_;
    AlignedBuffer bounce_;
    BlockStep step_{};
    bool finished_ = false;
    int64_t result_ = 0;
};

}  // namespace khyve
