// Guest accesses to the ACPI PM1a event/control blocks, the PM timer and the
// reset register, of any width and offset, with a fuzzer-driven clock and
// power-button presses. Contract: a read fits its width (all ones when out of
// range), SCI_EN always reads 1, the SCI callback only ever changes level and
// is high exactly when an enabled status bit is set, power-off happens only
// on a control write carrying SLP_EN with SLP_TYP 5, reset only on RST_CPU.
#include <fuzzer/FuzzedDataProvider.h>

#include "devices/acpi_pm.h"

using namespace khyve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    uint64_t now = in.ConsumeIntegral<uint32_t>();
    int sci = 0;  // -1 unknown
    unsigned poweroffs = 0, resets = 0;
    AcpiPm pm([&](bool level) {
        if (int(level) == sci) __builtin_trap();  // told the same level twice
        sci = level;
    }, [&] { ++poweroffs; }, [&] { ++resets; }, [&] { return now; });
    using B = AcpiPm::Block;
    for (int op = 0; op < 512 && in.remaining_bytes() > 0; ++op) {
        const B b = B(in.ConsumeIntegralInRange(0, 2));
        const unsigned width = in.ConsumeIntegralInRange(0, 5);  // 0, 3, 5: bad widths
        const unsigned off = in.ConsumeIntegralInRange(0, 5);
        const bool valid = (width == 1 || width == 2 || width == 4) && off + width <= AcpiPm::block_size(b);
        switch (in.ConsumeIntegralInRange(0, 5)) {
            case 0: {
                uint32_t v = pm.read(b, off, width);
                if (!valid && v != 0xffffffffu) __builtin_trap();
                if (valid && width < 4 && (v >> (8 * width))) __builtin_trap();
                if (valid && b == B::kControl && off == 0 && !(v & 1)) __builtin_trap();
                break;
            }
            case 1: {
                const uint32_t v = in.ConsumeIntegral<uint32_t>();
                const unsigned before = poweroffs;
                pm.write(b, off, width, v);
                if (poweroffs != before) {
                    // Only SLP_EN (bit 13) with SLP_TYP (bits 10-12) 5, in the high byte.
                    if (!valid || b != B::kControl || off + width < 2) __builtin_trap();
                    const uint32_t hi = off == 1 ? v : v >> 8;
                    if (!(hi & 0x20) || ((hi >> 2) & 7) != AcpiPm::kSlpTypS5) __builtin_trap();
                }
                break;
            }
            case 2: now += in.ConsumeIntegral<uint32_t>() * uint64_t(in.ConsumeIntegralInRange(1, 4096)); break;
            case 3: pm.press_power_button(); break;
            case 4: {
                const uint8_t v = in.ConsumeIntegral<uint8_t>();
                const unsigned before = resets;
                pm.reset_control_write(v);
                if ((resets != before) != bool(v & 4)) __builtin_trap();
                if (pm.reset_control_read() & ~0x0au) __builtin_trap();
                break;
            }
            case 5: {  // the SCI level must match PM1_STS & PM1_EN
                uint32_t evt = pm.read(B::kEvent, 0, 4);
                bool pending = (evt & (evt >> 16) & 0x0721) != 0;
                if (pending != (sci == 1)) __builtin_trap();
                if (evt & 0xffff & ~0x0721u) __builtin_trap();  // only implemented status bits
                break;
            }
        }
    }
    return 0;
}
