// scan_disk over real ext4 filesystems built with mke2fs -d (no root, no
// mount), placed inside MBR/GPT/extended tables written by the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "common/error.h"
#include "diskboot/disk_boot.h"
#include "diskboot/ext_fs.h"
#include "diskboot_test_util.h"

namespace khyve::diskboot {
namespace {

using namespace testutil;

constexpr uint64_t kMiB = 1 << 20;

class DiskbootScan : public ::testing::Test {
protected:
    TempDir t;
    std::string disk = t.file("disk.img");

    void SetUp() override {
        if (mke2fs_path().empty()) GTEST_SKIP() << "mke2fs not installed";
    }

    std::string fs_image(const Tree& tree, unsigned mib = 8) {
        static int n = 0;
        std::string img = t.file("fs" + std::to_string(n++) + ".img");
        make_ext4(t, img, tree, mib);
        return img;
    }

    // A bare filesystem: the disk is the filesystem.
    void bare(const Tree& tree) { make_ext4(t, disk, tree); }

    // MBR, ext4 partition 1 at 1 MiB.
    void mbr(const Tree& tree) {
        std::string fs = fs_image(tree);
        set_size(disk, 10 * kMiB);
        write_at(disk, 0, mbr_sector({{0x83, 2048, 8 * 2048}}));
        place(disk, kMiB, fs);
    }

    // GPT with the given filesystems at 1 MiB, 9 MiB, ...; slot i+1 -> vda(i+2)
    // after a BIOS boot partition in slot 0.
    void gpt(const std::vector<Tree>& trees) {
        uint64_t sectors = (2 + 8 * trees.size()) * 2048;
        set_size(disk, sectors * 512);
        std::vector<GptPart> parts{{kGuidBiosBoot, 40, 2047, 0}};
        for (size_t i = 0; i < trees.size(); ++i) {
            uint64_t first = 2048 + i * 8 * 2048;
            parts.push_back({kGuidLinuxData, first, first + 8 * 2048 - 1, unsigned(i + 1)});
            place(disk, first * 512, fs_image(trees[i]));
        }
        write_gpt(disk, gpt_layout(sectors, parts));
    }

    std::string scan_error() {
        try {
            scan_disk(disk);
        } catch (const Error& e) {
            return e.what();
        }
        return "(no error)";
    }
};

std::string bytes(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

Tree debian_tree(const std::string& vmlinuz_target, const std::string& initrd_target) {
    Tree tr;
    tr.files["/boot/vmlinuz-6.1.0-13-amd64"] = "KERNEL-6.1";
    tr.files["/boot/initrd.img-6.1.0-13-amd64"] = "INITRD-6.1";
    tr.files["/etc/fstab"] = "/dev/vda1 / ext4 defaults 0 1\n";
    tr.links["/vmlinuz"] = vmlinuz_target;
    tr.links["/initrd.img"] = initrd_target;
    return tr;
}

TEST_F(DiskbootScan, BareFilesystemDebianRelativeLinks) {
    bare(debian_tree("boot/vmlinuz-6.1.0-13-amd64", "boot/initrd.img-6.1.0-13-amd64"));
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 1u);
    const auto& e = c.entries[0];
    EXPECT_EQ(e.source, "debian");
    EXPECT_EQ(e.partition, 0u);
    EXPECT_EQ(e.kernel_path, "/boot/vmlinuz-6.1.0-13-amd64");
    EXPECT_EQ(e.initrd_path, "/boot/initrd.img-6.1.0-13-amd64");
    EXPECT_EQ(e.cmdline, "root=/dev/vda ro console=ttyS0");
    auto loaded = load_boot_entry(disk, e);
    EXPECT_EQ(bytes(loaded.kernel), "KERNEL-6.1");
    EXPECT_EQ(bytes(loaded.initrd), "INITRD-6.1");
    EXPECT_EQ(loaded.cmdline, e.cmdline);
    EXPECT_EQ(bytes(read_guest_file(disk, 0, "/vmlinuz")), "KERNEL-6.1");
}

TEST_F(DiskbootScan, MbrAt1MiBDebianAbsoluteLinks) {
    mbr(debian_tree("/boot/vmlinuz-6.1.0-13-amd64", "/boot/initrd.img-6.1.0-13-amd64"));
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 1u);
    EXPECT_EQ(c.entries[0].partition, 1u);
    EXPECT_EQ(c.entries[0].cmdline, "root=/dev/vda1 ro console=ttyS0");
    EXPECT_EQ(bytes(load_boot_entry(disk, c.entries[0]).kernel), "KERNEL-6.1");
    EXPECT_THROW(read_guest_file(disk, 0, "/vmlinuz"), Error);  // no partition 0 on an MBR disk
    EXPECT_THROW(read_guest_file(disk, 2, "/vmlinuz"), Error);
}

TEST_F(DiskbootScan, AbsoluteLinksStayInsideTheGuest) {
    // "..", chains of links and long (non-fast) link targets all resolve
    // inside the guest filesystem.
    Tree tr = debian_tree("../../../../boot/../boot/./kernel-link", "/boot/initrd.img-6.1.0-13-amd64");
    tr.links["/boot/kernel-link"] =
        "/boot/a-deliberately-long-directory-name-so-the-link-is-not-fast/../vmlinuz-6.1.0-13-amd64";
    tr.dirs.push_back("/boot/a-deliberately-long-directory-name-so-the-link-is-not-fast");
    bare(tr);
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 1u);
    EXPECT_EQ(c.entries[0].kernel_path, "/boot/vmlinuz-6.1.0-13-amd64");
    EXPECT_EQ(bytes(load_boot_entry(disk, c.entries[0]).kernel), "KERNEL-6.1");
}

