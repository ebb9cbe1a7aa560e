// ACPI fixed hardware of the machine (FADT PM1a_EVT_BLK, PM1a_CNT_BLK,
// PM_TMR_BLK) and the reset control register the FADT's RESET_REG names.
//
//   PM1a event   layout::kPm1aEvt, 4 bytes: PM1_STS (write 1 to clear), PM1_EN
//   PM1a control layout::kPm1aCnt, 2 bytes: SCI_EN always reads 1 (the machine
//                is always in ACPI mode: FADT.SMI_CMD must be 0); writing
//                SLP_EN with SLP_TYP 5 powers off (the DSDT's \_S5 must be 5);
//                other sleep types are ignored, so declare no \_S1..\_S4.
//   PM timer     layout::kPmTimer, 4 bytes: 32-bit, 3.579545 MHz (FADT flag
//                TMR_VAL_EXT must be set).
//   SCI          layout::kSciIrq, a level: high while an enabled status bit
//                (TMR, GBL, PWRBTN, SLPBTN, RTC) is set.
//
// TMR_STS is set when bit 31 of the timer toggles, but only noticed when the
// guest touches one of the blocks: there is no timer thread, so an enabled
// TMR_EN does not by itself interrupt (Linux never enables it).
//
// Accesses of width 1, 2 and 4 anywhere inside a block work. The SCI callback
// is called with the internal mutex held and must not call back into the
// device; on_poweroff/on_reset are called after it is released, on the
// calling (vCPU) thread, and should only ask the machine to stop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "bus/bus.h"
#include "devices/irq_line.h"

namespace khyve {

class AcpiPm : public std::enable_shared_from_this<AcpiPm> {
public:
    enum class Block { kEvent, kControl, kTimer };
    static constexpr uint32_t kTimerHz = 3579545;
    static constexpr uint8_t kSlpTypS5 = 5;

    // now_ns: a monotonic clock in ns (defaults to CLOCK_MONOTONIC).
    AcpiPm(IrqLine sci, std::function<void()> on_poweroff, std::function<void()> on_reset,
           std::function<uint64_t()> now_ns = {});

    static unsigned block_size(Block b) { return b == Block::kControl ? 2 : 4; }
    // Little-endian access of width 1, 2 or 4 at offset inside the block;
    // out-of-range accesses read all ones and are ignored on write.
    uint32_t read(Block b, unsigned offset, unsigned width);
    void write(Block b, unsigned offset, unsigned width, uint32_t value);

    // The power button: sets PWRBTN_STS, raising the SCI if PWRBTN_EN.
    // Takes a mutex: call it from a thread (e.g. a signalfd loop), not from
    // inside an asynchronous signal handler.
    void press_power_button();

    // Reset control register (0xCF9), reached through the PCI conf1 device
    // that owns 0xCF8-0xCFF. Setting RST_CPU (bit 2) calls on_reset.
    void reset_control_write(uint8_t value);
    uint8_t reset_control_read();

    // Inserts the three blocks at their layout:: ports. The object must be
    // owned by a std::shared_ptr (the adapters keep it alive).
    void attach(Bus& pio);

private:
    uint64_t ticks() const;
    void refresh_timer_status();
    void update_sci();

    std::mutex mu_;
    IrqLine sci_;
    std::function<void()> on_poweroff_;
    std::function<void()> on_reset_;
    std::function<uint64_t()> now_ns_;

    uint16_t sts_ = 0;
    uint16_t en_ = 0;
    uint16_t cnt_ = 0;
    uint8_t reset_ctl_ = 0;
    uint64_t timer_epoch_ = 0;  // ticks >> 31 when TMR_STS was last evaluated
    bool sci_level_ = false;
};

}  // namespace khyve
