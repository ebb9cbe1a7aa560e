// A split virtqueue (virtio 1.2, section 2.7), device side.
//
// The transport configures it (size, ring addresses, ready) from the driver's
// common-config writes, then start()s it at DRIVER_OK, which validates the
// rings against guest memory. The device then, on its worker thread:
//
//     while (auto chain = queue.pop()) {
//         Reader r = chain->reader();  Writer w = chain->writer();
//         ... w.write(...) ...
//         queue.add_used(*chain, w.bytes_written());
//     }
//     if (queue.flush_used()) interrupt->signal_used_queue(index);
//
// Any malformed ring or chain makes the queue broken(): pop() returns nullopt
// from then on and error() says why; the transport then sets
// DEVICE_NEEDS_RESET. Nothing here throws on guest input.
#pragma once

#include <cstdint>
#include <optional>

#include "stats/counters.h"
#include "virtio/chain.h"

namespace khyve {

class GuestMemory;

enum class QueueError : uint8_t {
    kNone = 0,
    kNotStarted,            // pop() before start(), or start() on a bad config
    kBadSize,               // size not a power of two in [1, max_size]
    kBadRingAddress,        // misaligned, or not wholly inside RAM
    kAvailIdxJump,          // avail.idx moved more than size past last_avail
    kDescIndex,             // head or next index >= size (or table length)
    kChainTooLong,          // more descriptors than allowed: a loop
    kIndirectNested,        // INDIRECT inside an indirect table
    kIndirectWithNext,      // INDIRECT together with NEXT
    kIndirectLength,        // table length zero, not a multiple of 16, or too big
    kIndirectNotNegotiated, // INDIRECT without VIRTIO_F_INDIRECT_DESC
    kBufferOutsideRam,      // a buffer (or indirect table) not wholly inside RAM
    kLengthOverflow,        // readable or writable bytes exceed 2^32 - 1
    kEmptyChain,            // zero total length
    kReadableAfterWritable, // a readable descriptor after a writable one
    kUsedLength,            // add_used() with len larger than the writable bytes
};

const char* to_string(QueueError e);

class Queue {
public:
    static constexpr uint16_t kMaxSize = 32768;  // spec maximum
    // Upper bound on descriptors in one indirect table. The spec bounds a
    // chain by the queue size, but Linux builds indirect tables with more
    // entries than a small queue has (up to the device's seg_max); QEMU
    // allows 1024, and so do we.
    static constexpr uint32_t kMaxIndirect = 1024;

    explicit Queue(uint16_t max_size = 256);

    // ---- Driver-facing configuration (transport, under its lock) ----
    uint16_t max_size() const { return max_size_; }
    uint16_t size() const { return size_; }
    // The driver may write any value; validity is checked at start().
    void set_size(uint16_t size) { size_ = size; }
    uint64_t desc_addr() const { return desc_addr_; }
    uint64_t avail_addr() const { return avail_addr_; }
    uint64_t used_addr() const { return used_addr_; }
    void set_desc_addr(uint64_t a) { desc_addr_ = a; }
    void set_avail_addr(uint64_t a) { avail_addr_ = a; }
    void set_used_addr(uint64_t a) { used_addr_ = a; }
    bool ready() const { return ready_; }
    void set_ready(bool r) { ready_ = r; }

    // Validates size and ring addresses against mem and arms the queue. A
    // failure makes the queue broken and is returned. features: the
    // negotiated set (EVENT_IDX and INDIRECT_DESC are honoured).
    QueueError start(const GuestMemory& mem, uint64_t features);
    // Back to the power-on state (size = max_size, addresses 0, not ready).
    void reset();

    // ---- Device side (worker thread) ----
    bool started() const { return mem_ != nullptr; }
    bool broken() const { return error_ != QueueError::kNone; }
    QueueError error() const { return error_; }

    // The next validated chain, or nullopt if none is available or the queue
    // is broken (then error() is set). With EVENT_IDX, only running dry asks
    // the driver for a notification (avail_event): a device must keep
    // popping until nullopt, or poll has_available(), before it relies on
    // being notified again.
    std::optional<DescriptorChain> pop();
    // Gives back the last popped chain (e.g. a net rx buffer that found no
    // packet); it is popped again next time.
    void undo_pop();
    // true if the driver has made buffers available that pop() has not taken.
    bool has_available();

    // Returns a buffer to the driver. Invisible to the driver until
    // flush_used(). len: bytes written into the chain's writable part.
    void add_used(uint16_t head, uint32_t len);
    void add_used(const DescriptorChain& chain, uint32_t len);
    // Publishes every add_used() so far (release fence, then used.idx) and
    // says whether the driver wants an interrupt for them (EVENT_IDX's
    // used_event or the NO_INTERRUPT flag).
    bool flush_used();

    // Marks the queue broken (e.g. a device found a request malformed beyond
    // recovery). Sticky until reset().
    void set_broken(QueueError e);

    // What the queue is called in trace probes (virtq_complete): `device`
    // must stay valid as long as the queue. Set by the transport.
    void set_trace_name(const char* device, uint16_t index) {
        trace_device_ = device;
        index_ = index;
    }
    // Cumulative over resets. The queue counts used buffers; the transport
    // counts notifications and interrupts here too.
    QueueCounters& counters() { return counters_; }
    const QueueCounters& counters() const { return counters_; }

    uint16_t last_avail_idx() const { return last_avail_; }
    uint16_t used_idx() const { return next_used_; }

private:
    std::optional<DescriptorChain> fail(QueueError e);
    uint16_t load_avail_idx() const;
    void store_avail_event(uint16_t v);

    uint16_t max_size_;
    uint16_t size_;
    uint64_t desc_addr_ = 0, avail_addr_ = 0, used_addr_ = 0;
    bool ready_ = false;

    const GuestMemory* mem_ = nullptr;
    bool event_idx_ = false;
    bool indirect_ = false;
    uint8_t* desc_ = nullptr;   // host views of the three rings, validated
    uint8_t* avail_ = nullptr;
    uint8_t* used_ = nullptr;
    uint16_t last_avail_ = 0;
    uint16_t next_used_ = 0;       // our copy of used.idx, including unpublished
    uint16_t published_used_ = 0;  // used.idx as last written to the ring
    bool signalled_valid_ = false;  // a flush happened since start()
    QueueError error_ = QueueError::kNone;
    const char* trace_device_ = "virtio";
    uint16_t index_ = 0;
    QueueCounters counters_;
};

}  // namespace khyve
