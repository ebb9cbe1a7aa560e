// A qcow2 image (and its backing chain) behind virtio-blk, read-only.
//
// A guest read is split into cluster runs through qcow2::Image::map():
//   data        -> a read of the host file, on that file's own FileBackend
//                  (io_uring or the thread engine, as for raw images; runs
//                  contiguous in the host file are merged into one request)
//   zero        -> zeros, written into the guest buffer at once
//   unallocated -> the same range of the backing image (recursively), or
//                  zeros without one or past the backing image's end
//   compressed  -> decompressed synchronously on the submitting thread (the
//                  last cluster of each image is kept, so a cluster read in
//                  pieces is inflated once); a later step may move this off
//                  the device worker
// The guest request completes exactly once, when its last host read did,
// with the first error any of them had; a hostile mapping fails the request
// with -EIO before any host read is submitted.
//
// Completions follow the inner FileBackends: with caller_reaps (virtio-blk),
// completion_fd() is an epoll fd over every image file's completion fd, and
// poll_completions() reaps them all on the caller's thread.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "block/block_backend.h"
#include "block/file_backend.h"
#include "common/fd.h"
#include "image/qcow2.h"

namespace khyve {

class Qcow2Backend final : public BlockBackend {
public:
    // Images in a chain, the top one included.
    static constexpr size_t kMaxChain = 16;

    // Opens o.path as qcow2 and its backing chain, all read-only. o.read_only
    // must be set (qcow2 writes do not exist yet): otherwise, and for any
    // invalid image in the chain, throws khyve::Error with one line.
    static std::unique_ptr<Qcow2Backend> open(const BlockOpenOptions& o);
    ~Qcow2Backend() override;

    uint64_t size() const override { return size_; }
    bool read_only() const override { return true; }
    uint32_t logical_sector_size() const override { return layers_[0].data->logical_sector_size(); }
    uint32_t physical_sector_size() const override { return layers_[0].data->physical_sector_size(); }

    void set_completion(BlockCompletionFn fn) override { completion_ = std::move(fn); }
    void set_write_through(bool) override {}

    void read(uint64_t offset, std::span<const iovec> iov, uint64_t tag) override;
    void write(uint64_t, std::span<const iovec>, uint64_t tag) override { complete(tag, -EROFS); }
    void flush(uint64_t tag) override { complete(tag, 0); }
    void discard(uint64_t, uint64_t, uint64_t tag) override { complete(tag, -EROFS); }
    void write_zeroes(uint64_t, uint64_t, bool, uint64_t tag) override { complete(tag, -EROFS); }
    void commit() override;
    int completion_fd() const override { return epoll_.valid() ? epoll_.get() : -1; }
    void poll_completions() override;
    void drain() override;

    // For tests and messages: the chain, top first ("qcow2" or "raw" each).
    size_t chain_length() const { return layers_.size(); }
    const char* layer_format(size_t i) const { return layers_[i].img ? "qcow2" : "raw"; }
    qcow2::Image* layer_image(size_t i) const { return layers_[i].img.get(); }

    class IovCursor;  // walks a guest iovec array by byte position

private:
    struct Layer {
        std::string path;
        std::unique_ptr<qcow2::Image> img;  // nullptr: a raw image
        std::unique_ptr<FileBackend> data;  // reads of the host file
        uint64_t size = 0;                  // what the layer shows: virtual size, or file size if raw
        uint64_t file_size = 0;             // the host file; data past it reads as zeros
        uint64_t zcluster_host = UINT64_MAX;  // the compressed cluster held in zcluster
        std::vector<uint8_t> zcluster;
    };
    // A host read to submit: [pos, pos+len) of the guest buffer from host of layer.
    struct Piece {
        size_t layer;
        uint64_t host;
        uint64_t pos;
        uint64_t len;
    };
    struct Parent {
        uint64_t tag;
        int64_t bytes;
        std::atomic<size_t> pending;
        std::atomic<int64_t> error{0};
    };
    Qcow2Backend() = default;
    void complete(uint64_t tag, int64_t r) {
        if (completion_) completion_(tag, r);
    }
    // Fills zero and compressed runs of [off, off+len) of layer i into the
    // guest buffer at pos and appends the host reads; 0 or -errno.
    int resolve(size_t i, uint64_t off, uint64_t len, uint64_t pos, IovCursor& fill, std::vector<Piece>& out);
    void add_data(size_t i, uint64_t host, uint64_t len, uint64_t pos, IovCursor& fill, std::vector<Piece>& out);
    void sub_done(Parent* p, int64_t r);

    std::vector<Layer> layers_;
    uint64_t size_ = 0;
    BlockCompletionFn completion_;
    Fd epoll_;
};

// How virtio-blk's format= option reads.
enum class ImageFormat { kProbe, kRaw, kQcow2 };
std::optional<ImageFormat> parse_image_format(std::string_view text);

// Opens a disk image for virtio-blk: FileBackend for raw, Qcow2Backend for
// qcow2. With kProbe the format comes from the first bytes (see the rule in
// image/qcow2_backend.cpp and docs/ARCHITECTURE.md). Throws khyve::Error.
std::unique_ptr<BlockBackend> open_disk_image(const BlockOpenOptions& o, ImageFormat format);

}  // namespace khyve
