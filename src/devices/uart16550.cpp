#include "devices/uart16550.h"

#include <algorithm>

namespace khyve {
namespace {

enum Reg : unsigned { kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };

constexpr uint8_t kIerRxData = 0x01;
constexpr uint8_t kIerThre = 0x02;
constexpr uint8_t kIerLineStatus = 0x04;
constexpr uint8_t kIerModemStatus = 0x08;

constexpr uint8_t kIirNoInt = 0x01;
constexpr uint8_t kIirModemStatus = 0x00;
constexpr uint8_t kIirThre = 0x02;
constexpr uint8_t kIirRxData = 0x04;
constexpr uint8_t kIirLineStatus = 0x06;
constexpr uint8_t kIirFifosEnabled = 0xc0;

constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;
constexpr uint8_t kFcrTrigger = 0xc0;

constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrWritable = 0x1f;

constexpr uint8_t kLsrDr = 0x01;
constexpr uint8_t kLsrOe = 0x02;
constexpr uint8_t kLsrThre = 0x20;
constexpr uint8_t kLsrTemt = 0x40;

constexpr uint8_t kMsrDcts = 0x01;
constexpr uint8_t kMsrDdsr = 0x02;
constexpr uint8_t kMsrTeri = 0x04;
constexpr uint8_t kMsrDdcd = 0x08;
constexpr uint8_t kMsrDeltas = 0x0f;
constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;

}  // namespace

Uart16550::Uart16550(IrqLine irq, std::function<void(uint8_t)> tx)
    : irq_(std::move(irq)), tx_(std::move(tx)) {
    msr_ = modem_lines();
}

uint8_t Uart16550::read(unsigned reg) {
    std::lock_guard lock(mu_);
    return read_locked(reg);
}

void Uart16550::write(unsigned reg, uint8_t value) {
    TxByte out;
    {
        std::lock_guard lock(mu_);
        out = write_locked(reg, value);
    }
    // Outside the lock: the host side may block on a slow terminal, and the
    // input thread must still be able to queue bytes meanwhile.
    if (out.pending) {
        ++counters_.tx_bytes;
        if (tx_) tx_(out.value);
    }
}

size_t Uart16550::receive(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mu_);
    if (mcr_ & kMcrLoop) return 0;
    size_t room = kRxCapacity + kFifoSize - std::min(rx_.size(), kRxCapacity + kFifoSize);
    size_t n = std::min(room, bytes.size());
    rx_.insert(rx_.end(), bytes.begin(), bytes.begin() + n);
    counters_.rx_bytes.add(n);
    if (n) update_irq();
    return n;
}

bool Uart16550::can_receive() {
    std::lock_guard lock(mu_);
    return !(mcr_ & kMcrLoop) && rx_.size() < kRxCapacity + kFifoSize;
}

uint8_t Uart16550::read_locked(unsigned reg) {
    switch (reg) {
    case kRbrThr:
        if (lcr_ & kLcrDlab) return dll_;
        if (!rx_.empty()) {
            last_rbr_ = rx_.front();
            rx_.pop_front();
            update_irq();
        }
        return last_rbr_;
    case kIer:
        return (lcr_ & kLcrDlab) ? dlm_ : ier_;
    case kIirFcr: {
        uint8_t id = interrupt_id();
        if (id == kIirThre) {
            // Reporting THRE acknowledges it.
            thre_pending_ = false;
            update_irq();
        }
        return id | ((fcr_ & kFcrEnable) ? kIirFifosEnabled : 0);
    }
    case kLcr:
        return lcr_;
    case kMcr:
        return mcr_;
    case kLsr: {
        uint8_t v = (rx_.empty() ? 0 : kLsrDr) | lsr_errors_ | kLsrThre | kLsrTemt;
        if (lsr_errors_) {
            lsr_errors_ = 0;
            update_irq();
        }
        return v;
    }
    case kMsr: {
        uint8_t v = msr_;
        if (msr_ & kMsrDeltas) {
            msr_ &= ~kMsrDeltas;
            update_irq();
        }
        return v;
    }
    case kScr:
        return scr_;
    default:
        return 0xff;
    }
}