TEST_F(DiskbootScan, SymlinkLoopIsNoKernel) {
    Tree tr;
    tr.links["/vmlinuz"] = "/boot/vmlinuz";
    tr.links["/boot/vmlinuz"] = "../vmlinuz";
    tr.links["/initrd.img"] = "/initrd.img";
    bare(tr);
    EXPECT_EQ(scan_error(), disk + ": no Linux kernel found (looked for extlinux.conf, loader entries, /vmlinuz)");
    try {
        read_guest_file(disk, 0, "/vmlinuz");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("too many levels of symbolic links"), std::string::npos) << e.what();
    }
}

TEST_F(DiskbootScan, GptExtlinuxRelativePaths) {
    Tree tr;
    tr.files["/boot/extlinux/extlinux.conf"] =
        "DEFAULT debian\nTIMEOUT 30\n"
        "LABEL rescue\n  LINUX ../vmlinuz-rescue\n  APPEND single\n"
        "LABEL debian\n  MENU LABEL Debian GNU/Linux\n  LINUX /boot/vmlinuz-6.1\n"
        "  APPEND initrd=../initrd.img-6.1 root=/dev/vda2 ro console=ttyS0\n";
    tr.files["/boot/vmlinuz-6.1"] = "K61";
    tr.files["/boot/vmlinuz-rescue"] = "KR";
    tr.files["/boot/initrd.img-6.1"] = "I61";
    gpt({tr});
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 2u);
    EXPECT_EQ(c.default_index, 1u);
    EXPECT_EQ(c.timeout_seconds, 3);
    const auto& e = c.entries[1];
    EXPECT_EQ(e.source, "extlinux");
    EXPECT_EQ(e.label, "Debian GNU/Linux");
    EXPECT_EQ(e.partition, 2u);
    EXPECT_EQ(e.kernel_path, "/boot/vmlinuz-6.1");
    EXPECT_EQ(e.initrd_path, "/boot/initrd.img-6.1");
    EXPECT_EQ(e.cmdline, "root=/dev/vda2 ro console=ttyS0");
    EXPECT_EQ(c.entries[0].kernel_path, "/boot/vmlinuz-rescue");
    auto loaded = load_boot_entry(disk, e);
    EXPECT_EQ(bytes(loaded.kernel), "K61");
    EXPECT_EQ(bytes(loaded.initrd), "I61");
}

TEST_F(DiskbootScan, ExtlinuxEntryWithMissingKernelIsDropped) {
    Tree tr;
    tr.files["/extlinux/extlinux.conf"] =
        "DEFAULT gone\nLABEL ok\n LINUX /vmlinuz-ok\nLABEL gone\n LINUX /vmlinuz-gone\n";
    tr.files["/vmlinuz-ok"] = "K";
    bare(tr);
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 1u);
    EXPECT_EQ(c.default_index, 0u);
    bool noted = false;
    for (const auto& n : c.notes) noted |= n.find("kernel /vmlinuz-gone not found") != std::string::npos;
    EXPECT_TRUE(noted);
}

