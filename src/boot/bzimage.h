// Parsing of a bzImage's setup header (Documentation/arch/x86/boot.rst) for
// the 64-bit boot protocol. The image is untrusted: every field is read with a
// bounds check and every size is checked against the file.
#pragma once

#include <cstdint>
#include <span>

namespace khyve::boot {

struct BzImage {
    std::span<const uint8_t> setup_header;  // image bytes [0x1F1, header end)
    std::span<const uint8_t> kernel;        // the protected-mode kernel, loaded at 1 MiB
    uint16_t version = 0;                   // boot protocol, 0x020C = 2.12
    uint32_t initrd_addr_max = 0;           // highest byte an initrd may occupy
    uint32_t kernel_alignment = 0;
    bool relocatable = false;
    uint32_t cmdline_size = 0;              // longest command line, without the NUL
    uint64_t pref_address = 0;
    uint32_t init_size = 0;                 // bytes needed from the runtime start
};

// True when the image carries the boot sector flag and the "HdrS" magic.
bool looks_like_bzimage(std::span<const uint8_t> image);

// Validates the header for a 64-bit entry (protocol >= 2.12, LOADED_HIGH,
// XLF_KERNEL_64) and locates the protected-mode kernel. Throws khyve::Error
// with one line naming the problem.
BzImage parse_bzimage(std::span<const uint8_t> image);

// Where the kernel will run (decompress itself to) when its protected-mode
// part is loaded at load_addr: a relocatable kernel aligns the load address up
// to kernel_alignment but never goes below its preferred address (the
// decompressor clamps to LOAD_PHYSICAL_ADDR, which pref_address reports); a
// fixed kernel always runs at pref_address. Saturates instead of wrapping.
uint64_t runtime_start(const BzImage& bz, uint64_t load_addr);

}  // namespace khyve::boot
