// Index/data port sequences on the MC146818 RTC/CMOS with a fuzzer-driven
// host clock. Contract: the index port reads 0xff, register A never shows
// UIP, C reads 0 (no interrupt flags), D reads VRT, NMI masking follows bit 7
// of the last index write, time registers read valid BCD in BCD mode while
// the clock runs (SET off), and plain CMOS bytes read back what was written.
#include <fuzzer/FuzzedDataProvider.h>

#include "devices/rtc_cmos.h"

using namespace khyve;

namespace {

bool is_time_reg(unsigned idx) {
    return idx == 0 || idx == 2 || idx == 4 || idx == 6 || idx == 7 || idx == 8 || idx == 9 ||
           idx == RtcCmos::kCenturyReg;
}

bool bcd(uint8_t v) { return (v & 0x0f) <= 9 && (v >> 4) <= 9; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    // Host clocks from 1970 to ~year 2500: a real CLOCK_REALTIME, not int64 extremes.
    time_t now = time_t(in.ConsumeIntegralInRange<uint64_t>(0, 1ull << 34));
    RtcCmos rtc(in.ConsumeIntegral<uint32_t>(), in.ConsumeIntegral<uint64_t>() >> 8, [&] { return now; });
    unsigned index = 0;
    uint8_t regb = 0x02;
    int cmos[128];
    for (int& c : cmos) c = -1;  // unknown
    for (int op = 0; op < 512 && in.remaining_bytes() > 0; ++op) {
        switch (in.ConsumeIntegralInRange(0, 4)) {
            case 0: {
                uint8_t v = in.ConsumeBool() ? in.ConsumeIntegral<uint8_t>() : in.ConsumeIntegralInRange(0, 0x33);
                rtc.write(0, v);
                index = v & 0x7f;
                if (rtc.nmi_masked() != bool(v & 0x80)) __builtin_trap();
                break;
            }
            case 1: {
                uint8_t v = in.ConsumeIntegral<uint8_t>();
                rtc.write(1, v);
                if (index == 0x0b) regb = v;
                if (!is_time_reg(index) && index > 0x0d) cmos[index] = v;
                break;
            }
            case 2: {
                uint8_t v = rtc.read(1);
                if (index == 0x0a && (v & 0x80)) __builtin_trap();
                if (index == 0x0c && v != 0) __builtin_trap();
                if (index == 0x0d && v != 0x80) __builtin_trap();
                if (index > 0x0d && !is_time_reg(index) && cmos[index] >= 0 && v != cmos[index]) __builtin_trap();
                if (is_time_reg(index) && !(regb & 0x80) && !(regb & 0x04) && !bcd(index == 4 ? v & 0x7f : v))
                    __builtin_trap();
                break;
            }
            case 3: if (rtc.read(0) != 0xff) __builtin_trap(); break;
            case 4: now += time_t(in.ConsumeIntegralInRange<uint32_t>(0, 1u << 30)); break;
        }
    }
    return 0;
}
