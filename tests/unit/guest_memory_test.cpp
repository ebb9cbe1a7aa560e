#include "memory/guest_memory.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/error.h"

namespace khyve {
namespace {

TEST(GuestMemory, SliceWhollyInside) {
    std::vector<uint8_t> low(0x1000), high(0x1000);
    GuestMemory mem;
    mem.add_region(0, low.size(), low.data());
    mem.add_region(0x100000000ull, high.size(), high.data());
    EXPECT_TRUE(mem.slice(0, 0x1000));
    EXPECT_TRUE(mem.slice(0xfff, 1));
    EXPECT_FALSE(mem.slice(0xfff, 2));
    EXPECT_FALSE(mem.slice(0x1000, 1));
    EXPECT_FALSE(mem.slice(0x800, ~0ull));           // overflow
    EXPECT_FALSE(mem.slice(~0ull, 2));               // wrap
    EXPECT_FALSE(mem.slice(0xfffff000ull, 0x2000));  // straddles a hole
    auto s = mem.slice(0x100000010ull, 4);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->data(), high.data() + 0x10);
}

// Two regions that touch (crosvm tests exactly this): the second one's
// first byte is RAM even though it is the first one's end.
TEST(GuestMemory, AdjacentRegions) {
    std::vector<uint8_t> a(0x1000, 0xaa), b(0x1000, 0xbb);
    GuestMemory mem;
    mem.add_region(0x1000, b.size(), b.data());  // added out of order
    mem.add_region(0, a.size(), a.data());
    EXPECT_TRUE(mem.slice(0, 0x1000));                     // wholly in A
    EXPECT_TRUE(mem.slice(0xff0, 0x10));                   // ends exactly at A's end
    auto s = mem.slice(0x1000, 0x10);                      // starts exactly at B
    ASSERT_TRUE(s);
    EXPECT_EQ(s->data(), b.data());
    EXPECT_TRUE(mem.slice(0x1000, 0));                     // empty, at A's end / B's start
    EXPECT_FALSE(mem.slice(0xff8, 0x10));                  // one span cannot cover two mappings
    // read and write walk across the boundary.
    uint8_t buf[16] = {};
    ASSERT_TRUE(mem.read(0xff8, buf, sizeof buf));
    EXPECT_EQ(buf[7], 0xaa);
    EXPECT_EQ(buf[8], 0xbb);
    const uint8_t pattern[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    ASSERT_TRUE(mem.write(0xff8, pattern, sizeof pattern));
    EXPECT_EQ(a[0xfff], 8);
    EXPECT_EQ(b[0], 9);
    EXPECT_EQ(b[7], 16);
    EXPECT_TRUE(mem.read(0, buf, 0));
    // Past B's end is not RAM: nothing is copied either way.
    std::vector<uint8_t> big(0x2001, 0x55);
    EXPECT_FALSE(mem.read(0, big.data(), big.size()));
    EXPECT_EQ(big[0], 0x55);
    EXPECT_FALSE(mem.write(0xfff, big.data(), 0x1002));
    EXPECT_EQ(a[0xfff], 8);
}

TEST(GuestMemory, GapsAndOverflowAcrossRegions) {
    std::vector<uint8_t> a(0x1000), b(0x1000);
    GuestMemory mem;
    mem.add_region(0, a.size(), a.data());
    mem.add_region(0x2000, b.size(), b.data());
    uint8_t buf[32];
    EXPECT_FALSE(mem.read(0xff0, buf, sizeof buf));   // runs into the gap
    EXPECT_FALSE(mem.write(0x1ff0, buf, sizeof buf)); // starts in the gap
    EXPECT_TRUE(mem.read(0x2ff0, buf, 16));
    EXPECT_FALSE(mem.read(~0ull - 4, buf, 16));       // wraps the address space
    EXPECT_FALSE(mem.read(0x10, buf, ~0ull));         // length overflows
    EXPECT_FALSE(mem.slice(~0ull, 1));
}

TEST(GuestMemory, RejectsOverlapAndEmpty) {
    std::vector<uint8_t> a(0x1000);
    GuestMemory mem;
    mem.add_region(0x1000, 0x1000, a.data());
    EXPECT_THROW(mem.add_region(0x1800, 0x1000, a.data()), Error);
    EXPECT_THROW(mem.add_region(0x5000, 0, a.data()), Error);
    EXPECT_THROW(mem.add_region(~0ull - 10, 0x1000, a.data()), Error);
}

TEST(GuestMemory, ReadWriteObjects) {
    std::vector<uint8_t> a(0x100);
    GuestMemory mem;
    mem.add_region(0, a.size(), a.data());
    EXPECT_TRUE(mem.write_obj<uint32_t>(0x10, 0xdeadbeef));
    EXPECT_EQ(mem.read_obj<uint32_t>(0x10), 0xdeadbeefu);
    EXPECT_FALSE(mem.read_obj<uint64_t>(0xfc));
}

}  // namespace
}  // namespace khyve
