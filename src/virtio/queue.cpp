#include "virtio/queue.h"

#include "trace/probes.h"

#include <atomic>
#include <cstring>

#include "memory/guest_memory.h"
#include "virtio/virtio_device.h"

namespace khyve {

namespace {

// Split ring layout (virtio 1.2, 2.7).
constexpr uint16_t kDescFNext = 1;
constexpr uint16_t kDescFWrite = 2;
constexpr uint16_t kDescFIndirect = 4;
constexpr uint16_t kAvailFNoInterrupt = 1;
constexpr uint64_t kDescSize = 16;

struct RawDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(RawDesc) == 16);

// The guest may write ring memory concurrently; every shared field is read
// once with a relaxed atomic access (aligned by start()'s checks) and fences
// give the ordering the spec asks for.
uint16_t load16(const uint8_t* p) {
    return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(const_cast<uint8_t*>(p)))
        .load(std::memory_order_relaxed);
}
void store16(uint8_t* p, uint16_t v) {
    std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).store(v, std::memory_order_relaxed);
}

RawDesc load_desc(const uint8_t* p) {
    RawDesc d;
    std::memcpy(&d, p, sizeof d);  // the copy is then validated, never re-read
    return d;
}

bool power_of_two(uint32_t v) { return v && !(v & (v - 1)); }

}  // namespace

const char* to_string(QueueError e) {
    switch (e) {
        case QueueError::kNone: return "no error";
        case QueueError::kNotStarted: return "queue not started";
        case QueueError::kBadSize: return "queue size not a power of two within the maximum";
        case QueueError::kBadRingAddress: return "ring address misaligned or outside RAM";
        case QueueError::kAvailIdxJump: return "avail.idx moved more than the queue size";
        case QueueError::kDescIndex: return "descriptor index out of range";
        case QueueError::kChainTooLong: return "descriptor chain too long (loop)";
        case QueueError::kIndirectNested: return "nested indirect descriptor";
        case QueueError::kIndirectWithNext: return "indirect descriptor with NEXT";
        case QueueError::kIndirectLength: return "bad indirect table length";
        case QueueError::kIndirectNotNegotiated: return "indirect descriptor not negotiated";
        case QueueError::kBufferOutsideRam: return "buffer outside RAM";
        case QueueError::kLengthOverflow: return "chain length overflows 32 bits";
        case QueueError::kEmptyChain: return "zero-length descriptor chain";
        case QueueError::kReadableAfterWritable: return "readable descriptor after a writable one";
        case QueueError::kUsedLength: return "used length exceeds writable bytes";
    }
    return "unknown queue error";
}

Queue::Queue(uint16_t max_size) : max_size_(max_size), size_(max_size) {}

void Queue::reset() {
    size_ = max_size_;
    desc_addr_ = avail_addr_ = used_addr_ = 0;
    ready_ = false;
    mem_ = nullptr;
    event_idx_ = indirect_ = false;
    desc_ = avail_ = used_ = nullptr;
    last_avail_ = next_used_ = published_used_ = 0;
    signalled_valid_ = false;
    error_ = QueueError::kNone;
}

QueueError Queue::start(const GuestMemory& mem, uint64_t features) {
    mem_ = nullptr;
    error_ = QueueError::kNone;
    if (!power_of_two(size_) || size_ > max_size_ || size_ > kMaxSize) {
        error_ = QueueError::kBadSize;
        return error_;
    }
    event_idx_ = features & virtio::kFEventIdx;
    indirect_ = features & virtio::kFIndirectDesc;
    // Sizes include used_event / avail_event whether or not EVENT_IDX is on:
    // the driver must provide them either way (2.7.6, 2.7.8).
    const uint64_t desc_len = kDescSize * size_;
    const uint64_t avail_len = 6 + 2ull * size_;
    const uint64_t used_len = 6 + 8ull * size_;
    if ((desc_addr_ & 15) || (avail_addr_ & 1) || (used_addr_ & 3)) {
        error_ = QueueError::kBadRingAddress;
        return error_;
    }
    auto d = mem.slice(desc_addr_, desc_len);
    auto a = mem.slice(avail_addr_, avail_len);
    auto u = mem.slice(used_addr_, used_len);
    if (!d || !a || !u) {
        error_ = QueueError::kBadRingAddress;
        return error_;
    }
    desc_ = d->data();
    avail_ = a->data();
    used_ = u->data();
    // A fresh start continues from the indices the driver sees in the rings;
    // after reset both are zero.
    last_avail_ = 0;
    next_used_ = published_used_ = load16(used_ + 2);
    signalled_valid_ = false;
    mem_ = &mem;
    return QueueError::kNone;
}

void Queue::set_broken(QueueError e) {
    if (error_ == QueueError::kNone) error_ = e;
}

std::optional<DescriptorChain> Queue::fail(QueueError e) {
    set_broken(e);
    return std::nullopt;
}

uint16_t Queue::load_avail_idx() const { return load16(avail_ + 2); }

void Queue::store_avail_event(uint16_t v) {
    if (event_idx_) store16(used_ + 4 + 8ull * size_, v);
}

bool Queue::has_available() {
    if (!mem_ || broken()) return false;
    uint16_t avail = load_avail_idx();
    return avail != last_avail_;
}

