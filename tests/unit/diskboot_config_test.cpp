#include <gtest/gtest.h>

#include "diskboot/bls_config.h"
#include "diskboot/syslinux_config.h"
#include "diskboot/text_lines.h"
#include "diskboot/version_compare.h"

namespace khyve::diskboot {
namespace {

TEST(DiskbootVersion, Ordering) {
    EXPECT_GT(version_compare("6.1.0-13-amd64", "6.1.0-9-amd64"), 0);
    EXPECT_GT(version_compare("6.10.0", "6.9.12"), 0);
    EXPECT_LT(version_compare("5.15", "5.15.1"), 0);
    EXPECT_EQ(version_compare("1.2", "1.2"), 0);
    EXPECT_EQ(version_compare("01.2", "1.2"), 0);
    EXPECT_LT(version_compare("6.0~rc1", "6.0"), 0);
    EXPECT_GT(version_compare("1.2a", "1.2"), 0);
    EXPECT_GT(version_compare("1.2.1", "1.2a"), 0);  // digits beat letters
    EXPECT_GT(version_compare("fedora-6.5.6-300.fc39.x86_64", "fedora-6.5.5-300.fc39.x86_64"), 0);
    EXPECT_GT(version_compare("99999999999999999999999", "99999999999999999999998"), 0);
}

TEST(DiskbootSyslinux, LabelsDefaultAndPaths) {
    auto cfg = parse_syslinux(
        "# comment\n"
        "DEFAULT linux\n"
        "TIMEOUT 50\n"
        "\n"
        "LABEL rescue\n"
        "  MENU LABEL ^Rescue system\n"
        "  KERNEL vmlinuz-rescue\n"
        "  APPEND root=/dev/vda1 single\n"
        "label linux\r\n"
        "\tlinux /boot/vmlinuz-6.1 extra-ignored\n"
        "\tinitrd /boot/initrd-6.1.img,/boot/ucode.img\n"
        "\tappend root=/dev/vda1 ro quiet\n");
    ASSERT_EQ(cfg.entries.size(), 2u);
    EXPECT_EQ(cfg.default_index, 1u);
    EXPECT_EQ(cfg.timeout_seconds, 5);
    EXPECT_EQ(cfg.entries[0].label, "Rescue system");
    EXPECT_EQ(cfg.entries[0].id, "rescue");
    EXPECT_EQ(cfg.entries[0].kernel, "vmlinuz-rescue");
    EXPECT_TRUE(cfg.entries[0].initrds.empty());
    EXPECT_EQ(cfg.entries[1].label, "linux");
    EXPECT_EQ(cfg.entries[1].kernel, "/boot/vmlinuz-6.1");
    ASSERT_EQ(cfg.entries[1].initrds.size(), 2u);
    EXPECT_EQ(cfg.entries[1].initrds[0], "/boot/initrd-6.1.img");
    EXPECT_EQ(cfg.entries[1].initrds[1], "/boot/ucode.img");
    EXPECT_EQ(cfg.entries[1].cmdline, "root=/dev/vda1 ro quiet");
}

TEST(DiskbootSyslinux, InitrdInsideAppendAndGlobalAppend) {
    auto cfg = parse_syslinux(
        "APPEND console=ttyS0\n"
        "LABEL a\n KERNEL vmlinuz\n APPEND initrd=initrd.img,second.img root=/dev/vda2 initrd=ignored\n"
        "LABEL b\n KERNEL vmlinuz\n"
        "LABEL c\n KERNEL vmlinuz\n APPEND -\n");
    ASSERT_EQ(cfg.entries.size(), 3u);
    EXPECT_EQ(cfg.default_index, 0u);  // no DEFAULT: the first label
    EXPECT_EQ(cfg.entries[0].cmdline, "root=/dev/vda2");
    ASSERT_EQ(cfg.entries[0].initrds.size(), 2u);
    EXPECT_EQ(cfg.entries[0].initrds[0], "initrd.img");
    EXPECT_EQ(cfg.entries[1].cmdline, "console=ttyS0");
    EXPECT_EQ(cfg.entries[2].cmdline, "");
}

TEST(DiskbootSyslinux, MenuDefaultAndModulesSkipped) {
    auto cfg = parse_syslinux(
        "UI menu.c32\nDEFAULT vesamenu.c32\n"
        "LABEL hdt\n COM32 hdt.c32\n"
        "LABEL memtest\n KERNEL memtest.bin\n"
        "LABEL local\n LOCALBOOT 0\n"
        "LABEL old\n LINUX vmlinuz.old\n"
        "LABEL new\n MENU DEFAULT\n LINUX vmlinuz\n");
    ASSERT_EQ(cfg.entries.size(), 2u);
    EXPECT_EQ(cfg.entries[0].id, "old");
    EXPECT_EQ(cfg.entries[1].id, "new");
    EXPECT_EQ(cfg.default_index, 1u);
}

TEST(DiskbootSyslinux, OntimeoutAndCaseInsensitiveDefault) {
    auto cfg = parse_syslinux("DEFAULT B\nLABEL a\n LINUX ka\nLABEL b\n LINUX kb\n");
    EXPECT_EQ(cfg.default_index, 1u);
    cfg = parse_syslinux("DEFAULT a\nONTIMEOUT b\nLABEL a\n LINUX ka\nLABEL b\n LINUX kb\n");
    EXPECT_EQ(cfg.default_index, 1u);
}

TEST(DiskbootSyslinux, DefaultAsKernelCommandLine) {
    auto cfg = parse_syslinux("DEFAULT /vmlinuz root=/dev/vda1 ro\n");
    ASSERT_EQ(cfg.entries.size(), 1u);
    EXPECT_EQ(cfg.entries[0].kernel, "/vmlinuz");
    EXPECT_EQ(cfg.entries[0].cmdline, "root=/dev/vda1 ro");
}

TEST(DiskbootSyslinux, HostileInputIsBounded) {
    std::string huge = "LABEL x\n KERNEL k\n APPEND " + std::string(100000, 'a') + "\n";
    auto cfg = parse_syslinux(huge);
    ASSERT_EQ(cfg.entries.size(), 1u);
    EXPECT_EQ(cfg.entries[0].cmdline, "");  // the over-long line is dropped, not cut
    EXPECT_FALSE(cfg.notes.empty());

    std::string many;
    for (int i = 0; i < 5000; ++i) many += "LABEL l" + std::to_string(i) + "\nKERNEL k\n";
    EXPECT_EQ(parse_syslinux(many).entries.size(), kMaxEntries);

    std::string binary;
    for (int i = 0; i < 4096; ++i) binary += char(i * 37);
    parse_syslinux(binary);  // no crash
    EXPECT_TRUE(parse_syslinux("TIMEOUT 99999999999999999999\nLABEL a\n").entries.empty());
    EXPECT_EQ(parse_syslinux("TIMEOUT 99999999999999999999\n").timeout_seconds, -1);

    std::string initrds = "LABEL a\nKERNEL k\nINITRD ";
    for (int i = 0; i < 100; ++i) initrds += 'i' + std::to_string(i) + ',';
    EXPECT_EQ(parse_syslinux(initrds).entries[0].initrds.size(), kMaxInitrds);
}

TEST(DiskbootBls, ParsesEntry) {
    BlsEntry e;
    std::string why;
    ASSERT_TRUE(parse_bls_entry(
        "# Boot Loader Specification type#1 entry\n"
        "title      Fedora Linux\n"
        "version    6.5.6-300.fc39.x86_64\n"
        "linux      /vmlinuz-6.5.6-300.fc39.x86_64\n"
        "initrd     /amd-ucode.img\n"
        "initrd     /initramfs-6.5.6-300.fc39.x86_64.img\n"
        "options    root=UUID=1234 ro\n"
        "options    rhgb quiet\n"
        "grub_users $grub_users\n",
        "abc-6.5.6.conf", e, &why))
        << why;
    EXPECT_EQ(e.entry.id, "abc-6.5.6.conf");
    EXPECT_EQ(e.entry.label, "Fedora Linux (6.5.6-300.fc39.x86_64)");
    EXPECT_EQ(e.entry.kernel, "/vmlinuz-6.5.6-300.fc39.x86_64");
    ASSERT_EQ(e.entry.initrds.size(), 2u);
    EXPECT_EQ(e.entry.initrds[1], "/initramfs-6.5.6-300.fc39.x86_64.img");
    EXPECT_EQ(e.entry.cmdline, "root=UUID=1234 ro rhgb quiet");
    EXPECT_EQ(e.version, "6.5.6-300.fc39.x86_64");
}

TEST(DiskbootBls, RejectsUnbootable) {
    BlsEntry e;
    std::string why;
    EXPECT_FALSE(parse_bls_entry("title x\n", "x.conf", e, &why));
    EXPECT_NE(why.find("no linux key"), std::string::npos);
    EXPECT_FALSE(parse_bls_entry("title x\nefi /EFI/shell.efi\n", "x.conf", e, &why));
    EXPECT_NE(why.find("EFI program"), std::string::npos);
    EXPECT_FALSE(parse_bls_entry("linux /k\narchitecture aa64\n", "x.conf", e, &why));
    EXPECT_TRUE(parse_bls_entry("linux /k\narchitecture X64\n", "x.conf", e, &why));
}

std::vector<BlsEntry> entries(std::initializer_list<std::tuple<const char*, const char*, const char*>> list) {
    std::vector<BlsEntry> out;
    for (auto [id, version, sort_key] : list) {
        BlsEntry e;
        e.entry.id = id;
        e.entry.kernel = "/k";
        e.version = version;
        e.sort_key = sort_key;
        out.push_back(e);
    }
    return out;
}

TEST(DiskbootBls, NewestFirstByFileName) {
    auto cfg = order_bls_entries(entries({{"linux-6.1.9.conf", "", ""},
                                          {"linux-6.1.10.conf", "", ""},
                                          {"linux-5.10.conf", "", ""}}),
                                 {});
    ASSERT_EQ(cfg.entries.size(), 3u);
    EXPECT_EQ(cfg.entries[0].id, "linux-6.1.10.conf");
    EXPECT_EQ(cfg.entries[1].id, "linux-6.1.9.conf");
    EXPECT_EQ(cfg.entries[2].id, "linux-5.10.conf");
    EXPECT_EQ(cfg.default_index, 0u);
}

TEST(DiskbootBls, SortKeyFirstThenVersion) {
    auto cfg = order_bls_entries(entries({{"zzz.conf", "", ""},
                                          {"b1.conf", "6.1", "fedora"},
                                          {"b2.conf", "6.5", "fedora"},
                                          {"a.conf", "9.9", "arch"}}),
                                 {});
    EXPECT_EQ(cfg.entries[0].id, "a.conf");
    EXPECT_EQ(cfg.entries[1].id, "b2.conf");
    EXPECT_EQ(cfg.entries[2].id, "b1.conf");
    EXPECT_EQ(cfg.entries[3].id, "zzz.conf");
}

TEST(DiskbootBls, LoaderConfDefaultGlob) {
    auto loader = parse_loader_conf("timeout 3\n#default x\ndefault debian-5*\nconsole-mode max\n");
    EXPECT_EQ(loader.timeout_seconds, 3);
    EXPECT_EQ(loader.default_pattern, "debian-5*");
    auto cfg = order_bls_entries(entries({{"debian-6.1.conf", "", ""}, {"debian-5.10.conf", "", ""}}), loader);
    EXPECT_EQ(cfg.entries[cfg.default_index].id, "debian-5.10.conf");
    EXPECT_EQ(cfg.timeout_seconds, 3);
    // Match without the .conf suffix too; @saved is an EFI variable: ignored.
    loader = parse_loader_conf("default debian-5.10\n");
    cfg = order_bls_entries(entries({{"debian-6.1.conf", "", ""}, {"debian-5.10.conf", "", ""}}), loader);
    EXPECT_EQ(cfg.default_index, 1u);
    EXPECT_TRUE(parse_loader_conf("default @saved\n").default_pattern.empty());
    cfg = order_bls_entries(entries({{"a.conf", "", ""}}), parse_loader_conf("default nomatch*\n"));
    EXPECT_EQ(cfg.default_index, 0u);
}

TEST(DiskbootText, LinesAreTrimmedAndBounded) {
    size_t dropped = 0;
    const char raw[] = "  a b \r\nx\0yz\n";
    auto lines = config_lines(std::string(raw, sizeof raw - 1) + std::string(5000, 'q') + "\nlast", &dropped);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "a b");
    EXPECT_EQ(lines[1], "x");
    EXPECT_EQ(lines[2], "last");
    EXPECT_EQ(dropped, 1u);
}

}  // namespace
}  // namespace khyve::diskboot
