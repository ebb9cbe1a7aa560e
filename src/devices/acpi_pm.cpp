#include "devices/acpi_pm.h"

#include <time.h>

#include <algorithm>

#include "common/le_bytes.h"
#include "platform/layout.h"

namespace khyve {
namespace {

constexpr uint16_t kStsTmr = 1u << 0;
constexpr uint16_t kStsPwrbtn = 1u << 8;
// Status bits that have a matching enable bit and so can raise the SCI:
// TMR, GBL, PWRBTN, SLPBTN, RTC.
constexpr uint16_t kSciSources = (1u << 0) | (1u << 5) | (1u << 8) | (1u << 9) | (1u << 10);
// Status bits this hardware has at all; the rest read 0 (WAK_STS too:
// nothing here ever sleeps and wakes).
constexpr uint16_t kStsImplemented = kSciSources;

constexpr uint16_t kCntSciEn = 1u << 0;
constexpr uint16_t kCntSlpEn = 1u << 13;
constexpr unsigned kCntSlpTypShift = 10;

constexpr uint8_t kResetSysRst = 0x02;
constexpr uint8_t kResetRstCpu = 0x04;
constexpr uint8_t kResetFullRst = 0x08;

uint32_t lane_mask(unsigned offset, unsigned width) {
    uint32_t m = width >= 4 ? 0xffffffffu : ((1u << (8 * width)) - 1);
    return m << (8 * offset);
}

class BlockPort : public BusDevice {
public:
    BlockPort(std::shared_ptr<AcpiPm> pm, AcpiPm::Block b) : pm_(std::move(pm)), block_(b) {}
    void read(uint64_t offset, std::span<uint8_t> data) override {
        if (data.size() > 4) {
            std::fill(data.begin(), data.end(), 0xff);
            return;
        }
        put_le_n(data, 0, pm_->read(block_, static_cast<unsigned>(offset), static_cast<unsigned>(data.size())),
                 data.size());
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        if (data.size() > 4) return;
        pm_->write(block_, static_cast<unsigned>(offset), static_cast<unsigned>(data.size()),
                   static_cast<uint32_t>(read_le_n(data, 0, data.size())));
    }

private:
    std::shared_ptr<AcpiPm> pm_;
    AcpiPm::Block block_;
};

}  // namespace

AcpiPm::AcpiPm(IrqLine sci, std::function<void()> on_poweroff, std::function<void()> on_reset,
               std::function<uint64_t()> now_ns)
    : sci_(std::move(sci)),
      on_poweroff_(std::move(on_poweroff)),
      on_reset_(std::move(on_reset)),
      now_ns_(std::move(now_ns)) {
    if (!now_ns_) {
        now_ns_ = [] {
            timespec ts{};
            clock_gettime(CLOCK_MONOTONIC, &ts);
            return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
        };
    }
    timer_epoch_ = ticks() >> 31;
}

void AcpiPm::attach(Bus& pio) {
    auto self = shared_from_this();
    pio.insert(layout::kPm1aEvt, block_size(Block::kEvent), std::make_shared<BlockPort>(self, Block::kEvent),
               "acpi-pm1a-evt");
    pio.insert(layout::kPm1aCnt, block_size(Block::kControl), std::make_shared<BlockPort>(self, Block::kControl),
               "acpi-pm1a-cnt");
    pio.insert(layout::kPmTimer, block_size(Block::kTimer), std::make_shared<BlockPort>(self, Block::kTimer),
               "acpi-pm-timer");
}

uint64_t AcpiPm::ticks() const {
    uint64_t ns = now_ns_();
    // Split to keep ns * Hz inside 64 bits.
    return (ns / 1000000000ull) * kTimerHz + (ns % 1000000000ull) * kTimerHz / 1000000000ull;
}

void AcpiPm::refresh_timer_status() {
    uint64_t epoch = ticks() >> 31;
    if (epoch != timer_epoch_) {
        timer_epoch_ = epoch;
        sts_ |= kStsTmr;
    }
}

void AcpiPm::update_sci() {
    bool level = (sts_ & en_ & kSciSources) != 0;
    if (level == sci_level_) return;
    sci_level_ = level;
    if (sci_) sci_(level);
}

uint32_t AcpiPm::read(Block b, unsigned offset, unsigned width) {
    if (!(width == 1 || width == 2 || width == 4) || offset + width > block_size(b)) return 0xffffffffu;
    std::lock_guard lock(mu_);
    refresh_timer_status();
    update_sci();
    uint32_t whole = 0;
    switch (b) {
    case Block::kEvent:
        whole = sts_ | static_cast<uint32_t>(en_) << 16;
        break;
    case Block::kControl:
        whole = cnt_ | kCntSciEn;
        break;
    case Block::kTimer:
        whole = static_cast<uint32_t>(ticks());
        break;
    }
    return (whole & lane_mask(offset, width)) >> (8 * offset);
}

void AcpiPm::write(Block b, unsigned offset, unsigned width, uint32_t value) {
    if (!(width == 1 || width == 2 || width == 4) || offset + width > block_size(b)) return;
    uint32_t mask = lane_mask(offset, width);
    uint32_t v = (value << (8 * offset)) & mask;
    bool poweroff = false;
    {
        std::lock_guard lock(mu_);
        refresh_timer_status();
        switch (b) {
        case Block::kEvent:
            sts_ &= static_cast<uint16_t>(~v);
            en_ = static_cast<uint16_t>((en_ & ~(mask >> 16)) | (v >> 16));
            break;
        case Block::kControl: {
            uint16_t merged = static_cast<uint16_t>((cnt_ & ~mask) | v);
            // SLP_EN is write-only and lives in the high byte: only a write
            // that carries that byte can start a sleep.
            if ((mask & 0xff00) && (merged & kCntSlpEn)) {
                unsigned typ = (merged >> kCntSlpTypShift) & 7;
                poweroff = typ == kSlpTypS5;
            }
            cnt_ = static_cast<uint16_t>((merged & ~kCntSlpEn) | kCntSciEn);
            break;
        }
        case Block::kTimer:
            break;  // read-only
        }
        sts_ &= kStsImplemented;
        update_sci();
    }
    if (poweroff && on_poweroff_) on_poweroff_();
}

void AcpiPm::press_power_button() {
    std::lock_guard lock(mu_);
    sts_ |= kStsPwrbtn;
    update_sci();
}

void AcpiPm::reset_control_write(uint8_t value) {
    {
        std::lock_guard lock(mu_);
        reset_ctl_ = value & (kResetSysRst | kResetFullRst);
    }
    if ((value & kResetRstCpu) && on_reset_) on_reset_();
}

uint8_t AcpiPm::reset_control_read() {
    std::lock_guard lock(mu_);
    return reset_ctl_;
}

}  // namespace khyve
