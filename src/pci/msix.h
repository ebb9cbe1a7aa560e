// MSI-X (PCI 3.0, 6.8.2): the capability, the vector table and the pending
// bit array, living in one of the device's memory BARs. Each vector is an
// irqfd-backed MsiRoute; the route is updated whenever the guest changes a
// vector's address, data or mask, or the function's enable / mask bits, so
// delivery is a plain eventfd write. While a vector is masked, notify()
// latches its pending bit instead, and unmasking delivers it.
//
// Thread-safe: table accesses (vCPU threads), control writes (config space)
// and notify() (device threads) serialise on an internal lock.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace khyve {

class InterruptController;
class MsiRoute;

class Msix {
public:
    static constexpr unsigned kMaxVectors = 2048;
    static constexpr unsigned kCapSize = 12;
    static constexpr uint16_t kControlEnable = 0x8000;
    static constexpr uint16_t kControlMask = 0x4000;
    static constexpr unsigned kControlOffset = 2;  // within the capability

    // Creates one route per vector (irq may be null: vectors never fire).
    Msix(unsigned vectors, InterruptController* irq);
    ~Msix();

    unsigned vectors() const { return static_cast<unsigned>(entries_.size()); }
    uint64_t table_size() const { return 16ull * vectors(); }
    uint64_t pba_size() const { return 8ull * ((vectors() + 63) / 64); }

    // Capability bytes for PciDevice::add_capability(); the table and PBA sit
    // in BAR `bar` at the given offsets (8-byte aligned). Only the two top
    // bits of Message Control (offset 2) are writable.
    std::array<uint8_t, kCapSize> capability(unsigned bar, uint32_t table_offset,
                                             uint32_t pba_offset) const;

    // Guest writes to Message Control, as now found in config space.
    void control_written(uint16_t control);
    bool enabled() const;

    // Table / PBA accesses; offsets relative to the structure's start.
    void table_read(uint64_t offset, std::span<uint8_t> data) const;
    void table_write(uint64_t offset, std::span<const uint8_t> data);
    void pba_read(uint64_t offset, std::span<uint8_t> data) const;

    // Fires `vector` (or latches it pending while masked). false if MSI-X is
    // disabled or the vector does not exist: the caller uses INTx instead.
    bool notify(unsigned vector);

private:
    struct Entry {
        uint64_t address = 0;
        uint32_t data = 0;
        uint32_t control = 1;  // masked at reset
        bool pending = false;
    };
    bool masked_locked(const Entry& e) const;
    void sync_route_locked(unsigned v);

    mutable std::mutex mu_;
    std::vector<Entry> entries_;
    std::vector<std::unique_ptr<MsiRoute>> routes_;
    bool enabled_ = false;
    bool function_mask_ = false;
};

}  // namespace khyve
