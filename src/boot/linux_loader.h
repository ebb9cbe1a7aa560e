// bhyveload's Linux loader: places a kernel (bzImage or 64-bit ELF vmlinux),
// initrd, command line, boot_params and the long-mode tables into guest RAM
// and returns the CPU state that enters the kernel's 64-bit entry with %rsi
// pointing at boot_params (Documentation/arch/x86/boot.rst, "64-bit Boot
// Protocol"). No firmware runs before the kernel.
//
// Guest memory written (addresses from src/vm/layout.h):
//   0x500    GDT: null, null, code64 (0x10), data (0x18)
//   0x7000   boot_params, setup header copied from the image, e820 map
//   0x8ff0   initial stack pointer (Linux switches stacks at once)
//   0x9000   PML4, PDPT, 4 PDs: 0-4 GiB identity, 2 MiB pages
//   0x20000  command line, NUL-terminated
//   1 MiB    bzImage protected-mode kernel (or ELF segments at p_paddr)
//   top      initrd: the highest 4 KiB-aligned address below
//            min(lowmem, initrd_addr_max + 1), above the kernel's init_size area
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "boot/boot_state.h"
#include "memory/guest_memory.h"

namespace khyve {

struct LinuxBootSpec {
    std::vector<uint8_t> kernel;    // bzImage or ELF vmlinux (64-bit)
    std::vector<uint8_t> initrd;    // may be empty
    std::string cmdline;
    uint64_t lowmem = 0;            // bytes of RAM at 0 (<= layout::kLowMemLimit)
    uint64_t highmem = 0;           // bytes of RAM at layout::kHighMemBase
};

// mem must hold RAM [0, lowmem) and, if highmem, [4 GiB, 4 GiB + highmem).
// Throws khyve::Error with one line on any bad input; nothing is written
// outside RAM (all writes go through GuestMemory). On error, guest RAM may be
// partly written.
BootState load_linux(const GuestMemory& mem, const LinuxBootSpec& spec);

namespace boot {
// The command line limit for an ELF vmlinux, which has no setup header to
// tell: x86's COMMAND_LINE_SIZE (2048) less the NUL.
inline constexpr uint32_t kElfCmdlineMax = 2047;
// initrd_addr_max assumed for an ELF vmlinux (what 64-bit bzImages declare).
inline constexpr uint32_t kElfInitrdAddrMax = 0x7FFFFFFF;
// Protocol version written into the synthesized header for an ELF vmlinux.
inline constexpr uint16_t kElfProtocolVersion = 0x020F;
}  // namespace boot

}  // namespace khyve
