#include "config/bhyve_options.h"
#include "platform/pci_emulation.h"

#include <gtest/gtest.h>

#include "config/machine_config.h"
#include "config_test_util.h"

namespace khyve {
namespace {

using test::parse;
using test::TempFile;

// The command line of the original bhyve(8) manual.
const std::vector<std::string> kManualLine = {
    "-a", "-A", "-m", "256", "-M", "0", "-I", "-H", "-g", "0",
    "-s", "0:0,hostbridge", "-s", "1:0,virtio-net,tap0", "-s", "2:0,virtio-blk,mydiskimage",
    "-S", "31,uart,stdio", "myguestname"};

TEST(BhyveOptions, ManualCommandLineTree) {
    auto args = parse(kManualLine);
    EXPECT_FALSE(args.usage_requested);
    std::map<std::string, std::string, std::less<>> expected{
        {"acpi_tables", "true"},
        {"gdb.port", "0"},
        {"lpc.com1.path", "stdio"},
        {"memory.highmem", "0"},
        {"memory.size", "256"},
        {"name", "myguestname"},
        {"pci.0.0.0.device", "hostbridge"},
        {"pci.0.1.0.backend", "tap0"},
        {"pci.0.1.0.device", "virtio-net"},
        {"pci.0.2.0.device", "virtio-blk"},
        {"pci.0.2.0.path", "mydiskimage"},
        {"x86.strictmsr", "true"},
        {"x86.vmexit_on_hlt", "true"},
        {"x86.x2apic", "false"},
    };
    EXPECT_EQ(args.tree.entries(), expected) << args.tree.dump();
}

TEST(BhyveOptions, ManualCommandLineMachine) {
    auto m = MachineConfig::from_tree(parse(kManualLine).tree);
    EXPECT_EQ(m.name, "myguestname");
    EXPECT_EQ(m.cpus, 1u);
    EXPECT_EQ(m.memory, 256ull << 20);
    ASSERT_TRUE(m.highmem.has_value());
    EXPECT_EQ(*m.highmem, 0u);
    EXPECT_FALSE(m.x2apic);
    EXPECT_TRUE(m.acpi);
    EXPECT_TRUE(m.yield_on_hlt);
    EXPECT_TRUE(m.ioapic);
    EXPECT_FALSE(m.pause_exit);
    EXPECT_FALSE(m.exit_on_unhandled_io);
    EXPECT_EQ(m.gdb_port, 0);
    EXPECT_TRUE(m.strict_msrs);
    EXPECT_TRUE(m.pins.empty());
    ASSERT_EQ(m.pci.size(), 3u);
    EXPECT_EQ(m.pci[0].addr, (PciAddress{0, 0, 0}));
    EXPECT_EQ(m.pci[0].device, "hostbridge");
    EXPECT_TRUE(m.pci[0].options.empty());
    EXPECT_EQ(m.pci[1].addr, (PciAddress{0, 1, 0}));
    EXPECT_EQ(m.pci[1].device, "virtio-net");
    EXPECT_EQ(m.pci[1].options, (std::map<std::string, std::string>{{"backend", "tap0"}}));
    EXPECT_EQ(m.pci[2].addr, (PciAddress{0, 2, 0}));
    EXPECT_EQ(m.pci[2].device, "virtio-blk");
    EXPECT_EQ(m.pci[2].options, (std::map<std::string, std::string>{{"path", "mydiskimage"}}));
    ASSERT_EQ(m.lpc.size(), 1u);
    EXPECT_EQ(m.lpc[0].name, "com1");
    EXPECT_EQ(m.lpc[0].backend, "stdio");
}

TEST(BhyveOptions, TodaysManualExample) {
    auto m = MachineConfig::from_tree(parse({"-c", "2", "-s", "0,hostbridge", "-s", "1,lpc", "-s",
                                             "2,virtio-blk,/my/image", "-l", "com1,stdio", "-H", "-P", "-m",
                                             "1G", "vm1"})
                                          .tree);
    EXPECT_EQ(m.cpus, 2u);
    EXPECT_EQ(m.sockets, 2u);
    EXPECT_EQ(m.memory, 1ull << 30);
    EXPECT_FALSE(m.highmem.has_value());
    EXPECT_TRUE(m.x2apic);
    EXPECT_TRUE(m.pause_exit);
    ASSERT_EQ(m.pci.size(), 3u);
    EXPECT_EQ(m.pci[1].device, "lpc");
    EXPECT_EQ(m.pci[1].addr, (PciAddress{0, 1, 0}));
    ASSERT_EQ(m.lpc.size(), 1u);
    EXPECT_EQ(m.lpc[0].backend, "stdio");
}

// The EXAMPLES section of bhyve_config(5) shows this dump; keep them equal.
TEST(BhyveOptions, DumpMatchesManualExample) {
    auto t = parse({"-c", "2", "-m", "1G", "-s", "0,hostbridge", "-s", "1,lpc", "-s", "2,virtio-blk,/my/image,ro",
                    "-l", "com1,stdio", "vm1"})
                 .tree;
    EXPECT_EQ(t.dump(),
              "acpi_tables=false\n"
              "cpus=2\n"
              "lpc.com1.path=stdio\n"
              "memory.size=1G\n"
              "name=vm1\n"
              "pci.0.0.0.device=hostbridge\n"
              "pci.0.1.0.device=lpc\n"
              "pci.0.2.0.device=virtio-blk\n"
              "pci.0.2.0.path=/my/image\n"
              "pci.0.2.0.ro=true\n"
              "x86.strictmsr=true\n");
}

TEST(BhyveOptions, SlotSyntaxes) {
    auto t = parse({"-s", "3,virtio-rnd", "-s", "4:2,virtio-rnd", "-s", "5:4:1,virtio-rnd", "vm"}).tree;
    EXPECT_EQ(t.get("pci.0.3.0.device"), "virtio-rnd");
    EXPECT_EQ(t.get("pci.0.4.2.device"), "virtio-rnd");
    EXPECT_EQ(t.get("pci.5.4.1.device"), "virtio-rnd");
    EXPECT_ERROR_HAS(parse({"-s", "32,virtio-rnd", "vm"}), "out of range");
    EXPECT_ERROR_HAS(parse({"-s", "1:8,virtio-rnd", "vm"}), "out of range");
    EXPECT_ERROR_HAS(parse({"-s", "256:0:0,virtio-rnd", "vm"}), "invalid pci slot '256:0:0'");
    EXPECT_ERROR_HAS(parse({"-s", "1:2:3:4,virtio-rnd", "vm"}), "invalid pci slot");
    EXPECT_ERROR_HAS(parse({"-s", "x,virtio-rnd", "vm"}), "-s: invalid pci slot 'x'");
    EXPECT_ERROR_HAS(parse({"-s", ":1,virtio-rnd", "vm"}), "invalid pci slot");
    EXPECT_ERROR_HAS(parse({"-s", "3", "vm"}), "no emulation");
    EXPECT_ERROR_HAS(parse({"-s", "3,", "vm"}), "no emulation");
}

TEST(BhyveOptions, DeviceConfStrings) {
    auto t = parse({"-s", "2,virtio-blk,/img,ro,nocache,sectorsize=512/4096,ser=ABC", "-s",
                    "3,virtio-net,tap1,mac=00:be:fa:76:45:00,mtu=9000", "-s",
                    "4,virtio-console,port1=/tmp/p1.sock", "-s", "5,virtio-blk,path=/other", "vm"})
                 .tree;
    EXPECT_EQ(t.get("pci.0.2.0.path"), "/img");
    EXPECT_EQ(t.get("pci.0.2.0.ro"), "true");
    EXPECT_EQ(t.get("pci.0.2.0.nocache"), "true");
    EXPECT_EQ(t.get("pci.0.2.0.sectorsize"), "512/4096");
    EXPECT_EQ(t.get("pci.0.2.0.ser"), "ABC");
    EXPECT_EQ(t.get("pci.0.3.0.backend"), "tap1");
    EXPECT_EQ(t.get("pci.0.3.0.mac"), "00:be:fa:76:45:00");
    EXPECT_EQ(t.get("pci.0.3.0.mtu"), "9000");
    EXPECT_EQ(t.get("pci.0.4.0.port1"), "/tmp/p1.sock");
    EXPECT_EQ(t.get("pci.0.5.0.path"), "/other");
    auto m = MachineConfig::from_tree(t);
    ASSERT_EQ(m.pci.size(), 4u);
    EXPECT_EQ(m.pci[0].options.at("ro"), "true");
}

TEST(BhyveOptions, DuplicateSlot) {
    EXPECT_ERROR_HAS(parse({"-s", "2,virtio-rnd", "-s", "2:0,virtio-blk,/x", "vm"}),
                     "pci slot 0:2:0 is used twice");
    EXPECT_ERROR_HAS(parse({"-o", "pci.0.2.0.device=virtio-rnd", "-s", "2,virtio-rnd", "vm"}),
                     "pci slot 0:2:0 is used twice");
    EXPECT_ERROR_HAS(parse({"-S", "31,uart,stdio", "-s", "31,lpc", "vm"}), "pci slot 0:31:0 is used twice");
}

TEST(BhyveOptions, UnknownAndUnsupportedEmulation) {
    EXPECT_ERROR_HAS(parse({"-s", "2,frobnicator", "vm"}), "unknown pci emulation 'frobnicator'");
    EXPECT_ERROR_HAS(parse({"-s", "2,ahci-hd,/img", "vm"}), "'ahci-hd' is not supported");
    EXPECT_ERROR_HAS(parse({"-s", "2,passthru,1/0/0", "vm"}), "'passthru' is not supported");
    // A bare word the device does not know is an unknown option, not a flag set to true.
    auto machine = [](std::vector<std::string> a) { return MachineConfig::from_tree(parse(std::move(a)).tree); };
    EXPECT_ERROR_HAS(machine({"-s", "2,virtio-blk,/img,readonly", "vm"}), "unknown option 'readonly'");
    EXPECT_ERROR_HAS(machine({"-s", "2,virtio-console,port2=/tmp/s", "vm"}), "unknown option 'port2'");
    EXPECT_NO_THROW(machine({"-s", "2,virtio-blk,/img,ro,nocache", "vm"}));
}

TEST(BhyveOptions, LegacyUartBecomesComPorts) {
    auto t = parse({"-S", "30,uart,stdio", "-s", "31,uart,/dev/ttyS5", "-S31:1,uart", "vm"}).tree;
    EXPECT_EQ(t.get("lpc.com1.path"), "stdio");
    EXPECT_EQ(t.get("lpc.com2.path"), "/dev/ttyS5");
    EXPECT_EQ(t.get("lpc.com3.path"), "");
    EXPECT_FALSE(t.has_node("pci"));
    // An explicit -l com1 takes COM1; the uart takes the next one.
    auto u = parse({"-l", "com1,/dev/ttyS1", "-S", "31,uart,stdio", "vm"}).tree;
    EXPECT_EQ(u.get("lpc.com1.path"), "/dev/ttyS1");
    EXPECT_EQ(u.get("lpc.com2.path"), "stdio");
    EXPECT_ERROR_HAS(parse({"-l", "com1", "-l", "com2", "-l", "com3", "-l", "com4", "-s", "9,uart", "vm"}),
                     "all four COM ports");
}

TEST(BhyveOptions, CapitalSWithoutSlotWiresMemory) {
    auto t = parse({"-S", "vm"}).tree;
    EXPECT_EQ(t.get("memory.wired"), "true");
    EXPECT_EQ(t.get("name"), "vm");
    auto g = parse({"-SH", "vm"}).tree;
    EXPECT_EQ(g.get("memory.wired"), "true");
    EXPECT_EQ(g.get("x86.vmexit_on_hlt"), "true");
    auto h = parse({"-HS", "31,uart,stdio", "vm"}).tree;
    EXPECT_FALSE(h.has("memory.wired"));
    EXPECT_EQ(h.get("lpc.com1.path"), "stdio");
    EXPECT_TRUE(MachineConfig::from_tree(parse({"-S", "vm"}).tree).wire_memory);
}

TEST(BhyveOptions, EveryPlainFlag) {
    auto t = parse({"-AaCDeHIPuWwxYbB", "vm"}).tree;
    EXPECT_EQ(t.get("acpi_tables"), "true");
    EXPECT_EQ(t.get("x86.x2apic"), "true");  // -x after -a: last one wins
    EXPECT_EQ(t.get("memory.guest_in_core"), "true");
    EXPECT_EQ(t.get("destroy_on_poweroff"), "true");
    EXPECT_EQ(t.get("x86.strictio"), "true");
    EXPECT_EQ(t.get("x86.vmexit_on_hlt"), "true");
    EXPECT_EQ(t.get("x86.vmexit_on_pause"), "true");
    EXPECT_EQ(t.get("rtc.use_localtime"), "false");
    EXPECT_EQ(t.get("virtio_msix"), "false");
    EXPECT_EQ(t.get("x86.strictmsr"), "false");
    EXPECT_EQ(t.get("x86.mptable"), "false");
    auto m = MachineConfig::from_tree(t);
    EXPECT_TRUE(m.acpi);
    EXPECT_TRUE(m.x2apic);
    EXPECT_TRUE(m.destroy_on_poweroff);
    EXPECT_TRUE(m.exit_on_unhandled_io);
    EXPECT_TRUE(m.yield_on_hlt);
    EXPECT_TRUE(m.pause_exit);
    EXPECT_FALSE(m.rtc_localtime);
    EXPECT_FALSE(m.virtio_msix);
    EXPECT_FALSE(m.strict_msrs);
    EXPECT_FALSE(m.mptable);
    EXPECT_FALSE(MachineConfig::from_tree(parse({"-xa", "vm"}).tree).x2apic);
}

TEST(BhyveOptions, Defaults) {
    auto m = MachineConfig::from_tree(parse({"vm"}).tree);
    EXPECT_EQ(m.cpus, 1u);
    EXPECT_EQ(m.memory, 256ull << 20);
    EXPECT_FALSE(m.acpi);
    EXPECT_TRUE(m.x2apic);
    EXPECT_TRUE(m.strict_msrs);
    EXPECT_TRUE(m.rtc_localtime);
    EXPECT_TRUE(m.seccomp);
    EXPECT_TRUE(m.pci.empty());
    EXPECT_TRUE(m.lpc.empty());
}

TEST(BhyveOptions, Help) {
    EXPECT_TRUE(parse({"-h"}).usage_requested);
    EXPECT_TRUE(parse({"-A", "-h", "-m", "garbage"}).usage_requested);
    EXPECT_NE(bhyve_usage().find("Usage: bhyve"), std::string::npos);
    EXPECT_NE(parse({"-s", "help"}).help_text.find("virtio-blk"), std::string::npos);
    // Every entry of the emulation table and each of its options is listed.
    const std::string help = parse({"-s", "help"}).help_text;
    for (const auto* e : pci_emulations()) {
        EXPECT_NE(help.find(std::string(e->name) + " "), std::string::npos) << e->name;
        for (const auto& o : e->options) EXPECT_NE(help.find("  " + std::string(o.name)), std::string::npos) << o.name;
    }
    EXPECT_NE(parse({"-l", "help"}).help_text.find("com1"), std::string::npos);
}

TEST(BhyveOptions, Topology) {
    auto t = parse({"-c", "cpus=4,sockets=2,cores=2", "vm"}).tree;
    auto m = MachineConfig::from_tree(t);
    EXPECT_EQ(m.cpus, 4u);
    EXPECT_EQ(m.sockets, 2u);
    EXPECT_EQ(m.cores, 2u);
    EXPECT_EQ(m.threads, 1u);
    auto implicit = MachineConfig::from_tree(parse({"-c", "sockets=1,cores=2,threads=2", "vm"}).tree);
    EXPECT_EQ(implicit.cpus, 4u);
    EXPECT_EQ(MachineConfig::from_tree(parse({"-c", "", "vm"}).tree).cpus, 1u);
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-c", "4,sockets=3", "vm"}).tree), "does not match 4 vCPUs");
    EXPECT_ERROR_HAS(parse({"-c", "two", "vm"}), "-c: invalid cpus 'two'");
    EXPECT_ERROR_HAS(parse({"-c", "0", "vm"}), "-c: invalid cpus '0'");
    EXPECT_ERROR_HAS(parse({"-c", "4,maxcpus=8", "vm"}), "-c: invalid cpu topology setting 'maxcpus=8'");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-c", "65", "vm"}).tree), "65 vCPUs");
}

TEST(BhyveOptions, MemoryFlags) {
    EXPECT_EQ(MachineConfig::from_tree(parse({"-m", "256", "vm"}).tree).memory, 256ull << 20);
    EXPECT_EQ(MachineConfig::from_tree(parse({"-m", "256M", "vm"}).tree).memory, 256ull << 20);
    EXPECT_EQ(MachineConfig::from_tree(parse({"-m1G", "vm"}).tree).memory, 1ull << 30);
    EXPECT_ERROR_HAS(parse({"-m", "lots", "vm"}), "-m: invalid memory size 'lots'");
    EXPECT_ERROR_HAS(parse({"-m", "99999999999999999999", "vm"}), "-m: invalid memory size");
    EXPECT_ERROR_HAS(parse({"-M", "x", "vm"}), "-M: invalid memory size 'x'");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-m", "0", "vm"}).tree), "below the minimum");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-m", "1048577", "vm"}).tree), "page size");
    auto hi = MachineConfig::from_tree(parse({"-m", "2G", "-M", "4G", "vm"}).tree);
    EXPECT_EQ(hi.memory, 2ull << 30);
    EXPECT_EQ(hi.highmem, 4ull << 30);
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-m", "4G", "-M", "1G", "vm"}).tree), "must not exceed");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-m", "2T", "vm"}).tree), "exceeds the maximum");
}

