// The guest physical address map of a khyve machine. Every component that
// places something in guest memory or the MMIO space takes its address from
// here, so the map is read in one place.
//
//   0x0000_0000  RAM (low 640 KiB, minus the EBDA)
//   0x0000_0500  GDT used by the 64-bit boot entry
//   0x0000_7000  Linux boot_params ("zero page")
//   0x0000_9000  boot page tables: PML4, PDPT, 4 page directories (identity 0-4 GiB, 2 MiB pages)
//   0x0002_0000  kernel command line (up to 64 KiB)
//   0x0009_fc00  reserved (EBDA .. end of BIOS area)
//   0x000e_0000  ACPI tables (RSDP first), up to the MP table
//   0x000f_0000  MP table (without -Y), up to 0x0010_0000
//   0x0010_0000  RAM: protected-mode kernel, then the rest of low memory
//   lowmem_end   at most 0xC000_0000 (3 GiB)
//   0xC000_0000  PCI 32-bit MMIO window (BARs), up to 0xE000_0000
//   0xE000_0000  PCI ECAM (MCFG), bus 0 only: 1 MiB
//   0xFEC0_0000  IOAPIC (in-kernel)
//   0xFEE0_0000  local APIC (in-kernel)
//   0x1_0000_0000  high memory (-M, or whatever exceeds 3 GiB)
//   after highmem, 1 GiB aligned: PCI 64-bit MMIO window
#pragma once

#include <cstdint>

namespace khyve::layout {

inline constexpr uint64_t kGdt = 0x500;
inline constexpr uint64_t kZeroPage = 0x7000;
inline constexpr uint64_t kPml4 = 0x9000;   // then PDPT at 0xA000, PDs at 0xB000..0xE000
inline constexpr uint64_t kCmdline = 0x20000;
inline constexpr uint64_t kCmdlineMax = 0x10000;
inline constexpr uint64_t kEbdaStart = 0x9fc00;
inline constexpr uint64_t kAcpiBase = 0xe0000;
inline constexpr uint64_t kAcpiEnd = 0x100000;
// Linux scans 0xF0000-0xFFFFF for the MP floating pointer.
inline constexpr uint64_t kMpTableBase = 0xF0000;
inline constexpr uint64_t kHighRamStart = 0x100000;    // 1 MiB
inline constexpr uint64_t kLowMemLimit = 0xC0000000;   // 3 GiB
inline constexpr uint64_t kPciMmio32Base = 0xC0000000;
inline constexpr uint64_t kPciMmio32End = 0xE0000000;
inline constexpr uint64_t kEcamBase = 0xE0000000;
// One bus, the only one khyve runs. Linux scans every bus that MCFG
// covers for peer host bridges (pcibios_fixup_peer_bridges: 32 config reads
// per bus, each a conf1 exit pair to user space), which cost about 1 s of a
// nested boot with 256 buses.
inline constexpr uint64_t kEcamBuses = 1;
inline constexpr uint64_t kEcamSize = kEcamBuses << 20;
inline constexpr uint64_t kIoapicBase = 0xFEC00000;
inline constexpr uint64_t kLapicBase = 0xFEE00000;
inline constexpr uint64_t kHighMemBase = 0x100000000ull;  // 4 GiB

// KVM needs three pages for the TSS and one for the identity map on Intel;
// they live just below the IOAPIC, outside RAM.
inline constexpr uint64_t kKvmTss = 0xFFFBD000;
inline constexpr uint64_t kKvmIdentityMap = 0xFFFBC000;

// Legacy I/O ports.
inline constexpr uint16_t kCom1 = 0x3f8;
inline constexpr uint16_t kCom2 = 0x2f8;
inline constexpr uint16_t kCom3 = 0x3e8;
inline constexpr uint16_t kCom4 = 0x2e8;
inline constexpr uint16_t kPm1aEvt = 0x400;   // PM1 status (2) + enable (2)
inline constexpr uint16_t kPm1aCnt = 0x404;   // PM1 control (2)
inline constexpr uint16_t kPmTimer = 0x408;   // PM timer (4)
inline constexpr uint16_t kResetPort = 0xcf9;
inline constexpr uint8_t kResetValue = 0x06;
inline constexpr unsigned kSciIrq = 9;
inline constexpr unsigned kCom1Irq = 4;
inline constexpr unsigned kCom2Irq = 3;

}  // namespace khyve::layout
