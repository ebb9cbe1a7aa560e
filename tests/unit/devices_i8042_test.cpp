#include "devices/i8042.h"

#include <gtest/gtest.h>

#include <vector>

namespace khyve {
namespace {

// Linux's i8042_command(): write the command, write argument bytes, then
// poll OBF for each response byte.
std::vector<uint8_t> command(I8042& c, uint8_t cmd, std::vector<uint8_t> args, size_t replies) {
    EXPECT_EQ(c.read_status() & 0x02, 0);  // IBF clear
    c.write_command(cmd);
    for (uint8_t a : args) {
        EXPECT_EQ(c.read_status() & 0x02, 0);
        c.write_data(a);
    }
    std::vector<uint8_t> out;
    for (size_t i = 0; i < replies; ++i) {
        EXPECT_TRUE(c.read_status() & 0x01) << "no reply " << i << " to command " << int(cmd);
        out.push_back(c.read_data());
    }
    return out;
}

TEST(DevicesI8042, LinuxProbeSequence) {
    int resets = 0;
    I8042 c([&] { ++resets; });
    // i8042_flush: nothing pending.
    EXPECT_EQ(c.read_status() & 0x01, 0);
    EXPECT_EQ(command(c, 0xaa, {}, 1), std::vector<uint8_t>{0x55});
    EXPECT_TRUE(c.read_status() & 0x04);  // SYS flag
    // Stable CTR reads, then write it back with both ports disabled.
    auto ctr = command(c, 0x20, {}, 1);
    EXPECT_EQ(command(c, 0x20, {}, 1), ctr);
    uint8_t newctr = static_cast<uint8_t>((ctr[0] | 0x30) & ~0x03);
    command(c, 0x60, {newctr}, 0);
    EXPECT_EQ(command(c, 0x20, {}, 1), std::vector<uint8_t>{newctr});
    // AUX loopback and interface tests.
    EXPECT_EQ(command(c, 0xd3, {0x5a}, 1), std::vector<uint8_t>{0x5a});
    EXPECT_EQ(command(c, 0xa9, {}, 1), std::vector<uint8_t>{0x00});
    EXPECT_EQ(command(c, 0xab, {}, 1), std::vector<uint8_t>{0x00});
    // i8042_toggle_aux: CTR bit 5 follows 0xa7 / 0xa8.
    command(c, 0xa8, {}, 0);
    EXPECT_EQ(command(c, 0x20, {}, 1)[0] & 0x20, 0);
    command(c, 0xa7, {}, 0);
    EXPECT_EQ(command(c, 0x20, {}, 1)[0] & 0x20, 0x20);
    command(c, 0xae, {}, 0);
    EXPECT_EQ(command(c, 0x20, {}, 1)[0] & 0x10, 0);
    command(c, 0xad, {}, 0);
    EXPECT_EQ(command(c, 0x20, {}, 1)[0] & 0x10, 0x10);
    EXPECT_EQ(c.read_status() & 0x01, 0);  // nothing left over
    EXPECT_EQ(resets, 0);
}

TEST(DevicesI8042, AuxLoopMarksAuxData) {
    I8042 c(nullptr);
    c.write_command(0xd3);
    c.write_data(0xa5);
    EXPECT_EQ(c.read_status() & 0x21, 0x21);
    EXPECT_EQ(c.read_data(), 0xa5);
    c.write_command(0xd2);
    c.write_data(0x11);
    EXPECT_EQ(c.read_status() & 0x21, 0x01);
    EXPECT_EQ(c.read_data(), 0x11);
}

TEST(DevicesI8042, PulseResetCallsOnReset) {
    int resets = 0;
    I8042 c([&] { ++resets; });
    c.write_command(0xff);  // pulse nothing
    EXPECT_EQ(resets, 0);
    c.write_command(0xfe);
    EXPECT_EQ(resets, 1);
    c.write_command(0xd1);  // output port write with bit 0 clear
    c.write_data(0x02);
    EXPECT_EQ(resets, 2);
    c.write_command(0xd1);
    c.write_data(0x03);
    EXPECT_EQ(resets, 2);
    EXPECT_EQ(command(c, 0xd0, {}, 1), std::vector<uint8_t>{0x03});
}

TEST(DevicesI8042, NoKeyboardWithoutIrqMeansNoReply) {
    I8042 c(nullptr);
    c.write_data(0xf2);  // atkbd GETID
    EXPECT_EQ(c.read_status() & 0x01, 0);
    c.write_command(0xd4);
    c.write_data(0xf2);
    EXPECT_EQ(c.read_status() & 0x01, 0);
}

TEST(DevicesI8042, NoDeviceRepliesRaiseIrqs) {
    std::vector<bool> kbd, aux;
    I8042 c(nullptr, [&](bool l) { kbd.push_back(l); }, [&](bool l) { aux.push_back(l); });
    c.write_data(0xf2);
    EXPECT_EQ(c.read_status() & 0x61, 0x41);  // OBF + timeout, keyboard data
    EXPECT_EQ(kbd, std::vector<bool>{true});
    EXPECT_EQ(c.read_data(), 0xfe);
    EXPECT_EQ(kbd, (std::vector<bool>{true, false}));
    EXPECT_EQ(c.read_status() & 0x41, 0);
    c.write_command(0xd4);
    c.write_data(0xff);
    EXPECT_EQ(c.read_status() & 0x61, 0x61);
    EXPECT_EQ(aux, std::vector<bool>{true});
    EXPECT_EQ(c.read_data(), 0xfe);
    EXPECT_EQ(aux, (std::vector<bool>{true, false}));
    // Two queued bytes give two edges.
    kbd.clear();
    c.write_data(0xf2);
    c.write_data(0xf2);
    c.read_data();
    c.read_data();
    EXPECT_EQ(kbd, (std::vector<bool>{true, false, true, false}));
    // Interrupts masked in the CTR: no line activity.
    c.write_command(0x60);
    c.write_data(0x44);
    kbd.clear();
    c.write_data(0xf2);
    EXPECT_TRUE(kbd.empty());
    EXPECT_EQ(c.read_data(), 0xfe);
}

TEST(DevicesI8042, OutputBufferIsBounded) {
    I8042 c(nullptr);
    for (int i = 0; i < 1000; ++i) c.write_command(0xaa);
    int n = 0;
    while (c.read_status() & 0x01) {
        EXPECT_EQ(c.read_data(), 0x55);
        ++n;
    }
    EXPECT_LE(n, 16);
    EXPECT_GE(n, 1);
}

TEST(DevicesI8042, AttachUsesTwoSinglePorts) {
    int resets = 0;
    auto c = std::make_shared<I8042>([&] { ++resets; });
    Bus pio;
    c->attach(pio);
    ASSERT_EQ(pio.entries().size(), 2u);
    EXPECT_EQ(pio.entries()[0].base, 0x60u);
    EXPECT_EQ(pio.entries()[0].len, 1u);
    EXPECT_EQ(pio.entries()[1].base, 0x64u);
    EXPECT_EQ(pio.entries()[1].len, 1u);
    uint8_t v = 0;
    EXPECT_FALSE(pio.read(0x61, {&v, 1}));  // the speaker port is KVM's
    uint8_t cmd = 0xfe;
    EXPECT_TRUE(pio.write(0x64, {&cmd, 1}));
    EXPECT_EQ(resets, 1);
    cmd = 0xaa;
    pio.write(0x64, {&cmd, 1});
    EXPECT_TRUE(pio.read(0x64, {&v, 1}));
    EXPECT_TRUE(v & 0x01);
    EXPECT_TRUE(pio.read(0x60, {&v, 1}));
    EXPECT_EQ(v, 0x55);
}

}  // namespace
}  // namespace khyve
