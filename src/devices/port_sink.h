// A device that swallows writes and reads zeros: POST codes on port 0x80 and
// the io-delay port 0xED, so that `-e` (exit on unhandled I/O) does not stop
// on them. Stateless, so one instance can sit at several ranges.
#pragma once

#include "bus/bus.h"

namespace khyve {

class PortSink : public BusDevice {
public:
    static constexpr uint16_t kPostPort = 0x80;
    static constexpr uint16_t kIoDelayPort = 0xed;

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Inserts one instance at 0x80 and 0xED, one byte each.
    static void attach_defaults(Bus& pio);
};

}  // namespace khyve
