// PCI Express enhanced configuration access (ECAM/MMCONFIG): 4 KiB of config
// space per function, 1 MiB per bus, at layout::kEcamBase, for the
// layout::kEcamBuses buses that MCFG describes (bus 0, the only one khyve
// runs). Offsets beyond bus 0 decode to buses that read as all ones.
#pragma once

#include <memory>

#include "bus/bus.h"
#include "platform/layout.h"

namespace khyve {

class PciBus;

class PciEcam : public BusDevice {
public:
    static constexpr uint64_t kBase = layout::kEcamBase;
    static constexpr uint64_t kSize = layout::kEcamSize;

    explicit PciEcam(std::shared_ptr<PciBus> bus) : bus_(std::move(bus)) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::shared_ptr<PciBus> bus_;
};

}  // namespace khyve
