// The PCI-ISA (LPC) bridge function that legacy devices (COM ports, RTC, PM
// registers) sit behind, as bhyve's "lpc": Intel 82371SB PIIX3 ISA IDs
// (0x8086:0x7000), class 0x0601, usually at slot 31. It decodes nothing
// itself: the legacy devices are on the machine's port bus directly. Linux
// binds no driver to it and its PIIX3 quirks only touch config registers,
// which read back what was written.
#pragma once

#include "pci/pci_device.h"
#include "platform/pci_emulation.h"

namespace khyve {

class LpcBridge : public PciDevice {
public:
    LpcBridge();
};

// The -s entries (src/platform/pci_emulation.h): "lpc" (no options, bus 0),
// and "uart", which -s accepts as bhyve's legacy form of the next free LPC COM
// port and which is not a PCI function.
extern const PciEmulation kLpcEmulation;
extern const PciEmulation kUartEmulation;

}  // namespace khyve
