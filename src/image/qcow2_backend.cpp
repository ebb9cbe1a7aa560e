#include "image/qcow2_backend.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "common/error.h"

namespace khyve {

// Walks a guest iovec array by byte position, forward only.
class Qcow2Backend::IovCursor {
public:
    explicit IovCursor(std::span<const iovec> iov) : iov_(iov) {}

    // Calls f(pointer, length) for each piece of [pos, pos+len); pos never
    // goes backwards between calls.
    template <class F>
    void each(uint64_t pos, uint64_t len, F&& f) {
        while (seg_ < iov_.size() && base_ + iov_[seg_].iov_len <= pos) base_ += iov_[seg_++].iov_len;
        size_t s = seg_;
        uint64_t b = base_;
        while (len && s < iov_.size()) {
            const uint64_t in = pos - b;
            const uint64_t n = std::min<uint64_t>(len, iov_[s].iov_len - in);
            if (n) f(static_cast<uint8_t*>(iov_[s].iov_base) + in, size_t(n));
            pos += n;
            len -= n;
            b += iov_[s].iov_len;
            ++s;
        }
    }
    void zero(uint64_t pos, uint64_t len) {
        each(pos, len, [](uint8_t* p, size_t n) { std::memset(p, 0, n); });
    }
    void copy(uint64_t pos, const uint8_t* src, uint64_t len) {
        each(pos, len, [&](uint8_t* p, size_t n) {
            std::memcpy(p, src, n);
            src += n;
        });
    }
    void slice(uint64_t pos, uint64_t len, std::vector<iovec>& out) {
        out.clear();
        each(pos, len, [&](uint8_t* p, size_t n) { out.push_back({p, n}); });
    }

private:
    std::span<const iovec> iov_;
    size_t seg_ = 0;
    uint64_t base_ = 0;  // guest position where iov_[seg_] starts
};

namespace {

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return "";
    return path.substr(0, slash + 1);
}

struct Probed {
    Fd fd;
    struct stat st{};
    bool qcow2 = false;
};

// Opens path read-only and looks at its first bytes.
Probed probe(const std::string& path, const std::string& what) {
    Probed p;
    p.fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!p.fd.valid()) throw sys_error(what + ": open " + path);
    if (::fstat(p.fd.get(), &p.st) < 0) throw sys_error(what + ": fstat " + path);
    uint8_t head[4] = {};
    ssize_t n = ::pread(p.fd.get(), head, sizeof head, 0);
    p.qcow2 = n == ssize_t(sizeof head) && qcow2::has_magic(head, sizeof head);
    return p;
}

}  // namespace

std::optional<ImageFormat> parse_image_format(std::string_view text) {
    if (text == "raw") return ImageFormat::kRaw;
    if (text == "qcow2") return ImageFormat::kQcow2;
    return std::nullopt;
}

