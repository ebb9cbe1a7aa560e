// The Intel MultiProcessor Specification 1.4 table: what bhyve writes unless
// -Y. Without ACPI (-A) it is the only way a Linux guest learns how many CPUs
// it has and where the IOAPIC is; with ACPI the guest prefers the MADT.
//
// Linux looks for the floating pointer structure by scanning 16-byte
// boundaries of 0xF0000-0xFFFFF (and the EBDA and the last KiB of base
// memory, which khyve does not use), so the blob must start there.
//
// Interrupt routing described (it must match the machine's GSI routing):
//   - ISA IRQ 0 (PIT) on IOAPIC pin 2, ISA IRQs 1 and 3..15 on the pin of
//     the same number, edge/high (the ISA bus's conforming default).
//   - Each PCI INTx route on IOAPIC pin `gsi`, level, active low.
//   - LINT0 of every local APIC: ExtINT (the 8259 output); LINT1: NMI.
#pragma once

#include <cstdint>
#include <vector>

#include "acpi/acpi.h"

namespace khyve {

// Local APIC ids in the MP table are 8 bits and 0xFF means "all", and the
// IOAPIC takes the id after the last CPU: at most 254 CPUs.
inline constexpr unsigned kMpTableMaxCpus = 254;

struct MpTableConfig {
    unsigned cpus = 1;                     // enabled processors, APIC ids 0..cpus-1, BSP = 0
    std::vector<AcpiPciRoute> pci_routes;  // PCI INTx on bus 0: {slot, pin (0 = INTA), gsi}
};

// The floating pointer structure (16 bytes, at offset 0) followed by the
// configuration table, as one blob to copy to guest physical `base`. The
// pointer's address field is the absolute guest physical address base + 16.
// Throws Error if base is not 16-byte aligned or not inside 0xF0000-0xFFFFF,
// if the blob would not end at or below layout::kAcpiEnd, or on an invalid
// configuration (no CPUs, more than kMpTableMaxCpus, a route outside the
// IOAPIC's 24 pins or outside PCI's 32 slots and 4 pins).
std::vector<uint8_t> build_mptable(const MpTableConfig& cfg, uint64_t base);

}  // namespace khyve
