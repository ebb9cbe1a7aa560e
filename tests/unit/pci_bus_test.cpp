#include "pci/pci_bus.h"

#include <gtest/gtest.h>

#include <cstring>

#include "bus/bus.h"
#include "common/error.h"
#include "pci/hostbridge.h"
#include "pci/lpc.h"
#include "pci/pci_conf1.h"
#include "pci/pci_ecam.h"
#include "test_fakes.h"

namespace khyve {
namespace {

// A device whose BARs record accesses.
struct BarDev : PciDevice {
    explicit BarDev(uint16_t id = 0x1111) : PciDevice(PciIds{0x1af4, id, 0xff, 0, 0, 0, 0, 0}) {}
    unsigned last_bar = 99;
    uint64_t last_off = ~0ull;
    uint64_t last_val = 0;
    void bar_read(unsigned bar, uint64_t off, std::span<uint8_t> d) override {
        last_bar = bar;
        last_off = off;
        std::memset(d.data(), 0x5a, d.size());
    }
    void bar_write(unsigned bar, uint64_t off, std::span<const uint8_t> d) override {
        last_bar = bar;
        last_off = off;
        last_val = 0;
        std::memcpy(&last_val, d.data(), std::min<size_t>(d.size(), 8));
    }
};

uint32_t cfg_rd(PciBus& b, unsigned slot, unsigned fn, unsigned off, unsigned size = 4) {
    uint8_t x[4] = {};
    b.config_read(0, slot, fn, off, {x, size});
    uint32_t v = 0;
    std::memcpy(&v, x, size);
    return v;
}
void cfg_wr(PciBus& b, unsigned slot, unsigned fn, unsigned off, uint32_t v, unsigned size = 4) {
    uint8_t x[4];
    std::memcpy(x, &v, 4);
    b.config_write(0, slot, fn, off, {x, size});
}

template <class Dev>
uint32_t io_rd(Dev& d, uint64_t off, unsigned size) {
    uint8_t x[4] = {};
    d.read(off, {x, size});
    uint32_t v = 0;
    std::memcpy(&v, x, size);
    return v;
}
template <class Dev>
void io_wr(Dev& d, uint64_t off, uint32_t v, unsigned size) {
    uint8_t x[4];
    std::memcpy(x, &v, 4);
    d.write(off, {x, size});
}

PciWindows test_windows() {
    PciWindows w;
    w.mem64_base = 0x800000000ull;
    w.mem64_size = 0x100000000ull;
    return w;
}

TEST(PciBus, AddRejectsDuplicatesAndBadAddresses) {
    auto bus = std::make_shared<PciBus>(test_windows(), nullptr);
    bus->add(0, 0, std::make_shared<HostBridge>());
    EXPECT_THROW(bus->add(0, 0, std::make_shared<HostBridge>()), Error);
    EXPECT_THROW(bus->add(32, 0, std::make_shared<HostBridge>()), Error);
    EXPECT_THROW(bus->add(1, 8, std::make_shared<HostBridge>()), Error);
}

TEST(PciBus, Conf1AddressDecodeAndCf9) {
    auto bus = std::make_shared<PciBus>(test_windows(), nullptr);
    bus->add(0, 0, std::make_shared<HostBridge>());
    bus->add(31, 0, std::make_shared<LpcBridge>());
    std::vector<uint8_t> cf9_writes;
    uint8_t cf9_value = 0x02;
    PciConf1 conf(bus, [&](uint8_t v) { cf9_writes.push_back(v); }, [&] { return cf9_value; });

    io_wr(conf, 0, 0x80000000u | (31u << 11), 4);
    EXPECT_EQ(io_rd(conf, 0, 4), 0x80000000u | (31u << 11));
    EXPECT_EQ(io_rd(conf, 4, 4), 0x70008086u);
    EXPECT_EQ(io_rd(conf, 6, 2), 0x7000u);  // 0xCFE: upper half of the dword
    EXPECT_EQ(io_rd(conf, 7, 1), 0x70u);
    io_wr(conf, 0, 0x80000008u | (31u << 11), 4);
    EXPECT_EQ(io_rd(conf, 6, 2), 0x0601u);  // class/subclass at 0x0a

    // Enable bit clear: nothing is accessed.
    io_wr(conf, 0, (31u << 11), 4);
    EXPECT_EQ(io_rd(conf, 4, 4), 0xffffffffu);
    // Empty slot, other function, other bus.
    io_wr(conf, 0, 0x80000000u | (5u << 11), 4);
    EXPECT_EQ(io_rd(conf, 4, 4), 0xffffffffu);
    io_wr(conf, 0, 0x80000000u | (1u << 8), 4);
    EXPECT_EQ(io_rd(conf, 4, 4), 0xffffffffu);
    io_wr(conf, 0, 0x80010000u, 4);
    EXPECT_EQ(io_rd(conf, 4, 4), 0xffffffffu);

    // Writes through the data port reach the device.
    io_wr(conf, 0, 0x8000003cu | (31u << 11), 4);
    io_wr(conf, 4, 0x0a, 1);
    EXPECT_EQ(cfg_rd(*bus, 31, 0, 0x3c, 1), 0x0au);

    // 0xCF9 byte accesses go to the reset control callbacks, and do not
    // disturb CONFIG_ADDRESS.
    io_wr(conf, 0, 0x80000000u, 4);
    io_wr(conf, 1, 0x06, 1);
    ASSERT_EQ(cf9_writes.size(), 1u);
    EXPECT_EQ(cf9_writes[0], 0x06);
    EXPECT_EQ(io_rd(conf, 1, 1), 0x02u);
    EXPECT_EQ(io_rd(conf, 0, 4), 0x80000000u);
    EXPECT_EQ(io_rd(conf, 4, 4), 0x12751275u);

    // As one BusDevice on a port bus.
    Bus pio;
    pio.insert(PciConf1::kBase, PciConf1::kSize,
               std::make_shared<PciConf1>(bus, [&](uint8_t v) { cf9_writes.push_back(v); },
                                          [&] { return cf9_value; }),
               "pci-conf1");
    uint8_t v = 0x0e;
    pio.write(0xcf9, {&v, 1});
    EXPECT_EQ(cf9_writes.back(), 0x0e);
}

TEST(PciBus, Ecam) {
    auto bus = std::make_shared<PciBus>(test_windows(), nullptr);
    auto dev = std::make_shared<BarDev>(0x2222);
    bus->add(3, 2, dev);
    bus->add(3, 0, std::make_shared<BarDev>());
    PciEcam ecam(bus);
    const uint64_t base = (3u << 15) | (2u << 12);
    EXPECT_EQ(io_rd(ecam, base, 4), 0x22221af4u);
    EXPECT_EQ(io_rd(ecam, base + 2, 2), 0x2222u);
    EXPECT_EQ(io_rd(ecam, base + 0x100, 4), 0u);  // extended space exists, empty
    io_wr(ecam, base + 0x3c, 0x55, 1);
    EXPECT_EQ(cfg_rd(*bus, 3, 2, 0x3c, 1), 0x55u);
    EXPECT_EQ(io_rd(ecam, (1u << 20) | base, 4), 0xffffffffu);  // bus 1
    EXPECT_EQ(io_rd(ecam, (4u << 15), 4), 0xffffffffu);         // empty slot
    EXPECT_EQ(io_rd(ecam, base + 0xffe, 4), 0xffffffffu);       // crosses a function
    EXPECT_EQ(PciEcam::kBase, layout::kEcamBase);
}

TEST(PciBus, MultiFunction) {
    auto bus = std::make_shared<PciBus>(test_windows(), nullptr);
    bus->add(4, 0, std::make_shared<BarDev>());
    bus->add(4, 1, std::make_shared<BarDev>());
    bus->add(5, 0, std::make_shared<BarDev>());
    bus->assign_resources();
    EXPECT_EQ(cfg_rd(*bus, 4, 0, pci::kHeaderType, 1), 0x80u);
    EXPECT_EQ(cfg_rd(*bus, 5, 0, pci::kHeaderType, 1), 0x00u);

    auto bad = std::make_shared<PciBus>(test_windows(), nullptr);
    bad->add(6, 3, std::make_shared<BarDev>());
    EXPECT_THROW(bad->assign_resources(), Error);
}

TEST(PciBus, AssignmentAndRelocatableDispatch) {
    auto bus = std::make_shared<PciBus>(test_windows(), nullptr);
    auto a = std::make_shared<BarDev>();
    auto b = std::make_shared<BarDev>();
    a->add_bar(0, BarType::kMem32, 0x1000);
    a->add_bar(1, BarType::kIo, 0x20);
    b->add_bar(0, BarType::kMem64, 0x4000);
    b->add_bar(2, BarType::kMem64, 0x80000000ull, true);  // 2 GiB: does not fit low
    bus->add(1, 0, a);
    bus->add(2, 0, b);
    bus->assign_resources();

    const auto& w = bus->windows();
    const uint64_t a0 = a->bar_address(0), a1 = a->bar_address(1);
    const uint64_t b0 = b->bar_address(0), b2 = b->bar_address(2);
    EXPECT_GE(a0, w.mem32_base);
    EXPECT_LT(a0, w.mem32_end);
    EXPECT_EQ(a0 % 0x1000, 0u);
    EXPECT_GE(a1, w.io_base);
    EXPECT_EQ(a1 % 0x20, 0u);
    EXPECT_LT(b0, w.mem32_end);  // small 64-bit BAR stays below 4 GiB
    EXPECT_GE(b2, w.mem64_base);
    EXPECT_EQ(b2 % 0x80000000ull, 0u);
    EXPECT_EQ(cfg_rd(*bus, 1, 0, pci::kCommand, 2) & 3, 3u);
    EXPECT_EQ(cfg_rd(*bus, 2, 0, pci::kCommand, 2) & 3, 2u);

    Bus mmio, pio;
    mmio.insert(w.mem32_base, w.mem32_end - w.mem32_base, bus->mem32_window(), "pci-mem32");
    mmio.insert(w.mem64_base, w.mem64_size, bus->mem64_window(), "pci-mem64");
    pio.insert(w.io_base, w.io_end - w.io_base, bus->io_window(), "pci-io");

    uint8_t buf[4];
    EXPECT_TRUE(mmio.read(a0 + 0x10, buf));
    EXPECT_EQ(buf[0], 0x5a);
    EXPECT_EQ(a->last_bar, 0u);
    EXPECT_EQ(a->last_off, 0x10u);
    uint32_t v = 0xabcd;
    mmio.write(b2 + 0x100, {reinterpret_cast<uint8_t*>(&v), 4});
    EXPECT_EQ(b->last_bar, 2u);
    EXPECT_EQ(b->last_off, 0x100u);
    EXPECT_EQ(b->last_val, 0xabcdu);
    pio.write(a1 + 4, {reinterpret_cast<uint8_t*>(&v), 2});
    EXPECT_EQ(a->last_bar, 1u);
    EXPECT_EQ(a->last_off, 4u);
    // An access straddling the end of a BAR goes nowhere.
    a->last_off = ~0ull;
    EXPECT_TRUE(mmio.read(a0 + 0xffe, buf));  // the window takes it ...
    EXPECT_EQ(a->last_off, ~0ull);            // ... but no device does
    EXPECT_EQ(buf[0], 0xff);

    // The guest moves BAR 0 of `a`: old address dead, new one live.
    const uint64_t moved = 0xd0000000;
    cfg_wr(*bus, 1, 0, pci::kBar0, static_cast<uint32_t>(moved));
    a->last_off = ~0ull;
    mmio.read(a0, buf);
    EXPECT_EQ(a->last_off, ~0ull);
    EXPECT_EQ(buf[0], 0xff);
    mmio.read(moved + 8, buf);
    EXPECT_EQ(a->last_off, 8u);

    // Turning memory decode off stops dispatch; on again restores it.
    cfg_wr(*bus, 1, 0, pci::kCommand, pci::kCmdIo, 2);
    a->last_off = ~0ull;
    mmio.read(moved + 8, buf);
    EXPECT_EQ(a->last_off, ~0ull);
    pio.read(a1, {buf, 1});
    EXPECT_EQ(a->last_off, 0u);
    cfg_wr(*bus, 1, 0, pci::kCommand, pci::kCmdIo | pci::kCmdMemory, 2);
    mmio.read(moved + 12, buf);
    EXPECT_EQ(a->last_off, 12u);

    // Sizing with decode on puts the BAR nowhere we dispatch.
    cfg_wr(*bus, 1, 0, pci::kBar0, 0xffffffff);
    a->last_off = ~0ull;
    mmio.read(moved + 8, buf);
    EXPECT_EQ(a->last_off, ~0ull);
}

TEST(PciBus, WindowExhaustion) {
    PciWindows w = test_windows();
    w.mem64_size = 0;
    auto bus = std::make_shared<PciBus>(w, nullptr);
    auto a = std::make_shared<BarDev>();
    a->add_bar(0, BarType::kMem64, 0x80000000ull);
    bus->add(1, 0, a);
    EXPECT_THROW(bus->assign_resources(), Error);
}

TEST(PciBus, IntxRoutingAndSharedLines) {
    test::FakeIrq irq;
    auto bus = std::make_shared<PciBus>(test_windows(), &irq);
    auto s3 = std::make_shared<BarDev>();
    auto s11 = std::make_shared<BarDev>();  // (11 + 0) % 8 == 3: same GSI as slot 3
    auto s4f1 = std::make_shared<BarDev>();
    auto quiet = std::make_shared<BarDev>();
    s3->set_interrupt_pin(1);
    s11->set_interrupt_pin(1);
    s4f1->set_interrupt_pin(2);
    bus->add(3, 0, s3);
    bus->add(11, 0, s11);
    bus->add(4, 0, quiet);
    bus->add(4, 1, s4f1);
    bus->assign_resources();

    EXPECT_EQ(cfg_rd(*bus, 3, 0, pci::kInterruptLine, 1), 19u);
    EXPECT_EQ(cfg_rd(*bus, 11, 0, pci::kInterruptLine, 1), 19u);
    EXPECT_EQ(cfg_rd(*bus, 4, 1, pci::kInterruptLine, 1), 21u);  // 16 + (4 + 1) % 8
    EXPECT_EQ(cfg_rd(*bus, 4, 1, pci::kInterruptPin, 1), 2u);

    auto routes = bus->irq_routes();
    ASSERT_EQ(routes.size(), 3u);
    bool found = false;
    for (const auto& r : routes)
        if (r.slot == 4) {
            EXPECT_EQ(r.pin, 1u);
            EXPECT_EQ(r.gsi, 21u);
            found = true;
        }
    EXPECT_TRUE(found);

    s3->set_intx(true);
    EXPECT_TRUE(irq.lines[19]);
    s11->set_intx(true);
    s3->set_intx(false);
    EXPECT_TRUE(irq.lines[19]);  // still held by slot 11
    s11->set_intx(false);
    EXPECT_FALSE(irq.lines[19]);
    EXPECT_NE(cfg_rd(*bus, 3, 0, pci::kStatus, 2) & pci::kStatusIntx, pci::kStatusIntx);

    // INTx Disable masks the line but not the status bit.
    s3->set_intx(true);
    EXPECT_TRUE(irq.lines[19]);
    cfg_wr(*bus, 3, 0, pci::kCommand, pci::kCmdIntxDisable, 2);
    EXPECT_FALSE(irq.lines[19]);
    EXPECT_EQ(cfg_rd(*bus, 3, 0, pci::kStatus, 2) & pci::kStatusIntx, pci::kStatusIntx);
    cfg_wr(*bus, 3, 0, pci::kCommand, 0, 2);
    EXPECT_TRUE(irq.lines[19]);
    quiet->set_intx(true);  // no pin: nothing happens
    EXPECT_EQ(irq.lines.count(16 + 4), 0u);
}

}  // namespace
}  // namespace khyve