std::optional<DescriptorChain> Queue::pop() {
    if (broken()) return std::nullopt;
    if (!mem_) return fail(QueueError::kNotStarted);

    uint16_t avail = load_avail_idx();
    if (avail == last_avail_) {
        // About to go idle: ask for a notification for the next buffer, then
        // look again, so a buffer added meanwhile is not missed.
        store_avail_event(last_avail_);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        avail = load_avail_idx();
        if (avail == last_avail_) return std::nullopt;
    }
    if (static_cast<uint16_t>(avail - last_avail_) > size_) return fail(QueueError::kAvailIdxJump);
    // Ring entries and descriptors are read after avail.idx (2.7.13.3).
    std::atomic_thread_fence(std::memory_order_acquire);

    const uint16_t head = load16(avail_ + 4 + 2ull * (last_avail_ % size_));
    if (head >= size_) return fail(QueueError::kDescIndex);

    std::vector<Descriptor> out;
    uint64_t readable = 0, writable = 0;
    bool seen_writable = false;
    const uint8_t* table = desc_;
    uint32_t table_len = size_;  // entries in the current table
    uint32_t budget = size_;     // descriptors still allowed in this table: ends loops
    bool in_indirect = false;
    uint16_t index = head;

    for (;;) {
        if (index >= table_len) return fail(QueueError::kDescIndex);
        if (budget == 0) return fail(QueueError::kChainTooLong);
        --budget;
        const RawDesc d = load_desc(table + kDescSize * index);

        if (d.flags & kDescFIndirect) {
            if (in_indirect) return fail(QueueError::kIndirectNested);
            if (!indirect_) return fail(QueueError::kIndirectNotNegotiated);
            if (d.flags & kDescFNext) return fail(QueueError::kIndirectWithNext);
            if (d.len == 0 || d.len % kDescSize) return fail(QueueError::kIndirectLength);
            const uint32_t n = d.len / kDescSize;
            if (n > kMaxIndirect) return fail(QueueError::kIndirectLength);
            auto t = mem_->slice(d.addr, d.len);
            if (!t) return fail(QueueError::kBufferOutsideRam);
            // The write flag of the indirect descriptor itself means nothing.
            table = t->data();
            table_len = n;
            budget = n;
            in_indirect = true;
            index = 0;
            continue;
        }

        auto host = mem_->slice(d.addr, d.len);
        if (!host) return fail(QueueError::kBufferOutsideRam);
        const bool w = d.flags & kDescFWrite;
        if (w) {
            seen_writable = true;
            writable += d.len;
        } else {
            if (seen_writable) return fail(QueueError::kReadableAfterWritable);
            readable += d.len;
        }
        // Each sum is at most (1024 + 32768) * (2^32 - 1): no u64 overflow,
        // but the device reports lengths in u32.
        if (readable > UINT32_MAX || writable > UINT32_MAX) return fail(QueueError::kLengthOverflow);
        out.push_back({d.addr, d.len, w, *host});

        if (!(d.flags & kDescFNext)) break;
        index = d.next;
    }
    if (readable + writable == 0) return fail(QueueError::kEmptyChain);

    // avail_event is left where the last idle pop() put it: while we work
    // through a batch, the driver adds buffers without notifying (each
    // notification is an exit); we see them when we next run dry.
    ++last_avail_;
    return DescriptorChain(head, std::move(out));
}

void Queue::undo_pop() { --last_avail_; }

void Queue::add_used(uint16_t head, uint32_t len) {
    if (!mem_ || broken()) return;
    uint8_t* elem = used_ + 4 + 8ull * (next_used_ % size_);
    uint32_t id = head;
    std::memcpy(elem, &id, 4);
    std::memcpy(elem + 4, &len, 4);
    ++next_used_;
    ++counters_.used;
    KHYVE_PROBE_VIRTQ_COMPLETE(trace_device_, index_, len);
}

void Queue::add_used(const DescriptorChain& chain, uint32_t len) {
    if (len > chain.writable_bytes()) {
        set_broken(QueueError::kUsedLength);
        return;
    }
    add_used(chain.head(), len);
}

bool Queue::flush_used() {
    if (!mem_ || broken()) return false;
    const uint16_t old = published_used_;
    const uint16_t now = next_used_;
    if (old == now) return false;
    // Used elements become visible before the index that exposes them.
    std::atomic_thread_fence(std::memory_order_release);
    store16(used_ + 2, now);
    published_used_ = now;
    // The index store must be visible before we read the driver's
    // suppression state, or we race with a driver re-enabling interrupts.
    std::atomic_thread_fence(std::memory_order_seq_cst);

    if (!event_idx_) return !(load16(avail_) & kAvailFNoInterrupt);
    const uint16_t used_event = load16(avail_ + 4 + 2ull * size_);
    // vring_need_event: notify if used_event lies in (old, now].
    const bool valid = signalled_valid_;
    signalled_valid_ = true;
    if (!valid) return true;  // first batch since start: never risk a lost interrupt
    return static_cast<uint16_t>(now - used_event - 1) < static_cast<uint16_t>(now - old);
}

}  // namespace khyve
