// MBR (with extended/logical partitions) and GPT parsing for the boot scanner.
// The image is hostile: every count, size and offset is checked against the
// disk before use, loops are bounded, and a damaged table is an Error naming
// what is wrong rather than a guess.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diskboot/image_file.h"

namespace khyve::diskboot {

enum class TableKind { None, Mbr, Gpt };

enum class PartKind {
    WholeDisk,   // no partition table: the disk itself holds the filesystem
    LinuxData,   // MBR 0x83, GPT Linux filesystem data / root / XBOOTLDR
    EfiSystem,   // FAT, unreadable here
    Swap,
    Extended,    // MBR container, never a filesystem
    Other,       // anything else: still tried, types are often wrong
};

struct Partition {
    // Linux numbering, as /dev/vdaN: MBR primaries 1-4 by slot, logicals 5,
    // 6, ... in chain order, GPT slot index + 1; 0 is the whole disk.
    unsigned number = 0;
    uint64_t offset = 0;  // bytes from the start of the disk
    uint64_t size = 0;    // bytes
    PartKind kind = PartKind::Other;
    std::string type;     // "0x83" or the GPT type GUID in text form
};

struct PartitionTable {
    TableKind kind = TableKind::None;
    uint32_t sector_size = 512;
    std::vector<Partition> partitions;  // in Linux number order
};

// Throws Error("<image>: ...") for a table that is present but damaged.
PartitionTable read_partition_table(const ImageFile& img);

// The partition numbered `number`; throws Error if there is none.
const Partition& find_partition(const PartitionTable& t, unsigned number, const std::string& image);

// Well-known GPT type GUIDs in canonical text form (upper case).
inline constexpr const char* kGuidLinuxData = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
inline constexpr const char* kGuidLinuxRootX86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
inline constexpr const char* kGuidXbootldr = "BC13C2FF-59E6-4262-A352-B275FD6F7172";
inline constexpr const char* kGuidEfiSystem = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
inline constexpr const char* kGuidLinuxSwap = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F";
inline constexpr const char* kGuidBiosBoot = "21686148-6449-6E6F-744E-656564454649";

// 16 on-disk GUID bytes (first three fields little-endian) <-> text.
std::string guid_to_string(const uint8_t* b);
bool guid_from_string(const std::string& s, uint8_t out[16]);

}  // namespace khyve::diskboot
