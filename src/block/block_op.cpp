#include "block/block_op.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace khyve {
namespace {

constexpr size_t kZeroChunk = 1u << 20;
constexpr unsigned kZeroIovs = 16;  // up to 16 MiB of zeros per step

// One shared, never written, page-aligned MiB of zeros.
const uint8_t* zero_chunk() {
    static const AlignedBuffer buf = [] {
        AlignedBuffer b(4096, kZeroChunk);
        if (b.data()) std::memset(b.data(), 0, b.size());
        return b;
    }();
    return buf.data();
}

bool unsupported(int64_t res) {
    return res == -EOPNOTSUPP || res == -ENOSYS || res == -ENODEV;
}

bool retryable(int64_t res) { return res == -EINTR || res == -EAGAIN; }

}  // namespace

BlockOp::BlockOp(const BlockOpParams& p)
    : kind_(p.kind),
      tag_(p.tag),
      offset_(p.offset),
      may_unmap_(p.may_unmap),
      write_through_(p.write_through) {
    if (kind_ == BlockOpKind::kRead || kind_ == BlockOpKind::kWrite) {
        iov_.assign(p.iov.begin(), p.iov.end());
        bool aligned = true;
        for (const auto& v : iov_) {
            total_ += v.iov_len;
            if (reinterpret_cast<uintptr_t>(v.iov_base) % p.mem_align || v.iov_len % p.len_align)
                aligned = false;
        }
        if (!aligned) {
            size_t len = static_cast<size_t>(std::min<uint64_t>(total_, kBounceMax));
            len = (len + p.mem_align - 1) / p.mem_align * p.mem_align;
            bounce_ = AlignedBuffer(std::max<size_t>(p.mem_align, 512), len);
            if (!bounce_.data()) finish(-ENOMEM);
        }
        if (total_ == 0) finish(0);
    } else if (kind_ == BlockOpKind::kDiscard || kind_ == BlockOpKind::kWriteZeroes) {
        total_ = p.len;
        if (total_ == 0) finish(0);
    }
}

void BlockOp::copy_guest(size_t at, uint8_t* dst, size_t n) const {
    for (const auto& v : iov_) {
        if (n == 0) break;
        if (at >= v.iov_len) {
            at -= v.iov_len;
            continue;
        }
        size_t c = std::min(n, v.iov_len - at);
        std::memcpy(dst, static_cast<const uint8_t*>(v.iov_base) + at, c);
        dst += c;
        n -= c;
        at = 0;
    }
}

void BlockOp::copy_to_guest(size_t at, const uint8_t* src, size_t n) const {
    for (const auto& v : iov_) {
        if (n == 0) break;
        if (at >= v.iov_len) {
            at -= v.iov_len;
            continue;
        }
        size_t c = std::min(n, v.iov_len - at);
        std::memcpy(static_cast<uint8_t*>(v.iov_base) + at, src, c);
        src += c;
        n -= c;
        at = 0;
    }
}

void BlockOp::build_data_step(bool is_write) {
    step_ = {};
    step_.kind = is_write ? BlockStep::kWritev : BlockStep::kReadv;
    step_.offset = offset_ + done_;
    step_.rw_flags = is_write && write_through_ ? RWF_DSYNC : 0;
    piece_.clear();
    if (bounce_.data()) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(total_ - done_, bounce_.size()));
        if (is_write) copy_guest(static_cast<size_t>(done_), bounce_.data(), n);
        piece_.push_back({bounce_.data(), n});
    } else {
        uint64_t skip = done_;
        for (const auto& v : iov_) {
            if (piece_.size() == kMaxIov) break;
            if (skip >= v.iov_len) {
                skip -= v.iov_len;
                continue;
            }
            piece_.push_back({static_cast<uint8_t*>(v.iov_base) + skip, v.iov_len - skip});
            skip = 0;
        }
    }
    step_.iov = piece_.data();
    step_.iovcnt = static_cast<unsigned>(piece_.size());
}

void BlockOp::build_zero_step() {
    step_ = {};
    step_.kind = BlockStep::kWritev;
    step_.offset = offset_ + done_;
    step_.rw_flags = write_through_ ? RWF_DSYNC : 0;
    piece_.clear();
    uint64_t left = total_ - done_;
    const uint8_t* z = zero_chunk();
    while (left && piece_.size() < kZeroIovs) {
        size_t c = static_cast<size_t>(std::min<uint64_t>(left, kZeroChunk));
        piece_.push_back({const_cast<uint8_t*>(z), c});
        left -= c;
    }
    step_.iov = piece_.data();
    step_.iovcnt = static_cast<unsigned>(piece_.size());
}

const BlockStep& BlockOp::step() {
    switch (kind_) {
        case BlockOpKind::kRead: build_data_step(false); break;
        case BlockOpKind::kWrite: build_data_step(true); break;
        case BlockOpKind::kFlush:
            step_ = {};
            step_.kind = BlockStep::kFdatasync;
            break;
        case BlockOpKind::kDiscard:
            step_ = {};
            step_.kind = BlockStep::kFallocate;
            step_.offset = offset_;
            step_.len = total_;
            step_.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
            break;
        case BlockOpKind::kWriteZeroes:
            if (zero_fill_) {
                build_zero_step();
                break;
            }
            step_ = {};
            step_.kind = BlockStep::kFallocate;
            step_.offset = offset_;
            step_.len = total_;
            if (may_unmap_ && !tried_punch_)
                step_.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
            else
                step_.mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
            break;
    }
    return step_;
}

bool BlockOp::advance(int64_t res) {
    if (finished_) return true;
    if (retryable(res)) return false;
    switch (kind_) {
        case BlockOpKind::kFlush:
            finish(res < 0 ? res : 0);
            break;
        case BlockOpKind::kDiscard:
            // Discard is a hint; a file system without hole punching still
            // completed the request correctly.
            finish(res < 0 && !unsupported(res) ? res : 0);
            break;
        case BlockOpKind::kWriteZeroes:
            if (!zero_fill_) {
                if (res >= 0) {
                    finish(0);
                } else if (unsupported(res) && may_unmap_ && !tried_punch_) {
                    tried_punch_ = true;
                } else if (unsupported(res)) {
                    zero_fill_ = true;
                } else {
                    finish(res);
                }
                break;
            }
            [[fallthrough]];
        case BlockOpKind::kRead:
        case BlockOpKind::kWrite:
            if (res < 0) {
                finish(res);
            } else if (res == 0) {
                finish(-EIO);  // end of file inside the checked capacity: the image shrank
            } else {
                uint64_t got = std::min<uint64_t>(static_cast<uint64_t>(res), total_ - done_);
                if (kind_ == BlockOpKind::kRead && bounce_.data())
                    copy_to_guest(static_cast<size_t>(done_), bounce_.data(), static_cast<size_t>(got));
                done_ += got;
                if (done_ == total_) finish(kind_ == BlockOpKind::kWriteZeroes ? 0 : int64_t(total_));
            }
            break;
    }
    return finished_;
}

}  // namespace khyve
