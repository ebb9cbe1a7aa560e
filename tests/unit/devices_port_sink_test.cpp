#include "devices/port_sink.h"

#include <gtest/gtest.h>

namespace khyve {
namespace {

TEST(DevicesPortSink, SwallowsWritesReadsZero) {
    Bus pio;
    PortSink::attach_defaults(pio);
    uint8_t b = 0x42;
    EXPECT_TRUE(pio.write(0x80, {&b, 1}));
    EXPECT_TRUE(pio.write(0xed, {&b, 1}));
    EXPECT_TRUE(pio.read(0x80, {&b, 1}));
    EXPECT_EQ(b, 0);
    b = 0x42;
    EXPECT_TRUE(pio.read(0xed, {&b, 1}));
    EXPECT_EQ(b, 0);
    EXPECT_FALSE(pio.write(0x81, {&b, 1}));  // only the listed ports
    PortSink sink;
    uint8_t w[4] = {1, 2, 3, 4};
    sink.read(0, {w, 4});
    EXPECT_EQ(w[0] | w[1] | w[2] | w[3], 0);
}

}  // namespace
}  // namespace khyve
