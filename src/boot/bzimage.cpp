#include "boot/bzimage.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "boot/boot_params.h"
#include "common/error.h"
#include "common/le_bytes.h"

namespace khyve::boot {
namespace {

constexpr uint16_t kMinVersion = 0x020C;  // xloadflags (and so XLF_KERNEL_64) appear in 2.12

std::string version_text(uint16_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%02u", unsigned(v >> 8), unsigned(v & 0xFF));
    return buf;
}

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

bool looks_like_bzimage(std::span<const uint8_t> image) {
    return get_le<uint16_t>(image, hdr::kBootFlag) == hdr::kBootFlagValue &&
           get_le<uint32_t>(image, hdr::kMagic) == hdr::kMagicValue;
}

BzImage parse_bzimage(std::span<const uint8_t> image) {
    if (!looks_like_bzimage(image)) throw Error("kernel: not a Linux bzImage or 64-bit ELF vmlinux");

    BzImage bz;
    bz.version = *get_le<uint16_t>(image, hdr::kVersion);  // inside the magic check's reach
    if (bz.version < kMinVersion)
        throw Error("kernel: boot protocol " + version_text(bz.version) +
                    " is too old (the 64-bit entry needs 2.12 or later)");

    // The jump at 0x200 skips the header, so its target bounds the header.
    auto jmp = get_le<uint8_t>(image, hdr::kJump);
    auto jmp_off = get_le<uint8_t>(image, hdr::kJump + 1);
    if (!jmp || !jmp_off || *jmp != 0xEB) throw Error("kernel: bzImage setup header has no jump at 0x200");
    size_t hdr_end = std::min<size_t>(0x202 + *jmp_off, bp::kHdrLimit);
    if (hdr_end < hdr::kEndOf212)
        throw Error("kernel: bzImage setup header ends at " + hex(hdr_end) + ", too short for protocol " +
                    version_text(bz.version));
    if (image.size() < hdr_end)
        throw Error("kernel: truncated bzImage (the setup header ends at " + hex(hdr_end) + ", the file is " +
                    std::to_string(image.size()) + " bytes)");
    bz.setup_header = image.subspan(hdr::kSetupSects, hdr_end - hdr::kSetupSects);

    uint8_t loadflags = *get_le<uint8_t>(image, hdr::kLoadflags);
    if (!(loadflags & hdr::kLoadedHigh))
        throw Error("kernel: zImage (loaded low) is not supported; need a bzImage");
    uint16_t xloadflags = *get_le<uint16_t>(image, hdr::kXloadflags);
    if (!(xloadflags & hdr::kXlfKernel64))
        throw Error("kernel: bzImage has no 64-bit entry point (XLF_KERNEL_64 clear; a 32-bit kernel?)");

    bz.initrd_addr_max = *get_le<uint32_t>(image, hdr::kInitrdAddrMax);
    bz.kernel_alignment = *get_le<uint32_t>(image, hdr::kKernelAlignment);
    bz.relocatable = *get_le<uint8_t>(image, hdr::kRelocatable) != 0;
    bz.cmdline_size = *get_le<uint32_t>(image, hdr::kCmdlineSize);
    bz.pref_address = *get_le<uint64_t>(image, hdr::kPrefAddress);
    bz.init_size = *get_le<uint32_t>(image, hdr::kInitSize);
    if (bz.relocatable && (bz.kernel_alignment == 0 || (bz.kernel_alignment & (bz.kernel_alignment - 1))))
        throw Error("kernel: bzImage kernel_alignment " + hex(bz.kernel_alignment) + " is not a power of two");

    unsigned setup_sects = *get_le<uint8_t>(image, hdr::kSetupSects);
    if (setup_sects == 0) setup_sects = 4;  // historical meaning of 0
    uint64_t setup_bytes = (uint64_t(setup_sects) + 1) * 512;
    if (setup_bytes >= image.size())
        throw Error("kernel: truncated bzImage (the setup code is " + std::to_string(setup_bytes) +
                    " bytes, the file is " + std::to_string(image.size()) + ")");
    uint64_t available = image.size() - setup_bytes;
    uint64_t syssize = uint64_t(*get_le<uint32_t>(image, hdr::kSyssize)) * 16;
    if (syssize > available)
        throw Error("kernel: truncated bzImage (the protected-mode kernel is " + std::to_string(syssize) +
                    " bytes, only " + std::to_string(available) + " follow the setup code)");
    // syssize 0 is not forbidden by the protocol; then the rest of the file is the kernel.
    bz.kernel = image.subspan(setup_bytes, syssize ? syssize : available);
    return bz;
}

uint64_t runtime_start(const BzImage& bz, uint64_t load_addr) {
    if (!bz.relocatable) return bz.pref_address;
    uint64_t mask = uint64_t(bz.kernel_alignment) - 1;
    uint64_t aligned = load_addr > UINT64_MAX - mask ? UINT64_MAX : (load_addr + mask) & ~mask;
    return std::max(aligned, bz.pref_address);
}

}  // namespace khyve::boot
