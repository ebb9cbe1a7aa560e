#include "virtio/virtio_blk.h"

#include "common/config_values.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "block/file_backend.h"
#include "image/qcow2_backend.h"
#include "common/error.h"
#include "common/le_bytes.h"
#include "platform/pci_emulation.h"
#include "trace/probes.h"
#include "virtio/queue.h"

namespace khyve {

using namespace virtio_blk;

namespace {

unsigned log2u(uint32_t v) {
    unsigned n = 0;
    while (v > 1) {
        v >>= 1;
        ++n;
    }
    return n;
}

}  // namespace

VirtioBlk::VirtioBlk(std::unique_ptr<BlockBackend> backend, Options o)
    : backend_(std::move(backend)),
      queue_size_(o.queue_size),
      max_discard_sectors_(o.max_discard_sectors) {
    uint32_t lss = backend_->logical_sector_size();
    uint32_t pss = backend_->physical_sector_size();
    // Whole logical sectors only: the guest must not see a partial last block.
    capacity_sectors_ = backend_->size() / lss * (lss / 512);

    features_ = kFSegMax | kFBlkSize | kFFlush | kFTopology | kFConfigWce;
    if (backend_->read_only())
        features_ |= kFRo;
    else if (o.discard)
        features_ |= kFDiscard | kFWriteZeroes;

    put_le<uint64_t>(config_, kCfgCapacity, capacity_sectors_);
    // Linux sizes its scatter lists by seg_max; two descriptors go to the
    // header and the status byte.
    put_le<uint32_t>(config_, kCfgSegMax, queue_size_ > 2 ? queue_size_ - 2u : 1u);
    put_le<uint32_t>(config_, kCfgBlkSize, lss);
    config_[kCfgPhysBlockExp] = static_cast<uint8_t>(log2u(pss / lss));
    put_le<uint16_t>(config_, kCfgMinIoSize, static_cast<uint16_t>(pss / lss));
    config_[kCfgWriteback] = 1;
    put_le<uint32_t>(config_, kCfgMaxDiscardSectors, max_discard_sectors_);
    put_le<uint32_t>(config_, kCfgMaxDiscardSeg, 1);
    put_le<uint32_t>(config_, kCfgDiscardAlign, pss / 512);
    put_le<uint32_t>(config_, kCfgMaxWriteZeroesSectors, max_discard_sectors_);
    put_le<uint32_t>(config_, kCfgMaxWriteZeroesSeg, 1);
    config_[kCfgWriteZeroesMayUnmap] = 1;

    std::memcpy(serial_.data(), o.serial.data(), std::min(o.serial.size(), serial_.size()));

    event_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!event_.valid()) throw sys_error("virtio-blk: eventfd");
    backend_->set_completion([this](uint64_t tag, int64_t r) { backend_done(tag, r); });
}

VirtioBlk::~VirtioBlk() {
    // The backend's threads call back into us: stop them first.
    backend_->drain();
    backend_.reset();
}

void VirtioBlk::read_config(uint32_t offset, std::span<uint8_t> data) {
    std::lock_guard lk(config_mu_);
    if (offset > config_.size() || data.size() > config_.size() - offset) {
        std::memset(data.data(), 0, data.size());
        return;
    }
    std::memcpy(data.data(), config_.data() + offset, data.size());
}

void VirtioBlk::write_config(uint32_t offset, std::span<const uint8_t> data) {
    // Only the writeback byte is writable (CONFIG_WCE); other writes are ignored.
    if (offset != kCfgWriteback || data.size() != 1) return;
    std::lock_guard lk(config_mu_);
    config_[kCfgWriteback] = data[0] ? 1 : 0;
    if (active_) update_write_through();
}

void VirtioBlk::update_write_through() {
    bool wt;
    if (!(negotiated_ & kFFlush))
        wt = true;  // the driver can never ask for stability: give it on every write
    else if (negotiated_ & kFConfigWce)
        wt = config_[kCfgWriteback] == 0;
    else
        wt = false;
    backend_->set_write_through(wt);
}

