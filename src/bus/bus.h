// Port-I/O and MMIO buses. A device owns [base, base+len); the bus rejects
// overlapping ranges and dispatches an access only when [addr, addr+size) lies
// wholly inside one device. Devices see offsets relative to their base.
// The bus is filled during set-up and immutable while vCPUs run, so lookups
// take no lock; each device serialises its own state.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace khyve {

class BusDevice {
public:
    virtual ~BusDevice() = default;
    // data.size() is the access width (1, 2, 4 or 8). Reads fill data.
    virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class Bus {
public:
    // Throws khyve::Error on an empty, wrapping or overlapping range.
    void insert(uint64_t base, uint64_t len, std::shared_ptr<BusDevice> dev, std::string name);

    // false: no device covers the whole access (reads then return all ones).
    bool read(uint64_t addr, std::span<uint8_t> data) const;
    bool write(uint64_t addr, std::span<const uint8_t> data) const;

    struct Entry {
        uint64_t base;
        uint64_t len;
        std::shared_ptr<BusDevice> dev;
        std::string name;
    };
    const std::vector<Entry>& entries() const { return entries_; }

private:
    const Entry* find(uint64_t addr, uint64_t size) const;
    std::vector<Entry> entries_;  // sorted by base
};

}  // namespace khyve