std::unique_ptr<Qcow2Backend> Qcow2Backend::open(const BlockOpenOptions& o) {
    if (!o.read_only)
        throw Error("virtio-blk: " + o.path +
                    ": qcow2 images are read-only in khyve so far: add ,ro (or convert with qemu-img convert -O raw)");
    std::unique_ptr<Qcow2Backend> b(new Qcow2Backend());
    std::set<std::pair<dev_t, ino_t>> seen;

    std::string path = o.path;
    ImageFormat format = ImageFormat::kQcow2;
    std::string referrer;  // the image naming this one as its backing file
    for (;;) {
        const std::string what = referrer.empty() ? "qcow2" : "qcow2: " + referrer + ": backing file";
        if (b->layers_.size() == kMaxChain)
            throw Error("qcow2: " + o.path + ": backing chain longer than " + std::to_string(kMaxChain) + " images");
        Probed p = probe(path, what);
        if (!seen.insert({p.st.st_dev, p.st.st_ino}).second)
            throw Error("qcow2: " + o.path + ": backing chain loops back to " + path);
        // Backing files are probed when the overlay does not name their
        // format: they are opened read-only, so no guest writes them here.
        if (format == ImageFormat::kProbe) format = p.qcow2 ? ImageFormat::kQcow2 : ImageFormat::kRaw;

        Layer l;
        l.path = path;
        if (format == ImageFormat::kQcow2) l.img = qcow2::Image::open(std::move(p.fd), path);
        BlockOpenOptions lo = o;
        lo.path = path;
        lo.read_only = true;
        // As QEMU does for a qcow2 image's file and its backing files: read,
        // and nobody may write or resize them while this chain is open.
        if (o.lock != BlockOpenOptions::Lock::kNone) lo.lock = BlockOpenOptions::Lock::kImageFile;
        l.data = FileBackend::open(lo);
        if (l.img) {
            l.size = l.img->size();
            l.file_size = l.img->file_size();
        } else {
            l.size = l.file_size = l.data->size();
        }
        Qcow2Backend* raw = b.get();
        l.data->set_completion(
            [raw](uint64_t t, int64_t r) { raw->sub_done(reinterpret_cast<Parent*>(static_cast<uintptr_t>(t)), r); });
        b->layers_.push_back(std::move(l));

        const qcow2::Image* img = b->layers_.back().img.get();
        if (!img || img->backing_file().empty()) break;
        const std::string& name = img->backing_file();
        const std::string& fmt = img->backing_format();
        if (fmt.empty())
            format = ImageFormat::kProbe;
        else if (auto f = parse_image_format(fmt))
            format = *f;
        else
            throw Error("qcow2: " + path + ": backing format '" + fmt + "' is not supported (raw or qcow2)");
        referrer = path;
        path = name[0] == '/' ? name : dir_of(path) + name;
    }
    b->size_ = b->layers_[0].size;

    for (const Layer& l : b->layers_) {
        int fd = l.data->completion_fd();
        if (fd < 0) continue;
        if (!b->epoll_.valid()) {
            b->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
            if (!b->epoll_.valid()) throw sys_error("qcow2: epoll_create1");
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        if (::epoll_ctl(b->epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) throw sys_error("qcow2: epoll_ctl");
    }
    return b;
}

Qcow2Backend::~Qcow2Backend() {
    drain();
    layers_.clear();  // joins engine threads before the completion target goes
}

void Qcow2Backend::commit() {
    for (Layer& l : layers_) l.data->commit();
}

void Qcow2Backend::poll_completions() {
    for (Layer& l : layers_) l.data->poll_completions();
}

void Qcow2Backend::drain() {
    // A guest read completes with its last host read: once every file is
    // drained, so is every guest read.
    for (Layer& l : layers_) l.data->drain();
}

void Qcow2Backend::add_data(size_t i, uint64_t host, uint64_t len, uint64_t pos, IovCursor& fill,
                            std::vector<Piece>& out) {
    const Layer& l = layers_[i];
    // A cluster at the end of the file may be shorter than a cluster: the rest reads as zeros.
    uint64_t in_file = host < l.file_size ? std::min(len, l.file_size - host) : 0;
    if (in_file) {
        Piece* last = out.empty() ? nullptr : &out.back();
        if (last && last->layer == i && last->host + last->len == host && last->pos + last->len == pos)
            last->len += in_file;
        else
            out.push_back({i, host, pos, in_file});
    }
    if (len > in_file) fill.zero(pos + in_file, len - in_file);
}

int Qcow2Backend::resolve(size_t i, uint64_t off, uint64_t len, uint64_t pos, IovCursor& fill,
                          std::vector<Piece>& out) {
    Layer& l = layers_[i];
    while (len) {
        if (off >= l.size) {
            fill.zero(pos, len);  // past the end of a (smaller) backing image
            return 0;
        }
        uint64_t n = std::min(len, l.size - off);
        if (!l.img) {
            add_data(i, off, n, pos, fill, out);
        } else {
            const uint64_t cs = l.img->cluster_size();
            const uint64_t in_cluster = off & (cs - 1);
            n = std::min(n, cs - in_cluster);
            const qcow2::Mapping m = l.img->map(off);
            switch (m.kind) {
                case qcow2::Mapping::kUnallocated:
                    if (i + 1 < layers_.size()) {
                        if (int r = resolve(i + 1, off, n, pos, fill, out); r < 0) return r;
                    } else {
                        fill.zero(pos, n);
                    }
                    break;
                case qcow2::Mapping::kZero: fill.zero(pos, n); break;
                case qcow2::Mapping::kData: add_data(i, m.host_offset, n, pos, fill, out); break;
                case qcow2::Mapping::kCompressed:
                    if (l.zcluster_host != m.host_offset) {
                        try {
                            l.zcluster.resize(size_t(cs));
                        } catch (const std::bad_alloc&) {
                            return -ENOMEM;
                        }
                        l.zcluster_host = UINT64_MAX;
                        if (int r = l.img->read_compressed(m, l.zcluster.data()); r < 0) return r;
                        l.zcluster_host = m.host_offset;
                    }
                    fill.copy(pos, l.zcluster.data() + in_cluster, n);
                    break;
                case qcow2::Mapping::kError: return -EIO;
            }
        }
        off += n;
        pos += n;
        len -= n;
    }
    return 0;
}

void Qcow2Backend::read(uint64_t offset, std::span<const iovec> iov, uint64_t tag) {
    uint64_t total = 0;
    for (const iovec& v : iov) total += v.iov_len;
    if (offset > size_ || total > size_ - offset) return complete(tag, -EIO);

    std::vector<Piece> pieces;
    Parent* p = nullptr;
    try {
        IovCursor fill(iov);
        if (int r = resolve(0, offset, total, 0, fill, pieces); r < 0) return complete(tag, r);
        if (pieces.empty()) return complete(tag, int64_t(total));
        p = new Parent{tag, int64_t(total), {pieces.size() + 1}};
    } catch (const std::bad_alloc&) {
        return complete(tag, -ENOMEM);
    }
    IovCursor data(iov);
    std::vector<iovec> sub;
    for (const Piece& pc : pieces) {
        try {
            data.slice(pc.pos, pc.len, sub);
        } catch (const std::bad_alloc&) {
            sub_done(p, -ENOMEM);
            continue;
        }
        layers_[pc.layer].data->read(pc.host, sub, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
    }
    sub_done(p, 0);  // the submitter's own reference
}

void Qcow2Backend::sub_done(Parent* p, int64_t r) {
    if (r < 0) {
        int64_t none = 0;
        p->error.compare_exchange_strong(none, r);
    }
    if (p->pending.fetch_sub(1) != 1) return;
    const int64_t err = p->error.load();
    const uint64_t tag = p->tag;
    const int64_t result = err < 0 ? err : p->bytes;
    delete p;
    complete(tag, result);
}

namespace {

// A raw image whose format was probed, opened writable: a guest write that
// would put the qcow2 magic at byte 0 fails with EIO. The first sector is
// checked on a private copy, which is what reaches the file, so the guest
// cannot change it between the check and the write.
class ProbedRawBackend final : public BlockBackend {
public:
    ProbedRawBackend(std::unique_ptr<FileBackend> in, std::string path) : in_(std::move(in)), path_(std::move(path)) {
        in_->set_completion([this](uint64_t tag, int64_t r) {
            if (held_count_.load()) {
                std::lock_guard lk(mu_);
                if (held_.erase(tag)) --held_count_;
            }
            if (completion_) completion_(tag, r);
        });
    }
    ~ProbedRawBackend() override { in_->drain(); }

    uint64_t size() const override { return in_->size(); }
    bool read_only() const override { return in_->read_only(); }
    uint32_t logical_sector_size() const override { return in_->logical_sector_size(); }
    uint32_t physical_sector_size() const override { return in_->physical_sector_size(); }
    void set_completion(BlockCompletionFn fn) override { completion_ = std::move(fn); }
    void set_write_through(bool on) override { in_->set_write_through(on); }
    void read(uint64_t offset, std::span<const iovec> iov, uint64_t tag) override { in_->read(offset, iov, tag); }
    void write(uint64_t offset, std::span<const iovec> iov, uint64_t tag) override {
        if (offset != 0 || iov.empty()) return in_->write(offset, iov, tag);
        std::vector<iovec> v;
        std::unique_ptr<uint8_t[]> head;
        try {
            head.reset(new uint8_t[kHead]);
            Cursor c(iov);
            size_t n = 0;
            c.each(0, kHead, [&](uint8_t* p, size_t len) {
                std::memcpy(head.get() + n, p, len);
                n += len;
            });
            if (qcow2::has_magic(head.get(), n)) {
                if (!warned_.exchange(true))
                    std::fprintf(stderr,
                                 "khyve: virtio-blk: %s: refused a guest write of a qcow2 header to a raw image whose "
                                 "format was probed (give format=raw to allow it)\n",
                                 path_.c_str());
                if (completion_) completion_(tag, -EIO);
                return;
            }
            v.push_back({head.get(), n});
            uint64_t total = 0;
            for (const iovec& e : iov) total += e.iov_len;
            std::vector<iovec> rest;
            Cursor r(iov);
            r.slice(n, total - n, rest);
            v.insert(v.end(), rest.begin(), rest.end());
            std::lock_guard lk(mu_);
            held_[tag] = std::move(head);
            ++held_count_;
        } catch (const std::bad_alloc&) {
            if (completion_) completion_(tag, -ENOMEM);
            return;
        }
        in_->write(0, v, tag);
    }
    void flush(uint64_t tag) override { in_->flush(tag); }
    void discard(uint64_t offset, uint64_t len, uint64_t tag) override { in_->discard(offset, len, tag); }
    void write_zeroes(uint64_t offset, uint64_t len, bool may_unmap, uint64_t tag) override {
        in_->write_zeroes(offset, len, may_unmap, tag);
    }
    void commit() override { in_->commit(); }
    int completion_fd() const override { return in_->completion_fd(); }
    void poll_completions() override { in_->poll_completions(); }
    void drain() override { in_->drain(); }

private:
    static constexpr size_t kHead = 512;
    using Cursor = Qcow2Backend::IovCursor;
    std::unique_ptr<FileBackend> in_;
    std::string path_;
    BlockCompletionFn completion_;
    std::mutex mu_;
    std::map<uint64_t, std::unique_ptr<uint8_t[]>> held_;  // first sectors of writes in flight, by tag
    std::atomic<size_t> held_count_{0};
    std::atomic<bool> warned_{false};
};

}  // namespace

// The format rule (CVE-2008-2004: a guest that writes a qcow2 header naming a
// host file as its backing file into its raw disk must not get that file's
// contents the next time the image is probed):
//   format=raw    raw, never probed
//   format=qcow2  qcow2 (the magic is required), read-only
//   no format=    the first four bytes decide: QFI\xfb is qcow2, anything
//                 else raw; a raw image decided so and opened writable
//                 refuses guest writes that would start it with QFI\xfb
//                 (ProbedRawBackend), so it stays raw for every later probe
//   backing files the overlay's backing format extension, else probed; they
//                 are opened read-only, so no guest writes them through khyve
std::unique_ptr<BlockBackend> open_disk_image(const BlockOpenOptions& o, ImageFormat format) {
    bool probed = false;
    if (format == ImageFormat::kProbe) {
        Fd fd(::open(o.path.c_str(), O_RDONLY | O_CLOEXEC));
        uint8_t head[4] = {};
        bool qcow2 = fd.valid() && ::pread(fd.get(), head, sizeof head, 0) == ssize_t(sizeof head) &&
                     qcow2::has_magic(head, sizeof head);
        format = qcow2 ? ImageFormat::kQcow2 : ImageFormat::kRaw;
        probed = true;
    }
    if (format == ImageFormat::kQcow2) return Qcow2Backend::open(o);
    auto raw = FileBackend::open(o);
    if (probed && !raw->read_only()) return std::make_unique<ProbedRawBackend>(std::move(raw), o.path);
    return raw;
}

}  // namespace khyve
