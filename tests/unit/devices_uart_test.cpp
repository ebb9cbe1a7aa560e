#include "devices/uart16550.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "devices/uart_pio.h"

namespace khyve {
namespace {

enum : unsigned { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct Rig {
    std::vector<bool> irq;       // every level change, in order
    std::vector<uint8_t> out;    // transmitted bytes
    Uart16550 uart{[this](bool l) { irq.push_back(l); }, [this](uint8_t b) { out.push_back(b); }};
    bool level() const { return !irq.empty() && irq.back(); }
    size_t send(const std::string& s) {
        return uart.receive({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    }
};

TEST(DevicesUart, ResetState) {
    Rig r;
    EXPECT_EQ(r.uart.read(IIR), 0x01);
    EXPECT_EQ(r.uart.read(LSR), 0x60);
    EXPECT_EQ(r.uart.read(IER), 0x00);
    EXPECT_EQ(r.uart.read(LCR), 0x00);
    EXPECT_EQ(r.uart.read(MCR), 0x00);
    EXPECT_EQ(r.uart.read(MSR), 0xb0);  // DCD, DSR, CTS, no deltas
    EXPECT_TRUE(r.irq.empty());
}

// The probe sequence of Linux's 8250 autoconfig() and autoconfig_16550a().
TEST(DevicesUart, LinuxAutoconfigFinds16550A) {
    Rig r;
    Uart16550& u = r.uart;
    // Scratch test through IER.
    uint8_t save_ier = u.read(IER);
    u.write(IER, 0);
    EXPECT_EQ(u.read(IER) & 0x0f, 0);
    u.write(IER, 0x0f);
    EXPECT_EQ(u.read(IER) & 0x0f, 0x0f);
    u.write(IER, save_ier);
    // Scratch register and LCR.
    u.write(SCR, 0xa5);
    EXPECT_EQ(u.read(SCR), 0xa5);
    u.write(LCR, 0x03);
    EXPECT_EQ(u.read(LCR), 0x03);
    // Loopback: RTS|OUT2 must read back as CTS|DCD.
    uint8_t save_mcr = u.read(MCR);
    u.write(MCR, 0x10 | 0x0a);
    EXPECT_EQ(u.read(MSR) & 0xf0, 0x90);
    u.write(MCR, save_mcr);
    // EFR probe (LCR=0xbf) then FIFO detection.
    u.write(LCR, 0xbf);
    u.write(FCR, 0);  // "EFR" write on an enhanced part, FCR here
    u.write(LCR, 0);
    u.write(FCR, 0x01);
    EXPECT_EQ(u.read(IIR) >> 6, 3);  // 16550A
    // autoconfig_16550a: EFR reads must not be 0 with LCR 0xbf or DLAB set.
    u.write(LCR, 0xbf);
    EXPECT_NE(u.read(IIR), 0);
    u.write(LCR, 0x80);
    EXPECT_NE(u.read(IIR), 0);
    // 16750 test: no 64-byte FIFO bit either way.
    u.write(LCR, 0);
    u.write(FCR, 0x01 | 0x20);
    uint8_t s1 = u.read(IIR) >> 5;
    u.write(FCR, 0x01);
    u.write(LCR, 0x80);
    u.write(FCR, 0x01 | 0x20);
    uint8_t s2 = u.read(IIR) >> 5;
    u.write(FCR, 0x01);
    u.write(LCR, 0);
    EXPECT_EQ(s1, 6);
    EXPECT_EQ(s2, 6);
    // UUE bit (XScale test) must not stick in IER.
    u.write(IER, 0x40);
    EXPECT_EQ(u.read(IER) & 0x40, 0);
    u.write(IER, 0);
    EXPECT_NE(u.read(LSR), 0xff);
}

TEST(DevicesUart, LoopbackModemLinesAndDeltas) {
    Rig r;
    Uart16550& u = r.uart;
    u.write(MCR, 0x10);
    uint8_t msr = u.read(MSR);
    EXPECT_EQ(msr & 0xf0, 0x00);
    EXPECT_EQ(msr & 0x0f, 0x0b);  // CTS, DSR, DCD fell; RI did not
    EXPECT_EQ(u.read(MSR) & 0x0f, 0);  // deltas cleared by the read
    u.write(MCR, 0x10 | 0x01);  // DTR -> DSR
    EXPECT_EQ(u.read(MSR), 0x20 | 0x02);
    u.write(MCR, 0x10 | 0x02);  // RTS -> CTS, DTR off
    EXPECT_EQ(u.read(MSR), 0x10 | 0x01 | 0x02);
    u.write(MCR, 0x10 | 0x04);  // OUT1 -> RI (leading edge: no TERI)
    EXPECT_EQ(u.read(MSR), 0x40 | 0x01);
    u.write(MCR, 0x10 | 0x08);  // RI trailing edge -> TERI; OUT2 -> DCD
    EXPECT_EQ(u.read(MSR), 0x80 | 0x04 | 0x08);
    EXPECT_EQ(u.read(MCR), 0x18);
    u.write(MCR, 0xff);
    EXPECT_EQ(u.read(MCR), 0x1f);
}

TEST(DevicesUart, LoopbackDataAndOverrun) {
    Rig r;
    Uart16550& u = r.uart;
    u.write(MCR, 0x10);
    EXPECT_FALSE(u.can_receive());
    EXPECT_EQ(r.send("x"), 0u);  // line input is disconnected in loopback
    u.write(THR, 0x41);
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(u.read(LSR), 0x61);
    EXPECT_EQ(u.read(RBR), 0x41);
    EXPECT_EQ(u.read(LSR), 0x60);
    // Without FIFO, a second byte overruns the holding register.
    u.write(THR, 1);
    u.write(THR, 2);
    EXPECT_EQ(u.read(LSR), 0x63);
    EXPECT_EQ(u.read(LSR), 0x61);  // OE cleared by reading LSR
    EXPECT_EQ(u.read(RBR), 1);
    // With FIFO: 16 fit, the 17th overruns.
    u.write(FCR, 0x07);
    for (int i = 0; i < 17; ++i) u.write(THR, static_cast<uint8_t>(i));
    EXPECT_EQ(u.read(LSR), 0x63);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(u.read(RBR), i);
    EXPECT_EQ(u.read(LSR), 0x60);
    u.write(MCR, 0);
    u.write(THR, 'z');
    EXPECT_EQ(r.out, std::vector<uint8_t>{'z'});
}

TEST(DevicesUart, Dlab) {
    Rig r;
    Uart16550& u = r.uart;
    u.write(LCR, 0x83);
    u.write(DLL, 0x01);
    u.write(DLM, 0x00);
    EXPECT_EQ(u.read(DLL), 0x01);
    EXPECT_EQ(u.read(DLM), 0x00);
    u.write(LCR, 0x03);
    EXPECT_EQ(u.read(IER), 0x00);  // DLM write did not touch IER
    EXPECT_TRUE(r.out.empty());    // DLL write did not transmit
    u.write(IER, 0x05);
    u.write(LCR, 0x83);
    EXPECT_EQ(u.read(DLM), 0x00);
    EXPECT_EQ(u.read(DLL), 0x01);
    u.write(LCR, 0x03);
    EXPECT_EQ(u.read(IER), 0x05);
    r.send("q");
    u.write(LCR, 0x83);
    EXPECT_EQ(u.read(RBR), 0x01);  // DLAB: DLL, the byte stays queued
    u.write(LCR, 0x03);
    EXPECT_EQ(u.read(RBR), 'q');
}

// serial8250_do_startup's THRE test and TX-enable test.
TEST(DevicesUart, ThreInterruptSemantics) {
    Rig r;
    Uart16550& u = r.uart;
    u.write(LCR, 0x03);
    u.write(MCR, 0x0b);  // DTR, RTS, OUT2
    u.write(IER, 0x02);
    EXPECT_EQ(u.read(IIR), 0x02);  // THRE reported...
    EXPECT_EQ(u.read(IIR), 0x01);  // ...and acknowledged by that read
    u.write(IER, 0);
    u.write(IER, 0x02);
    EXPECT_EQ(u.read(IIR), 0x02);  // re-enabling with THR empty re-raises
    u.write(IER, 0);
    EXPECT_EQ(u.read(IIR), 0x01);
    EXPECT_TRUE(u.read(LSR) & 0x40);

    // The IRQ output follows: up on enable, down on IIR read, and a fresh
    // edge for every THR write.
    r.irq.clear();
    u.write(IER, 0x02);
    EXPECT_EQ(r.irq, std::vector<bool>{true});
    u.write(THR, 'a');
    EXPECT_EQ(r.irq, (std::vector<bool>{true, false, true}));
    EXPECT_EQ(u.read(IIR), 0x02);
    EXPECT_FALSE(r.level());
    u.write(THR, 'b');
    EXPECT_TRUE(r.level());
    u.write(IER, 0);
    EXPECT_FALSE(r.level());
    EXPECT_EQ(r.out, (std::vector<uint8_t>{'a', 'b'}));
    // THR written while the interrupt is off: nothing is reported until
    // ETBEI goes 0 -> 1, and rewriting IER with ETBEI kept on does not
    // re-raise an acknowledged THRE.
    u.write(THR, 'c');
    EXPECT_EQ(u.read(IIR), 0x01);
    EXPECT_FALSE(r.level());
    u.write(IER, 0x02);
    EXPECT_EQ(u.read(IIR), 0x02);
    u.write(IER, 0x03);
    EXPECT_EQ(u.read(IIR), 0x01);
    EXPECT_FALSE(r.level());
}

TEST(DevicesUart, Out2GatesTheIrqOutput) {
    Rig r;
    Uart16550& u = r.uart;
    u.write(IER, 0x02);
    EXPECT_TRUE(r.irq.empty());    // pending, but OUT2 is off
    EXPECT_EQ(u.read(IIR), 0x02);  // the chip still reports it
    u.write(IER, 0);
    u.write(IER, 0x02);
    u.write(MCR, 0x08);
    EXPECT_EQ(r.irq, std::vector<bool>{true});
    u.write(MCR, 0x18);  // loopback forces the OUT2 pin inactive
    EXPECT_FALSE(r.level());
    u.write(MCR, 0x08);
    EXPECT_TRUE(r.level());
    u.write(MCR, 0x00);
    EXPECT_FALSE(r.level());
}

TEST(DevicesUart, InterruptPriorities) {
    Rig r;
    Uart16550& u = r.uart;
    u.write(MCR, 0x08);
    u.write(FCR, 0x01);
    u.write(IER, 0x0f);
    // THRE pending from enabling; add a modem status delta, then RX data,
    // then an overrun (in loopback), and peel them off in priority order.
    EXPECT_EQ(u.read(IIR), 0xc2);
    u.write(IER, 0x0d);
    u.write(IER, 0x0f);  // THRE pending again
    u.write(MCR, 0x09);  // still not loopback: no line change, no delta
    EXPECT_EQ(u.read(MSR) & 0x0f, 0);
    r.send("ab");
    EXPECT_EQ(u.read(IIR), 0xc4);
    EXPECT_EQ(u.read(IIR), 0xc4);  // RX data stays until drained
    u.read(RBR);
    u.read(RBR);
    EXPECT_EQ(u.read(IIR), 0xc2);
    EXPECT_EQ(u.read(IIR), 0xc1);
    u.write(MCR, 0x19);  // loopback: lines change -> deltas
    EXPECT_EQ(u.read(IIR), 0xc0);
    for (int i = 0; i < 17; ++i) u.write(THR, 0);
    EXPECT_EQ(u.read(IIR), 0xc6);  // line status beats everything
    EXPECT_EQ(u.read(LSR) & 0x03, 0x03);
    EXPECT_EQ(u.read(IIR), 0xc4);
    for (int i = 0; i < 16; ++i) u.read(RBR);
    EXPECT_EQ(u.read(IIR), 0xc2);  // from the THR writes
    EXPECT_EQ(u.read(IIR), 0xc0);
    u.read(MSR);
    EXPECT_EQ(u.read(IIR), 0xc1);
}

TEST(DevicesUart, RxInterruptAndLevel) {
    Rig r;
    Uart16550& u = r.uart;
    u.write(MCR, 0x0b);
    u.write(IER, 0x01);
    EXPECT_TRUE(r.irq.empty());
    EXPECT_EQ(r.send("hi"), 2u);
    EXPECT_TRUE(r.level());
    EXPECT_EQ(u.read(LSR) & 0x01, 0x01);
    EXPECT_EQ(u.read(RBR), 'h');
    EXPECT_TRUE(r.level());
    EXPECT_EQ(u.read(RBR), 'i');
    EXPECT_FALSE(r.level());
    EXPECT_EQ(u.read(LSR) & 0x01, 0);
    EXPECT_EQ(r.irq, (std::vector<bool>{true, false}));
}

TEST(DevicesUart, ReceiveIsBounded) {
    Rig r;
    Uart16550& u = r.uart;
    std::vector<uint8_t> big(10000, 'x');
    size_t total = Uart16550::kRxCapacity + Uart16550::kFifoSize;
    EXPECT_EQ(u.receive(big), total);
    EXPECT_EQ(u.receive(big), 0u);
    EXPECT_FALSE(u.can_receive());
    EXPECT_EQ(u.read(LSR) & 0x02, 0);  // host input never overruns
    u.read(RBR);
    EXPECT_TRUE(u.can_receive());
    EXPECT_EQ(u.receive(big), 1u);
}

TEST(DevicesUart, FifoResetDropsOnlyTheVisibleFifo) {
    Rig r;
    Uart16550& u = r.uart;
    u.write(FCR, 0x01);
    std::vector<uint8_t> data(40);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
    ASSERT_EQ(u.receive(data), 40u);
    u.write(FCR, 0x03);
    EXPECT_EQ(u.read(RBR), 16);
    u.write(FCR, 0x00);  // disabling clears the 16 bytes the FIFO held
    EXPECT_EQ(u.read(RBR), 33);
    EXPECT_EQ(u.read(IIR) & 0xc0, 0);
    u.write(FCR, 0x01);  // enabling clears the single holding register
    EXPECT_EQ(u.read(RBR), 35);
    EXPECT_EQ(u.read(IIR) & 0xc0, 0xc0);
}

TEST(DevicesUart, PioAdapter) {
    auto uart = std::make_shared<Uart16550>(nullptr, nullptr);
    Bus bus;
    bus.insert(0x3f8, UartPio::kSize, std::make_shared<UartPio>(uart), "com1");
    uint8_t b = 0x5a;
    EXPECT_TRUE(bus.write(0x3ff, {&b, 1}));
    EXPECT_EQ(uart->read(7), 0x5a);
    uint8_t w[2] = {0, 0};
    EXPECT_TRUE(bus.read(0x3fd, {w, 2}));  // LSR, MSR
    EXPECT_EQ(w[0], 0x60);
    EXPECT_EQ(w[1], 0xb0);
    uint8_t d[4] = {1, 2, 3, 4};
    EXPECT_TRUE(bus.write(0x3fc, {d, 4}));  // MCR, LSR, MSR, SCR
    EXPECT_EQ(uart->read(7), 4);
    EXPECT_EQ(uart->read(4), 1);
    // A null tx callback is tolerated.
    uart->write(0, 'x');
}

TEST(DevicesUart, ConcurrentInputAndOutput) {
    std::atomic<size_t> sent{0};
    Uart16550 u([](bool) {}, [&](uint8_t) { sent++; });
    u.write(MCR, 0x08);
    u.write(IER, 0x03);
    std::thread feeder([&] {
        uint8_t b = 'k';
        for (int i = 0; i < 2000;) i += static_cast<int>(u.receive({&b, 1}));
    });
    size_t got = 0;
    for (int i = 0; i < 2000; ++i) u.write(THR, 'o');
    while (got < 2000) {
        if (u.read(LSR) & 1) {
            EXPECT_EQ(u.read(RBR), 'k');
            ++got;
        }
    }
    feeder.join();
    EXPECT_EQ(sent.load(), 2000u);
}

TEST(DevicesUart, CountsBytesBothWays) {
    Rig r;
    for (char c : std::string("hello")) r.uart.write(THR, uint8_t(c));
    EXPECT_EQ(r.uart.counters().tx_bytes.get(), 5u);
    // Loopback bytes never leave the UART: not transmitted.
    r.uart.write(MCR, 0x10);
    r.uart.write(THR, 'x');
    EXPECT_EQ(r.uart.counters().tx_bytes.get(), 5u);
    EXPECT_EQ(r.send("ab"), 0u);  // the receiver is disconnected in loopback
    EXPECT_EQ(r.uart.counters().rx_bytes.get(), 0u);
    r.uart.write(MCR, 0);
    EXPECT_EQ(r.send("abc"), 3u);
    EXPECT_EQ(r.uart.counters().rx_bytes.get(), 3u);
    // Only what was accepted counts.
    std::string big(Uart16550::kRxCapacity + Uart16550::kFifoSize, 'z');
    size_t took = r.send(big);
    EXPECT_LT(took, big.size());
    EXPECT_EQ(r.uart.counters().rx_bytes.get(), 3u + took);
}

}  // namespace
}  // namespace khyve