Uart16550::TxByte Uart16550::write_locked(unsigned reg, uint8_t value) {
    TxByte out;
    switch (reg) {
    case kRbrThr:
        if (lcr_ & kLcrDlab) {
            dll_ = value;
            break;
        }
        // Writing THR acknowledges THRE; the byte leaves at once, so THR is
        // empty again and THRE is raised anew: the output falls, then rises.
        thre_pending_ = false;
        update_irq();
        if (mcr_ & kMcrLoop) {
            loopback_receive(value);
        } else {
            out = {true, value};
        }
        thre_pending_ = true;
        update_irq();
        break;
    case kIer:
        if (lcr_ & kLcrDlab)
            dlm_ = value;
        else
            write_ier(value);
        break;
    case kIirFcr:
        write_fcr(value);
        break;
    case kLcr:
        lcr_ = value;
        break;
    case kMcr:
        write_mcr(value);
        break;
    case kScr:
        scr_ = value;
        break;
    default:
        break;  // LSR and MSR are read-only here
    }
    return out;
}

void Uart16550::write_ier(uint8_t value) {
    uint8_t old = ier_;
    ier_ = value & 0x0f;
    // THR is always empty, so enabling the THRE interrupt raises it at once;
    // Linux's THRE test relies on this happening on every 0 -> 1 transition.
    if ((ier_ & kIerThre) && !(old & kIerThre)) thre_pending_ = true;
    if (!(ier_ & kIerThre)) thre_pending_ = false;
    update_irq();
}

void Uart16550::write_fcr(uint8_t value) {
    bool was_enabled = fcr_ & kFcrEnable;
    bool enable = value & kFcrEnable;
    // Toggling the FIFO enable, or the RX reset bit, empties the receive
    // FIFO. Only what the guest can see is dropped: the backlog beyond it
    // stands for bytes still waiting on the host side of the line.
    if (enable != was_enabled || (enable && (value & kFcrClearRx))) {
        size_t drop = std::min(rx_.size(), visible_fifo());
        rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(drop));
    }
    fcr_ = enable ? (value & (kFcrEnable | kFcrTrigger)) : 0;
    update_irq();
}

void Uart16550::write_mcr(uint8_t value) {
    uint8_t before = modem_lines();
    mcr_ = value & kMcrWritable;
    uint8_t after = modem_lines();
    uint8_t changed = before ^ after;
    uint8_t deltas = 0;
    if (changed & kMsrCts) deltas |= kMsrDcts;
    if (changed & kMsrDsr) deltas |= kMsrDdsr;
    if ((before & kMsrRi) && !(after & kMsrRi)) deltas |= kMsrTeri;  // trailing edge only
    if (changed & kMsrDcd) deltas |= kMsrDdcd;
    msr_ = after | (msr_ & kMsrDeltas) | deltas;
    update_irq();
}

void Uart16550::loopback_receive(uint8_t value) {
    if (rx_.size() >= visible_fifo()) {
        lsr_errors_ |= kLsrOe;
    } else {
        rx_.push_back(value);
    }
}

uint8_t Uart16550::modem_lines() const {
    if (mcr_ & kMcrLoop) {
        uint8_t v = 0;
        if (mcr_ & kMcrRts) v |= kMsrCts;
        if (mcr_ & kMcrDtr) v |= kMsrDsr;
        if (mcr_ & kMcrOut1) v |= kMsrRi;
        if (mcr_ & kMcrOut2) v |= kMsrDcd;
        return v;
    }
    // A permanently connected peer: carrier, data set ready and clear to
    // send, so opens without CLOCAL and CRTSCTS output never block.
    return kMsrCts | kMsrDsr | kMsrDcd;
}

uint8_t Uart16550::interrupt_id() const {
    if ((ier_ & kIerLineStatus) && lsr_errors_) return kIirLineStatus;
    if ((ier_ & kIerRxData) && !rx_.empty()) return kIirRxData;
    if ((ier_ & kIerThre) && thre_pending_) return kIirThre;
    if ((ier_ & kIerModemStatus) && (msr_ & kMsrDeltas)) return kIirModemStatus;
    return kIirNoInt;
}

void Uart16550::update_irq() {
    // On a PC the INTR pin reaches the PIC only through a buffer enabled by
    // OUT2; loopback forces OUT2 inactive at the pin.
    bool level = interrupt_id() != kIirNoInt && (mcr_ & kMcrOut2) && !(mcr_ & kMcrLoop);
    if (level == irq_level_) return;
    irq_level_ = level;
    if (irq_) irq_(level);
}

}  // namespace khyve
