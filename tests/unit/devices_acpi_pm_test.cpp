#include "devices/acpi_pm.h"

#include <gtest/gtest.h>

#include <vector>

#include "platform/layout.h"

namespace khyve {
namespace {

using B = AcpiPm::Block;

struct Rig {
    std::vector<bool> sci;
    int poweroffs = 0;
    int resets = 0;
    uint64_t ns = 0;
    std::shared_ptr<AcpiPm> pm = std::make_shared<AcpiPm>(
        [this](bool l) { sci.push_back(l); }, [this] { ++poweroffs; }, [this] { ++resets; },
        [this] { return ns; });
    bool level() const { return !sci.empty() && sci.back(); }
};

TEST(DevicesAcpiPm, SciEnAlwaysSet) {
    Rig r;
    EXPECT_EQ(r.pm->read(B::kControl, 0, 2), 0x0001u);
    r.pm->write(B::kControl, 0, 2, 0x0000);
    EXPECT_EQ(r.pm->read(B::kControl, 0, 2), 0x0001u);
    EXPECT_EQ(r.pm->read(B::kControl, 0, 1), 0x01u);
    EXPECT_EQ(r.pm->read(B::kControl, 1, 1), 0x00u);
}

TEST(DevicesAcpiPm, PowerOffOnlyOnSlpTyp5) {
    Rig r;
    for (unsigned typ = 0; typ < 8; ++typ) {
        if (typ == 5) continue;
        r.pm->write(B::kControl, 0, 2, (typ << 10) | (1u << 13));
    }
    EXPECT_EQ(r.poweroffs, 0);
    // Linux: SLP_TYP first without SLP_EN, then with it.
    r.pm->write(B::kControl, 0, 2, 5u << 10);
    EXPECT_EQ(r.poweroffs, 0);
    EXPECT_EQ(r.pm->read(B::kControl, 0, 2), (5u << 10) | 1u);  // SLP_TYP kept, SLP_EN not
    r.pm->write(B::kControl, 0, 2, (5u << 10) | (1u << 13));
    EXPECT_EQ(r.poweroffs, 1);
    EXPECT_EQ(r.pm->read(B::kControl, 0, 2) & (1u << 13), 0u);
}

TEST(DevicesAcpiPm, PowerOffByteWrites) {
    Rig r;
    r.pm->write(B::kControl, 0, 1, 0x01);  // low byte alone never sleeps
    EXPECT_EQ(r.poweroffs, 0);
    r.pm->write(B::kControl, 1, 1, ((5u << 10) | (1u << 13)) >> 8);
    EXPECT_EQ(r.poweroffs, 1);
    r.pm->write(B::kControl, 0, 1, 0x01);  // SLP_EN was not remembered
    EXPECT_EQ(r.poweroffs, 1);
}

TEST(DevicesAcpiPm, PowerButtonRaisesSciAndW1CClears) {
    Rig r;
    r.pm->press_power_button();
    EXPECT_TRUE(r.sci.empty());  // not enabled yet
    EXPECT_EQ(r.pm->read(B::kEvent, 0, 2), 0x0100u);
    r.pm->write(B::kEvent, 2, 2, 0x0100);  // PWRBTN_EN
    EXPECT_EQ(r.sci, std::vector<bool>{true});
    EXPECT_EQ(r.pm->read(B::kEvent, 0, 4), 0x01000100u);
    r.pm->write(B::kEvent, 0, 2, 0x0001);  // clearing another bit changes nothing
    EXPECT_TRUE(r.level());
    r.pm->write(B::kEvent, 0, 2, 0x0100);  // W1C
    EXPECT_EQ(r.sci, (std::vector<bool>{true, false}));
    EXPECT_EQ(r.pm->read(B::kEvent, 0, 2), 0u);
    EXPECT_EQ(r.pm->read(B::kEvent, 2, 2), 0x0100u);  // enable survives
    r.pm->press_power_button();
    EXPECT_TRUE(r.level());
    r.pm->write(B::kEvent, 3, 1, 0x00);  // disable by byte: line drops, status stays
    EXPECT_FALSE(r.level());
    EXPECT_EQ(r.pm->read(B::kEvent, 1, 1), 0x01u);
    // A 32-bit write: clear status and re-enable in one access.
    r.pm->write(B::kEvent, 0, 4, 0x01000100u);
    EXPECT_FALSE(r.level());
    EXPECT_EQ(r.pm->read(B::kEvent, 0, 4), 0x01000000u);
    r.pm->write(B::kEvent, 0, 1, 0xff);  // writing ones to unset bits is harmless
    EXPECT_EQ(r.pm->read(B::kEvent, 0, 4), 0x01000000u);
}

TEST(DevicesAcpiPm, Timer) {
    Rig r;
    EXPECT_EQ(r.pm->read(B::kTimer, 0, 4), 0u);
    r.ns = 1000000000ull;
    EXPECT_EQ(r.pm->read(B::kTimer, 0, 4), AcpiPm::kTimerHz);
    EXPECT_EQ(r.pm->read(B::kTimer, 0, 2), AcpiPm::kTimerHz & 0xffff);
    EXPECT_EQ(r.pm->read(B::kTimer, 2, 2), AcpiPm::kTimerHz >> 16);
    EXPECT_EQ(r.pm->read(B::kTimer, 3, 1), 0u);
    r.pm->write(B::kTimer, 0, 4, 0);  // read-only
    EXPECT_EQ(r.pm->read(B::kTimer, 0, 4), AcpiPm::kTimerHz);
    // Wraps at 32 bits: 1200 s is past 2^32 ticks.
    r.ns = 1200ull * 1000000000ull;
    EXPECT_EQ(r.pm->read(B::kTimer, 0, 4), static_cast<uint32_t>(1200ull * AcpiPm::kTimerHz));
    // Bit 31 toggled on the way: TMR_STS, raising SCI once enabled.
    EXPECT_EQ(r.pm->read(B::kEvent, 0, 2) & 1u, 1u);
    r.pm->write(B::kEvent, 2, 2, 0x0001);
    EXPECT_TRUE(r.level());
    r.pm->write(B::kEvent, 0, 2, 0x0001);
    EXPECT_FALSE(r.level());
}

TEST(DevicesAcpiPm, BadWidthsAreHarmless) {
    Rig r;
    EXPECT_EQ(r.pm->read(B::kControl, 1, 2), 0xffffffffu);
    EXPECT_EQ(r.pm->read(B::kEvent, 0, 3), 0xffffffffu);
    r.pm->write(B::kControl, 0, 4, 0xffffffffu);
    EXPECT_EQ(r.poweroffs, 0);
}

TEST(DevicesAcpiPm, ResetControl) {
    Rig r;
    r.pm->reset_control_write(0x02);
    EXPECT_EQ(r.resets, 0);
    EXPECT_EQ(r.pm->reset_control_read(), 0x02);
    r.pm->reset_control_write(0x06);
    EXPECT_EQ(r.resets, 1);
    EXPECT_EQ(r.pm->reset_control_read(), 0x02);
    r.pm->reset_control_write(0x0e);
    EXPECT_EQ(r.resets, 2);
}

TEST(DevicesAcpiPm, AttachAndWideAccesses) {
    Rig r;
    Bus pio;
    r.pm->attach(pio);
    ASSERT_EQ(pio.entries().size(), 3u);
    uint8_t en[2] = {0x00, 0x01};
    EXPECT_TRUE(pio.write(layout::kPm1aEvt + 2, {en, 2}));
    r.pm->press_power_button();
    EXPECT_TRUE(r.level());
    uint8_t d[4] = {};
    EXPECT_TRUE(pio.read(layout::kPm1aEvt, {d, 4}));
    EXPECT_EQ(d[0], 0x00);
    EXPECT_EQ(d[1], 0x01);
    EXPECT_EQ(d[2], 0x00);
    EXPECT_EQ(d[3], 0x01);
    uint8_t clr = 0x01;
    EXPECT_TRUE(pio.write(layout::kPm1aEvt + 1, {&clr, 1}));
    EXPECT_FALSE(r.level());
    uint16_t s5 = (5u << 10) | (1u << 13);
    uint8_t c[2] = {static_cast<uint8_t>(s5), static_cast<uint8_t>(s5 >> 8)};
    EXPECT_TRUE(pio.write(layout::kPm1aCnt, {c, 2}));
    EXPECT_EQ(r.poweroffs, 1);
    r.ns = 2000000000ull;
    EXPECT_TRUE(pio.read(layout::kPmTimer, {d, 4}));
    EXPECT_EQ(d[0] | d[1] << 8 | d[2] << 16 | static_cast<uint32_t>(d[3]) << 24, 2 * AcpiPm::kTimerHz);
    EXPECT_FALSE(pio.read(layout::kPmTimer + 2, {d, 4}));  // straddles the end: the bus refuses
}

}  // namespace
}  // namespace khyve
