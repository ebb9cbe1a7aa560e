// The 16550A UART core, as seen by Linux's 8250 driver. It does not know its
// bus: the guest side is read()/write() of register 0..7, the host side is
// receive() for input and the tx callback for output.
//
// Transmission is instantaneous: THR is always empty again by the time a
// write returns, so LSR.THRE and LSR.TEMT read as set, and each THR write
// re-raises the THRE interrupt (the IRQ output drops and rises again, as on
// hardware, so edge-triggered routing sees a new edge).
//
// Threading: every method takes an internal mutex. The IRQ callback is called
// with that mutex held (so level changes reach the interrupt controller in
// order); the tx callback is called after it is released. Neither callback
// may call back into the same Uart16550.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

#include "devices/irq_line.h"
#include "stats/counters.h"

namespace khyve {

class Uart16550 {
public:
    // Bytes of host input held beyond what the guest can see in its FIFO.
    static constexpr size_t kRxCapacity = 4096;
    static constexpr size_t kFifoSize = 16;

    Uart16550(IrqLine irq, std::function<void(uint8_t)> tx);

    // Guest register access; reg is 0..7 (others read 0xff and ignore writes).
    uint8_t read(unsigned reg);
    void write(unsigned reg, uint8_t value);

    // Host input. Returns how many bytes were accepted (0 when the buffer is
    // full or the UART is in loopback mode, whose receiver is disconnected
    // from the line); the caller retries the rest later.
    size_t receive(std::span<const uint8_t> bytes);
    bool can_receive();

    // Transmitted: bytes the guest wrote to THR (not in loopback mode);
    // received: host bytes accepted by receive(). Any thread.
    const UartCounters& counters() const { return counters_; }

private:
    struct TxByte {
        bool pending = false;
        uint8_t value = 0;
    };
    uint8_t read_locked(unsigned reg);
    TxByte write_locked(unsigned reg, uint8_t value);
    void write_ier(uint8_t value);
    void write_fcr(uint8_t value);
    void write_mcr(uint8_t value);
    void loopback_receive(uint8_t value);
    uint8_t modem_lines() const;  // MSR bits 7:4 as they currently are
    uint8_t interrupt_id() const; // IIR bits 3:0
    size_t visible_fifo() const { return (fcr_ & 1) ? kFifoSize : 1; }
    void update_irq();

    std::mutex mu_;
    IrqLine irq_;
    std::function<void(uint8_t)> tx_;

    std::deque<uint8_t> rx_;
    uint8_t ier_ = 0;
    uint8_t lcr_ = 0;
    uint8_t mcr_ = 0;
    uint8_t fcr_ = 0;       // only bits 0 (enable) and 7:6 (trigger) are kept
    uint8_t lsr_errors_ = 0;// OE; cleared by reading LSR
    uint8_t msr_ = 0;       // lines (7:4) and deltas (3:0)
    uint8_t scr_ = 0;
    uint8_t dll_ = 12;      // 9600 baud
    uint8_t dlm_ = 0;
    uint8_t last_rbr_ = 0;
    bool thre_pending_ = false;
    bool irq_level_ = false;
    UartCounters counters_;
};

}  // namespace khyve
