#include "devices/rtc_cmos.h"

#include <algorithm>

namespace khyve {
namespace {

enum : unsigned {
    kSec = 0x00,
    kMin = 0x02,
    kHour = 0x04,
    kWeekday = 0x06,
    kMday = 0x07,
    kMonth = 0x08,
    kYear = 0x09,
    kRegA = 0x0a,
    kRegB = 0x0b,
    kRegC = 0x0c,
    kRegD = 0x0d,
};

constexpr uint8_t kAUip = 0x80;
constexpr uint8_t kBSet = 0x80;
constexpr uint8_t kBBinary = 0x04;
constexpr uint8_t kB24h = 0x02;
constexpr uint8_t kDValidRam = 0x80;
constexpr uint8_t kHourPm = 0x80;

bool is_time_reg(unsigned idx) {
    return idx == kSec || idx == kMin || idx == kHour || idx == kWeekday || idx == kMday ||
           idx == kMonth || idx == kYear || idx == RtcCmos::kCenturyReg;
}

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

class RtcPio : public BusDevice {
public:
    explicit RtcPio(std::shared_ptr<RtcCmos> rtc) : rtc_(std::move(rtc)) {}
    void read(uint64_t offset, std::span<uint8_t> data) override {
        for (size_t i = 0; i < data.size(); ++i)
            data[i] = offset + i < 2 ? rtc_->read(static_cast<unsigned>(offset + i)) : 0xff;
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        for (size_t i = 0; i < data.size(); ++i)
            if (offset + i < 2) rtc_->write(static_cast<unsigned>(offset + i), data[i]);
    }

private:
    std::shared_ptr<RtcCmos> rtc_;
};

}  // namespace

RtcCmos::RtcCmos(uint64_t lowmem, uint64_t highmem, std::function<time_t()> now)
    : now_(std::move(now)) {
    if (!now_) now_ = [] { return std::time(nullptr); };
    ram_[kRegA] = 0x26;  // 32.768 kHz time base, 1024 Hz rate
    ram_[kRegB] = kB24h; // BCD, 24-hour, as BIOSes leave it

    auto put16 = [this](unsigned lo, uint64_t v) {
        ram_[lo] = static_cast<uint8_t>(v);
        ram_[lo + 1] = static_cast<uint8_t>(v >> 8);
    };
    // Base memory in KiB (at most 640), extended memory above 1 MiB in KiB,
    // memory between 16 MiB and 4 GiB in 64 KiB units, each saturating at
    // 16 bits; memory above 4 GiB in 64 KiB units, saturating at 24 bits.
    put16(0x15, std::min<uint64_t>(lowmem / KiB, 640));
    uint64_t ext = lowmem > MiB ? std::min<uint64_t>((lowmem - MiB) / KiB, 0xffff) : 0;
    put16(0x17, ext);
    put16(0x30, ext);
    put16(0x34, lowmem > 16 * MiB ? std::min<uint64_t>((lowmem - 16 * MiB) / (64 * KiB), 0xffff) : 0);
    uint64_t high = std::min<uint64_t>(highmem / (64 * KiB), 0xffffff);
    ram_[0x5b] = static_cast<uint8_t>(high);
    ram_[0x5c] = static_cast<uint8_t>(high >> 8);
    ram_[0x5d] = static_cast<uint8_t>(high >> 16);
}

void RtcCmos::attach(Bus& pio, std::shared_ptr<RtcCmos> rtc) {
    pio.insert(kPort, 2, std::make_shared<RtcPio>(std::move(rtc)), "rtc");
}

bool RtcCmos::nmi_masked() {
    std::lock_guard lock(mu_);
    return nmi_masked_;
}

uint8_t RtcCmos::read(unsigned offset) {
    std::lock_guard lock(mu_);
    if (offset == 1) return read_data(index_);
    return 0xff;  // the index port is write-only
}

void RtcCmos::write(unsigned offset, uint8_t value) {
    std::lock_guard lock(mu_);
    if (offset == 0) {
        index_ = value & 0x7f;
        nmi_masked_ = value & 0x80;
    } else if (offset == 1) {
        write_data(index_, value);
    }
}

time_t RtcCmos::guest_now() const { return static_cast<time_t>(now_() + offset_); }

uint8_t RtcCmos::encode(int v) const {
    if (ram_[kRegB] & kBBinary) return static_cast<uint8_t>(v);
    return static_cast<uint8_t>(((v / 10) % 10) << 4 | (v % 10));
}

int RtcCmos::decode(uint8_t v) const {
    if (ram_[kRegB] & kBBinary) return v;
    return (v >> 4) * 10 + (v & 0x0f);
}

void RtcCmos::latch_time(time_t t) {
    tm tmv{};
    if (!gmtime_r(&t, &tmv)) return;
    ram_[kSec] = encode(std::min(tmv.tm_sec, 59));
    ram_[kMin] = encode(tmv.tm_min);
    if (ram_[kRegB] & kB24h) {
        ram_[kHour] = encode(tmv.tm_hour);
    } else {
        int h = tmv.tm_hour % 12;
        ram_[kHour] = static_cast<uint8_t>(encode(h == 0 ? 12 : h) | (tmv.tm_hour >= 12 ? kHourPm : 0));
    }
    ram_[kWeekday] = encode(tmv.tm_wday + 1);
    ram_[kMday] = encode(tmv.tm_mday);
    ram_[kMonth] = encode(tmv.tm_mon + 1);
    int year = tmv.tm_year + 1900;
    ram_[kYear] = encode(year % 100);
    ram_[kCenturyReg] = encode(year / 100);
}

void RtcCmos::commit_time() {
    tm tmv{};
    tmv.tm_sec = decode(ram_[kSec]);
    tmv.tm_min = decode(ram_[kMin]);
    if (ram_[kRegB] & kB24h) {
        tmv.tm_hour = decode(ram_[kHour]);
    } else {
        int h = decode(ram_[kHour] & 0x7f) % 12;
        tmv.tm_hour = h + ((ram_[kHour] & kHourPm) ? 12 : 0);
    }
    tmv.tm_mday = decode(ram_[kMday]);
    tmv.tm_mon = decode(ram_[kMonth]) - 1;
    tmv.tm_year = decode(ram_[kCenturyReg]) * 100 + decode(ram_[kYear]) - 1900;
    // Out-of-range fields (bad BCD from the guest) are normalised by timegm;
    // the guest gets back a valid time, never a crash.
    time_t t = timegm(&tmv);
    if (t == static_cast<time_t>(-1)) return;
    offset_ = static_cast<int64_t>(t) - static_cast<int64_t>(now_());
}

uint8_t RtcCmos::read_data(unsigned idx) {
    if (is_time_reg(idx)) {
        if (!(ram_[kRegB] & kBSet)) latch_time(guest_now());
        return ram_[idx];
    }
    switch (idx) {
    case kRegA:
        return ram_[kRegA] & ~kAUip;
    case kRegC: {
        uint8_t v = ram_[kRegC];
        ram_[kRegC] = 0;
        return v;
    }
    case kRegD:
        return kDValidRam;
    default:
        return ram_[idx];
    }
}

void RtcCmos::write_data(unsigned idx, uint8_t value) {
    if (is_time_reg(idx)) {
        // While SET is on, the registers hold what the guest writes and the
        // clock is applied when SET goes off; otherwise apply at once.
        bool frozen = ram_[kRegB] & kBSet;
        if (!frozen) latch_time(guest_now());
        ram_[idx] = value;
        if (!frozen) commit_time();
        return;
    }
    switch (idx) {
    case kRegA:
        ram_[kRegA] = value & ~kAUip;
        break;
    case kRegB: {
        bool was_set = ram_[kRegB] & kBSet;
        bool set = value & kBSet;
        // Latch in the new format; commit in the one the guest wrote in.
        if (was_set && !set) commit_time();
        ram_[kRegB] = value;
        if (set && !was_set) latch_time(guest_now());
        break;
    }
    case kRegC:
    case kRegD:
        break;  // read-only
    default:
        ram_[idx] = value;
        break;
    }
}

}  // namespace khyve
