// Register read/write sequences on the 16550, interleaved with host input:
// no sequence may crash or let the receive buffer grow past its capacity.
#include <fuzzer/FuzzedDataProvider.h>

#include "devices/uart16550.h"

using namespace khyve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    size_t sent = 0;
    Uart16550 uart([](bool) {}, [&](uint8_t) { ++sent; });
    while (in.remaining_bytes() > 0) {
        const unsigned op = in.ConsumeIntegralInRange(0, 3);
        const unsigned reg = in.ConsumeIntegralInRange(0, 9);  // 8 and 9: out of range
        switch (op) {
            case 0: uart.write(reg, in.ConsumeIntegral<uint8_t>()); break;
            case 1: (void)uart.read(reg); break;
            case 2: {
                auto bytes = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 5000));
                size_t took = uart.receive(bytes);
                if (took > bytes.size()) __builtin_trap();
                break;
            }
            case 3: (void)uart.can_receive(); break;
        }
    }
    // Drain: with DLAB and loopback off, the receive buffer (capacity plus
    // the FIFO) must empty within that many RBR reads.
    uart.write(3, 0);  // LCR
    uart.write(4, 0);  // MCR
    const size_t bound = Uart16550::kRxCapacity + Uart16550::kFifoSize;
    for (size_t i = 0;; ++i) {
        if (!(uart.read(5) & 1)) break;  // LSR.DR
        if (i == bound) __builtin_trap();
        (void)uart.read(0);
    }
    return 0;
}
