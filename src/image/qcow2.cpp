#include "image/qcow2.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.h"
#include "common/le_bytes.h"

namespace khyve::qcow2 {

namespace {

// Header field offsets (docs/interop/qcow2.txt).
constexpr size_t kV2HeaderLen = 72;
constexpr size_t kV3MinHeaderLen = 104;
constexpr size_t kCompressionTypeAt = 104;

constexpr uint64_t kIncompatDirty = 1u << 0;
constexpr uint64_t kIncompatCorrupt = 1u << 1;
constexpr uint64_t kIncompatDataFile = 1u << 2;
constexpr uint64_t kIncompatCompression = 1u << 3;
constexpr uint64_t kIncompatExtL2 = 1u << 4;

constexpr uint32_t kExtEnd = 0;
constexpr uint32_t kExtBackingFormat = 0xe2792aca;
constexpr uint32_t kExtFeatureNames = 0x6803f857;

constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ull;  // bits 9..55
constexpr uint64_t kFlagCopied = 1ull << 63;
constexpr uint64_t kFlagCompressed = 1ull << 62;
constexpr uint64_t kFlagZero = 1ull << 0;

// qemu's own limit on the L1 table, which bounds what open() allocates.
constexpr uint64_t kMaxL1Bytes = 32u << 20;
constexpr size_t kMaxBackingName = 1023;


// Reads exactly n bytes at off; false on a short read or an error.
std::string hex(uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}

bool pread_full(int fd, void* buf, size_t n, uint64_t off) {
    auto* p = static_cast<uint8_t*>(buf);
    while (n) {
        ssize_t r = ::pread(fd, p, n, off_t(off));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= size_t(r);
        off += uint64_t(r);
    }
    return true;
}

}  // namespace

bool has_magic(const uint8_t* p, size_t n) { return n >= 4 && std::memcmp(p, kMagic, 4) == 0; }

std::unique_ptr<Image> Image::open(Fd fd, const std::string& name) {
    std::unique_ptr<Image> img(new Image());
    img->fd_ = std::move(fd);
    img->parse(name);
    return img;
}

void Image::parse(const std::string& name) {
    auto fail = [&](const std::string& why) { return Error("qcow2: " + name + ": " + why); };
    struct stat st{};
    if (::fstat(fd_.get(), &st) < 0) throw sys_error("qcow2: fstat " + name);
    if (S_ISREG(st.st_mode)) {
        file_size_ = uint64_t(st.st_size);
    } else {
        off_t end = ::lseek(fd_.get(), 0, SEEK_END);
        if (end < 0) throw sys_error("qcow2: size of " + name);
        file_size_ = uint64_t(end);
    }

    uint8_t h[kV2HeaderLen];
    if (file_size_ < sizeof h || !pread_full(fd_.get(), h, sizeof h, 0))
        throw fail("too short for a qcow2 header");
    if (!has_magic(h, 4)) throw fail("not a qcow2 image (no QFI\\xfb magic)");
    version_ = read_be<uint32_t>(h, 4);
    if (version_ != 2 && version_ != 3)
        throw fail("qcow2 version " + std::to_string(version_) + " is not supported (2 or 3)");
    const uint64_t backing_off = read_be<uint64_t>(h, 8);
    const uint32_t backing_len = read_be<uint32_t>(h, 16);
    cluster_bits_ = read_be<uint32_t>(h, 20);
    if (cluster_bits_ < 9 || cluster_bits_ > 21)
        throw fail("cluster_bits " + std::to_string(cluster_bits_) + " outside 9..21 (512 bytes to 2 MiB)");
    const uint64_t cs = cluster_size();
    size_ = read_be<uint64_t>(h, 24);
    const uint32_t crypt = read_be<uint32_t>(h, 32);
    const uint32_t l1_size = read_be<uint32_t>(h, 36);
    const uint64_t l1_off = read_be<uint64_t>(h, 40);
    const uint64_t rc_off = read_be<uint64_t>(h, 48);
    const uint32_t rc_clusters = read_be<uint32_t>(h, 56);
    nb_snapshots_ = read_be<uint32_t>(h, 60);
    const uint64_t snap_off = read_be<uint64_t>(h, 64);

    if (crypt != 0) throw fail("encrypted images are not supported (crypt_method " + std::to_string(crypt) + ")");

    // The first cluster holds the header, its extensions and the backing name.
    const size_t head_len = size_t(std::min<uint64_t>(cs, file_size_));
    std::vector<uint8_t> head(head_len);
    if (!pread_full(fd_.get(), head.data(), head_len, 0)) throw sys_error("qcow2: read header of " + name);

    uint64_t incompat = 0;
    uint32_t refcount_order = 4;
    size_t header_len = kV2HeaderLen;
    if (version_ == 3) {
        if (head_len < kV3MinHeaderLen) throw fail("too short for a version 3 header");
        incompat = read_be<uint64_t>(head, 72);
        refcount_order = read_be<uint32_t>(head, 96);
        header_len = read_be<uint32_t>(head, 100);
        if (header_len < kV3MinHeaderLen || header_len % 8 || header_len > head_len)
            throw fail("bad header_length " + std::to_string(header_len));
    }

    // Extensions: 4-byte type, 4-byte length, data padded to 8. They end with
    // a type 0 entry, or where the backing file name starts (older images
    // put the name right after the header), or at the end of the cluster.
    std::string feature_names[64];
    bool seen_backing_fmt = false;
    const size_t ext_end = backing_off ? size_t(std::min<uint64_t>(backing_off, head_len)) : head_len;
    for (size_t at = header_len; at < ext_end && ext_end - at >= 8;) {
        const uint32_t type = read_be<uint32_t>(head, at);
        const uint32_t len = read_be<uint32_t>(head, at + 4);
        at += 8;
        if (type == kExtEnd) break;
        if (len > ext_end - at) throw fail("header extension " + hex(type) + " runs past the header area");
        const uint8_t* d = head.data() + at;
        if (type == kExtBackingFormat) {
            if (seen_backing_fmt) throw fail("two backing format extensions");
            seen_backing_fmt = true;
            backing_format_.assign(reinterpret_cast<const char*>(d), len);
            if (backing_format_.find('\0') != std::string::npos) throw fail("backing format name contains a NUL byte");
        } else if (type == kExtFeatureNames) {
            for (size_t e = 0; e + 48 <= len; e += 48) {
                if (d[e] == 0 && d[e + 1] < 64) {
                    const char* s = reinterpret_cast<const char*>(d + e + 2);
                    feature_names[d[e + 1]].assign(s, strnlen(s, 46));
                }
            }
        }
        // Other extensions (bitmaps, ...) do not change what a reader sees.
        at += std::min<size_t>((size_t(len) + 7) & ~size_t(7), ext_end - at);
    }

    if (incompat & kIncompatCorrupt) throw fail("the image is marked corrupt (qemu-img check -r all repairs it)");
    if (incompat & kIncompatDataFile) throw fail("images with an external data file are not supported");
    if (incompat & kIncompatExtL2) throw fail("extended L2 entries (subclusters) are not supported");
    dirty_ = incompat & kIncompatDirty;  // refcounts may be stale: irrelevant to reading
    const uint64_t unknown = incompat & ~(kIncompatDirty | kIncompatCompression);
    if (unknown) {
        unsigned bit = unsigned(__builtin_ctzll(unknown));
        std::string what = feature_names[bit].empty() ? "" : " (" + feature_names[bit] + ")";
        throw fail("unknown incompatible feature bit " + std::to_string(bit) + what);
    }
    const uint8_t ctype = header_len > kCompressionTypeAt ? head[kCompressionTypeAt] : 0;
    if (incompat & kIncompatCompression) {
        if (ctype == 1)
            compression_ = Compression::kZstd;
        else
            throw fail("compression type " + std::to_string(ctype) + " is not supported (zlib or zstd)");
    } else if (ctype != 0) {
        throw fail("compression type set without its incompatible feature bit");
    }
    if (refcount_order != 4)
        throw fail("refcount_order " + std::to_string(refcount_order) + " is not supported (only 4: 16-bit refcounts)");

    // Offsets: cluster aligned and inside the file.
    auto inside = [&](uint64_t off, uint64_t len) { return off <= file_size_ && len <= file_size_ - off; };
    if (rc_off % cs || rc_clusters == 0 || !inside(rc_off, uint64_t(rc_clusters) * cs))
        throw fail("refcount table outside the file or not cluster aligned");
    if (nb_snapshots_ && (snap_off % cs || !inside(snap_off, 1)))
        throw fail("snapshot table outside the file or not cluster aligned");

    if (backing_off || backing_len) {
        if (backing_len == 0 || backing_len > kMaxBackingName) throw fail("bad backing file name length");
        if (backing_off > cs || backing_len > cs - backing_off || !inside(backing_off, backing_len))
            throw fail("backing file name outside the first cluster");
        backing_file_.assign(reinterpret_cast<const char*>(head.data() + backing_off), backing_len);
        if (backing_file_.find('\0') != std::string::npos) throw fail("backing file name contains a NUL byte");
    } else if (!backing_format_.empty()) {
        throw fail("backing format without a backing file");
    }

    // Size vs the L1 table: L1 entries cover l2_entries clusters each.
    if (size_ > (uint64_t(1) << 62)) throw fail("virtual size too large");
    const uint64_t clusters = (size_ + cs - 1) >> cluster_bits_;
    const uint64_t l2_bits = cluster_bits_ - 3;
    const uint64_t l1_needed = (clusters + (uint64_t(1) << l2_bits) - 1) >> l2_bits;
    if (l1_size < l1_needed)
        throw fail("L1 table of " + std::to_string(l1_size) + " entries is too small for the virtual size (" +
                   std::to_string(l1_needed) + " needed)");
    if (uint64_t(l1_size) * 8 > kMaxL1Bytes) throw fail("L1 table larger than 32 MiB");
    if (l1_size) {
        if (l1_off % cs || !inside(l1_off, uint64_t(l1_size) * 8))
            throw fail("L1 table outside the file or not cluster aligned");
        std::vector<uint8_t> raw(size_t(l1_size) * 8);
        if (!pread_full(fd_.get(), raw.data(), raw.size(), l1_off)) throw sys_error("qcow2: read L1 table of " + name);
        l1_.resize(l1_size);
        for (size_t i = 0; i < l1_size; ++i) l1_[i] = read_be<uint64_t>(raw, i * 8);
    }
}

const uint64_t* Image::l2_table(uint64_t off) {
    CachedL2* victim = nullptr;
    for (CachedL2& c : l2_cache_) {
        if (c.offset == off) {
            c.last_use = ++use_clock_;
            return c.table.data();
        }
        if (!victim || c.last_use < victim->last_use) victim = &c;
    }
    const size_t n = size_t(cluster_size() / 8);
    std::vector<uint8_t> raw(static_cast<size_t>(cluster_size()));
    if (!pread_full(fd_.get(), raw.data(), raw.size(), off)) return nullptr;
    ++l2_reads_;
    if (l2_cache_.size() < kL2CacheTables) {
        l2_cache_.emplace_back();
        victim = &l2_cache_.back();
    }
    victim->offset = off;
    victim->last_use = ++use_clock_;
    victim->table.resize(n);
    for (size_t i = 0; i < n; ++i) victim->table[i] = read_be<uint64_t>(raw, i * 8);
    return victim->table.data();
}

Mapping Image::map(uint64_t guest_offset) {
    Mapping m;
    if (guest_offset >= size_) return {Mapping::kError};
    const uint64_t cs = cluster_size();
    const uint64_t cluster = guest_offset >> cluster_bits_;
    const unsigned l2_bits = cluster_bits_ - 3;
    const uint64_t l1_index = cluster >> l2_bits;
    const uint64_t l2_index = cluster & ((uint64_t(1) << l2_bits) - 1);
    if (l1_index >= l1_.size()) return {Mapping::kError};
    const uint64_t l2_off = l1_[l1_index] & kOffsetMask;
    if (l2_off == 0) return m;  // the whole L2 range is unallocated
    if (l2_off % cs || l2_off > file_size_ || cs > file_size_ - l2_off) return {Mapping::kError};

    uint64_t e;
    {
        std::lock_guard lk(mu_);
        const uint64_t* t = nullptr;
        try {
            t = l2_table(l2_off);
        } catch (const std::bad_alloc&) {
        }
        if (!t) return {Mapping::kError};
        e = t[l2_index];
    }

    if (e & kFlagCompressed) {
        if (e & kFlagCopied) return {Mapping::kError};  // compressed clusters are never "copied"
        const unsigned shift = 62 - (cluster_bits_ - 8);
        const uint64_t host = e & ((uint64_t(1) << shift) - 1);
        const uint64_t sectors = ((e >> shift) & ((uint64_t(1) << (cluster_bits_ - 8)) - 1)) + 1;
        if (host >= (uint64_t(1) << 56) || host >= file_size_) return {Mapping::kError};
        // The data runs from host to the end of its last 512-byte sector; the
        // image may end inside that sector.
        uint64_t len = sectors * 512 - (host & 511);
        len = std::min(len, file_size_ - host);
        return {Mapping::kCompressed, host, len};
    }
    if (e & kFlagZero) return {Mapping::kZero};
    const uint64_t host = e & kOffsetMask;
    if (host == 0) {
        // Offset 0 with the copied flag only makes sense with an external data file.
        if (e & kFlagCopied) return {Mapping::kError};
        return m;
    }
    // The whole cluster must be in the file: a truncated image's last
    // cluster is an I/O error, not a short read (found by fuzz_qcow2).
    if (host % cs || host >= file_size_ || cs > file_size_ - host) return {Mapping::kError};
    return {Mapping::kData, host + (guest_offset & (cs - 1))};
}

int Image::read_compressed(const Mapping& m, uint8_t* out) {
    if (m.kind != Mapping::kCompressed || m.host_offset >= file_size_ ||
        m.compressed_size > file_size_ - m.host_offset)
        return -EIO;
    std::vector<uint8_t> in;
    try {
        in.resize(size_t(m.compressed_size));
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    }
    if (!pread_full(fd_.get(), in.data(), in.size(), m.host_offset)) return -EIO;
    const size_t out_len = size_t(cluster_size());
    return compression_ == Compression::kZstd ? zstd_cluster(in.data(), in.size(), out, out_len)
                                              : inflate_cluster(in.data(), in.size(), out, out_len);
}

uint64_t Image::l2_reads() const {
    std::lock_guard lk(mu_);
    return l2_reads_;
}

size_t Image::l2_cached() const {
    std::lock_guard lk(mu_);
    return l2_cache_.size();
}

int inflate_cluster(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) {
    z_stream s{};
    // qcow2 stores raw deflate (no zlib header) with a 4 KiB window.
    if (inflateInit2(&s, -12) != Z_OK) return -EIO;
    s.next_in = const_cast<Bytef*>(in);
    s.avail_in = uInt(in_len);
    s.next_out = out;
    s.avail_out = uInt(out_len);
    int r = inflate(&s, Z_FINISH);
    const bool full = s.avail_out == 0;
    inflateEnd(&s);
    // Z_BUF_ERROR with a full output: the stream goes on past one cluster
    // (or its end marker is beyond the bytes we read); the cluster is complete.
    return full && (r == Z_STREAM_END || r == Z_BUF_ERROR || r == Z_OK) ? 0 : -EIO;
}

int zstd_cluster(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) {
    ZSTD_DCtx* ctx = ZSTD_createDCtx();
    if (!ctx) return -ENOMEM;
    ZSTD_inBuffer ib{in, in_len, 0};
    ZSTD_outBuffer ob{out, out_len, 0};
    int result = 0;
    while (ob.pos < ob.size) {
        const size_t in_before = ib.pos, out_before = ob.pos;
        size_t r = ZSTD_decompressStream(ctx, &ob, &ib);
        if (ZSTD_isError(r)) {
            result = -EIO;
            break;
        }
        // A frame may end before the cluster is full; another may follow.
        if (ib.pos == in_before && ob.pos == out_before) {
            result = -EIO;  // no progress: the input ran out
            break;
        }
    }
    ZSTD_freeDCtx(ctx);
    return result;
}

}  // namespace khyve::qcow2
