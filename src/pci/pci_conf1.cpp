#include "pci/pci_conf1.h"

#include <cstring>

#include "common/le_bytes.h"
#include "pci/pci_bus.h"

namespace khyve {

namespace {
constexpr uint32_t kEnable = 0x80000000u;
}

PciConf1::PciConf1(std::shared_ptr<PciBus> bus, std::function<void(uint8_t)> cf9_write,
                   std::function<uint8_t()> cf9_read)
    : bus_(std::move(bus)), cf9_write_(std::move(cf9_write)), cf9_read_(std::move(cf9_read)) {}

void PciConf1::read(uint64_t offset, std::span<uint8_t> data) {
    std::memset(data.data(), 0xff, data.size());
    if (offset == 1 && data.size() == 1) {
        if (cf9_read_) data[0] = cf9_read_();
        return;
    }
    if (offset == 0 && data.size() == 4) {
        const uint32_t a = address_.load(std::memory_order_relaxed);
        put_le(data, 0, a);
        return;
    }
    if (offset < 4) return;
    const uint32_t a = address_.load(std::memory_order_relaxed);
    if (!(a & kEnable)) return;
    // Bits 27:24 (AMD's extended register number) are not honoured: conf1
    // reaches the first 256 bytes; ECAM the rest.
    const unsigned reg = (a & 0xfc) + static_cast<unsigned>(offset - 4);
    bus_->config_read((a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, reg, data);
}

void PciConf1::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset == 1 && data.size() == 1) {
        if (cf9_write_) cf9_write_(data[0]);
        return;
    }
    if (offset == 0 && data.size() == 4) {
        const uint32_t a = read_le<uint32_t>(data, 0);
        address_.store(a & 0x80fffffcu, std::memory_order_relaxed);
        return;
    }
    if (offset < 4) return;
    const uint32_t a = address_.load(std::memory_order_relaxed);
    if (!(a & kEnable)) return;
    const unsigned reg = (a & 0xfc) + static_cast<unsigned>(offset - 4);
    bus_->config_write((a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, reg, data);
}

}  // namespace khyve
