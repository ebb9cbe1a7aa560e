// The ACPI tables of khyve's x86 machine (what bhyve -A provides), generated
// in C++ rather than compiled from ASL. Linux guests boot without firmware and
// find the RSDP by scanning 0xE0000-0xFFFFF, where the blob is copied.
//
// The hardware these tables describe must be emulated to match:
//   - PM1a event block at layout::kPm1aEvt, 4 bytes: PM1_STS (16 bits,
//     write 1 to clear) then PM1_EN (16 bits, read/write: ACPICA writes
//     GBL_EN (bit 5) and PWRBTN_EN (bit 8) and reads them back, logging an
//     error if they do not stick).
//   - PM1a control at layout::kPm1aCnt, 16 bits: SCI_EN (bit 0) reads as 1
//     (SMI_CMD is 0, ACPI is always enabled); writing SLP_EN (bit 13) with
//     SLP_TYP (bits 12:10) == kAcpiS5SlpTyp powers the machine off.
//   - PM timer at layout::kPmTimer: 32 bits wide (TMR_VAL_EXT), 3.579545 MHz.
//   - Reset register: system I/O port layout::kResetPort, 8 bits, value
//     layout::kResetValue resets the machine.
//   - SCI on ISA IRQ layout::kSciIrq, routed to GSI 9 level, active high.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace khyve {

// The SLP_TYP value \_S5 advertises.
inline constexpr unsigned kAcpiS5SlpTyp = 5;

struct AcpiPciRoute {
    unsigned slot;  // PCI device number on bus 0
    unsigned pin;   // 0 = INTA .. 3 = INTD
    unsigned gsi;   // IOAPIC input; Linux programs it level, active low
};

struct AcpiConfig {
    unsigned cpus = 1;       // MADT: one enabled local APIC (x2APIC past id 254) per vCPU, ids 0..n-1
    bool pci = true;         // describe the \_SB.PCI0 host bridge in the DSDT
    bool ecam = true;        // MCFG for layout::kEcamBase, bus 0 (layout::kEcamBuses)
    std::vector<AcpiPciRoute> pci_routes;  // _PRT entries, direct GSIs
    uint64_t mmio64_base = 0;  // 64-bit PCI memory window; size 0 = none
    uint64_t mmio64_size = 0;
    bool com1 = false;       // DSDT PNP0501 devices at layout::kCom1/kCom2
    bool com2 = false;
    bool i8042 = false;      // FADT IAPC_BOOT_ARCH: an 8042 keyboard controller exists
    bool rtc = true;         // FADT IAPC_BOOT_ARCH: clear means "CMOS RTC not present"
    bool vga = false;        // FADT IAPC_BOOT_ARCH: clear means "VGA not present"
    std::string oem_id = "KHYVE ";  // at most 6 characters, padded with spaces
};

// The whole table set as one blob to copy to guest physical `base` (RSDP at
// offset 0; base must be 16-byte aligned). Internal pointers are absolute
// guest physical addresses computed from base. Throws Error on an invalid
// configuration or if the blob does not end at or below layout::kAcpiEnd.
std::vector<uint8_t> build_acpi_tables(const AcpiConfig& cfg, uint64_t base);

}  // namespace khyve