bool VirtioBlk::activate(const VirtioActivation& a) {
    if (a.queues.empty() || !a.queues[0].ready() || !a.worker || !a.interrupt) return false;
    act_ = a;
    queue_ = &a.queues[0];
    uint16_t n = queue_->size() ? queue_->size() : 1;
    slots_.assign(n, Slot{});
    free_slots_.clear();
    for (uint32_t i = n; i-- > 0;) free_slots_.push_back(i);
    stopped_ = false;
    {
        std::lock_guard lk(config_mu_);
        negotiated_ = a.features;
        active_ = true;
        update_write_through();
    }
    a.worker->add_fd(event_.get(), [this] { on_completions(); });
    // io_uring completions reaped right here on the worker: no hop through a
    // completion thread and event_.
    if (int fd = backend_->completion_fd(); fd >= 0) a.worker->add_fd(fd, [this] { reap_backend(); });
    return true;
}

void VirtioBlk::reset() {
    // The worker is joined; let in-flight host I/O finish so nothing writes
    // into guest buffers (or our slots) after the driver reset us.
    backend_->drain();
    {
        std::lock_guard lk(done_mu_);
        done_.clear();
    }
    uint64_t v;
    while (::read(event_.get(), &v, sizeof v) == sizeof v) {
    }
    slots_.clear();
    free_slots_.clear();
    queue_ = nullptr;
    act_ = {};
    stopped_ = false;
    std::lock_guard lk(config_mu_);
    active_ = false;
    negotiated_ = 0;
    config_[kCfgWriteback] = 1;
    backend_->set_write_through(false);
}

void VirtioBlk::queue_notify(unsigned index) {
    if (index == 0) process_queue();
}

void VirtioBlk::process_queue() {
    if (!queue_ || stopped_) return;
    while (!free_slots_.empty()) {
        auto chain = queue_->pop();
        if (!chain) break;
        if (!handle(*chain)) {
            stopped_ = true;
            act_.interrupt->signal_needs_reset();
            break;
        }
    }
    backend_->commit();
    if (queue_->flush_used()) act_.interrupt->signal_used_queue(0);
}

uint8_t VirtioBlk::check_range(uint64_t sector, uint64_t bytes) const {
    // No multiplication on guest values: compare in sectors.
    if (sector > capacity_sectors_ || (bytes >> 9) > capacity_sectors_ - sector) return kSIoErr;
    return kSOk;
}

void VirtioBlk::finish_now(uint32_t slot, uint8_t status) {
    Slot& s = slots_[slot];
    if (status == kSIoErr) ++counters_.io_errors;
    else if (status == kSUnsupp) ++counters_.unsupported;
    *s.status = status;
    queue_->add_used(s.head, s.used_len);
    s.iov.clear();
    free_slots_.push_back(slot);
}

void VirtioBlk::count_request(uint32_t type) {
    switch (type) {
        case kTIn: ++counters_.reads; break;
        case kTOut: ++counters_.writes; break;
        case kTFlush: ++counters_.flushes; break;
        case kTGetId: ++counters_.get_ids; break;
        case kTDiscard: ++counters_.discards; break;
        case kTWriteZeroes: ++counters_.write_zeroes; break;
        default: ++counters_.unknown; break;
    }
}

// One request being answered: its slot and header, and the cursors past the
// header.
struct VirtioBlk::Request {
    uint32_t slot;
    Slot& s;
    ReqHeader hdr;  // one copy: the guest may change its bytes
    Reader r;       // the request's data, after the header
    Writer w;       // what the device writes, then the status byte
    size_t data_w;  // writable bytes before the status byte
};

