// struct boot_params ("zero page") and the setup header inside it, as byte
// offsets (Documentation/arch/x86/zero-page.rst and boot.rst). Offsets are
// used rather than a packed struct so untrusted image bytes are only ever read
// through bounds-checked accessors. Setup header offsets are the same in the
// bzImage file and in the zero page.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace khyve::boot {

inline constexpr size_t kZeroPageSize = 4096;
using ZeroPage = std::array<uint8_t, kZeroPageSize>;

namespace bp {
inline constexpr size_t kAcpiRsdpAddr = 0x070;    // u64
inline constexpr size_t kExtRamdiskImage = 0x0C0; // u32
inline constexpr size_t kExtRamdiskSize = 0x0C4;  // u32
inline constexpr size_t kExtCmdLinePtr = 0x0C8;   // u32
inline constexpr size_t kE820Entries = 0x1E8;     // u8
inline constexpr size_t kSentinel = 0x1EF;        // u8
inline constexpr size_t kHdr = 0x1F1;             // setup header start
inline constexpr size_t kHdrLimit = 0x290;        // room for the header ends here
inline constexpr size_t kE820Table = 0x2D0;       // 20-byte entries
inline constexpr size_t kE820Max = 128;
}  // namespace bp

namespace hdr {
inline constexpr size_t kSetupSects = 0x1F1;      // u8
inline constexpr size_t kSyssize = 0x1F4;         // u32, 16-byte paragraphs
inline constexpr size_t kVidMode = 0x1FA;         // u16
inline constexpr size_t kBootFlag = 0x1FE;        // u16, 0xAA55
inline constexpr size_t kJump = 0x200;            // u8 0xEB, then u8 offset
inline constexpr size_t kMagic = 0x202;           // u32 "HdrS"
inline constexpr size_t kVersion = 0x206;         // u16
inline constexpr size_t kTypeOfLoader = 0x210;    // u8
inline constexpr size_t kLoadflags = 0x211;       // u8
inline constexpr size_t kCode32Start = 0x214;     // u32
inline constexpr size_t kRamdiskImage = 0x218;    // u32
inline constexpr size_t kRamdiskSize = 0x21C;     // u32
inline constexpr size_t kHeapEndPtr = 0x224;      // u16
inline constexpr size_t kCmdLinePtr = 0x228;      // u32
inline constexpr size_t kInitrdAddrMax = 0x22C;   // u32
inline constexpr size_t kKernelAlignment = 0x230; // u32
inline constexpr size_t kRelocatable = 0x234;     // u8
inline constexpr size_t kXloadflags = 0x236;      // u16
inline constexpr size_t kCmdlineSize = 0x238;     // u32
inline constexpr size_t kHardwareSubarch = 0x23C; // u32
inline constexpr size_t kSetupData = 0x250;       // u64
inline constexpr size_t kPrefAddress = 0x258;     // u64
inline constexpr size_t kInitSize = 0x260;        // u32
inline constexpr size_t kEndOf212 = 0x264;        // a 2.12 header reaches at least here

inline constexpr uint16_t kBootFlagValue = 0xAA55;
inline constexpr uint32_t kMagicValue = 0x53726448;  // "HdrS"
inline constexpr uint8_t kLoadedHigh = 0x01;
inline constexpr uint8_t kCanUseHeap = 0x80;
inline constexpr uint16_t kXlfKernel64 = 0x01;
inline constexpr uint8_t kLoaderUndefined = 0xFF;
inline constexpr uint16_t kVidModeNormal = 0xFFFF;
}  // namespace hdr

inline constexpr uint32_t kE820Ram = 1;
inline constexpr uint32_t kE820Reserved = 2;

struct E820Entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    bool operator==(const E820Entry&) const = default;
};

// The machine's memory map: RAM [0, EBDA), reserved [EBDA, 1 MiB) (where the
// ACPI tables live), RAM [1 MiB, lowmem), reserved PCI ECAM, RAM above 4 GiB.
std::vector<E820Entry> e820_map(uint64_t lowmem, uint64_t highmem);

// Stores the map into zp (entries + count).
void put_e820(ZeroPage& zp, const std::vector<E820Entry>& map);

}  // namespace khyve::boot