TEST(BhyveOptions, PinsAndGdb) {
    auto m = MachineConfig::from_tree(parse({"-c", "2", "-p", "0:12", "-p", "1:13", "-p", "1:14", "vm"}).tree);
    ASSERT_EQ(m.pins.size(), 3u);
    EXPECT_EQ(m.pins[0].vcpu, 0u);
    EXPECT_EQ(m.pins[0].host_cpu, 12u);
    EXPECT_EQ(m.pins[2].vcpu, 1u);
    EXPECT_EQ(m.pins[2].host_cpu, 14u);
    auto old = MachineConfig::from_tree(parse({"-c", "2", "-p", "4", "vm"}).tree);
    ASSERT_EQ(old.pins.size(), 2u);
    EXPECT_EQ(old.pins[1].host_cpu, 5u);
    EXPECT_ERROR_HAS(parse({"-p", "0-1", "vm"}), "-p: invalid vcpu pinning '0-1'");
    EXPECT_ERROR_HAS(parse({"-p", "0:1024", "vm"}), "-p: invalid vcpu pinning");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-p", "1:0", "vm"}).tree), "cannot pin vCPU 1");

    auto g = MachineConfig::from_tree(parse({"-G", "w0.0.0.0:1234", "vm"}).tree);
    EXPECT_EQ(g.gdb_port, 1234);
    EXPECT_EQ(g.gdb_address, "0.0.0.0");
    EXPECT_TRUE(g.gdb_wait);
    auto g2 = MachineConfig::from_tree(parse({"-g", "6466", "vm"}).tree);
    EXPECT_EQ(g2.gdb_port, 6466);
    EXPECT_EQ(g2.gdb_address, "127.0.0.1");
    EXPECT_FALSE(g2.gdb_wait);
    EXPECT_ERROR_HAS(parse({"-g", "65536", "vm"}), "-g: invalid port '65536'");
    EXPECT_ERROR_HAS(parse({"-G", "x", "vm"}), "-G: invalid port 'x'");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-o", "gdb.port=99999", "vm"}).tree), "gdb.port");
}

