#include "vm/vm_object.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "common/error.h"

namespace khyve {
namespace {

class VmObjectTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/khyve-vmm-XXXXXX";
        dir_ = mkdtemp(tmpl);
        setenv("KHYVE_VMM_DIR", dir_.c_str(), 1);
    }
    void TearDown() override {
        std::filesystem::remove_all(dir_);
        unsetenv("KHYVE_VMM_DIR");
    }
    std::string dir_;
};

TEST_F(VmObjectTest, LifecycleKeepsMemoryUntilDestroy) {
    {
        auto vm = VmObject::create_or_reinit("guest1", 2 << 20, 0);
        auto mem = vm.map_memory();
        ASSERT_TRUE(mem.write_obj<uint32_t>(0x1000, 0xfeedf00d));
        vm.write_boot_state("rip=0x100200\n");
    }
    EXPECT_EQ(VmObject::list(), std::vector<std::string>{"guest1"});
    {
        auto vm = VmObject::open("guest1");
        EXPECT_EQ(vm.lowmem(), 2u << 20);
        auto mem = vm.map_memory();
        EXPECT_EQ(mem.read_obj<uint32_t>(0x1000), 0xfeedf00du);
        EXPECT_EQ(vm.read_boot_state(), std::optional<std::string>("rip=0x100200\n"));
    }
    VmObject::destroy("guest1");
    EXPECT_TRUE(VmObject::list().empty());
    EXPECT_THROW(VmObject::open("guest1"), Error);
    EXPECT_THROW(VmObject::destroy("guest1"), Error);
}

TEST_F(VmObjectTest, ReinitZeroesMemoryAndDropsBootState) {
    {
        auto vm = VmObject::create_or_reinit("g", 1 << 20, 0);
        auto mem = vm.map_memory();
        mem.write_obj<uint8_t>(0x10, 7);
        vm.write_boot_state("x=1\n");
    }
    auto vm = VmObject::create_or_reinit("g", 1 << 20, 0);
    auto mem = vm.map_memory();
    EXPECT_EQ(mem.read_obj<uint8_t>(0x10), 0);
    EXPECT_FALSE(vm.read_boot_state());
}

TEST_F(VmObjectTest, InUseIsRefused) {
    auto vm = VmObject::create_or_reinit("busy", 1 << 20, 0);
    EXPECT_THROW(VmObject::open("busy"), Error);
    EXPECT_THROW(VmObject::destroy("busy"), Error);
    EXPECT_THROW(VmObject::create_or_reinit("busy", 1 << 20, 0), Error);
}

TEST_F(VmObjectTest, BadNamesAndSizes) {
    EXPECT_THROW(VmObject::check_name(""), Error);
    EXPECT_THROW(VmObject::check_name("a/b"), Error);
    EXPECT_THROW(VmObject::check_name(".."), Error);
    EXPECT_THROW(VmObject::check_name(std::string(40, 'a')), Error);
    EXPECT_NO_THROW(VmObject::check_name("my-guest_1.0"));
    EXPECT_THROW(VmObject::create_or_reinit("odd", 4097, 0), Error);
    EXPECT_THROW(VmObject::create_or_reinit("zero", 0, 0), Error);
    EXPECT_TRUE(VmObject::list().empty()) << "a failed create left an object behind";
}

TEST_F(VmObjectTest, HighMemoryMapsAbove4G) {
    auto vm = VmObject::create_or_reinit("hi", 1 << 20, 1 << 20);
    auto mem = vm.map_memory();
    EXPECT_TRUE(mem.slice(0x100000000ull, 1 << 20));
    EXPECT_FALSE(mem.slice(0x100000, 1));
}

}  // namespace
}  // namespace khyve
