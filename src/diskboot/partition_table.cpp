#include "diskboot/partition_table.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <set>

#include "common/error.h"
#include "common/le_bytes.h"
#include "diskboot/crc32.h"

namespace khyve::diskboot {
namespace {

constexpr uint32_t kMbrSector = 512;
constexpr unsigned kMaxLogical = 128;       // EBR chain bound; Linux stops far earlier in practice
constexpr uint32_t kMaxGptEntries = 4096;   // the spec minimum is 128; anything huge is hostile
constexpr uint64_t kMaxGptArrayBytes = 4u << 20;

std::string hex8(unsigned v) {
    char b[8];
    std::snprintf(b, sizeof b, "0x%02x", v & 0xff);
    return b;
}
std::string hex32(uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08x", v);
    return b;
}

PartKind mbr_kind(uint8_t type) {
    switch (type) {
        case 0x83: return PartKind::LinuxData;
        case 0x82: return PartKind::Swap;
        case 0xef: return PartKind::EfiSystem;
        case 0x05: case 0x0f: case 0x85: return PartKind::Extended;
        default: return PartKind::Other;
    }
}

bool is_extended(uint8_t type) { return mbr_kind(type) == PartKind::Extended; }

struct MbrEntry {
    uint8_t status, type;
    uint32_t start, count;
};

MbrEntry mbr_entry(const std::vector<uint8_t>& sec, int i) {
    const size_t e = 446 + 16 * size_t(i);
    return {sec.at(e), sec.at(e + 4), read_le<uint32_t>(sec, e + 8), read_le<uint32_t>(sec, e + 12)};
}

bool has_boot_signature(const std::vector<uint8_t>& sec) {
    return sec.size() >= 512 && sec[510] == 0x55 && sec[511] == 0xAA;
}

// A boot sector is taken for an MBR only if its four entries look like one:
// a FAT or syslinux boot sector also ends in 55 AA but has code where the
// status bytes would be.
bool looks_like_mbr(const std::vector<uint8_t>& sec) {
    if (!has_boot_signature(sec)) return false;
    bool any = false;
    for (int i = 0; i < 4; ++i) {
        MbrEntry e = mbr_entry(sec, i);
        if (e.status != 0x00 && e.status != 0x80) return false;
        if (e.type != 0) {
            if (e.count == 0) return false;
            any = true;
        }
    }
    return any;
}

void check_inside(const ImageFile& img, uint64_t start_lba, uint64_t count, const std::string& what) {
    uint64_t sectors = img.size() / kMbrSector;
    if (start_lba == 0 || start_lba > sectors || count > sectors - start_lba)
        throw Error(img.path() + ": " + what + " (sectors " + std::to_string(start_lba) + "+" +
                    std::to_string(count) + ") lies outside the disk (" + std::to_string(sectors) +
                    " sectors)");
}

void read_logicals(const ImageFile& img, const MbrEntry& ext, unsigned& next_number,
                   std::vector<Partition>& out) {
    uint64_t ext_start = ext.start;
    uint64_t ext_end = ext_start + ext.count;
    uint64_t ebr = ext_start;
    std::set<uint64_t> seen;
    for (unsigned n = 0; n < kMaxLogical; ++n) {
        // A cycle or a link out of the container ends the chain: the
        // partitions found so far are still good.
        if (!seen.insert(ebr).second || ebr >= ext_end || !img.contains(ebr * kMbrSector, kMbrSector))
            return;
        auto sec = img.read(ebr * kMbrSector, kMbrSector);
        if (!has_boot_signature(sec)) return;
        MbrEntry data = mbr_entry(sec, 0);
        MbrEntry link = mbr_entry(sec, 1);
        if (data.type != 0 && data.count != 0 && !is_extended(data.type)) {
            uint64_t start = ebr + data.start;
            unsigned number = next_number++;
            check_inside(img, start, data.count, "logical partition " + std::to_string(number));
            out.push_back({number, start * kMbrSector, uint64_t(data.count) * kMbrSector,
                           mbr_kind(data.type), hex8(data.type)});
        }
        if (!is_extended(link.type) || link.start == 0) return;
        ebr = ext_start + link.start;
    }
}

PartitionTable parse_mbr(const ImageFile& img, const std::vector<uint8_t>& sec) {
    PartitionTable t;
    t.kind = TableKind::Mbr;
    unsigned next_logical = 5;
    for (int i = 0; i < 4; ++i) {
        MbrEntry e = mbr_entry(sec, i);
        if (e.type == 0) continue;
        unsigned number = unsigned(i + 1);
        check_inside(img, e.start, e.count, "MBR partition " + std::to_string(number));
        if (is_extended(e.type)) {
            read_logicals(img, e, next_logical, t.partitions);
            continue;
        }
        t.partitions.push_back({number, uint64_t(e.start) * kMbrSector, uint64_t(e.count) * kMbrSector,
                                mbr_kind(e.type), hex8(e.type)});
    }
    // Logicals were appended while walking primaries; keep number order.
    std::stable_sort(t.partitions.begin(), t.partitions.end(),
                     [](const Partition& a, const Partition& b) { return a.number < b.number; });
    return t;
}

PartKind gpt_kind(const std::string& guid) {
    if (guid == kGuidLinuxData || guid == kGuidLinuxRootX86_64 || guid == kGuidXbootldr)
        return PartKind::LinuxData;
    if (guid == kGuidEfiSystem) return PartKind::EfiSystem;
    if (guid == kGuidLinuxSwap) return PartKind::Swap;
    return PartKind::Other;
}

// One GPT header and its entry array, at `lba`; throws Error describing the
// first inconsistency.
PartitionTable parse_gpt_at(const ImageFile& img, uint32_t ss, uint64_t lba, const char* which) {
    const std::string where = img.path() + ": " + which + " GPT header";
    uint64_t sectors = img.size() / ss;
    if (lba >= sectors) throw Error(where + " is past the end of the disk");
    auto h = img.read(lba * ss, ss);
    if (std::memcmp(h.data(), "EFI PART", 8) != 0) throw Error(where + ": no 'EFI PART' signature");
    uint32_t hsize = read_le<uint32_t>(h, 12);
    if (hsize < 92 || hsize > ss) throw Error(where + ": bad header size " + std::to_string(hsize));
    uint32_t stored = read_le<uint32_t>(h, 16);
    std::vector<uint8_t> copy(h.begin(), h.begin() + hsize);
    std::memset(copy.data() + 16, 0, 4);
    uint32_t computed = crc32(copy);
    if (stored != computed)
        throw Error(where + ": CRC mismatch (stored " + hex32(stored) + ", computed " + hex32(computed) + ")");
    uint64_t my_lba = read_le<uint64_t>(h, 24);
    uint64_t first_usable = read_le<uint64_t>(h, 40);
    uint64_t last_usable = read_le<uint64_t>(h, 48);
    uint64_t array_lba = read_le<uint64_t>(h, 72);
    uint32_t count = read_le<uint32_t>(h, 80);
    uint32_t esize = read_le<uint32_t>(h, 84);
    uint32_t array_crc = read_le<uint32_t>(h, 88);
    if (my_lba != lba) throw Error(where + ": claims to be at LBA " + std::to_string(my_lba));
    if (first_usable > last_usable || last_usable >= sectors)
        throw Error(where + ": usable area " + std::to_string(first_usable) + "-" + std::to_string(last_usable) +
                    " is not inside the disk (" + std::to_string(sectors) + " sectors)");
    if (esize < 128 || esize % 8 != 0 || esize > 4096)
        throw Error(where + ": bad partition entry size " + std::to_string(esize));
    if (count == 0 || count > kMaxGptEntries)
        throw Error(where + ": bad partition entry count " + std::to_string(count));
    uint64_t array_bytes = uint64_t(count) * esize;  // both bounded: no overflow
    if (array_bytes > kMaxGptArrayBytes) throw Error(where + ": partition entry array too large");
    if (array_lba >= sectors || !img.contains(array_lba * ss, array_bytes))
        throw Error(where + ": partition entry array is outside the disk");
    auto array = img.read(array_lba * ss, size_t(array_bytes));
    uint32_t acrc = crc32(array);
    if (acrc != array_crc)
        throw Error(where + ": partition entry array CRC mismatch (stored " + hex32(array_crc) +
                    ", computed " + hex32(acrc) + ")");

    PartitionTable t;
    t.kind = TableKind::Gpt;
    t.sector_size = ss;
    static const uint8_t zero[16] = {};
    for (uint32_t i = 0; i < count; ++i) {
        const auto e = std::span<const uint8_t>(array).subspan(uint64_t(i) * esize, esize);
        if (std::memcmp(e.data(), zero, 16) == 0) continue;
        uint64_t first = read_le<uint64_t>(e, 32), last = read_le<uint64_t>(e, 40);
        unsigned number = i + 1;
        if (first > last || first < first_usable || last > last_usable)
            throw Error(img.path() + ": GPT partition " + std::to_string(number) + " (sectors " +
                        std::to_string(first) + "-" + std::to_string(last) +
                        ") lies outside the usable area of the disk (" + std::to_string(first_usable) +
                        "-" + std::to_string(last_usable) + ")");
        std::string type = guid_to_string(e.data());
        t.partitions.push_back({number, first * ss, (last - first + 1) * ss, gpt_kind(type), type});
    }
    return t;
}

PartitionTable parse_gpt(const ImageFile& img) {
    // 512-byte sectors first; a 4Kn image has its header at byte 4096.
    for (uint32_t ss : {512u, 4096u}) {
        if (!img.contains(ss, 8)) continue;
        auto sig = img.read(ss, 8);
        if (std::memcmp(sig.data(), "EFI PART", 8) != 0) continue;
        try {
            return parse_gpt_at(img, ss, 1, "primary");
        } catch (const Error& primary) {
            // The backup at the last sector exists for exactly this case.
            try {
                return parse_gpt_at(img, ss, img.size() / ss - 1, "backup");
            } catch (const Error&) {
                throw primary;
            }
        }
    }
    // Protective MBR but no primary signature: the backup may still be good.
    try {
        return parse_gpt_at(img, 512, img.size() / 512 - 1, "backup");
    } catch (const Error&) {
        throw Error(img.path() + ": protective MBR (type 0xee) but no valid GPT header");
    }
}

}  // namespace

std::string guid_to_string(const uint8_t* b) {
    const std::span<const uint8_t> g(b, 16);
    char s[40];
    std::snprintf(s, sizeof s, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X", read_le<uint32_t>(g, 0),
                  unsigned(read_le<uint16_t>(g, 4)), unsigned(read_le<uint16_t>(g, 6)), b[8], b[9], b[10], b[11],
                  b[12], b[13], b[14], b[15]);
    return s;
}

bool guid_from_string(const std::string& s, uint8_t out[16]) {
    if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return false;
    std::string hex;
    for (char c : s)
        if (c != '-') hex += c;
    uint8_t raw[16];
    for (int i = 0; i < 16; ++i) {
        unsigned v;
        if (std::sscanf(hex.c_str() + 2 * i, "%2x", &v) != 1 || !std::isxdigit(uint8_t(hex[2 * i])) ||
            !std::isxdigit(uint8_t(hex[2 * i + 1])))
            return false;
        raw[i] = uint8_t(v);
    }
    // Text is big-endian throughout; disk stores the first three fields LE.
    const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; ++i) out[i] = raw[order[i]];
    return true;
}

PartitionTable read_partition_table(const ImageFile& img) {
    if (img.size() >= kMbrSector) {
        auto sec = img.read(0, kMbrSector);
        if (looks_like_mbr(sec)) {
            for (int i = 0; i < 4; ++i)
                if (mbr_entry(sec, i).type == 0xee) return parse_gpt(img);
            return parse_mbr(img, sec);
        }
    }
    PartitionTable t;
    t.partitions.push_back({0, 0, img.size(), PartKind::WholeDisk, "none"});
    return t;
}

const Partition& find_partition(const PartitionTable& t, unsigned number, const std::string& image) {
    for (const auto& p : t.partitions)
        if (p.number == number) return p;
    throw Error(image + ": no partition " + std::to_string(number) + " on the disk");
}

}  // namespace khyve::diskboot