// -n: bhyve's NUMA domains. One domain with all memory and vCPUs is what a
// khyve guest has anyway; anything else is refused by name.
TEST(BhyveOptions, NumaDomains) {
    auto t = parse({"-c", "2", "-m", "512M", "-n", "id=0,size=512M,cpus=0,1", "vm"}).tree;
    EXPECT_EQ(t.get("numa.0.size"), "512M");
    EXPECT_EQ(t.get("numa.0.cpus"), "0,1");
    EXPECT_NO_THROW(MachineConfig::from_tree(t));
    EXPECT_NO_THROW(MachineConfig::from_tree(parse({"-c", "2", "-m", "512M", "-n", "0,512M,0-1", "vm"}).tree));
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-c", "2", "-m", "512M", "-n", "0,256M,0", "-n", "1,256M,1", "vm"}).tree),
                     "-n: 2 NUMA domains asked for");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-m", "512M", "-n", "0,256M,0", "vm"}).tree),
                     "-n: domain 0 has 256 MiB but the guest has 512 MiB");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-c", "2", "-m", "512M", "-n", "0,512M,1", "vm"}).tree),
                     "-n: domain 0 must hold every vCPU (0-1)");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-n", "0,256M,0,prefer:0", "vm"}).tree),
                     "domain_policy is a FreeBSD domainset(9) policy");
    EXPECT_ERROR_HAS(parse({"-n", "id=0,size=1G", "vm"}), "needs id, size and cpus");
    EXPECT_ERROR_HAS(parse({"-n", "id=0,sz=1G,cpus=0", "vm"}), "-n: unknown key 'sz'");
    EXPECT_ERROR_HAS(parse({"-n", "9,1G,0", "vm"}), "-n: domain id '9' is not 0-7");
    EXPECT_ERROR_HAS(parse({"-n", "0,lots,0", "vm"}), "-n: invalid memory size 'lots'");
    EXPECT_ERROR_HAS(parse({"-n", "0,1G,0", "-n", "0,1G,0", "vm"}), "-n: domain 0 is given twice");
    EXPECT_ERROR_HAS(MachineConfig::from_tree(parse({"-o", "numa.0.sise=1G", "vm"}).tree),
                     "unknown configuration key 'numa.0.sise'");
}

