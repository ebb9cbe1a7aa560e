// PCI configuration mechanism #1: CONFIG_ADDRESS at 0xCF8 (dword), data at
// 0xCFC-0xCFF (any width, at the byte offset the port selects). One
// BusDevice covers [0xCF8, 0xD00); byte accesses at 0xCF9 are the ACPI reset
// control register, not PCI, and go to the callbacks given at construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "bus/bus.h"

namespace khyve {

class PciBus;

class PciConf1 : public BusDevice {
public:
    static constexpr uint16_t kBase = 0xcf8;
    static constexpr uint16_t kSize = 8;

    PciConf1(std::shared_ptr<PciBus> bus, std::function<void(uint8_t)> cf9_write,
             std::function<uint8_t()> cf9_read);

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::shared_ptr<PciBus> bus_;
    std::function<void(uint8_t)> cf9_write_;
    std::function<uint8_t()> cf9_read_;
    // Shared by all vCPUs, like the real latch; guests serialise with a lock.
    std::atomic<uint32_t> address_{0};
};

}  // namespace khyve
