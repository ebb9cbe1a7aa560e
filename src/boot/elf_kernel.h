// Parsing of an uncompressed 64-bit x86 ELF kernel (Linux's vmlinux). Only the
// PT_LOAD program headers matter: each is placed at its physical address
// (p_paddr). The image is untrusted; every header and segment is checked
// against the file with overflow-safe arithmetic.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace khyve::boot {

struct ElfSegment {
    uint64_t paddr = 0;
    uint64_t memsz = 0;                 // >= data.size(); the rest is zero-filled
    std::span<const uint8_t> data;      // the file bytes (p_filesz)
};

struct ElfKernel {
    uint64_t entry = 0;                 // physical entry address
    std::vector<ElfSegment> segments;   // PT_LOAD only, memsz > 0
    uint64_t lowest = 0, end = 0;       // physical span [lowest, end) of all segments
};

// True when the image starts with the ELF magic (of any class).
bool looks_like_elf(std::span<const uint8_t> image);

// Linux's vmlinux sets e_entry to the physical address of startup_64
// (ENTRY(phys_startup_64) in vmlinux.lds). If e_entry instead falls inside a
// segment's virtual range and in no segment's physical range, it is
// translated through that segment (p_paddr + (e_entry - p_vaddr)). An entry
// in neither is an error. Throws khyve::Error with one line.
ElfKernel parse_elf_kernel(std::span<const uint8_t> image);

}  // namespace khyve::boot