bool VirtioBlk::handle(const DescriptorChain& chain) {
    if (chain.readable_bytes() < sizeof(ReqHeader) || chain.writable_bytes() < 1) {
        queue_->add_used(chain.head(), 0);
        return false;
    }
    Request q = start_request(chain);
    switch (q.hdr.type) {
        case kTIn: handle_in(q); break;
        case kTOut: handle_out(q); break;
        case kTFlush: handle_flush(q); break;
        case kTGetId: handle_get_id(q); break;
        case kTDiscard:
        case kTWriteZeroes: handle_discard(q); break;
        default:
            take_status(q);
            finish_now(q.slot, kSUnsupp);
            break;
    }
    return true;
}

VirtioBlk::Request VirtioBlk::start_request(const DescriptorChain& chain) {
    Reader r = chain.reader();
    const ReqHeader hdr = *r.read_obj<ReqHeader>();

    uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    Slot& s = slots_[slot];
    s.head = chain.head();
    s.iov.clear();
    s.used_len = 1;
    s.type = hdr.type;
    s.bytes = 0;
    count_request(hdr.type);
    return {slot, s, hdr, std::move(r), chain.writer(), chain.writable_bytes() - 1u};
}

void VirtioBlk::take_status(Request& q) {
    q.w.skip(q.w.available() - 1);
    q.s.status = q.w.take_spans(1)[0].data();
}

void VirtioBlk::handle_in(Request& q) {
    auto spans = q.w.take_spans(q.data_w);
    take_status(q);
    q.s.used_len = static_cast<uint32_t>(q.data_w + 1);
    if (q.data_w % 512 || check_range(q.hdr.sector, q.data_w) != kSOk) {
        finish_now(q.slot, kSIoErr);
        return;
    }
    for (auto sp : spans) q.s.iov.push_back({sp.data(), sp.size()});
    q.s.bytes = q.data_w;
    KHYVE_PROBE_BLK_SUBMIT(q.hdr.sector, q.data_w, q.hdr.type, &q.s);
    backend_->read(q.hdr.sector * 512, q.s.iov, q.slot);
}

void VirtioBlk::handle_out(Request& q) {
    take_status(q);
    size_t len = q.r.available();
    if (backend_->read_only() || len % 512 || check_range(q.hdr.sector, len) != kSOk) {
        finish_now(q.slot, kSIoErr);
        return;
    }
    for (auto sp : q.r.take_spans(len)) q.s.iov.push_back({sp.data(), sp.size()});
    q.s.bytes = len;
    KHYVE_PROBE_BLK_SUBMIT(q.hdr.sector, len, q.hdr.type, &q.s);
    backend_->write(q.hdr.sector * 512, q.s.iov, q.slot);
}

void VirtioBlk::handle_flush(Request& q) {
    take_status(q);
    KHYVE_PROBE_BLK_SUBMIT(0, 0, q.hdr.type, &q.s);
    backend_->flush(q.slot);
}

void VirtioBlk::handle_get_id(Request& q) {
    size_t n = std::min(q.data_w, serial_.size());
    q.w.write({reinterpret_cast<const uint8_t*>(serial_.data()), n});
    take_status(q);
    q.s.used_len = static_cast<uint32_t>(n + 1);
    finish_now(q.slot, kSOk);
}

// DISCARD and WRITE_ZEROES.
void VirtioBlk::handle_discard(Request& q) {
    take_status(q);
    DiscardSegment seg{};
    if (const uint8_t status = read_discard_segment(q, seg); status != kSOk) {
        finish_now(q.slot, status);
        return;
    }
    uint64_t off = seg.sector * 512, len = uint64_t(seg.num_sectors) * 512;
    KHYVE_PROBE_BLK_SUBMIT(seg.sector, len, q.hdr.type, &q.s);
    if (q.hdr.type == kTDiscard)
        backend_->discard(off, len, q.slot);
    else
        backend_->write_zeroes(off, len, seg.flags & kFlagUnmap, q.slot);
}

