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