TEST_F(DiskbootScan, AllEntriesBrokenExplainsWhy) {
    Tree tr;
    tr.files["/boot/extlinux/extlinux.conf"] = "LABEL x\n LINUX /boot/missing\n";
    bare(tr);
    std::string err = scan_error();
    EXPECT_NE(err.find("no Linux kernel found"), std::string::npos) << err;
    EXPECT_NE(err.find("entry 'x': kernel /boot/missing not found"), std::string::npos) << err;
}

Tree bls_tree() {
    Tree tr;
    tr.files["/boot/loader/entries/deb-6.1.10.conf"] =
        "title Debian\nversion 6.1.10\nlinux /vmlinuz-6.1.10\ninitrd /initrd-6.1.10\noptions root=/dev/vda5 ro\n";
    tr.files["/boot/loader/entries/deb-6.1.9.conf"] =
        "title Debian\nversion 6.1.9\nlinux /vmlinuz-6.1.9\noptions root=/dev/vda5 ro\n";
    tr.files["/boot/loader/entries/uefi-shell.conf"] = "title Shell\nefi /shell.efi\n";
    // /boot is part of this filesystem: paths get the /boot prefix.
    tr.files["/boot/vmlinuz-6.1.10"] = "K10";
    tr.files["/boot/initrd-6.1.10"] = "I10";
    tr.files["/boot/vmlinuz-6.1.9"] = "K9";
    return tr;
}

TEST_F(DiskbootScan, BlsOnLogicalPartition) {
    std::string fs = fs_image(bls_tree());
    set_size(disk, 12 * kMiB);
    // vda1 swap, vda2 extended holding vda5.
    write_at(disk, 0, mbr_sector({{0x82, 2048, 1024}, {0x05, 4096, 20 * 1024}}));
    write_at(disk, 4096 * 512, mbr_sector({{0x83, 2048, 8 * 2048}}));
    place(disk, (4096 + 2048) * 512, fs);
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 2u);
    EXPECT_EQ(c.default_index, 0u);
    const auto& e = c.entries[0];
    EXPECT_EQ(e.source, "bls");
    EXPECT_EQ(e.partition, 5u);
    EXPECT_EQ(e.label, "Debian (6.1.10)");
    EXPECT_EQ(e.kernel_path, "/boot/vmlinuz-6.1.10");
    EXPECT_EQ(e.initrd_path, "/boot/initrd-6.1.10");
    EXPECT_EQ(e.cmdline, "root=/dev/vda5 ro");
    EXPECT_EQ(c.entries[1].kernel_path, "/boot/vmlinuz-6.1.9");
    EXPECT_EQ(bytes(load_boot_entry(disk, e).kernel), "K10");
}

TEST_F(DiskbootScan, BlsLoaderConfDefaultAndSeveralInitrds) {
    Tree tr = bls_tree();
    tr.files["/boot/loader/loader.conf"] = "default deb-6.1.9*\ntimeout 4\n";
    tr.files["/boot/loader/entries/deb-6.1.9.conf"] =
        "title Debian\nversion 6.1.9\nlinux /vmlinuz-6.1.9\ninitrd /ucode\ninitrd /initrd-6.1.10\n";
    tr.files["/boot/ucode"] = "UC";  // 2 bytes: padded to 4 before the next
    bare(tr);
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 2u);
    EXPECT_EQ(c.entries[c.default_index].kernel_path, "/boot/vmlinuz-6.1.9");
    EXPECT_EQ(c.timeout_seconds, 4);
    auto loaded = load_boot_entry(disk, c.entries[c.default_index]);
    EXPECT_EQ(bytes(loaded.initrd), std::string("UC\0\0I10", 7));
}

TEST_F(DiskbootScan, PriorityExtlinuxThenBlsThenDebian) {
    Tree tr = bls_tree();
    Tree deb = debian_tree("boot/vmlinuz-6.1.0-13-amd64", "boot/initrd.img-6.1.0-13-amd64");
    tr.files.insert(deb.files.begin(), deb.files.end());
    tr.links = deb.links;
    tr.files["/boot/extlinux/extlinux.conf"] = "LABEL x\n LINUX /boot/vmlinuz-6.1.9\n APPEND quiet\n";
    bare(tr);
    EXPECT_EQ(scan_disk(disk).entries[0].source, "extlinux");

    tr.files.erase("/boot/extlinux/extlinux.conf");
    std::remove(disk.c_str());
    bare(tr);
    EXPECT_EQ(scan_disk(disk).entries[0].source, "bls");

    for (const char* f : {"/boot/loader/entries/deb-6.1.10.conf", "/boot/loader/entries/deb-6.1.9.conf",
                          "/boot/loader/entries/uefi-shell.conf"})
        tr.files.erase(f);
    std::remove(disk.c_str());
    bare(tr);
    EXPECT_EQ(scan_disk(disk).entries[0].source, "debian");
}

