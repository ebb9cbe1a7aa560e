// A qcow2 image file, read side: the header parsed and validated once at
// open, the active L1 table in memory, L2 tables through a small LRU cache,
// and map(), which tells where one guest byte lives in the host file.
//
// The image is treated as hostile input. Everything the header says is
// checked at open (one khyve::Error naming the image and the reason); every
// L2 entry is checked when it is used, and a bad one (a host offset past the
// end of the file or not cluster aligned, a reserved combination of flags)
// maps to kError, which the backend turns into -EIO for that request. No
// read ever goes outside the file.
//
// Format: QEMU's docs/interop/qcow2.txt, versions 2 and 3. Not supported
// (refused at open): encryption, external data files, extended L2 entries
// (subclusters), refcount widths other than 16 bits, the corrupt bit.
// Internal snapshots are ignored: the active L1 table is what the guest sees.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/fd.h"

namespace khyve::qcow2 {

constexpr uint8_t kMagic[4] = {'Q', 'F', 'I', 0xfb};
// Header bytes enough to tell the format (the first four).
bool has_magic(const uint8_t* p, size_t n);

enum class Compression { kZlib, kZstd };

struct Mapping {
    enum Kind {
        kUnallocated,  // not in this image: the backing file, or zeros
        kZero,         // reads as zeros (the zero flag), never from the backing file
        kData,         // host_offset: where the guest byte is in the file
        kCompressed,   // host_offset/compressed_size: the compressed cluster
        kError,        // a hostile or unreadable entry: -EIO for the request
    } kind = kUnallocated;
    uint64_t host_offset = 0;
    uint64_t compressed_size = 0;  // bytes that may be read at host_offset (clamped to the file)
};

class Image {
public:
    static constexpr size_t kL2CacheTables = 32;

    // Parses and validates the header and reads the L1 table. fd is read with
    // pread only (never written); name is used in messages. Throws khyve::Error
    // "qcow2: NAME: reason".
    static std::unique_ptr<Image> open(Fd fd, const std::string& name);

    uint64_t size() const { return size_; }  // virtual disk size, bytes
    uint32_t version() const { return version_; }
    uint32_t cluster_bits() const { return cluster_bits_; }
    uint64_t cluster_size() const { return uint64_t(1) << cluster_bits_; }
    uint64_t file_size() const { return file_size_; }
    Compression compression() const { return compression_; }
    bool dirty() const { return dirty_; }
    uint32_t snapshots() const { return nb_snapshots_; }
    // Empty without a backing file. The name is as stored (relative names are
    // relative to the directory of this image; the caller resolves it).
    const std::string& backing_file() const { return backing_file_; }
    const std::string& backing_format() const { return backing_format_; }  // empty: not recorded
    int fd() const { return fd_.get(); }

    // Where guest byte `guest_offset` (< size()) lives. The answer holds for
    // the rest of its cluster. Reads L2 tables from the file (and may so
    // fail: kError). Thread-safe.
    Mapping map(uint64_t guest_offset);

    // Decompresses the cluster a kCompressed mapping names into out
    // (cluster_size() bytes). 0, or -EIO (short read, bad stream).
    int read_compressed(const Mapping& m, uint8_t* out);

    // Counters for tests: L2 tables read from the file, and how many are cached.
    uint64_t l2_reads() const;
    size_t l2_cached() const;

private:
    Image() = default;
    void parse(const std::string& name);
    // The L2 table at host offset off (checked), through the cache; nullptr on
    // a read failure. Called with mu_ held.
    const uint64_t* l2_table(uint64_t off);

    Fd fd_;
    uint64_t file_size_ = 0;
    uint32_t version_ = 0;
    uint32_t cluster_bits_ = 0;
    uint64_t size_ = 0;
    uint32_t nb_snapshots_ = 0;
    bool dirty_ = false;
    Compression compression_ = Compression::kZlib;
    std::string backing_file_;
    std::string backing_format_;
    std::vector<uint64_t> l1_;  // host byte order

    struct CachedL2 {
        uint64_t offset = 0;
        uint64_t last_use = 0;
        std::vector<uint64_t> table;  // host byte order
    };
    mutable std::mutex mu_;
    std::vector<CachedL2> l2_cache_;
    uint64_t use_clock_ = 0;
    uint64_t l2_reads_ = 0;
};

// Decompressors, exposed for tests: exactly out_len bytes must come out of
// in (trailing input is allowed: a compressed cluster ends mid-sector). 0 or -EIO.
int inflate_cluster(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len);
int zstd_cluster(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len);

}  // namespace khyve::qcow2
