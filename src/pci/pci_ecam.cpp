#include "pci/pci_ecam.h"

#include <cstring>

#include "pci/pci_bus.h"

namespace khyve {

namespace {
struct Decoded {
    unsigned bus, slot, function, reg;
};
Decoded decode(uint64_t off) {
    return {static_cast<unsigned>(off >> 20) & 0xff, static_cast<unsigned>(off >> 15) & 0x1f,
            static_cast<unsigned>(off >> 12) & 7, static_cast<unsigned>(off & 0xfff)};
}
// An access must stay inside one function's 4 KiB.
bool fits(uint64_t off, size_t len) { return (off & 0xfff) + len <= 0x1000; }
}  // namespace

void PciEcam::read(uint64_t offset, std::span<uint8_t> data) {
    if (!fits(offset, data.size())) {
        std::memset(data.data(), 0xff, data.size());
        return;
    }
    const auto d = decode(offset);
    bus_->config_read(d.bus, d.slot, d.function, d.reg, data);
}

void PciEcam::write(uint64_t offset, std::span<const uint8_t> data) {
    if (!fits(offset, data.size())) return;
    const auto d = decode(offset);
    bus_->config_write(d.bus, d.slot, d.function, d.reg, data);
}

}  // namespace khyve
