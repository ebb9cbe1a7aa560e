// The flat 64-bit environment a kernel's 64-bit entry expects: a GDT with the
// Linux boot selectors (__BOOT_CS 0x10, __BOOT_DS 0x18), identity page tables
// for 0-4 GiB, and the control registers that turn long mode on. Written into
// guest RAM at the fixed addresses of src/vm/layout.h.
#pragma once

#include <cstdint>

#include "boot/boot_state.h"
#include "memory/guest_memory.h"

namespace khyve::boot {

inline constexpr uint16_t kCodeSelector = 0x10;
inline constexpr uint16_t kDataSelector = 0x18;
inline constexpr unsigned kGdtEntries = 4;  // null, null, code64, data

// Raw descriptors. Both are flat (base 0, limit 0xFFFFF pages), present, DPL 0,
// and carry the accessed bit so the CPU never needs to write the GDT back.
//   code: type 0xB (execute/read, accessed), L=1 (64-bit), D=0, G=1
//   data: type 0x3 (read/write, accessed), D/B=1, G=1
inline constexpr uint64_t kCodeDescriptor = 0x00AF9B000000FFFFull;
inline constexpr uint64_t kDataDescriptor = 0x00CF93000000FFFFull;

// CR0: PE (protection), MP + NE (native x87 error reporting, as every modern
// OS sets), ET (hard-wired 1 on anything newer than a 386), WP (supervisor
// honours read-only pages, as Linux itself sets), PG (paging; required by
// long mode). Caches stay enabled (CD/NW clear).
inline constexpr uint64_t kCr0 = (1ull << 0) | (1ull << 1) | (1ull << 4) | (1ull << 5) |
                                 (1ull << 16) | (1ull << 31);
inline constexpr uint64_t kCr4 = 1ull << 5;                      // PAE
inline constexpr uint64_t kEfer = (1ull << 8) | (1ull << 10);    // LME | LMA
// Bit 1 of RFLAGS is reserved-as-one; IF stays clear (the protocol enters
// with interrupts disabled).
inline constexpr uint64_t kRflags = 0x2;

// A small boot stack in the free page between the zero page (0x7000) and the
// PML4 (0x9000). Linux switches to its own stack at once; this only makes an
// early push or call harmless.
inline constexpr uint64_t kBootStackTop = 0x8ff0;

// Page table entry bits.
inline constexpr uint64_t kPtePresent = 1ull << 0;
inline constexpr uint64_t kPteWrite = 1ull << 1;
inline constexpr uint64_t kPteLarge = 1ull << 7;  // PS: 2 MiB page in a PD entry

// Writes the GDT at layout::kGdt and the PML4/PDPT/4 PDs at layout::kPml4.
// Throws khyve::Error if that part of guest RAM does not exist.
void write_long_mode_tables(const GuestMemory& mem);

// The register state for entering 64-bit code at rip with %rsi = rsi, using
// the tables write_long_mode_tables() wrote.
BootState long_mode_state(uint64_t rip, uint64_t rsi);

// A segment register's hidden part, in the shape of struct kvm_segment (copy
// field by field; set unusable = 0, avl = 0). limit is in bytes, already
// expanded by the granularity bit, as KVM wants it.
struct SegmentSetup {
    uint64_t base = 0;
    uint32_t limit = 0;
    uint16_t selector = 0;
    uint8_t type = 0, present = 0, dpl = 0, db = 0, s = 0, l = 0, g = 0, avl = 0;
    bool operator==(const SegmentSetup&) const = default;
};

// Decodes a raw 8-byte GDT descriptor loaded through selector.
SegmentSetup decode_segment(uint64_t descriptor, uint16_t selector);

struct BootSegments {
    SegmentSetup code;  // for CS
    SegmentSetup data;  // for DS, ES, FS, GS, SS
};

// The segments matching state.code_selector/data_selector in the GDT that
// write_long_mode_tables() builds. Throws khyve::Error if a selector does not
// name that GDT's code or data descriptor (a hand-edited or foreign state).
BootSegments boot_segments(const BootState& state);

}  // namespace khyve::boot
