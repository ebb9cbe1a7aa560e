#include "vm/vm_object.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "vm/ram_backing.h"

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
        ram_backing::unmount(dir_ + "/vmm");  // the huge-page tests' mount
        std::filesystem::remove_all(dir_);
        unsetenv("KHYVE_VMM_DIR");
        unsetenv("KHYVE_VMM_HUGE");
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

TEST(VmConf, ParsesWhatBhyveloadWrites) {
    auto c = parse_vm_conf("lowmem=268435456\nhighmem=0x100000\nnote=1\nno equals sign\n", "vm.conf");
    EXPECT_EQ(c.lowmem, 268435456u);
    EXPECT_EQ(c.highmem, 0x100000u);
    EXPECT_THROW(parse_vm_conf("highmem=4096\n", "vm.conf"), Error);
    EXPECT_THROW(parse_vm_conf("lowmem=0\n", "vm.conf"), Error);
    EXPECT_THROW(parse_vm_conf("lowmem=12k\n", "vm.conf"), Error);
    // Found by fuzz_vm_conf: sizes bhyveload never writes were accepted.
    EXPECT_THROW(parse_vm_conf("lowmem=268470912\nhighmem=0\n", "vm.conf"), Error);  // not 4 KiB
    EXPECT_THROW(parse_vm_conf("lowmem=4096\nhighmem=4097\n", "vm.conf"), Error);
    EXPECT_THROW(parse_vm_conf("lowmem=0x100000000\n", "vm.conf"), Error);  // over the MMIO hole
    EXPECT_THROW(parse_vm_conf("lowmem=4096\nhighmem=0xfffffffffffff000\n", "vm.conf"), Error);  // wraps
    EXPECT_NO_THROW(parse_vm_conf("lowmem=0xc0000000\nhighmem=0x40000000\n", "vm.conf"));
}

TEST_F(VmObjectTest, HighMemoryMapsAbove4G) {
    auto vm = VmObject::create_or_reinit("hi", 1 << 20, 1 << 20);
    auto mem = vm.map_memory();
    EXPECT_TRUE(mem.slice(0x100000000ull, 1 << 20));
    EXPECT_FALSE(mem.slice(0x100000, 1));
}

// kB of a smaps field summed over the mappings that contain addr.
uint64_t smaps_kb(const void* addr, const std::string& field) {
    std::ifstream in("/proc/self/smaps");
    std::string line;
    bool inside = false;
    uint64_t kb = 0;
    const auto a = reinterpret_cast<uintptr_t>(addr);
    while (std::getline(in, line)) {
        unsigned long lo, hi;
        if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
            inside = a >= lo && a < hi;
        } else if (inside && line.rfind(field + ":", 0) == 0) {
            kb += std::stoull(line.substr(field.size() + 1));
        }
    }
    return kb;
}

// A VM object directory that bhyveload creates is a huge-page tmpfs.
TEST_F(VmObjectTest, RamUsesHugePagesWhereTheSystemAllows) {
    const std::string top = dir_ + "/vmm";
    setenv("KHYVE_VMM_DIR", top.c_str(), 1);
    {
        auto vm = VmObject::create_or_reinit("huge", 4 << 20, 0);
        if (!ram_backing::is_own_mount(top))
            GTEST_SKIP() << "no huge-page tmpfs here (not privileged, or no THP)";
        auto mem = vm.map_memory();
        EXPECT_EQ(reinterpret_cast<uintptr_t>(vm.low_mapping().data()) % (2 << 20), 0u);
        ASSERT_TRUE(mem.write_obj<uint32_t>(0x200000, 1));
        EXPECT_GE(smaps_kb(vm.low_mapping().data(), "ShmemPmdMapped"), 2048u)
            << "the RAM file is not mapped with 2 MiB pages";
        vm.write_boot_state("rip=0x100200\n");
    }
    {
        auto vm = VmObject::open("huge");
        auto mem = vm.map_memory();
        EXPECT_EQ(mem.read_obj<uint32_t>(0x200000), 1u);  // shared with the next process
    }
    VmObject::destroy("huge");
    EXPECT_TRUE(VmObject::list().empty());
    EXPECT_TRUE(ram_backing::is_own_mount(top)) << "the mount outlives its VMs";
}

// A directory that exists already (it may hold objects, or be the user's)
// is never mounted on, and KHYVE_VMM_HUGE=0 turns mounting off.
TEST_F(VmObjectTest, HugeMountOnlyOnANewDirectoryAndOnRequest) {
    auto vm = VmObject::create_or_reinit("plain", 1 << 20, 0);
    EXPECT_FALSE(ram_backing::is_own_mount(dir_));
    const std::string top = dir_ + "/vmm";
    setenv("KHYVE_VMM_DIR", top.c_str(), 1);
    setenv("KHYVE_VMM_HUGE", "0", 1);
    auto vm2 = VmObject::create_or_reinit("plain", 1 << 20, 0);
    EXPECT_FALSE(ram_backing::is_own_mount(top));
}

TEST(RamBacking, OwnMountsOnly) {
    EXPECT_FALSE(ram_backing::is_own_mount("/"));
    EXPECT_FALSE(ram_backing::is_own_mount("/nonexistent/khyve"));
}

}  // namespace
}  // namespace khyve