TEST_F(DiskbootScan, ExtlinuxOnLaterPartitionBeatsDebianOnEarlier) {
    Tree root = debian_tree("boot/vmlinuz-6.1.0-13-amd64", "boot/initrd.img-6.1.0-13-amd64");
    Tree boot;
    boot.files["/extlinux/extlinux.conf"] = "LABEL a\n LINUX ../vmlinuz-x\n APPEND root=/dev/vda2\n";
    boot.files["/vmlinuz-x"] = "KX";
    gpt({root, boot});
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 1u);
    EXPECT_EQ(c.entries[0].source, "extlinux");
    EXPECT_EQ(c.entries[0].partition, 3u);
    EXPECT_EQ(c.entries[0].kernel_path, "/vmlinuz-x");
}

TEST_F(DiskbootScan, SeparateBootFirstRootSecond) {
    Tree boot;  // a /boot filesystem: no prefix, no links
    boot.files["/vmlinuz-6.1.0-9-amd64"] = "OLD";
    boot.files["/vmlinuz-6.1.0-13-amd64"] = "NEW";
    boot.files["/initrd.img-6.1.0-13-amd64"] = "NEWI";
    boot.files["/config-6.1.0-13-amd64"] = "c";
    Tree root;
    root.files["/etc/fstab"] = "/dev/vda3 / ext4 defaults 0 1\n/dev/vda2 /boot ext4 defaults 0 2\n";
    root.dirs.push_back("/boot");
    gpt({boot, root});
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 2u);
    const auto& e = c.entries[0];
    EXPECT_EQ(e.label, "Linux 6.1.0-13-amd64");
    EXPECT_EQ(e.partition, 2u);
    EXPECT_EQ(e.kernel_path, "/vmlinuz-6.1.0-13-amd64");
    EXPECT_EQ(e.initrd_path, "/initrd.img-6.1.0-13-amd64");
    EXPECT_EQ(e.cmdline, "root=/dev/vda3 ro console=ttyS0");
    EXPECT_EQ(c.entries[1].kernel_path, "/vmlinuz-6.1.0-9-amd64");
    EXPECT_EQ(c.entries[1].initrd_path, "");
    EXPECT_EQ(bytes(load_boot_entry(disk, e).initrd), "NEWI");
}

TEST_F(DiskbootScan, RootFirstWithLinksIntoSeparateBoot) {
    Tree root = debian_tree("boot/vmlinuz-6.1.0-13-amd64", "/boot/initrd.img-6.1.0-13-amd64");
    root.files.erase("/boot/vmlinuz-6.1.0-13-amd64");  // /boot is an empty mount point here
    root.files.erase("/boot/initrd.img-6.1.0-13-amd64");
    root.dirs.push_back("/boot");
    Tree boot;
    boot.files["/vmlinuz-6.1.0-13-amd64"] = "BK";
    boot.files["/initrd.img-6.1.0-13-amd64"] = "BI";
    gpt({root, boot});
    auto c = scan_disk(disk);
    ASSERT_EQ(c.entries.size(), 1u);
    EXPECT_EQ(c.entries[0].partition, 3u);
    EXPECT_EQ(c.entries[0].kernel_path, "/vmlinuz-6.1.0-13-amd64");
    EXPECT_EQ(c.entries[0].initrd_path, "/initrd.img-6.1.0-13-amd64");
    EXPECT_EQ(c.entries[0].cmdline, "root=/dev/vda2 ro console=ttyS0");
    auto loaded = load_boot_entry(disk, c.entries[0]);
    EXPECT_EQ(bytes(loaded.kernel), "BK");
    EXPECT_EQ(bytes(loaded.initrd), "BI");
}

