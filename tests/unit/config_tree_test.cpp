#include "config/config_tree.h"

#include <gtest/gtest.h>

#include "common/config_values.h"
#include "config_test_util.h"

namespace khyve {
namespace {

using test::TempFile;

TEST(ConfigTree, SetGetAndOverride) {
    ConfigTree t;
    EXPECT_FALSE(t.get("memory.size"));
    t.set("memory.size", "256M");
    t.set("memory.size", "1G");
    EXPECT_EQ(t.get("memory.size"), "1G");
    EXPECT_EQ(t.get("nope", "dflt"), "dflt");
    EXPECT_TRUE(t.has("memory.size"));
    EXPECT_FALSE(t.has("memory"));
    EXPECT_TRUE(t.has_node("memory"));
    t.unset("memory.size");
    EXPECT_FALSE(t.has_node("memory"));
}

TEST(ConfigTree, RejectsMalformedKeys) {
    ConfigTree t;
    EXPECT_ERROR_HAS(t.set("", "x"), "empty configuration key");
    EXPECT_ERROR_HAS(t.set("a..b", "x"), "empty component");
    EXPECT_ERROR_HAS(t.set(".a", "x"), "empty component");
    EXPECT_ERROR_HAS(t.set("a.", "x"), "empty component");
    EXPECT_ERROR_HAS(t.set("a b", "x"), "bad character");
    EXPECT_ERROR_HAS(t.set("a=b", "x"), "bad character");
}

TEST(ConfigTree, LeafAndNodeDoNotMix) {
    ConfigTree t;
    t.set("pci.0.2.0.device", "virtio-blk");
    EXPECT_ERROR_HAS(t.set("pci.0.2", "x"), "is a node");
    EXPECT_ERROR_HAS(t.set("pci.0.2.0.device.sub", "x"), "conflicts with the value of 'pci.0.2.0.device'");
    EXPECT_EQ(t.get("pci.0.2.0.device"), "virtio-blk");
}

TEST(ConfigTree, Booleans) {
    ConfigTree t;
    for (auto v : {"true", "TRUE", "yes", "on", "1"}) {
        t.set("k", v);
        EXPECT_TRUE(t.get_bool("k", false)) << v;
    }
    for (auto v : {"false", "No", "off", "0"}) {
        t.set("k", v);
        EXPECT_FALSE(t.get_bool("k", true)) << v;
    }
    EXPECT_TRUE(t.get_bool("absent", true));
    EXPECT_FALSE(t.get_bool("absent").has_value());
    t.set("x86.x2apic", "maybe");
    EXPECT_ERROR_HAS(t.get_bool("x86.x2apic", true), "x86.x2apic");
    EXPECT_ERROR_HAS(t.get_bool("x86.x2apic", true), "'maybe'");
}

TEST(ConfigTree, SizesFollowBhyveRules) {
    EXPECT_EQ(parse_memsize("256"), 256ull << 20);            // plain small number: MiB
    EXPECT_EQ(parse_memsize("256M"), 256ull << 20);
    EXPECT_EQ(parse_memsize("256m"), 256ull << 20);
    EXPECT_EQ(parse_memsize("1G"), 1ull << 30);
    EXPECT_EQ(parse_memsize("2t"), 2ull << 40);
    EXPECT_EQ(parse_memsize("512k"), 512ull << 10);
    EXPECT_EQ(parse_memsize("4096b"), 4096ull);
    EXPECT_EQ(parse_memsize("0"), 0ull);
    EXPECT_EQ(parse_memsize("1048576"), 1048576ull);           // >= 1 MiB: bytes
    EXPECT_EQ(parse_memsize("1048575"), 1048575ull << 20);     // < 1 MiB: MiB
    EXPECT_EQ(parse_memsize("0x100"), 256ull << 20);
    EXPECT_FALSE(parse_memsize(""));
    EXPECT_FALSE(parse_memsize("M"));
    EXPECT_FALSE(parse_memsize("abc"));
    EXPECT_FALSE(parse_memsize("12Q"));
    EXPECT_FALSE(parse_memsize("1.5G"));
    EXPECT_FALSE(parse_memsize("256MB"));
    EXPECT_FALSE(parse_memsize("-1"));
    EXPECT_FALSE(parse_memsize("99999999999999999999"));  // overflows u64
    EXPECT_FALSE(parse_memsize("17179869184G"));          // 2^34 GiB overflows
    EXPECT_EQ(parse_memsize("16777215T"), 16777215ull << 40);

    ConfigTree t;
    t.set("memory.size", "1G");
    EXPECT_EQ(t.get_size("memory.size", 0), 1ull << 30);
    t.set("memory.size", "lots");
    EXPECT_ERROR_HAS(t.get_size("memory.size", 0), "memory.size");
    EXPECT_ERROR_HAS(t.get_size("memory.size", 0), "'lots'");
}

TEST(ConfigTree, UnsignedRange) {
    ConfigTree t;
    t.set("cpus", "4");
    EXPECT_EQ(t.get_uint("cpus", 1, 1, 16), 4u);
    t.set("cpus", "0");
    EXPECT_ERROR_HAS(t.get_uint("cpus", 1, 1, 16), "cpus");
    t.set("cpus", "17");
    EXPECT_ERROR_HAS(t.get_uint("cpus", 1, 1, 16), "'17'");
    t.set("cpus", "4x");
    EXPECT_ERROR_HAS(t.get_uint("cpus", 1, 1, 16), "cpus");
}

TEST(ConfigTree, ChildrenEnumeration) {
    ConfigTree t;
    t.set("pci.0.2.0.device", "virtio-blk");
    t.set("pci.0.2.0.path", "/img");
    t.set("pci.0.2.1.device", "virtio-net");
    t.set("pci.0.31.0.device", "lpc");
    t.set("pci.1.0.0.device", "virtio-rnd");
    t.set("name", "vm");
    EXPECT_EQ(t.children("pci"), (std::vector<std::string>{"0", "1"}));
    EXPECT_EQ(t.children("pci.0"), (std::vector<std::string>{"2", "31"}));
    EXPECT_EQ(t.children("pci.0.2"), (std::vector<std::string>{"0", "1"}));
    EXPECT_EQ(t.children("pci.0.2.0"), (std::vector<std::string>{"device", "path"}));
    EXPECT_EQ(t.children(""), (std::vector<std::string>{"name", "pci"}));
    EXPECT_TRUE(t.children("name").empty());
    EXPECT_TRUE(t.children("nothing").empty());
    auto leaves = t.leaves_under("pci.0.2.0");
    EXPECT_EQ(leaves.size(), 2u);
    EXPECT_EQ(leaves["path"], "/img");
    // "pci.0.2" is not a prefix of "pci.0.20".
    t.set("pci.0.20.0.device", "virtio-rnd");
    EXPECT_EQ(t.leaves_under("pci.0.2").size(), 3u);
}

TEST(ConfigTree, Expansion) {
    ConfigTree t;
    t.set("name", "vm1");
    t.set("disk", "/images/%(name).img");
    t.set("percent", "100%%");
    t.set("lone", "50% off");
    t.set("chain", "%(disk)");
    EXPECT_EQ(t.get("disk"), "/images/vm1.img");
    EXPECT_EQ(t.get_raw("disk"), "/images/%(name).img");
    EXPECT_EQ(t.get("percent"), "100%");
    EXPECT_EQ(t.get("lone"), "50% off");
    EXPECT_EQ(t.get("chain"), "/images/vm1.img");
    t.set("bad", "%(missing)");
    EXPECT_ERROR_HAS(t.get("bad"), "missing");
    t.set("open", "%(name");
    EXPECT_ERROR_HAS(t.get("open"), "unterminated");
    t.set("loop", "%(loop)");
    EXPECT_ERROR_HAS(t.get("loop"), "loop");
}

TEST(ConfigTree, SetOption) {
    ConfigTree t;
    t.set_option("pci.0.2.0.path=/a=b");
    EXPECT_EQ(t.get("pci.0.2.0.path"), "/a=b");
    EXPECT_ERROR_HAS(t.set_option("novalue"), "'novalue'");
    EXPECT_ERROR_HAS(t.set_option("key="), "'key='");
    EXPECT_ERROR_HAS(t.set_option("=value"), "'=value'");
}

TEST(ConfigTree, LoadFile) {
    TempFile f("# a bhyve config\n"
               "\n"
               "name=vm0\n"
               "memory.size=1G\n"
               "   # indented comment\n"
               "pci.0.2.0.device=virtio-blk\r\n"
               "pci.0.2.0.path=/images/%(name).img\n");
    ConfigTree t;
    t.load_file(f.path());
    EXPECT_EQ(t.get("name"), "vm0");
    EXPECT_EQ(t.get("memory.size"), "1G");
    EXPECT_EQ(t.get("pci.0.2.0.device"), "virtio-blk");
    EXPECT_EQ(t.get("pci.0.2.0.path"), "/images/vm0.img");

    ConfigTree round;
    TempFile dumped(t.dump());
    round.load_file(dumped.path());
    EXPECT_EQ(round.entries(), t.entries());
}

TEST(ConfigTree, LoadFileErrorsNameFileAndLine) {
    TempFile f("name=vm0\n# fine\nthis line is wrong\n");
    ConfigTree t;
    EXPECT_ERROR_HAS(t.load_file(f.path()), f.path() + ":3:");
    TempFile g("a.b=1\na.b.c=2\n");
    EXPECT_ERROR_HAS(t.load_file(g.path()), g.path() + ":2:");
    TempFile h("a..b=1\n");
    EXPECT_ERROR_HAS(t.load_file(h.path()), h.path() + ":1:");
    EXPECT_ERROR_HAS(t.load_file("/nonexistent/khyve.conf"), "/nonexistent/khyve.conf");
}

}  // namespace
}  // namespace khyve
