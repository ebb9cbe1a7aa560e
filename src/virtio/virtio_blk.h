// virtio-blk (virtio 1.2, section 5.2) over a BlockBackend.
//
// bhyve: -s N,virtio-blk,PATH[,ro][,nocache][,direct][,sectorsize=L[/P]][,ser=ID]
//
// Requests are parsed on the transport's worker thread, handed to the backend
// (io_uring or its fallback thread), and completed back on the worker thread:
// with io_uring the worker itself reaps the ring (its eventfd is one of the
// worker's fds); a backend thread instead queues the result and signals an
// eventfd the worker watches. Either way the worker writes the status byte,
// add_used()s and notifies.
// At most queue-size requests are in flight; beyond that the device stops
// popping until one completes (a guest re-posting heads cannot make us queue
// without bound).
//
// Guest errors, by kind:
//  * a chain with fewer than 16 readable bytes (e.g. a write-only header) or
//    no writable byte for the status cannot be answered: it is returned with
//    length 0 and the device asks for a reset (DEVICE_NEEDS_RESET), as 5.2.6
//    lets a device treat malformed requests;
//  * anything else answers with a status: IOERR for bad sector arithmetic
//    (sector * 512 + length overflowing or past capacity), data not a
//    multiple of 512 bytes (CVE-2011-1750), writes to a read-only device,
//    host I/O errors (EIO, ENOSPC...); UNSUPP for unknown types, features
//    not negotiated, unknown discard/write-zeroes flags, UNMAP on a discard,
//    and more segments than advertised.
//
// Durability (5.2.6.4): writes complete when the kernel has them; they are
// stable only once a FLUSH completed, which happens only after fdatasync
// succeeded (and a failed fdatasync fails every later flush). When the driver
// cannot flush (FLUSH not negotiated) or turned the cache off (CONFIG_WCE
// negotiated and writeback = 0), each write is made stable before completing
// (RWF_DSYNC), so nothing the driver saw completed can be lost.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "block/block_backend.h"
#include "common/fd.h"
#include "platform/pci_emulation.h"
#include "stats/counters.h"
#include "virtio/chain.h"
#include "virtio/virtio_device.h"

namespace khyve {

namespace virtio_blk {
inline constexpr uint64_t kFSizeMax = 1ull << 1;
inline constexpr uint64_t kFSegMax = 1ull << 2;
inline constexpr uint64_t kFGeometry = 1ull << 4;
inline constexpr uint64_t kFRo = 1ull << 5;
inline constexpr uint64_t kFBlkSize = 1ull << 6;
inline constexpr uint64_t kFFlush = 1ull << 9;
inline constexpr uint64_t kFTopology = 1ull << 10;
inline constexpr uint64_t kFConfigWce = 1ull << 11;
inline constexpr uint64_t kFMq = 1ull << 12;
inline constexpr uint64_t kFDiscard = 1ull << 13;
inline constexpr uint64_t kFWriteZeroes = 1ull << 14;

inline constexpr uint32_t kTIn = 0;
inline constexpr uint32_t kTOut = 1;
inline constexpr uint32_t kTFlush = 4;
inline constexpr uint32_t kTGetId = 8;
inline constexpr uint32_t kTDiscard = 11;
inline constexpr uint32_t kTWriteZeroes = 13;

inline constexpr uint8_t kSOk = 0;
inline constexpr uint8_t kSIoErr = 1;
inline constexpr uint8_t kSUnsupp = 2;

inline constexpr uint32_t kFlagUnmap = 1;
inline constexpr size_t kIdBytes = 20;

// Config space offsets (struct virtio_blk_config).
inline constexpr uint32_t kCfgCapacity = 0;
inline constexpr uint32_t kCfgSegMax = 12;
inline constexpr uint32_t kCfgBlkSize = 20;
inline constexpr uint32_t kCfgPhysBlockExp = 24;
inline constexpr uint32_t kCfgMinIoSize = 26;
inline constexpr uint32_t kCfgWriteback = 32;
inline constexpr uint32_t kCfgMaxDiscardSectors = 36;
inline constexpr uint32_t kCfgMaxDiscardSeg = 40;
inline constexpr uint32_t kCfgDiscardAlign = 44;
inline constexpr uint32_t kCfgMaxWriteZeroesSectors = 48;
inline constexpr uint32_t kCfgMaxWriteZeroesSeg = 52;
inline constexpr uint32_t kCfgWriteZeroesMayUnmap = 56;
inline constexpr uint32_t kConfigSize = 60;

struct ReqHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(ReqHeader) == 16);

struct DiscardSegment {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};
static_assert(sizeof(DiscardSegment) == 16);
}  // namespace virtio_blk