TEST(BhyveOptions, LpcDevices) {
    auto t = parse({"-l", "com1,stdio", "-l", "COM2,/dev/ttyS0", "-l", "com3", "vm"}).tree;
    EXPECT_EQ(t.get("lpc.com1.path"), "stdio");
    EXPECT_EQ(t.get("lpc.com2.path"), "/dev/ttyS0");
    EXPECT_EQ(t.get("lpc.com3.path"), "");
    auto m = MachineConfig::from_tree(t);
    ASSERT_EQ(m.lpc.size(), 3u);
    EXPECT_EQ(m.lpc[2].name, "com3");
    EXPECT_EQ(m.lpc[2].backend, "");
    EXPECT_ERROR_HAS(parse({"-l", "bootrom,/usr/local/share/uefi-firmware/BHYVE_UEFI.fd", "vm"}),
                     "UEFI boot ROMs are not supported; boot Linux with bhyveload");
    EXPECT_ERROR_HAS(parse({"-l", "com5,stdio", "vm"}), "unknown LPC device 'com5'");
    EXPECT_ERROR_HAS(parse({"-l", "tpm,swtpm,/s", "vm"}), "'tpm' is not supported");
}

TEST(BhyveOptions, OverridesWithO) {
    auto t = parse({"-m", "1G", "-o", "memory.size=2G", "-s", "2,virtio-blk,/a", "-o", "pci.0.2.0.path=/b",
                    "-o", "pci.0.2.0.ro=yes", "vm"})
                 .tree;
    auto m = MachineConfig::from_tree(t);
    EXPECT_EQ(m.memory, 2ull << 30);
    EXPECT_EQ(m.pci.at(0).options.at("path"), "/b");
    EXPECT_EQ(m.pci.at(0).options.at("ro"), "yes");
    // -o name works in place of the positional name; the positional wins.
    EXPECT_EQ(parse({"-o", "name=fromo"}).tree.get("name"), "fromo");
    EXPECT_EQ(parse({"-o", "name=fromo", "real"}).tree.get("name"), "real");
    EXPECT_ERROR_HAS(parse({"-o", "novalue", "vm"}), "-o: invalid configuration option 'novalue'");
    EXPECT_ERROR_HAS(parse({"-o", "a..b=1", "vm"}), "-o:");
}

