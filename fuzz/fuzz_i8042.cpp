// Command and data port sequences on the i8042, with and without IRQ lines
// wired. Contract: the output buffer stays bounded (status OBF clears within
// 16 data reads), a raised keyboard/aux line means a byte of that kind is
// waiting, the callbacks only ever change level, and reset is requested only
// by a pulse command with bit 0 clear or an output-port write clearing bit 0.
#include <fuzzer/FuzzedDataProvider.h>

#include "devices/i8042.h"

using namespace khyve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    const bool wired = in.ConsumeBool();
    int kbd = 0, aux = 0;
    unsigned resets = 0;
    auto line = [](int& state) {
        return [&state](bool level) {
            if (int(level) == state) __builtin_trap();
            state = level;
        };
    };
    I8042 dev([&] { ++resets; }, wired ? IrqLine(line(kbd)) : IrqLine{}, wired ? IrqLine(line(aux)) : IrqLine{});
    uint8_t last_cmd = 0;
    bool last_was_cmd = false;
    for (int op = 0; op < 1024 && in.remaining_bytes() > 0; ++op) {
        const unsigned before = resets;
        switch (in.ConsumeIntegralInRange(0, 3)) {
            case 0: {
                uint8_t c = in.ConsumeIntegral<uint8_t>();
                dev.write_command(c);
                if ((resets != before) != (c >= 0xf0 && !(c & 1))) __builtin_trap();
                last_cmd = c;
                last_was_cmd = true;
                break;
            }
            case 1: {
                uint8_t v = in.ConsumeIntegral<uint8_t>();
                dev.write_data(v);
                bool may = last_was_cmd && last_cmd == 0xd1 && !(v & 1);
                if (resets != before && !may) __builtin_trap();
                last_was_cmd = false;
                break;
            }
            case 2: (void)dev.read_data(); break;
            case 3: {
                uint8_t s = dev.read_status();
                if ((kbd || aux) && !(s & 0x01)) __builtin_trap();
                if (kbd && (s & 0x20)) __builtin_trap();
                if (aux && !(s & 0x20)) __builtin_trap();
                if (!wired && (s & 0x40)) __builtin_trap();  // no timeouts without IRQs
                break;
            }
        }
        if (kbd && aux) __builtin_trap();  // only the front byte interrupts
    }
    for (int i = 0;; ++i) {
        if (!(dev.read_status() & 0x01)) break;
        if (i == 16) __builtin_trap();
        (void)dev.read_data();
    }
    if (kbd || aux) __builtin_trap();
    return 0;
}
