// A raw image file or host block device behind virtio-blk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "block/block_backend.h"
#include "block/io_engine.h"
#include "common/fd.h"

namespace khyve {

struct SectorSizes {
    uint32_t logical = 0;
    uint32_t physical = 0;
};

// "L" or "L/P": powers of two, 512 <= L <= P <= 64 KiB. nullopt otherwise.
std::optional<SectorSizes> parse_sector_sizes(std::string_view text);

struct BlockOpenOptions {
    std::string path;
    bool read_only = false;
    bool nocache = false;   // bhyve "nocache": O_DIRECT, bypass the host page cache
    bool sync = false;      // bhyve "direct": O_SYNC, every write stable on completion
    SectorSizes sectors{};  // 0 = probe (BLKSSZGET/BLKPBSZGET, or 512 / st_blksize for files)
    enum class Engine { kAuto, kUring, kThread } engine = Engine::kAuto;
    // io_uring completions reaped by the caller (completion_fd() and
    // poll_completions()) instead of a completion thread. The thread engine
    // ignores it.
    bool caller_reaps = false;
    // Image locks (block/image_lock.h), QEMU's scheme: kDisk takes what
    // QEMU's virtio-blk takes on a guest disk (a writer excludes writers and
    // readers, a reader excludes writers), kImageFile what it takes on a
    // qcow2 image's file and its backing files (read, nobody writes),
    // kNone nothing (lock=off).
    enum class Lock { kDisk, kImageFile, kNone } lock = Lock::kDisk;
    // Tests only: with Engine::kThread, every system call goes through this
    // hook, so host failures (EIO on fdatasync, ENOSPC) can be injected.
    StepRunner syscall_hook;
};

class FileBackend final : public BlockBackend {
public:
    // Throws khyve::Error (missing file, not a file or block device, sector
    // sizes the device cannot honour, kUring requested but unavailable).
    static std::unique_ptr<FileBackend> open(const BlockOpenOptions& opts);
    ~FileBackend() override;

    uint64_t size() const override { return size_; }
    bool read_only() const override { return read_only_; }
    uint32_t logical_sector_size() const override { return sectors_.logical; }
    uint32_t physical_sector_size() const override { return sectors_.physical; }
    const char* engine_name() const { return engine_->name(); }

    void set_completion(BlockCompletionFn fn) override { completion_ = std::move(fn); }
    void set_write_through(bool on) override { write_through_ = on; }

    void read(uint64_t offset, std::span<const iovec> iov, uint64_t tag) override;
    void write(uint64_t offset, std::span<const iovec> iov, uint64_t tag) override;
    void flush(uint64_t tag) override;
    void discard(uint64_t offset, uint64_t len, uint64_t tag) override;
    void write_zeroes(uint64_t offset, uint64_t len, bool may_unmap, uint64_t tag) override;
    void commit() override { engine_->commit(); }
    int completion_fd() const override { return engine_->completion_fd(); }
    void poll_completions() override { engine_->reap(false); }
    void drain() override;

private:
    FileBackend() = default;
    void start(BlockOpParams p);
    void done(std::unique_ptr<BlockOp> op);
    void refuse(uint64_t tag, int err);

    Fd fd_;
    uint64_t size_ = 0;
    bool read_only_ = false;
    bool sync_ = false;
    SectorSizes sectors_{};
    size_t mem_align_ = 1;
    size_t len_align_ = 1;
    std::atomic<bool> write_through_{false};
    std::atomic<bool> flush_failed_{false};
    BlockCompletionFn completion_;
    std::unique_ptr<IoEngine> engine_;

    std::mutex inflight_mu_;
    std::condition_variable inflight_cv_;
    uint64_t inflight_ = 0;
};

}  // namespace khyve
