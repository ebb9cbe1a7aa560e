#include "bus/bus.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace khyve {
namespace {

struct Recorder : BusDevice {
    uint64_t last_off = ~0ull;
    size_t last_len = 0;
    void read(uint64_t off, std::span<uint8_t> d) override {
        last_off = off;
        last_len = d.size();
        for (auto& b : d) b = 0x5a;
    }
    void write(uint64_t off, std::span<const uint8_t> d) override {
        last_off = off;
        last_len = d.size();
    }
};

TEST(Bus, RejectsOverlap) {
    Bus bus;
    bus.insert(0x3f8, 8, std::make_shared<Recorder>(), "com1");
    EXPECT_THROW(bus.insert(0x3ff, 2, std::make_shared<Recorder>(), "x"), Error);
    EXPECT_THROW(bus.insert(0x3f0, 9, std::make_shared<Recorder>(), "y"), Error);
    EXPECT_NO_THROW(bus.insert(0x400, 1, std::make_shared<Recorder>(), "z"));
    EXPECT_THROW(bus.insert(~0ull, 2, std::make_shared<Recorder>(), "wrap"), Error);
}

TEST(Bus, DispatchOnlyWhollyInside) {
    Bus bus;
    auto dev = std::make_shared<Recorder>();
    bus.insert(0x1000, 0x10, dev, "dev");
    uint8_t buf[4] = {};
    EXPECT_TRUE(bus.read(0x100c, buf));
    EXPECT_EQ(dev->last_off, 0xcu);
    EXPECT_EQ(buf[0], 0x5a);
    // Runs past the end: not dispatched, reads all ones.
    EXPECT_FALSE(bus.read(0x100e, buf));
    EXPECT_EQ(buf[0], 0xff);
    EXPECT_FALSE(bus.write(0xfff, std::span<const uint8_t>(buf, 2)));
    EXPECT_FALSE(bus.read(0x2000, buf));
}

}  // namespace
}  // namespace khyve
