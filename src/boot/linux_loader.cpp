#include "boot/linux_loader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <span>

#include "boot/boot_params.h"
#include "boot/bzimage.h"
#include "boot/elf_kernel.h"
#include "boot/long_mode.h"
#include "common/error.h"
#include "common/le_bytes.h"
#include "platform/layout.h"

namespace khyve {
namespace {

using namespace boot;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kPage = 0x1000;
constexpr uint64_t kLoadAddr = layout::kHighRamStart;  // bzImage protected-mode kernel
constexpr uint64_t kEntry64Offset = 0x200;             // 64-bit entry from the load address
// The real-mode setup never runs under the 64-bit protocol, but the protocol
// still asks for a heap end; this is its sample value (heap up to 0xE000).
constexpr uint16_t kHeapEndPtr = 0xE000 - 0x200;

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

uint64_t mib_up(uint64_t bytes) { return bytes / kMiB + (bytes % kMiB != 0); }
uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
uint64_t page_up(uint64_t a) { return a > UINT64_MAX - (kPage - 1) ? UINT64_MAX & ~(kPage - 1) : (a + kPage - 1) & ~(kPage - 1); }

[[noreturn]] void too_small(const std::string& what, uint64_t need_end, const LinuxBootSpec& spec) {
    throw Error("guest memory too small: the " + what + " " + std::to_string(mib_up(need_end)) +
                " MiB, the VM has " + std::to_string(spec.lowmem / kMiB) + " MiB" +
                (spec.highmem ? " below 4 GiB" : ""));
}

void write_guest(const GuestMemory& mem, uint64_t gpa, std::span<const uint8_t> data, const char* what) {
    if (!mem.write(gpa, data.data(), data.size()))
        throw Error(std::string("guest memory has no RAM for the ") + what + " at " + hex(gpa));
}

void zero_guest(const GuestMemory& mem, uint64_t gpa, uint64_t len, const char* what) {
    auto s = mem.slice(gpa, len);
    if (!s) throw Error(std::string("guest memory has no RAM for the ") + what + " at " + hex(gpa));
    std::memset(s->data(), 0, s->size());
}

// What either kernel format contributes once parsed.
struct Kernel {
    uint64_t entry = 0;
    uint64_t end = 0;  // first byte above everything the kernel needs while booting
    uint32_t initrd_addr_max = 0;
    uint32_t cmdline_max = 0;
    std::vector<ElfSegment> segments;
    ZeroPage zp{};  // setup header filled in, loader fields not yet
};

Kernel from_bzimage(std::span<const uint8_t> image) {
    BzImage bz = parse_bzimage(image);
    Kernel k;
    uint64_t rs = runtime_start(bz, kLoadAddr);
    if (rs < kLoadAddr) throw Error("kernel: bzImage wants to run at " + hex(rs) + ", below 1 MiB");
    // The decompressor needs init_size bytes from where it runs; the
    // compressed image itself sits at 1 MiB until then.
    k.end = std::max(kLoadAddr + bz.kernel.size(), sat_add(rs, bz.init_size));
    k.entry = kLoadAddr + kEntry64Offset;
    k.initrd_addr_max = bz.initrd_addr_max;
    k.cmdline_max = bz.cmdline_size;
    k.segments.push_back({kLoadAddr, bz.kernel.size(), bz.kernel});
    std::copy(bz.setup_header.begin(), bz.setup_header.end(), k.zp.begin() + bp::kHdr);
    put_le<uint32_t>(k.zp, hdr::kCode32Start, static_cast<uint32_t>(kLoadAddr));
    return k;
}

Kernel from_elf(std::span<const uint8_t> image) {
    ElfKernel elf = parse_elf_kernel(image);
    if (elf.lowest < layout::kHighRamStart)
        throw Error("kernel: ELF segment at " + hex(elf.lowest) + " lies below 1 MiB, in the boot area");
    Kernel k;
    k.entry = elf.entry;
    k.end = elf.end;
    k.initrd_addr_max = kElfInitrdAddrMax;
    k.cmdline_max = kElfCmdlineMax;
    k.segments = std::move(elf.segments);
    // No setup header in a vmlinux: write the fields the kernel reads.
    put_le<uint16_t>(k.zp, hdr::kBootFlag, hdr::kBootFlagValue);
    put_le<uint32_t>(k.zp, hdr::kMagic, hdr::kMagicValue);
    put_le<uint16_t>(k.zp, hdr::kVersion, kElfProtocolVersion);
    k.zp[hdr::kLoadflags] = hdr::kLoadedHigh;
    put_le<uint32_t>(k.zp, hdr::kInitrdAddrMax, kElfInitrdAddrMax);
    put_le<uint32_t>(k.zp, hdr::kCmdlineSize, kElfCmdlineMax);
    return k;
}

void set_loader_fields(ZeroPage& zp, uint64_t initrd_addr, uint64_t initrd_size, const LinuxBootSpec& spec) {
    put_le<uint16_t>(zp, hdr::kVidMode, hdr::kVidModeNormal);
    zp[hdr::kTypeOfLoader] = hdr::kLoaderUndefined;
    zp[hdr::kLoadflags] |= hdr::kCanUseHeap;
    put_le<uint16_t>(zp, hdr::kHeapEndPtr, kHeapEndPtr);
    put_le<uint32_t>(zp, hdr::kRamdiskImage, static_cast<uint32_t>(initrd_addr));
    put_le<uint32_t>(zp, hdr::kRamdiskSize, static_cast<uint32_t>(initrd_size));
    put_le<uint32_t>(zp, bp::kExtRamdiskImage, static_cast<uint32_t>(initrd_addr >> 32));
    put_le<uint32_t>(zp, bp::kExtRamdiskSize, static_cast<uint32_t>(initrd_size >> 32));
    put_le<uint32_t>(zp, hdr::kCmdLinePtr, static_cast<uint32_t>(layout::kCmdline));
    put_le<uint32_t>(zp, bp::kExtCmdLinePtr, 0);
    // Image-supplied values here would point the kernel at memory we never filled.
    put_le<uint64_t>(zp, hdr::kSetupData, 0);
    put_le<uint32_t>(zp, hdr::kHardwareSubarch, 0);
    put_le<uint64_t>(zp, bp::kAcpiRsdpAddr, 0);  // Linux scans 0xE0000-0xFFFFF for the RSDP
    put_e820(zp, e820_map(spec.lowmem, spec.highmem));
}

void check_memory(const GuestMemory& mem, const LinuxBootSpec& spec) {
    if (spec.lowmem > layout::kLowMemLimit)
        throw Error("low memory of " + std::to_string(spec.lowmem / kMiB) + " MiB exceeds the 3 GiB limit");
    if (!mem.slice(0, spec.lowmem))
        throw Error("guest memory does not hold RAM [0, " + hex(spec.lowmem) + ")");
    if (spec.highmem && !mem.slice(layout::kHighMemBase, spec.highmem))
        throw Error("guest memory does not hold RAM [4 GiB, 4 GiB + " + hex(spec.highmem) + ")");
}

}  // namespace

BootState load_linux(const GuestMemory& mem, const LinuxBootSpec& spec) {
    check_memory(mem, spec);

    std::span<const uint8_t> image(spec.kernel);
    Kernel k;
    if (looks_like_bzimage(image)) k = from_bzimage(image);
    else if (looks_like_elf(image)) k = from_elf(image);
    else throw Error("kernel: not a Linux bzImage or 64-bit ELF vmlinux");
    if (k.end > spec.lowmem) too_small("kernel needs", k.end, spec);

    uint64_t cmdline_max = std::min<uint64_t>(k.cmdline_max, layout::kCmdlineMax - 1);
    if (spec.cmdline.find('\0') != std::string::npos) throw Error("kernel command line contains a NUL byte");
    if (spec.cmdline.size() > cmdline_max)
        throw Error("kernel command line is " + std::to_string(spec.cmdline.size()) +
                    " bytes, the kernel accepts at most " + std::to_string(cmdline_max));

    uint64_t initrd_addr = 0, initrd_size = spec.initrd.size();
    if (initrd_size) {
        uint64_t limit = std::min<uint64_t>(spec.lowmem, uint64_t(k.initrd_addr_max) + 1);
        uint64_t floor = page_up(k.end);
        if (initrd_size > limit || ((limit - initrd_size) & ~(kPage - 1)) < floor) {
            if (limit < spec.lowmem && sat_add(floor, initrd_size) <= spec.lowmem)
                throw Error("initrd of " + std::to_string(mib_up(initrd_size)) +
                            " MiB does not fit between the kernel and the kernel's initrd limit " +
                            hex(k.initrd_addr_max));
            too_small("kernel and initrd need", sat_add(floor, initrd_size), spec);
        }
        initrd_addr = (limit - initrd_size) & ~(kPage - 1);
    }

    for (const auto& seg : k.segments) {
        write_guest(mem, seg.paddr, seg.data, "kernel");
        if (seg.memsz > seg.data.size())
            zero_guest(mem, seg.paddr + seg.data.size(), seg.memsz - seg.data.size(), "kernel");
    }
    if (initrd_size) write_guest(mem, initrd_addr, spec.initrd, "initrd");

    std::vector<uint8_t> cmdline(spec.cmdline.begin(), spec.cmdline.end());
    cmdline.push_back(0);
    write_guest(mem, layout::kCmdline, cmdline, "command line");

    set_loader_fields(k.zp, initrd_addr, initrd_size, spec);
    write_guest(mem, layout::kZeroPage, k.zp, "boot parameters");
    write_long_mode_tables(mem);
    return long_mode_state(k.entry, layout::kZeroPage);
}

}  // namespace khyve
