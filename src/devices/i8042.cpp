#include "devices/i8042.h"

namespace khyve {
namespace {

constexpr uint8_t kStsObf = 0x01;
constexpr uint8_t kStsSys = 0x04;
constexpr uint8_t kStsCmd = 0x08;
constexpr uint8_t kStsUnlocked = 0x10;  // keyboard not inhibited
constexpr uint8_t kStsAuxData = 0x20;
constexpr uint8_t kStsTimeout = 0x40;

constexpr uint8_t kCtrKbdInt = 0x01;
constexpr uint8_t kCtrAuxInt = 0x02;
constexpr uint8_t kCtrSys = 0x04;
constexpr uint8_t kCtrKbdDis = 0x10;
constexpr uint8_t kCtrAuxDis = 0x20;
constexpr uint8_t kCtrXlate = 0x40;

constexpr uint8_t kNoDevice = 0xfe;
constexpr size_t kOutMax = 16;

class Port : public BusDevice {
public:
    Port(std::shared_ptr<I8042> dev, bool command) : dev_(std::move(dev)), command_(command) {}
    void read(uint64_t, std::span<uint8_t> data) override {
        for (auto& b : data) b = command_ ? dev_->read_status() : dev_->read_data();
    }
    void write(uint64_t, std::span<const uint8_t> data) override {
        for (uint8_t b : data) command_ ? dev_->write_command(b) : dev_->write_data(b);
    }

private:
    std::shared_ptr<I8042> dev_;
    bool command_;
};

}  // namespace

I8042::I8042(std::function<void()> on_reset, IrqLine kbd_irq, IrqLine aux_irq)
    : on_reset_(std::move(on_reset)),
      kbd_irq_(std::move(kbd_irq)),
      aux_irq_(std::move(aux_irq)),
      ctr_(kCtrKbdInt | kCtrAuxInt | kCtrSys | kCtrXlate) {}

void I8042::attach(Bus& pio) {
    auto self = shared_from_this();
    pio.insert(kDataPort, 1, std::make_shared<Port>(self, false), "i8042-data");
    pio.insert(kCommandPort, 1, std::make_shared<Port>(self, true), "i8042-cmd");
}

uint8_t I8042::read_status() {
    std::lock_guard lock(mu_);
    uint8_t s = kStsUnlocked | ((ctr_ & kCtrSys) ? kStsSys : 0) | (last_was_command_ ? kStsCmd : 0);
    if (!out_.empty()) {
        s |= kStsObf;
        if (out_.front().aux) s |= kStsAuxData;
        if (out_.front().timeout) s |= kStsTimeout;
    }
    return s;
}

uint8_t I8042::read_data() {
    std::lock_guard lock(mu_);
    if (out_.empty()) return 0;
    uint8_t v = out_.front().value;
    out_.pop_front();
    // The line falls when the buffer is read and rises again if another byte
    // moves in, so edge-triggered routing sees every byte.
    if (kbd_level_ && kbd_irq_) kbd_irq_(false);
    if (aux_level_ && aux_irq_) aux_irq_(false);
    kbd_level_ = aux_level_ = false;
    update_irqs();
    return v;
}

void I8042::write_command(uint8_t value) {
    bool reset;
    {
        std::lock_guard lock(mu_);
        last_was_command_ = true;
        reset = command_locked(value);
    }
    if (reset && on_reset_) on_reset_();
}

void I8042::write_data(uint8_t value) {
    bool reset;
    {
        std::lock_guard lock(mu_);
        last_was_command_ = false;
        reset = data_locked(value);
    }
    if (reset && on_reset_) on_reset_();
}

void I8042::push(uint8_t value, bool aux, bool timeout) {
    if (out_.size() >= kOutMax) return;  // a guest not reading: drop, stay bounded
    out_.push_back({value, aux, timeout});
    update_irqs();
}

void I8042::update_irqs() {
    bool kbd = false, aux = false;
    if (!out_.empty()) {
        if (out_.front().aux)
            aux = ctr_ & kCtrAuxInt;
        else
            kbd = ctr_ & kCtrKbdInt;
    }
    if (kbd != kbd_level_) {
        kbd_level_ = kbd;
        if (kbd_irq_) kbd_irq_(kbd);
    }
    if (aux != aux_level_) {
        aux_level_ = aux;
        if (aux_irq_) aux_irq_(aux);
    }
}

bool I8042::command_locked(uint8_t cmd) {
    pending_ = Pending::kNone;
    if (cmd >= 0xf0) return !(cmd & 0x01);  // pulse output lines; bit 0 is reset
    switch (cmd) {
    case 0x20:
        push(ctr_);
        break;
    case 0x60:
        pending_ = Pending::kWriteCtr;
        break;
    case 0xa7:
        ctr_ |= kCtrAuxDis;
        break;
    case 0xa8:
        ctr_ &= ~kCtrAuxDis;
        break;
    case 0xa9:  // aux interface test: OK
    case 0xab:  // keyboard interface test: OK
        push(0x00);
        break;
    case 0xaa:  // controller self-test
        ctr_ |= kCtrSys;
        push(0x55);
        break;
    case 0xad:
        ctr_ |= kCtrKbdDis;
        break;
    case 0xae:
        ctr_ &= ~kCtrKbdDis;
        break;
    case 0xc0:  // input port
        push(0x00);
        break;
    case 0xd0:
        push(out_port_);
        break;
    case 0xd1:
        pending_ = Pending::kWriteOutPort;
        break;
    case 0xd2:
        pending_ = Pending::kKbdOut;
        break;
    case 0xd3:
        pending_ = Pending::kAuxOut;
        break;
    case 0xd4:
        pending_ = Pending::kAuxDevice;
        break;
    default:
        if (cmd > 0x20 && cmd < 0x40) push(0x00);  // other controller RAM bytes
        else if (cmd > 0x60 && cmd < 0x80) pending_ = Pending::kDiscard;  // RAM write
        break;
    }
    return false;
}

bool I8042::data_locked(uint8_t value) {
    Pending p = pending_;
    pending_ = Pending::kNone;
    switch (p) {
    case Pending::kWriteCtr:
        ctr_ = value;
        update_irqs();
        return false;
    case Pending::kWriteOutPort:
        out_port_ = value;
        return !(value & 0x01);
    case Pending::kKbdOut:
        push(value);
        return false;
    case Pending::kAuxOut:
        push(value, true);
        return false;
    case Pending::kAuxDevice:
        if (aux_irq_) push(kNoDevice, true, true);
        return false;
    case Pending::kDiscard:
        return false;
    case Pending::kNone:
        if (kbd_irq_) push(kNoDevice, false, true);
        return false;
    }
    return false;
}

}  // namespace khyve