class VirtioBlk final : public VirtioDevice {
public:
    struct Options {
        std::string serial;           // GET_ID answer, at most 20 bytes
        uint16_t queue_size = 256;
        bool discard = true;          // offer DISCARD / WRITE_ZEROES (never when read-only)
        uint32_t max_discard_sectors = 1u << 22;
    };

    VirtioBlk(std::unique_ptr<BlockBackend> backend, Options options);
    ~VirtioBlk() override;

    uint32_t device_type() const override { return virtio::kTypeBlock; }
    uint64_t features() const override { return features_; }
    unsigned num_queues() const override { return 1; }
    uint16_t queue_max_size(unsigned) const override { return queue_size_; }
    uint32_t config_size() const override { return virtio_blk::kConfigSize; }
    void read_config(uint32_t offset, std::span<uint8_t> data) override;
    void write_config(uint32_t offset, std::span<const uint8_t> data) override;
    bool activate(const VirtioActivation& activation) override;
    void queue_notify(unsigned index) override;
    void reset() override;

    BlockBackend& backend() { return *backend_; }
    // The worker callback for backend completions (public for tests that
    // drive the device without a transport).
    void on_completions();
    int completion_fd() const { return event_.get(); }
    // The worker callback for a backend reaped on the worker (its
    // completion_fd()): runs the backend's completions, then on_completions().
    void reap_backend();
    // Readable from any thread while the device runs.
    const BlockCounters& counters() const { return counters_; }

private:
    struct Slot {
        uint16_t head = 0;
        uint32_t used_len = 0;
        uint8_t* status = nullptr;
        uint32_t type = 0;    // VIRTIO_BLK_T_*, for the statistics
        uint64_t bytes = 0;   // data bytes of a read or write
        std::vector<iovec> iov;
    };
    struct Done {
        uint32_t slot;
        int64_t result;
    };

    struct Request;  // virtio_blk.cpp

    void process_queue();
    // false: the chain could not be answered (the device then needs a reset).
    bool handle(const DescriptorChain& chain);
    // Takes a slot for the chain and reads its header.
    Request start_request(const DescriptorChain& chain);
    // Skips to the status byte, the last writable byte, and keeps it in the slot.
    static void take_status(Request& q);
    // One per request type; each answers now or hands the request to the backend.
    void handle_in(Request& q);
    void handle_out(Request& q);
    void handle_flush(Request& q);
    void handle_get_id(Request& q);
    void handle_discard(Request& q);  // and WRITE_ZEROES
    // The DISCARD / WRITE_ZEROES segment into seg; the status to finish with
    // at once, or kSOk when it can go to the backend.
    uint8_t read_discard_segment(Request& q, virtio_blk::DiscardSegment& seg) const;
    void finish_now(uint32_t slot, uint8_t status);
    void count_request(uint32_t type);
    void backend_done(uint64_t tag, int64_t result);
    void update_write_through();
    uint8_t check_range(uint64_t sector, uint64_t bytes) const;

    std::unique_ptr<BlockBackend> backend_;
    uint16_t queue_size_;
    uint64_t features_ = 0;
    uint64_t capacity_sectors_ = 0;
    uint32_t max_discard_sectors_;
    std::array<char, virtio_blk::kIdBytes> serial_{};
    Fd event_;

    std::mutex config_mu_;
    std::array<uint8_t, virtio_blk::kConfigSize> config_{};
    bool active_ = false;
    uint64_t negotiated_ = 0;

    // Worker-thread state.
    VirtioActivation act_{};
    Queue* queue_ = nullptr;
    std::vector<Slot> slots_;
    std::vector<uint32_t> free_slots_;
    bool stopped_ = false;

    // Backend completions, handed to the worker thread.
    std::mutex done_mu_;
    std::vector<Done> done_;
    std::vector<Done> done_swap_;

    BlockCounters counters_;
};

// The -s virtio-blk entry (src/platform/pci_emulation.h): "path" (required),
// "ro", "nocache" (O_DIRECT), "direct" (O_SYNC), "sectorsize" ("L" or "L/P"),
// "ser" (serial, at most 20 bytes; default derived from the path),
// "nodelete" (no DISCARD/WRITE_ZEROES).
extern const PciEmulation kVirtioBlkEmulation;

}  // namespace khyve
