#include "devices/rtc_cmos.h"

#include <gtest/gtest.h>

namespace khyve {
namespace {

constexpr uint64_t MiB = 1ull << 20;
constexpr uint64_t GiB = 1ull << 30;

// 2024-02-29 13:05:09 UTC, a Thursday.
constexpr time_t kT0 = 1709211909;

struct Rig {
    time_t host = kT0;
    RtcCmos rtc;
    explicit Rig(uint64_t low = 256 * MiB, uint64_t high = 0) : rtc(low, high, [this] { return host; }) {}
    uint8_t get(unsigned idx) {
        rtc.write(0, static_cast<uint8_t>(idx));
        return rtc.read(1);
    }
    void set(unsigned idx, uint8_t v) {
        rtc.write(0, static_cast<uint8_t>(idx));
        rtc.write(1, v);
    }
};

TEST(DevicesRtc, BcdTimeByDefault) {
    Rig r;
    EXPECT_EQ(r.get(0x0b), 0x02);  // 24h, BCD
    EXPECT_EQ(r.get(0x00), 0x09);
    EXPECT_EQ(r.get(0x02), 0x05);
    EXPECT_EQ(r.get(0x04), 0x13);
    EXPECT_EQ(r.get(0x06), 0x05);  // Thursday, Sunday = 1
    EXPECT_EQ(r.get(0x07), 0x29);
    EXPECT_EQ(r.get(0x08), 0x02);
    EXPECT_EQ(r.get(0x09), 0x24);
    EXPECT_EQ(r.get(0x32), 0x20);
    r.host += 50;
    EXPECT_EQ(r.get(0x00), 0x59);
    EXPECT_EQ(r.get(0x02), 0x05);
}

TEST(DevicesRtc, BinaryAnd12HourModes) {
    Rig r;
    r.set(0x0b, 0x06);  // binary, 24h
    EXPECT_EQ(r.get(0x04), 13);
    EXPECT_EQ(r.get(0x07), 29);
    EXPECT_EQ(r.get(0x09), 24);
    EXPECT_EQ(r.get(0x32), 20);
    r.set(0x0b, 0x04);  // binary, 12h
    EXPECT_EQ(r.get(0x04), 0x80 | 1);
    r.set(0x0b, 0x00);  // BCD, 12h
    EXPECT_EQ(r.get(0x04), 0x81);
    r.host = kT0 - 13 * 3600;  // 00:05 -> 12 AM
    EXPECT_EQ(r.get(0x04), 0x12);
    r.host = kT0 - 1 * 3600;  // 12:05 -> 12 PM
    EXPECT_EQ(r.get(0x04), 0x92);
}

TEST(DevicesRtc, ControlRegisters) {
    Rig r;
    EXPECT_EQ(r.get(0x0a), 0x26);
    EXPECT_EQ(r.get(0x0a) & 0x80, 0);  // UIP never set
    r.set(0x0a, 0xa6);
    EXPECT_EQ(r.get(0x0a), 0x26);
    EXPECT_EQ(r.get(0x0c), 0x00);
    EXPECT_EQ(r.get(0x0d), 0x80);
    r.set(0x0d, 0x00);
    EXPECT_EQ(r.get(0x0d), 0x80);
    r.rtc.write(0, 0x80 | 0x0d);
    EXPECT_TRUE(r.rtc.nmi_masked());
    EXPECT_EQ(r.rtc.read(1), 0x80);  // index without the NMI bit
    r.rtc.write(0, 0x0d);
    EXPECT_FALSE(r.rtc.nmi_masked());
    EXPECT_EQ(r.rtc.read(0), 0xff);
}

TEST(DevicesRtc, GuestSetsTheClockWithSetBit) {
    Rig r;
    r.set(0x0b, 0x82);  // SET: freeze
    r.set(0x00, 0x00);
    r.set(0x02, 0x30);
    r.set(0x04, 0x08);
    r.set(0x07, 0x01);
    r.set(0x08, 0x01);
    r.set(0x09, 0x99);
    r.set(0x32, 0x19);
    r.host += 100;  // frozen while SET is on
    EXPECT_EQ(r.get(0x02), 0x30);
    r.set(0x0b, 0x02);  // 1999-01-01 08:30:00 from now on
    EXPECT_EQ(r.get(0x09), 0x99);
    EXPECT_EQ(r.get(0x32), 0x19);
    EXPECT_EQ(r.get(0x04), 0x08);
    r.host += 61;
    EXPECT_EQ(r.get(0x02), 0x31);
    EXPECT_EQ(r.get(0x00), 0x01);
}

TEST(DevicesRtc, DirectTimeWriteAndGarbage) {
    Rig r;
    r.set(0x04, 0x20);  // hour 20 without SET
    EXPECT_EQ(r.get(0x04), 0x20);
    EXPECT_EQ(r.get(0x02), 0x05);
    EXPECT_EQ(r.get(0x07), 0x29);
    for (unsigned i : {0x00u, 0x02u, 0x04u, 0x07u, 0x08u, 0x09u, 0x32u}) r.set(i, 0xff);
    uint8_t s = r.get(0x00);
    EXPECT_LE(s & 0x0f, 9);  // still valid BCD
    EXPECT_LE(s >> 4, 5);
}

TEST(DevicesRtc, NvramIsPlainMemory) {
    Rig r;
    r.set(0x40, 0xab);
    r.set(0x7f, 0xcd);
    r.set(0x01, 0x42);  // alarm seconds
    EXPECT_EQ(r.get(0x40), 0xab);
    EXPECT_EQ(r.get(0x7f), 0xcd);
    EXPECT_EQ(r.get(0x01), 0x42);
    r.rtc.write(0, 0xc0);  // index 0x40 with NMI mask
    EXPECT_EQ(r.rtc.read(1), 0xab);
}

TEST(DevicesRtc, MemorySize256MiB) {
    Rig r(256 * MiB, 0);
    EXPECT_EQ(r.get(0x15) | r.get(0x16) << 8, 640);
    EXPECT_EQ(r.get(0x17) | r.get(0x18) << 8, 0xffff);  // 255 MiB saturates
    EXPECT_EQ(r.get(0x30) | r.get(0x31) << 8, 0xffff);
    EXPECT_EQ(r.get(0x34) | r.get(0x35) << 8, 240 * 16);
    EXPECT_EQ(r.get(0x5b) | r.get(0x5c) << 8 | r.get(0x5d) << 16, 0);
}

TEST(DevicesRtc, MemorySizeWithHighmem) {
    // 6 GiB: 3 GiB below the PCI hole, 3 GiB above 4 GiB.
    Rig r(3 * GiB, 3 * GiB);
    EXPECT_EQ(r.get(0x34) | r.get(0x35) << 8, (3072 - 16) * 16);
    EXPECT_EQ(r.get(0x5b) | r.get(0x5c) << 8 | r.get(0x5d) << 16, 3 * 16384);
    Rig r2(2 * GiB, 2 * GiB);
    EXPECT_EQ(r2.get(0x34) | r2.get(0x35) << 8, (2048 - 16) * 16);
    EXPECT_EQ(r2.get(0x5b), 0x00);
    EXPECT_EQ(r2.get(0x5c), 0x80);
    EXPECT_EQ(r2.get(0x5d), 0x00);
}

TEST(DevicesRtc, MemorySizeSmallAndHuge) {
    Rig small(8 * MiB, 0);
    EXPECT_EQ(small.get(0x17) | small.get(0x18) << 8, 7 * 1024);
    EXPECT_EQ(small.get(0x34) | small.get(0x35) << 8, 0);
    Rig huge(3 * GiB, 2048 * GiB);
    EXPECT_EQ(huge.get(0x5b) | huge.get(0x5c) << 8 | huge.get(0x5d) << 16, 0xffffff);
}

TEST(DevicesRtc, PortAdapter) {
    Bus pio;
    auto rtc = std::make_shared<RtcCmos>(256 * MiB, 0, [] { return kT0; });
    RtcCmos::attach(pio, rtc);
    uint8_t idx = 0x09;
    EXPECT_TRUE(pio.write(0x70, {&idx, 1}));
    uint8_t v = 0;
    EXPECT_TRUE(pio.read(0x71, {&v, 1}));
    EXPECT_EQ(v, 0x24);
    uint8_t w[2] = {0x32, 0};
    EXPECT_TRUE(pio.write(0x70, {w, 1}));
    EXPECT_TRUE(pio.read(0x70, {w, 2}));  // index reads 0xff, data the century
    EXPECT_EQ(w[0], 0xff);
    EXPECT_EQ(w[1], 0x20);
}

}  // namespace
}  // namespace khyve
