#include "pci/pci_device.h"

#include <gtest/gtest.h>

#include <cstring>

#include "common/error.h"
#include "pci/hostbridge.h"
#include "pci/lpc.h"
#include "pci/msix.h"
#include "test_fakes.h"

namespace khyve {
namespace {

uint32_t rd(PciDevice& d, unsigned off, unsigned size = 4) {
    uint8_t b[4] = {};
    d.config_read(off, {b, size});
    uint32_t v = 0;
    std::memcpy(&v, b, size);
    return v;
}
void wr(PciDevice& d, unsigned off, uint32_t v, unsigned size = 4) {
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    d.config_write(off, {b, size});
}

struct TestDev : PciDevice {
    TestDev() : PciDevice(PciIds{0x1234, 0x5678, 0x02, 0x00, 0x00, 3, 0x1af4, 0x42}) {}
    using PciDevice::add_capability;
    struct Move {
        unsigned bar;
        BarRange before, after;
    };
    std::vector<Move> moves;
    void bar_moved(unsigned bar, const BarRange& b, const BarRange& a) override {
        moves.push_back({bar, b, a});
    }
};

TEST(PciDevice, IdsAndReadOnlyHeader) {
    TestDev d;
    EXPECT_EQ(rd(d, 0), 0x56781234u);
    EXPECT_EQ(rd(d, 0x08), 0x02000003u);  // class 02, subclass 00, progif 00, rev 3
    EXPECT_EQ(rd(d, 0x2c), 0x00421af4u);
    wr(d, 0, 0xffffffff);
    wr(d, 0x08, 0);
    wr(d, 0x2c, 0);
    wr(d, 0x3d, 0xff, 1);  // interrupt pin is read-only
    EXPECT_EQ(rd(d, 0), 0x56781234u);
    EXPECT_EQ(rd(d, 0x08), 0x02000003u);
    EXPECT_EQ(rd(d, 0x2c), 0x00421af4u);
    EXPECT_EQ(rd(d, 0x3d, 1), 0u);
    // Command: only the standard writable bits stick; status stays put.
    wr(d, pci::kCommand, 0xffffffff);
    EXPECT_EQ(rd(d, pci::kCommand, 2), 0x0547u);
    EXPECT_EQ(rd(d, pci::kStatus, 2), 0u);
    wr(d, pci::kInterruptLine, 0x0b, 1);
    EXPECT_EQ(rd(d, pci::kInterruptLine, 1), 0x0bu);
    // Unimplemented BARs and ROM BAR read zero and ignore sizing.
    wr(d, pci::kBar0, 0xffffffff);
    wr(d, pci::kRomBar, 0xffffffff);
    EXPECT_EQ(rd(d, pci::kBar0), 0u);
    EXPECT_EQ(rd(d, pci::kRomBar), 0u);
    // Beyond the config space reads as ones.
    EXPECT_EQ(rd(d, 0xffe, 4), 0xffff0000u);
}

TEST(PciDevice, BarSizing) {
    TestDev d;
    d.add_bar(0, BarType::kMem32, 0x1000);
    d.add_bar(1, BarType::kIo, 0x20);
    d.add_bar(2, BarType::kMem64, 0x200000000ull, true);
    EXPECT_EQ(rd(d, 0x10), 0x0u);
    EXPECT_EQ(rd(d, 0x14), 0x1u);
    EXPECT_EQ(rd(d, 0x18), 0xcu);  // 64-bit, prefetchable
    for (unsigned o = 0x10; o < 0x28; o += 4) wr(d, o, 0xffffffff);
    EXPECT_EQ(rd(d, 0x10), 0xfffff000u);
    EXPECT_EQ(rd(d, 0x14), 0x0000ffe1u);
    EXPECT_EQ(rd(d, 0x18), 0x0000000cu);  // low dword: size bits all above 4 GiB
    EXPECT_EQ(rd(d, 0x1c), 0xfffffffeu);  // 8 GiB
    wr(d, 0x10, 0xc0001234);
    EXPECT_EQ(rd(d, 0x10), 0xc0001000u);
    EXPECT_EQ(d.bar_address(0), 0xc0001000u);
    wr(d, 0x18, 0);
    wr(d, 0x1c, 0x4);
    EXPECT_EQ(d.bar_address(2), 0x400000000ull);
}

TEST(PciDevice, BarSetupErrors) {
    TestDev d;
    EXPECT_THROW(d.add_bar(0, BarType::kMem32, 0x1800), Error);
    EXPECT_THROW(d.add_bar(5, BarType::kMem64, 0x1000), Error);
    EXPECT_THROW(d.add_bar(6, BarType::kMem32, 0x1000), Error);
    d.add_bar(0, BarType::kMem64, 0x1000);
    EXPECT_THROW(d.add_bar(1, BarType::kMem32, 0x1000), Error);
    EXPECT_THROW(d.add_bar(0, BarType::kMem32, 0x1000), Error);
}

TEST(PciDevice, DecodeFollowsCommandAndBarMoves) {
    TestDev d;
    d.add_bar(0, BarType::kMem32, 0x1000);
    wr(d, 0x10, 0xc0000000);
    EXPECT_TRUE(d.decoded_bars().empty());
    EXPECT_TRUE(d.moves.empty());
    wr(d, pci::kCommand, pci::kCmdMemory, 2);
    ASSERT_EQ(d.decoded_bars().size(), 1u);
    ASSERT_EQ(d.moves.size(), 1u);
    EXPECT_EQ(d.moves[0].before.size, 0u);
    EXPECT_EQ(d.moves[0].after.base, 0xc0000000u);
    wr(d, 0x10, 0xc0010000);
    ASSERT_EQ(d.moves.size(), 2u);
    EXPECT_EQ(d.moves[1].before.base, 0xc0000000u);
    EXPECT_EQ(d.moves[1].after.base, 0xc0010000u);
    wr(d, pci::kCommand, 0, 2);
    ASSERT_EQ(d.moves.size(), 3u);
    EXPECT_EQ(d.moves[2].after.size, 0u);
}

TEST(PciDevice, CapabilityList) {
    TestDev d;
    EXPECT_EQ(rd(d, pci::kStatus, 2) & pci::kStatusCapList, 0u);
    const uint8_t a[] = {0x09, 0xee, 5, 1, 2};
    const uint8_t b[] = {0x11, 0xee, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    unsigned oa = d.add_capability(a);
    unsigned ob = d.add_capability(b);
    EXPECT_EQ(oa, 0x40u);
    EXPECT_EQ(ob, 0x48u);  // dword aligned
    EXPECT_NE(rd(d, pci::kStatus, 2) & pci::kStatusCapList, 0u);
    EXPECT_EQ(rd(d, pci::kCapPtr, 1), 0x40u);
    EXPECT_EQ(rd(d, 0x40, 2), 0x4809u);
    EXPECT_EQ(rd(d, 0x48, 2), 0x0011u);  // end of list
    wr(d, 0x41, 0, 1);                   // read-only
    EXPECT_EQ(rd(d, 0x41, 1), 0x48u);
}

TEST(PciDevice, HostBridgesAndLpc) {
    HostBridge h;
    EXPECT_EQ(rd(h, 0), 0x12751275u);
    EXPECT_EQ(rd(h, 0x0a, 2), 0x0600u);
    HostBridge amd(HostBridge::Flavour::kAmd);
    EXPECT_EQ(rd(amd, 0), 0x74321022u);
    LpcBridge lpc;
    EXPECT_EQ(rd(lpc, 0), 0x70008086u);
    EXPECT_EQ(rd(lpc, 0x0a, 2), 0x0601u);
    EXPECT_EQ(rd(lpc, pci::kHeaderType, 1), 0u);
    wr(lpc, 0x60, 0x0b0a0980);  // PIRQ routing scratch
    EXPECT_EQ(rd(lpc, 0x60), 0x0b0a0980u);
}

// ---- MSI-X ----

using test::FakeIrq;

TEST(PciMsix, TableWritesUpdateRoutes) {
    FakeIrq irq;
    Msix m(3, &irq);
    ASSERT_EQ(irq.routes.size(), 3u);
    auto cap = m.capability(2, 0x4000, 0x5000);
    EXPECT_EQ(cap[0], pci::kCapIdMsix);
    EXPECT_EQ(cap[2], 2);  // N-1
    EXPECT_EQ(cap[4], 0x02);
    EXPECT_EQ(cap[5], 0x40);
    EXPECT_EQ(cap[8], 0x02);
    EXPECT_EQ(cap[9], 0x50);
    EXPECT_EQ(m.table_size(), 48u);
    EXPECT_EQ(m.pba_size(), 8u);

    auto w32 = [&](uint64_t off, uint32_t v) {
        uint8_t b[4];
        std::memcpy(b, &v, 4);
        m.table_write(off, b);
    };
    w32(16 + 0, 0xfee01000);
    w32(16 + 4, 0);
    w32(16 + 8, 0x4041);
    EXPECT_EQ(irq.routes[1]->address, 0xfee01000u);
    EXPECT_EQ(irq.routes[1]->data, 0x4041u);
    EXPECT_TRUE(irq.routes[1]->masked);  // vector masked at reset, MSI-X off
    uint8_t b[4];
    m.table_read(16 + 12, b);
    EXPECT_EQ(b[0], 1);

    m.control_written(Msix::kControlEnable);
    EXPECT_TRUE(irq.routes[1]->masked);
    w32(16 + 12, 0xfffffffe);  // unmask; reserved bits stay 0
    EXPECT_FALSE(irq.routes[1]->masked);
    m.table_read(16 + 12, b);
    EXPECT_EQ(b[0] | b[1] | b[2] | b[3], 0);

    EXPECT_TRUE(m.notify(1));
    EXPECT_EQ(irq.routes[1]->triggers, 1);

    // Function mask: latched in the PBA, delivered on unmask.
    m.control_written(Msix::kControlEnable | Msix::kControlMask);
    EXPECT_TRUE(irq.routes[1]->masked);
    EXPECT_TRUE(m.notify(1));
    EXPECT_EQ(irq.routes[1]->triggers, 1);
    uint8_t pba[8];
    m.pba_read(0, pba);
    EXPECT_EQ(pba[0], 0x2);
    m.control_written(Msix::kControlEnable);
    EXPECT_EQ(irq.routes[1]->triggers, 2);
    m.pba_read(0, pba);
    EXPECT_EQ(pba[0], 0);

    // 64-bit write of address; out-of-range vector and disabled MSI-X.
    uint64_t a = 0xfee02000;
    m.table_write(0, {reinterpret_cast<uint8_t*>(&a), 8});
    EXPECT_EQ(irq.routes[0]->address, 0xfee02000u);
    EXPECT_FALSE(m.notify(3));
    m.control_written(0);
    EXPECT_FALSE(m.notify(1));
    EXPECT_TRUE(irq.routes[1]->masked);
}

}  // namespace
}  // namespace khyve
