#include "block/file_backend.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cstdio>

#include "block/image_lock.h"
#include "common/error.h"
#include "common/size.h"

namespace khyve {

// Direct I/O alignment from statx(STATX_DIOALIGN); separate file because the
// kernel's struct statx clashes with glibc's <sys/stat.h>.
bool query_dio_align(int fd, uint32_t* mem_align, uint32_t* offset_align);

namespace {

bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

}  // namespace

std::optional<SectorSizes> parse_sector_sizes(std::string_view text) {
    auto slash = text.find('/');
    auto l = parse_u64(text.substr(0, slash));
    std::optional<uint64_t> p = l;
    if (slash != std::string_view::npos) p = parse_u64(text.substr(slash + 1));
    if (!l || !p) return std::nullopt;
    if (!pow2(*l) || !pow2(*p) || *l < 512 || *p < *l || *p > 65536) return std::nullopt;
    return SectorSizes{static_cast<uint32_t>(*l), static_cast<uint32_t>(*p)};
}

std::unique_ptr<FileBackend> FileBackend::open(const BlockOpenOptions& o) {
    std::unique_ptr<FileBackend> b(new FileBackend());
    int extra = O_CLOEXEC | (o.nocache ? O_DIRECT : 0) | (o.sync ? O_SYNC : 0);
    b->read_only_ = o.read_only;
    int fd = ::open(o.path.c_str(), (o.read_only ? O_RDONLY : O_RDWR) | extra);
    if (fd < 0 && !o.read_only && (errno == EROFS || errno == EACCES || errno == EPERM)) {
        // bhyve's behaviour: an image we may only read is attached read-only.
        fd = ::open(o.path.c_str(), O_RDONLY | extra);
        if (fd >= 0) {
            std::fprintf(stderr, "khyve: %s: opened read-only\n", o.path.c_str());
            b->read_only_ = true;
        }
    }
    if (fd < 0) throw sys_error("virtio-blk: open " + o.path);
    b->fd_.reset(fd);
    b->sync_ = o.sync;

    struct stat st{};
    if (::fstat(fd, &st) < 0) throw sys_error("virtio-blk: fstat " + o.path);
    SectorSizes native{512, 512};
    if (S_ISREG(st.st_mode)) {
        b->size_ = static_cast<uint64_t>(st.st_size);
        if (pow2(uint64_t(st.st_blksize)) && st.st_blksize >= 512 && st.st_blksize <= 65536)
            native.physical = static_cast<uint32_t>(st.st_blksize);
    } else if (S_ISBLK(st.st_mode)) {
        uint64_t bytes = 0;
        int lss = 0;
        unsigned int pss = 0;
        if (::ioctl(fd, BLKGETSIZE64, &bytes) < 0) throw sys_error("virtio-blk: BLKGETSIZE64 " + o.path);
        if (::ioctl(fd, BLKSSZGET, &lss) == 0 && lss >= 512 && pow2(unsigned(lss))) native.logical = unsigned(lss);
        if (::ioctl(fd, BLKPBSZGET, &pss) == 0 && pss >= native.logical && pow2(pss)) native.physical = pss;
        if (native.physical < native.logical) native.physical = native.logical;
        b->size_ = bytes;
    } else {
        throw Error("virtio-blk: " + o.path + " is neither a regular file nor a block device");
    }

    // Locked here, at open on the main thread: the OFD locks last as long as
    // the fd, so no filtered thread ever makes a lock call.
    if (o.lock != BlockOpenOptions::Lock::kNone) {
        try {
            lock_image(fd, o.path,
                       o.lock == BlockOpenOptions::Lock::kImageFile ? image_file_perms()
                                                                    : guest_disk_perms(b->read_only_));
        } catch (const Error& e) {
            throw Error(std::string("virtio-blk: ") + e.what());
        }
    }

    b->sectors_ = native;
    if (o.sectors.logical) {
        b->sectors_ = o.sectors;
        if (S_ISBLK(st.st_mode) && o.sectors.logical % native.logical)
            throw Error("virtio-blk: " + o.path + ": sectorsize " + std::to_string(o.sectors.logical) +
                        " is not a multiple of the device's " + std::to_string(native.logical));
    }

    if (o.nocache) {
        uint32_t mem = 0, off = 0;
        if (!query_dio_align(fd, &mem, &off)) {
            mem = 4096;  // conservative when the kernel cannot tell
            off = S_ISBLK(st.st_mode) ? native.logical : 512;
        }
        if (off == 0) throw Error("virtio-blk: " + o.path + ": the file system does not support nocache (O_DIRECT)");
        if (b->sectors_.logical % off)
            throw Error("virtio-blk: " + o.path + ": nocache needs sectorsize >= " + std::to_string(off));
        b->mem_align_ = mem ? mem : 1;
        b->len_align_ = off;
    }

    auto done = [raw = b.get()](std::unique_ptr<BlockOp> op) { raw->done(std::move(op)); };
    if (o.syscall_hook && o.engine != BlockOpenOptions::Engine::kThread)
        throw Error("virtio-blk: syscall_hook needs the thread engine");
    if (o.engine != BlockOpenOptions::Engine::kThread) b->engine_ = make_uring_engine(fd, done, o.caller_reaps);
    if (!b->engine_) {
        if (o.engine == BlockOpenOptions::Engine::kUring)
            throw Error("virtio-blk: io_uring is unavailable");
        if (o.engine == BlockOpenOptions::Engine::kAuto)
            std::fprintf(stderr, "khyve: virtio-blk: %s: no restricted io_uring on this kernel, block I/O on a thread\n",
                         o.path.c_str());
        b->engine_ = make_thread_engine(fd, done, o.syscall_hook);
    }
    return b;
}

FileBackend::~FileBackend() {
    if (engine_) drain();
    engine_.reset();  // joins the engine thread before the fd closes
}

void FileBackend::refuse(uint64_t tag, int err) {
    if (completion_) completion_(tag, -err);
}

void FileBackend::start(BlockOpParams p) {
    p.write_through = write_through_ || sync_;
    p.mem_align = mem_align_;
    p.len_align = len_align_;
    std::unique_ptr<BlockOp> op;
    try {
        op = std::make_unique<BlockOp>(p);
    } catch (const std::bad_alloc&) {
        refuse(p.tag, ENOMEM);
        return;
    }
    {
        std::lock_guard lk(inflight_mu_);
        ++inflight_;
    }
    if (op->finished()) {
        done(std::move(op));
        return;
    }
    engine_->submit(std::move(op));
}

void FileBackend::done(std::unique_ptr<BlockOp> op) {
    int64_t r = op->result();
    if (op->kind() == BlockOpKind::kFlush) {
        if (r < 0) flush_failed_ = true;
        // A flush that raced with a failing one must not report success.
        if (flush_failed_) r = -EIO;
    }
    uint64_t tag = op->tag();
    op.reset();
    if (completion_) completion_(tag, r);
    {
        std::lock_guard lk(inflight_mu_);
        --inflight_;
    }
    inflight_cv_.notify_all();
}

void FileBackend::drain() {
    engine_->commit();
    std::unique_lock lk(inflight_mu_);
    if (engine_->completion_fd() >= 0) {
        // Nobody else reaps: do it here until nothing is in flight.
        while (inflight_) {
            lk.unlock();
            engine_->reap(true);
            lk.lock();
        }
        return;
    }
    inflight_cv_.wait(lk, [this] { return inflight_ == 0; });
}

void FileBackend::read(uint64_t offset, std::span<const iovec> iov, uint64_t tag) {
    start({.kind = BlockOpKind::kRead, .tag = tag, .offset = offset, .iov = iov});
}

void FileBackend::write(uint64_t offset, std::span<const iovec> iov, uint64_t tag) {
    if (read_only_) return refuse(tag, EROFS);
    start({.kind = BlockOpKind::kWrite, .tag = tag, .offset = offset, .iov = iov});
}

void FileBackend::flush(uint64_t tag) {
    if (flush_failed_) return refuse(tag, EIO);
    if (read_only_) return refuse(tag, 0);
    start({.kind = BlockOpKind::kFlush, .tag = tag});
}

void FileBackend::discard(uint64_t offset, uint64_t len, uint64_t tag) {
    if (read_only_) return refuse(tag, EROFS);
    start({.kind = BlockOpKind::kDiscard, .tag = tag, .offset = offset, .len = len});
}

void FileBackend::write_zeroes(uint64_t offset, uint64_t len, bool may_unmap, uint64_t tag) {
    if (read_only_) return refuse(tag, EROFS);
    start({.kind = BlockOpKind::kWriteZeroes, .tag = tag, .offset = offset, .len = len,
           .may_unmap = may_unmap});
}

}  // namespace khyve
