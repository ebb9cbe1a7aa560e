#include "config/machine_config.h"

#include <gtest/gtest.h>

#include "config/config_tree.h"
#include "config/vm_name.h"
#include "config_test_util.h"

namespace khyve {
namespace {

ConfigTree base() {
    ConfigTree t;
    t.set("name", "vm");
    return t;
}

MachineConfig with(std::initializer_list<std::pair<const char*, const char*>> kv) {
    ConfigTree t = base();
    for (auto [k, v] : kv) t.set(k, v);
    return MachineConfig::from_tree(t);
}

TEST(MachineConfigTree, MissingName) {
    EXPECT_ERROR_HAS(MachineConfig::from_tree(ConfigTree{}), "missing VM name");
}

TEST(MachineConfigTree, VmNames) {
    EXPECT_NO_THROW(check_vm_name("vm-1_test.a"));
    EXPECT_NO_THROW(check_vm_name(std::string(31, 'a')));
    EXPECT_ERROR_HAS(check_vm_name(""), "empty");
    EXPECT_ERROR_HAS(check_vm_name(std::string(32, 'a')), "longer than 31");
    EXPECT_ERROR_HAS(check_vm_name("a/b"), "'a/b'");
    EXPECT_ERROR_HAS(check_vm_name("a b"), "[A-Za-z0-9_.-]");
    EXPECT_ERROR_HAS(check_vm_name(".."), "not allowed");
    EXPECT_ERROR_HAS(with({{"name", "x/y"}}), "x/y");
}

TEST(MachineConfigTree, PciRules) {
    EXPECT_NO_THROW(with({{"pci.0.0.0.device", "amd_hostbridge"}}));
    EXPECT_ERROR_HAS(with({{"pci.0.3.0.device", "hostbridge"}}), "hostbridge must be at pci slot 0:0:0, not 0:3:0");
    EXPECT_ERROR_HAS(with({{"pci.1.31.0.device", "lpc"}}), "LPC bridge can only be on bus 0");
    EXPECT_ERROR_HAS(with({{"pci.0.1.0.device", "lpc"}, {"pci.0.31.0.device", "lpc"}}),
                     "only one LPC bridge is allowed (at 0:1:0 and 0:31:0)");
    EXPECT_ERROR_HAS(with({{"pci.0.2.0.device", "virtio-blk"}}), "virtio-blk at 0:2:0 needs a path");
    EXPECT_ERROR_HAS(with({{"pci.0.2.0.device", "virtio-net"}}), "virtio-net at 0:2:0 needs a backend");
    EXPECT_ERROR_HAS(with({{"pci.0.2.0.device", "nvme"}}), "'nvme' is not supported");
    EXPECT_ERROR_HAS(with({{"pci.0.2.0.device", "bogus"}}), "unknown pci emulation 'bogus'");
    EXPECT_ERROR_HAS(with({{"pci.0.2.0.device", "uart"}}), "only as an LPC COM port");
    EXPECT_ERROR_HAS(with({{"pci.0.2.0.path", "/x"}}), "pci.0.2.0 has no 'device'");
    EXPECT_ERROR_HAS(with({{"pci.0.32.0.device", "virtio-rnd"}}), "pci.0.32");
    EXPECT_ERROR_HAS(with({{"pci.0.x.0.device", "virtio-rnd"}}), "pci.0.x");
    EXPECT_ERROR_HAS(with({{"pci.0.2.device", "virtio-rnd"}}), "pci.0.2.device");
    EXPECT_ERROR_HAS(with({{"pci.0.2.1.device", "virtio-rnd"}}), "pci slot 0:2:1 has no function 0");
    EXPECT_NO_THROW(with({{"pci.0.2.0.device", "virtio-rnd"}, {"pci.0.2.1.device", "virtio-rnd"}}));
}

TEST(MachineConfigTree, DeviceOptionChecks) {
    auto blk = [](const char* k, const char* v) {
        return with({{"pci.0.2.0.device", "virtio-blk"}, {"pci.0.2.0.path", "/img"}, {k, v}});
    };
    EXPECT_NO_THROW(blk("pci.0.2.0.ro", "true"));
    EXPECT_ERROR_HAS(blk("pci.0.2.0.ro", "perhaps"), "invalid boolean for ro: 'perhaps'");
    EXPECT_NO_THROW(blk("pci.0.2.0.sectorsize", "512/4096"));
    EXPECT_NO_THROW(blk("pci.0.2.0.sectorsize", "4096"));
    EXPECT_ERROR_HAS(blk("pci.0.2.0.sectorsize", "1000"), "invalid sectorsize '1000'");
    EXPECT_ERROR_HAS(blk("pci.0.2.0.sectorsize", "4096/512"), "invalid sectorsize");
    EXPECT_ERROR_HAS(blk("pci.0.2.0.ser", "123456789012345678901"), "longer than 20");
    auto net = [](const char* k, const char* v) {
        return with({{"pci.0.2.0.device", "virtio-net"}, {"pci.0.2.0.backend", "tap0"}, {k, v}});
    };
    EXPECT_NO_THROW(net("pci.0.2.0.mac", "00:be:fa:76:45:00"));
    EXPECT_ERROR_HAS(net("pci.0.2.0.mac", "00:be:fa:76:45"), "invalid mac");
    EXPECT_ERROR_HAS(net("pci.0.2.0.mac", "01:00:5e:00:00:01"), "multicast");
    EXPECT_NO_THROW(net("pci.0.2.0.mtu", "1500"));
    EXPECT_ERROR_HAS(net("pci.0.2.0.mtu", "20"), "invalid mtu '20'");
    EXPECT_ERROR_HAS(net("pci.0.2.0.mtu", "big"), "invalid mtu 'big'");
    // Options the emulation table does not list are refused before anything is opened.
    EXPECT_ERROR_HAS(blk("pci.0.2.0.bogus", "1"), "virtio-blk at 0:2:0: unknown option 'bogus'");
    EXPECT_ERROR_HAS(net("pci.0.2.0.path", "/x"), "virtio-net at 0:2:0: unknown option 'path'");
    EXPECT_ERROR_HAS(with({{"pci.0.2.0.device", "virtio-rnd"}, {"pci.0.2.0.x", "1"}}), "options: none");
    EXPECT_ERROR_HAS(with({{"pci.0.0.0.device", "hostbridge"}, {"pci.0.0.0.ro", "true"}}), "unknown option 'ro'");
}

TEST(MachineConfigTree, UnknownKeysAreRefusedWithASuggestion) {
    EXPECT_ERROR_HAS(with({{"khyve.secomp", "false"}}), "unknown configuration key 'khyve.secomp' (did you mean 'khyve.seccomp'?)");
    EXPECT_ERROR_HAS(with({{"memory.sise", "1G"}}), "did you mean 'memory.size'");
    EXPECT_ERROR_HAS(with({{"frobnicate", "1"}}), "unknown configuration key 'frobnicate'; see bhyve_config(5)");
    EXPECT_ERROR_HAS(with({{"lpc.com1.pth", "stdio"}}), "unknown configuration key 'lpc.com1.pth'");
    EXPECT_NO_THROW(with({{"khyve.seccomp", "false"}, {"x86.strictmsr", "false"}, {"keyboard.layout", "us"}}));
}

TEST(MachineConfigTree, LpcRules) {
    EXPECT_ERROR_HAS(with({{"lpc.bootrom", "/fw.fd"}}), "UEFI boot ROMs are not supported");
    EXPECT_ERROR_HAS(with({{"lpc.tpm.path", "/dev/tpm0"}}), "unknown LPC device 'tpm'");
    auto m = with({{"lpc.com4.path", "/dev/ttyS4"}, {"lpc.com1.path", "stdio"}});
    ASSERT_EQ(m.lpc.size(), 2u);
    EXPECT_EQ(m.lpc[0].name, "com1");
    EXPECT_EQ(m.lpc[1].name, "com4");
    EXPECT_EQ(m.lpc[1].backend, "/dev/ttyS4");
}

TEST(MachineConfigTree, BadValuesNameTheirKey) {
    EXPECT_ERROR_HAS(with({{"x86.x2apic", "sometimes"}}), "x86.x2apic");
    EXPECT_ERROR_HAS(with({{"acpi_tables", "2"}}), "acpi_tables");
    EXPECT_ERROR_HAS(with({{"memory.size", "big"}}), "memory.size");
    EXPECT_ERROR_HAS(with({{"cpus", "many"}}), "cpus");
    EXPECT_ERROR_HAS(with({{"vcpu.0.cpuset", "1,x"}}), "vcpu.0.cpuset");
    EXPECT_ERROR_HAS(with({{"khyve.seccomp", "nah"}}), "khyve.seccomp");
    EXPECT_ERROR_HAS(with({{"uuid", "xyz"}}), "invalid uuid 'xyz'");
    EXPECT_FALSE(with({{"khyve.seccomp", "off"}}).seccomp);
}

TEST(MachineConfigTree, CpusetRanges) {
    auto m = with({{"cpus", "2"}, {"vcpu.1.cpuset", "2-4,7"}});
    ASSERT_EQ(m.pins.size(), 4u);
    EXPECT_EQ(m.pins[0].vcpu, 1u);
    EXPECT_EQ(m.pins[0].host_cpu, 2u);
    EXPECT_EQ(m.pins[3].host_cpu, 7u);
    EXPECT_ERROR_HAS(with({{"vcpu.0.cpuset", "4-2"}}), "vcpu.0.cpuset");
}

TEST(MachineConfigTree, ValidateDirectly) {
    MachineConfig m;
    m.name = "vm";
    EXPECT_NO_THROW(m.validate());
    m.cpus = 0;
    m.sockets = 0;
    EXPECT_ERROR_HAS(m.validate(), "0 vCPUs");
    m.cpus = 2;
    m.sockets = 1;
    EXPECT_ERROR_HAS(m.validate(), "does not match 2 vCPUs");
    m.sockets = 2;
    m.memory = 1ull << 20;
    EXPECT_ERROR_HAS(m.validate(), "below the minimum of 2 MiB");
    m.memory = 2ull << 20;
    m.highmem = 4097;
    EXPECT_ERROR_HAS(m.validate(), "high memory size 4097");
    m.highmem.reset();
    m.pci.push_back({{0, 2, 0}, "virtio-rnd", {}});
    m.pci.push_back({{0, 2, 0}, "virtio-rnd", {}});
    EXPECT_ERROR_HAS(m.validate(), "pci slot 0:2:0 is used twice");
}

}  // namespace
}  // namespace khyve
