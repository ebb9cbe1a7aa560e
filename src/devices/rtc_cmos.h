// MC146818 real-time clock and CMOS RAM, as on a PC at ports 0x70 (index,
// bit 7 masks NMI) and 0x71 (data). The clock reads host UTC plus an offset
// the guest sets by writing the time registers (hwclock --systohc).
//
// Not emulated: periodic, alarm and update-ended interrupts (register C
// never reports a flag and no IRQ 8 is raised; the PIE/AIE/UIE bits of
// register B are stored and otherwise ignored), daylight saving, and the
// divider chain (register A is stored; UIP always reads 0, so a reader
// waiting for it to clear never waits).
//
// CMOS memory-size bytes are set the way PC BIOSes and bhyve do, from the
// guest RAM below 4 GiB (lowmem) and above it (highmem).
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>

#include "bus/bus.h"

namespace khyve {

class RtcCmos {
public:
    static constexpr uint16_t kPort = 0x70;  // index; data at kPort + 1
    static constexpr unsigned kCenturyReg = 0x32;  // FADT.CENTURY

    // now: host UTC in seconds (defaults to CLOCK_REALTIME); tests inject it.
    RtcCmos(uint64_t lowmem, uint64_t highmem, std::function<time_t()> now = {});

    // offset 0 = index port, 1 = data port.
    uint8_t read(unsigned offset);
    void write(unsigned offset, uint8_t value);

    bool nmi_masked();

    // Inserts the 2-port range at kPort; keeps this object alive.
    static void attach(Bus& pio, std::shared_ptr<RtcCmos> rtc);

private:
    uint8_t read_data(unsigned idx);
    void write_data(unsigned idx, uint8_t value);
    time_t guest_now() const;
    void latch_time(time_t t);   // encode t into the time registers of ram_
    void commit_time();          // decode them into offset_
    uint8_t encode(int v) const;
    int decode(uint8_t v) const;

    std::mutex mu_;
    std::function<time_t()> now_;
    std::array<uint8_t, 128> ram_{};
    unsigned index_ = 0;
    bool nmi_masked_ = false;
    int64_t offset_ = 0;  // guest time minus host time, seconds
};

}  // namespace khyve
