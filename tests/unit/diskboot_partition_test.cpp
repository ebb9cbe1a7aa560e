#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "diskboot/crc32.h"
#include "diskboot/image_file.h"
#include "diskboot/partition_table.h"
#include "diskboot_test_util.h"

namespace khyve::diskboot {
namespace {

using namespace testutil;

constexpr uint64_t kSectors = 8192;  // 4 MiB disks

PartitionTable parse(const std::string& disk) {
    ImageFile img(disk);
    return read_partition_table(img);
}

std::string parse_error(const std::string& disk) {
    try {
        parse(disk);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(DiskbootCrc32, KnownVector) {
    const char* s = "123456789";
    EXPECT_EQ(crc32(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s), 9)), 0xCBF43926u);
    EXPECT_EQ(crc32({}), 0u);
}

TEST(DiskbootGuid, RoundTripsMixedEndian) {
    uint8_t b[16];
    ASSERT_TRUE(guid_from_string(kGuidLinuxData, b));
    // The first field is stored little-endian.
    EXPECT_EQ(b[0], 0xAF);
    EXPECT_EQ(b[3], 0x0F);
    EXPECT_EQ(b[8], 0x8E);
    EXPECT_EQ(guid_to_string(b), kGuidLinuxData);
    EXPECT_FALSE(guid_from_string("not-a-guid", b));
    EXPECT_FALSE(guid_from_string("0FC63DAF-8483-4772-8E79-3D69D8477DZ4", b));
}

TEST(DiskbootPartition, NoTableIsWholeDisk) {
    TempDir t;
    std::string disk = t.file("d.img");
    set_size(disk, kSectors * 512);
    auto pt = parse(disk);
    EXPECT_EQ(pt.kind, TableKind::None);
    ASSERT_EQ(pt.partitions.size(), 1u);
    EXPECT_EQ(pt.partitions[0].number, 0u);
    EXPECT_EQ(pt.partitions[0].size, kSectors * 512);
}

TEST(DiskbootPartition, TinyImageIsWholeDisk) {
    TempDir t;
    std::string disk = t.file("d.img");
    set_size(disk, 100);
    EXPECT_EQ(parse(disk).kind, TableKind::None);
}

TEST(DiskbootPartition, BootSectorWithCodeIsNotAnMbr) {
    // A FAT or syslinux boot sector ends in 55 AA but has code at 446.
    TempDir t;
    std::string disk = t.file("d.img");
    set_size(disk, kSectors * 512);
    std::vector<uint8_t> s(512, 0x90);
    s[510] = 0x55;
    s[511] = 0xAA;
    write_at(disk, 0, s);
    EXPECT_EQ(parse(disk).kind, TableKind::None);
}

TEST(DiskbootPartition, MbrPrimaries) {
    TempDir t;
    std::string disk = t.file("d.img");
    set_size(disk, kSectors * 512);
    write_at(disk, 0, mbr_sector({{0x83, 2048, 2048, 0x80}, {0, 0, 0}, {0x82, 4096, 1000}}));
    auto pt = parse(disk);
    EXPECT_EQ(pt.kind, TableKind::Mbr);
    ASSERT_EQ(pt.partitions.size(), 2u);
    EXPECT_EQ(pt.partitions[0].number, 1u);
    EXPECT_EQ(pt.partitions[0].offset, 2048u * 512);
    EXPECT_EQ(pt.partitions[0].size, 2048u * 512);
    EXPECT_EQ(pt.partitions[0].kind, PartKind::LinuxData);
    EXPECT_EQ(pt.partitions[0].type, "0x83");
    EXPECT_EQ(pt.partitions[1].number, 3u);  // numbered by slot, gaps kept
    EXPECT_EQ(pt.partitions[1].kind, PartKind::Swap);
}

TEST(DiskbootPartition, MbrEntryPastTheDiskIsAnError) {
    TempDir t;
    std::string disk = t.file("d.img");
    set_size(disk, kSectors * 512);
    write_at(disk, 0, mbr_sector({{0x83, 2048, 0xFFFFFFFF}}));
    EXPECT_NE(parse_error(disk).find("MBR partition 1 (sectors 2048+4294967295) lies outside the disk"),
              std::string::npos)
        << parse_error(disk);
    write_at(disk, 0, mbr_sector({{0x83, 0xFFFFFFF0, 0x20}}));
    EXPECT_NE(parse_error(disk).find("lies outside the disk"), std::string::npos);
}

TEST(DiskbootPartition, ExtendedChainGivesLogicals) {
    TempDir t;
    std::string disk = t.file("d.img");
    set_size(disk, kSectors * 512);
    // Extended at 1000..8000; EBRs at 1000 and 3000.
    write_at(disk, 0, mbr_sector({{0x83, 100, 800}, {0x0f, 1000, 7000}}));
    write_at(disk, 1000 * 512, mbr_sector({{0x83, 63, 1000}, {0x05, 2000, 3000}}));
    write_at(disk, 3000 * 512, mbr_sector({{0x0c, 63, 500}}));
    auto pt = parse(disk);
    ASSERT_EQ(pt.partitions.size(), 3u);
    EXPECT_EQ(pt.partitions[0].number, 1u);
    EXPECT_EQ(pt.partitions[1].number, 5u);
    EXPECT_EQ(pt.partitions[1].offset, (1000u + 63) * 512);
    EXPECT_EQ(pt.partitions[1].size, 1000u * 512);
    EXPECT_EQ(pt.partitions[2].number, 6u);
    EXPECT_EQ(pt.partitions[2].offset, (3000u + 63) * 512);
    EXPECT_EQ(pt.partitions[2].type, "0x0c");
}

TEST(DiskbootPartition, ExtendedChainLoopEnds) {
    TempDir t;
    std::string disk = t.file("d.img");
    set_size(disk, kSectors * 512);
    write_at(disk, 0, mbr_sector({{0x05, 1000, 7000}}));
    // Two EBRs pointing at each other.
    write_at(disk, 1000 * 512, mbr_sector({{0x83, 10, 10}, {0x05, 2000, 100}}));
    write_at(disk, 3000 * 512, mbr_sector({{0x83, 10, 10}, {0x05, 0x0FFFFFFF, 100}}));  // out of container
    auto pt = parse(disk);
    EXPECT_EQ(pt.partitions.size(), 2u);
    // A true cycle (link back to the second EBR) also ends.
    write_at(disk, 3000 * 512, mbr_sector({{0x83, 10, 10}, {0x05, 2000, 100}}));
    EXPECT_EQ(parse(disk).partitions.size(), 2u);
}

TEST(DiskbootPartition, LogicalPastTheDiskIsAnError) {
    TempDir t;
    std::string disk = t.file("d.img");
    set_size(disk, kSectors * 512);
    write_at(disk, 0, mbr_sector({{0x05, 1000, 7000}}));
    write_at(disk, 1000 * 512, mbr_sector({{0x83, 10, 0xFFFFFF00}}));
    EXPECT_NE(parse_error(disk).find("logical partition 5"), std::string::npos) << parse_error(disk);
}

class DiskbootGpt : public ::testing::Test {
protected:
    TempDir t;
    std::string disk = t.file("d.img");
    GptImage g = gpt_layout(kSectors, {{kGuidBiosBoot, 40, 2047, 0},
                                       {kGuidLinuxData, 2048, 8000, 2}});
    void SetUp() override { set_size(disk, kSectors * 512); }
};

TEST_F(DiskbootGpt, Valid) {
    write_gpt(disk, g);
    auto pt = parse(disk);
    EXPECT_EQ(pt.kind, TableKind::Gpt);
    ASSERT_EQ(pt.partitions.size(), 2u);
    EXPECT_EQ(pt.partitions[0].number, 1u);
    EXPECT_EQ(pt.partitions[0].kind, PartKind::Other);
    EXPECT_EQ(pt.partitions[1].number, 3u);  // slot 2: vda3
    EXPECT_EQ(pt.partitions[1].kind, PartKind::LinuxData);
    EXPECT_EQ(pt.partitions[1].offset, 2048u * 512);
    EXPECT_EQ(pt.partitions[1].size, (8000u - 2048 + 1) * 512);
    EXPECT_EQ(pt.partitions[1].type, kGuidLinuxData);
}

TEST_F(DiskbootGpt, HeaderCrcMismatchFallsBackToBackup) {
    g.header[56] ^= 1;  // disk GUID changed, CRC not updated
    write_gpt(disk, g);
    auto pt = parse(disk);
    EXPECT_EQ(pt.partitions.size(), 2u);
}

TEST_F(DiskbootGpt, BothHeadersBadIsACrcError) {
    g.header[56] ^= 1;
    g.backup_header[56] ^= 1;
    write_gpt(disk, g);
    EXPECT_NE(parse_error(disk).find("primary GPT header: CRC mismatch (stored 0x"), std::string::npos)
        << parse_error(disk);
}

TEST_F(DiskbootGpt, EntryArrayCrcMismatch) {
    write_gpt(disk, g);
    std::vector<uint8_t> junk(1, 0x42);
    write_at(disk, 1024 + 200, junk);  // primary array damaged
    write_at(disk, (kSectors - 1 - 32) * 512 + 200, junk);
    EXPECT_NE(parse_error(disk).find("partition entry array CRC mismatch"), std::string::npos) << parse_error(disk);
}

TEST_F(DiskbootGpt, HugeEntryCountIsRejected) {
    for (uint32_t count : {0xFFFFFFFFu, 0x10000u, 0u}) {
        put32(g.header, 80, count);
        seal_header(g.header);
        put32(g.backup_header, 80, count);
        seal_header(g.backup_header);
        write_gpt(disk, g);
        EXPECT_NE(parse_error(disk).find("bad partition entry count"), std::string::npos) << parse_error(disk);
    }
}

TEST_F(DiskbootGpt, BadEntrySizeIsRejected) {
    for (uint32_t size : {0u, 64u, 129u, 0x80000000u}) {
        put32(g.header, 84, size);
        seal_header(g.header);
        g.backup_header = g.header;  // backup claims LBA 1: also rejected
        write_gpt(disk, g);
        EXPECT_NE(parse_error(disk).find("bad partition entry size"), std::string::npos) << parse_error(disk);
    }
}

TEST_F(DiskbootGpt, ArrayOutsideTheDisk) {
    for (uint64_t lba : {uint64_t(kSectors - 1), uint64_t(1) << 62, ~uint64_t(0)}) {
        put64(g.header, 72, lba);
        seal_header(g.header);
        g.backup_header = g.header;
        write_gpt(disk, g);
        EXPECT_NE(parse_error(disk).find("entry array is outside the disk"), std::string::npos)
            << lba << ": " << parse_error(disk);
    }
}

TEST_F(DiskbootGpt, UsableAreaPastTheDisk) {
    put64(g.header, 48, kSectors + 100);
    seal_header(g.header);
    g.backup_header = g.header;
    write_gpt(disk, g);
    EXPECT_NE(parse_error(disk).find("is not inside the disk"), std::string::npos) << parse_error(disk);
}

TEST_F(DiskbootGpt, EntryPointingPastTheDisk) {
    g = gpt_layout(kSectors, {{kGuidLinuxData, 2048, kSectors + 5000, 0}});
    write_gpt(disk, g);
    EXPECT_NE(parse_error(disk).find("GPT partition 1 (sectors 2048-13192) lies outside the usable area"),
              std::string::npos)
        << parse_error(disk);
    g = gpt_layout(kSectors, {{kGuidLinuxData, 3000, 2048, 0}});  // first > last
    write_gpt(disk, g);
    EXPECT_NE(parse_error(disk).find("lies outside"), std::string::npos);
}

TEST_F(DiskbootGpt, ProtectiveMbrWithoutGptIsAnError) {
    write_at(disk, 0, mbr_sector({{0xEE, 1, kSectors - 1}}));
    EXPECT_NE(parse_error(disk).find("protective MBR (type 0xee) but no valid GPT header"), std::string::npos)
        << parse_error(disk);
}

TEST_F(DiskbootGpt, FindPartition) {
    write_gpt(disk, g);
    auto pt = parse(disk);
    EXPECT_EQ(find_partition(pt, 3, disk).offset, 2048u * 512);
    EXPECT_THROW(find_partition(pt, 2, disk), Error);
}

// Random damage to the table sectors: parsing either succeeds with
// partitions inside the disk or throws Error; it never crashes or hangs.
TEST_F(DiskbootGpt, RandomDamageNeverEscapesBounds) {
    std::mt19937 rng(1234);
    write_gpt(disk, g);
    auto pristine = read_all(disk);
    for (int round = 0; round < 300; ++round) {
        auto bytes = pristine;
        int flips = 1 + int(rng() % 8);
        for (int i = 0; i < flips; ++i) {
            // Mostly the MBR, header and the first entries; sometimes reseal.
            size_t off = rng() % (512 * 4);
            bytes[off] = uint8_t(rng());
        }
        if (rng() % 2) {
            std::vector<uint8_t> h(bytes.begin() + 512, bytes.begin() + 1024);
            seal_header(h);
            std::copy(h.begin(), h.end(), bytes.begin() + 512);
        }
        write_at(disk, 0, std::vector<uint8_t>(bytes.begin(), bytes.begin() + 4096));
        try {
            auto pt = parse(disk);
            for (const auto& p : pt.partitions) {
                EXPECT_LE(p.offset, kSectors * 512);
                EXPECT_LE(p.size, kSectors * 512 - p.offset);
            }
        } catch (const Error&) {
        }
    }
}

}  // namespace
}  // namespace khyve::diskboot