TEST(BhyveOptions, ConfigFileWithK) {
    TempFile f("# vm0\n"
               "cpus=2\n"
               "memory.size=512M\n"
               "pci.0.0.0.device=hostbridge\n"
               "pci.0.2.0.device=virtio-blk\n"
               "pci.0.2.0.path=/images/%(name).img\n"
               "lpc.com1.path=stdio\n");
    auto m = MachineConfig::from_tree(parse({"-k", f.path(), "-o", "cpus=3", "vm0"}).tree);
    EXPECT_EQ(m.cpus, 3u);
    EXPECT_EQ(m.memory, 512ull << 20);
    ASSERT_EQ(m.pci.size(), 2u);
    EXPECT_EQ(m.pci[1].options.at("path"), "/images/vm0.img");
    ASSERT_EQ(m.lpc.size(), 1u);
    // Later flags override the file; a -k after them overrides the flags.
    TempFile g("memory.size=1G\n");
    EXPECT_EQ(MachineConfig::from_tree(parse({"-m", "2G", "-k", g.path(), "vm"}).tree).memory, 1ull << 30);
    TempFile bad("cpus=2\nmemory.size\n");
    EXPECT_ERROR_HAS(parse({"-k", bad.path(), "vm"}), bad.path() + ":2:");
    EXPECT_ERROR_HAS(parse({"-k", "/nonexistent.conf", "vm"}), "/nonexistent.conf");
}