uint8_t VirtioBlk::read_discard_segment(Request& q, DiscardSegment& seg) const {
    const bool discard = q.hdr.type == kTDiscard;
    if (!(negotiated_ & (discard ? kFDiscard : kFWriteZeroes))) return kSUnsupp;
    if (backend_->read_only()) return kSIoErr;
    size_t seg_bytes = q.r.available();
    if (seg_bytes == 0 || seg_bytes % sizeof(DiscardSegment)) return kSIoErr;
    if (seg_bytes / sizeof(DiscardSegment) > 1) return kSUnsupp;  // max_*_seg advertised as 1
    seg = *q.r.read_obj<DiscardSegment>();
    if ((seg.flags & ~kFlagUnmap) || (discard && (seg.flags & kFlagUnmap))) return kSUnsupp;
    if (seg.num_sectors > max_discard_sectors_ || check_range(seg.sector, uint64_t(seg.num_sectors) * 512) != kSOk)
        return kSIoErr;
    return kSOk;
}

namespace {
// The device whose backend completions the current thread is reaping (its
// worker, inside reap_backend()): those need no wake-up.
thread_local const VirtioBlk* t_reaping = nullptr;
}  // namespace

void VirtioBlk::reap_backend() {
    t_reaping = this;
    backend_->poll_completions();
    t_reaping = nullptr;
    on_completions();
}

void VirtioBlk::backend_done(uint64_t tag, int64_t result) {
    {
        std::lock_guard lk(done_mu_);
        done_.push_back({static_cast<uint32_t>(tag), result});
    }
    if (t_reaping == this) return;
    uint64_t one = 1;
    if (::write(event_.get(), &one, sizeof one) < 0) {
        // EAGAIN only when the counter is saturated: the worker is awake anyway.
    }
}

void VirtioBlk::on_completions() {
    uint64_t v;
    if (::read(event_.get(), &v, sizeof v) < 0) {
        // EAGAIN: a previous call already took this wake-up.
    }
    done_swap_.clear();
    {
        std::lock_guard lk(done_mu_);
        done_swap_.swap(done_);
    }
    if (!queue_) return;
    for (const Done& d : done_swap_) {
        if (d.slot >= slots_.size()) continue;
        if (d.result < 0 && d.result != -EROFS)
            std::fprintf(stderr, "khyve: virtio-blk: host I/O error: %s\n", std::strerror(int(-d.result)));
        const uint8_t status = d.result < 0 ? kSIoErr : kSOk;
        Slot& s = slots_[d.slot];
        if (status == kSOk && s.type == kTIn) counters_.bytes_read.add(s.bytes);
        if (status == kSOk && s.type == kTOut) counters_.bytes_written.add(s.bytes);
        KHYVE_PROBE_BLK_COMPLETE(status, &s);
        finish_now(d.slot, status);
    }
    if (queue_->flush_used()) act_.interrupt->signal_used_queue(0);
    // Requests may have been left on the ring while every slot was busy.
    if (!done_swap_.empty() && queue_->has_available()) process_queue();
}