TEST_F(DiskbootScan, NoKernelIsTheError) {
    Tree tr;
    tr.files["/etc/fstab"] = "x";
    mbr(tr);
    EXPECT_EQ(scan_error(), disk + ": no Linux kernel found (looked for extlinux.conf, loader entries, /vmlinuz)");
}

TEST_F(DiskbootScan, NoFilesystemIsTheError) {
    set_size(disk, 4 * kMiB);
    EXPECT_EQ(scan_error(),
              disk + ": no ext2/3/4 filesystem found (no partition table and no filesystem on the whole disk)");
    write_at(disk, 0, mbr_sector({{0x83, 2048, 2048}}));
    EXPECT_EQ(scan_error(), disk + ": no ext2/3/4 filesystem found (1 partition(s), none of them ext)");
}

TEST_F(DiskbootScan, FilesystemLargerThanItsPartitionIsRefused) {
    std::string fs = fs_image(debian_tree("boot/vmlinuz-6.1.0-13-amd64", "x"));
    set_size(disk, 10 * kMiB);
    write_at(disk, 0, mbr_sector({{0x83, 2048, 4 * 2048}}));  // 4 MiB partition, 8 MiB filesystem
    place(disk, kMiB, fs);
    std::string err = scan_error();
    EXPECT_NE(err.find("no ext2/3/4 filesystem found"), std::string::npos) << err;
    try {
        read_guest_file(disk, 1, "/vmlinuz");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is larger than its partition"), std::string::npos) << e.what();
    }
}

TEST_F(DiskbootScan, SizeLimitAndNonFiles) {
    bare(debian_tree("boot/vmlinuz-6.1.0-13-amd64", "boot/initrd.img-6.1.0-13-amd64"));
    try {
        read_guest_file(disk, 0, "/vmlinuz", 4);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is 10 bytes, over the"), std::string::npos) << e.what();
    }
    EXPECT_THROW(read_guest_file(disk, 0, "/boot"), Error);
    EXPECT_THROW(read_guest_file(disk, 0, "/nonexistent"), Error);
    EXPECT_THROW(read_guest_file(disk, 0, "/etc/fstab/x"), Error);
    auto names = list_guest_dir(disk, 0, "/");
    EXPECT_NE(std::find(names.begin(), names.end(), "boot/"), names.end());
    EXPECT_NE(std::find(names.begin(), names.end(), "vmlinuz@"), names.end());
    EXPECT_THROW(list_guest_dir(disk, 0, "/etc/fstab"), Error);
}

TEST_F(DiskbootScan, RandomFilesystemDamageDoesNotCrash) {
    // Damage inside the metadata of a small filesystem: libext2fs either
    // refuses it or we find/miss the kernel; nothing escapes as a crash.
    bare(debian_tree("boot/vmlinuz-6.1.0-13-amd64", "boot/initrd.img-6.1.0-13-amd64"));
    auto pristine = read_all(disk);
    std::mt19937 rng(99);
    for (int round = 0; round < 40; ++round) {
        auto damaged = pristine;
        for (int i = 0; i < 64; ++i) damaged[1024 + rng() % (256 * 1024)] = uint8_t(rng());
        write_at(disk, 0, damaged);
        try {
            auto c = scan_disk(disk);
            for (const auto& e : c.entries) load_boot_entry(disk, e);
        } catch (const Error&) {
        }
    }
}

TEST(DiskbootImage, MissingImageIsAnError) {
    try {
        scan_disk("/nonexistent/disk.img");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "/nonexistent/disk.img: cannot open the disk image: No such file or directory");
    }
}

TEST(DiskbootKitImages, MbrAndGptHaveNoKernel) {
    // ctest names the kit (KHYVE_KIT_DIR in CMakeLists.txt); there it must exist.
    const char* kit = std::getenv("KHYVE_TEST_KIT");
    if (!kit || !*kit) GTEST_SKIP() << "set KHYVE_TEST_KIT to the guest kit (ctest does) to run";
    for (const char* name : {"mbr.img", "gpt.img"}) {
        std::string path = std::string(kit) + "/images/" + name;
        ASSERT_EQ(::access(path.c_str(), R_OK), 0) << path << " is missing: build the kit (testhost/kit.sh)";
        try {
            scan_disk(path);
            FAIL() << path;
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()),
                      path + ": no Linux kernel found (looked for extlinux.conf, loader entries, /vmlinuz)");
        }
    }
}

}  // namespace
}  // namespace khyve::diskboot