TEST(BhyveOptions, CommandLineErrors) {
    EXPECT_ERROR_HAS(parse({}), "missing VM name");
    EXPECT_ERROR_HAS(parse({"-A"}), "missing VM name");
    EXPECT_ERROR_HAS(parse({"-q", "vm"}), "unknown option -q");
    EXPECT_ERROR_HAS(parse({"vm", "-A"}), "unexpected argument '-A' after the VM name 'vm'");
    EXPECT_ERROR_HAS(parse({"vm", "other"}), "unexpected argument 'other'");
    EXPECT_ERROR_HAS(parse({"-m"}), "option -m requires an argument");
    EXPECT_ERROR_HAS(parse({"-r", "snap", "vm"}), "not supported yet");
    EXPECT_ERROR_HAS(parse({"-f", "name,string=x", "vm"}), "fw_cfg");
    EXPECT_ERROR_HAS(parse({"-U", "not-a-uuid", "vm"}), "-U: invalid uuid 'not-a-uuid'");
    EXPECT_ERROR_HAS(parse({"-z", "fast", "vm"}), "-z: invalid number 'fast'");
    EXPECT_ERROR_HAS(parse({"-t", "x", "vm"}), "-t: invalid number 'x'");
    EXPECT_ERROR_HAS(parse({"bad/name"}), "bad/name");
    EXPECT_ERROR_HAS(parse({"abcdefghijklmnopqrstuvwxyz0123456"}), "longer than 31");
    EXPECT_NO_THROW(parse({"-z", "100", "-t", "200", "-K", "us", "--", "vm"}));
    auto u = MachineConfig::from_tree(parse({"-U", "6f1f5a0e-1b2c-4d3e-8f90-0123456789ab", "vm"}).tree);
    EXPECT_EQ(u.uuid, "6f1f5a0e-1b2c-4d3e-8f90-0123456789ab");
}

}  // namespace
}  // namespace khyve
