// A minimal i8042 keyboard controller at ports 0x60 (data) and 0x64
// (status/command), with no keyboard or mouse attached. It exists so that
// Linux's i8042 probe completes at once and so that the classic reset (command
// 0xFE, or an output-port write clearing bit 0) reaches the machine.
//
// Every controller command is answered immediately (IBF never stays set).
// Bytes sent to the keyboard (data port) or the mouse (command 0xD4) are
// answered with 0xFE and the timeout status bit, as a controller with nothing
// plugged in does, but only when the matching IRQ line is wired: without an
// interrupt no driver would consume them and they would only go stale.
// The IRQ callbacks are called with the internal mutex held and must not call
// back into the device; on_reset is called after it is released.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "bus/bus.h"
#include "devices/irq_line.h"

namespace khyve {

class I8042 : public std::enable_shared_from_this<I8042> {
public:
    static constexpr uint16_t kDataPort = 0x60;
    static constexpr uint16_t kCommandPort = 0x64;
    static constexpr unsigned kKbdIrq = 1;
    static constexpr unsigned kAuxIrq = 12;

    explicit I8042(std::function<void()> on_reset, IrqLine kbd_irq = {}, IrqLine aux_irq = {});

    uint8_t read_data();
    uint8_t read_status();
    void write_data(uint8_t value);
    void write_command(uint8_t value);

    // Inserts 1-byte ranges at 0x60 and 0x64. The object must be owned by a
    // std::shared_ptr (the adapters keep it alive).
    void attach(Bus& pio);

private:
    enum class Pending { kNone, kWriteCtr, kWriteOutPort, kKbdOut, kAuxOut, kAuxDevice, kDiscard };
    struct OutByte {
        uint8_t value;
        bool aux;
        bool timeout;
    };
    void push(uint8_t value, bool aux = false, bool timeout = false);
    void update_irqs();
    bool command_locked(uint8_t cmd);        // true: reset requested
    bool data_locked(uint8_t value);         // true: reset requested

    std::mutex mu_;
    std::function<void()> on_reset_;
    IrqLine kbd_irq_;
    IrqLine aux_irq_;
    bool kbd_level_ = false;
    bool aux_level_ = false;

    std::deque<OutByte> out_;
    Pending pending_ = Pending::kNone;
    uint8_t ctr_;
    uint8_t out_port_ = 0x03;  // reset line high (inactive), A20 on
    bool last_was_command_ = false;
};

}  // namespace khyve