namespace {

void check_sectorsize(std::string_view, const std::string& v) {
    if (!parse_sector_sizes(v))
        throw Error("invalid sectorsize '" + v + "' (logical[/physical], powers of two from 512 to 65536)");
}

void check_serial(std::string_view, const std::string& v) {
    if (v.size() > kIdBytes)
        throw Error("serial number '" + v + "' is longer than " + std::to_string(kIdBytes) + " characters");
}

// QEMU's -drive aio= names: which I/O engine runs the requests.
void check_aio(std::string_view, const std::string& v) {
    if (v != "io_uring" && v != "threads") throw Error("invalid aio '" + v + "' (io_uring or threads)");
}

void check_format(std::string_view, const std::string& v) {
    if (!parse_image_format(v)) throw Error("invalid format '" + v + "' (raw or qcow2)");
}

constexpr EmulationOption kBlkOptions[] = {
    {"path", "string", "The disk image file or block device (opened read-only, with a warning, when it may only be read).",
     nullptr, "a path (-s SLOT,virtio-blk,/path/to/image)"},
    {"ro", "bool", "Open the backing file read-only; the guest sees a read-only disk.", check_bool_option},
    {"nocache", "bool", "Open it with O_DIRECT, bypassing the host page cache.", check_bool_option},
    {"direct", "bool", "Open it with O_SYNC, so each write reaches stable storage before it completes.",
     check_bool_option},
    {"sectorsize", "string",
     "logical[/physical] sector sizes: powers of two from 512 to 65536, the physical at least the logical; "
     "default 512.",
     check_sectorsize},
    {"ser", "string",
     "The serial number the guest reads, at most 20 characters; by default one derived from the path.",
     check_serial},
    {"nodelete", "bool", "Do not offer discard (TRIM) or write-zeroes to the guest.", check_bool_option},
    {"aio", "string",
     "The I/O engine, as QEMU's aio=: io_uring (restricted to block operations; an error where the kernel "
     "cannot) or threads (one thread doing pread/pwrite/fdatasync); by default io_uring where it can be "
     "restricted, else threads.",
     check_aio},
    {"format", "string",
     "The image format, raw or qcow2. qcow2 images are read-only so far (with ro): their backing chains "
     "(raw or qcow2, at most 16 images) and compressed clusters (zlib, zstd) are read. Without it the "
     "first bytes decide (the qcow2 magic, else raw); a raw image opened that way and writable refuses "
     "guest writes that would make it look like qcow2, so a guest cannot turn its disk into a qcow2 "
     "whose backing file is a host file. Give format=raw for images a guest may write anything to.",
     check_format},
    {"lock", "bool",
     "Lock the image as QEMU does (fcntl OFD locks on its bytes 100-203; on by default): a writable disk is "
     "refused while another khyve or QEMU guest has the image as a disk, a read-only one while another "
     "writes it, and nobody else may write a qcow2 image or its backing files meanwhile. lock=off opens it "
     "without locks, like QEMU's locking=off.",
     check_bool_option},
};

std::shared_ptr<VirtioDevice> make_blk(const EmulationArgs& a) {
    BlockOpenOptions o;
    o.path = *a.get("path");
    o.caller_reaps = true;
    o.read_only = a.flag("ro");
    o.nocache = a.flag("nocache");
    o.sync = a.flag("direct");
    if (const std::string* aio = a.get("aio"))
        o.engine = *aio == "threads" ? BlockOpenOptions::Engine::kThread : BlockOpenOptions::Engine::kUring;
    if (const std::string* s = a.get("sectorsize")) o.sectors = *parse_sector_sizes(*s);
    if (!a.flag("lock", true)) o.lock = BlockOpenOptions::Lock::kNone;

    VirtioBlk::Options d;
    if (const std::string* ser = a.get("ser")) {
        d.serial = *ser;
    } else {
        // Stable across runs, like bhyve's hash-of-path default.
        uint64_t h = 1469598103934665603ull;  // FNV-1a
        for (unsigned char c : o.path) h = (h ^ c) * 1099511628211ull;
        char buf[32];
        std::snprintf(buf, sizeof buf, "KHYVE-%04X-%04X-%04X", unsigned(h >> 48) & 0xffff,
                      unsigned(h >> 32) & 0xffff, unsigned(h >> 16) & 0xffff);
        d.serial = buf;
    }
    d.discard = !a.flag("nodelete");
    ImageFormat format = ImageFormat::kProbe;
    if (const std::string* f = a.get("format")) format = *parse_image_format(*f);
    return std::make_shared<VirtioBlk>(open_disk_image(o, format), d);
}

}  // namespace

const PciEmulation kVirtioBlkEmulation{
    .name = "virtio-blk",
    .summary = "virtio block device",
    .description = "Virtio block device on a disk image file (raw, or qcow2 read-only) or a block device. "
                   "Requests run on io_uring "
                   "(or a thread without it) and complete on the device's worker thread. "
                   "The image is locked as QEMU locks it, so two guests (khyve or QEMU) never share an "
                   "image one of them writes: the later open is refused, naming the holder (see lock).",
    .positional = "path",
    .options = kBlkOptions,
    .make_virtio = make_blk,
};

}  // namespace khyve
