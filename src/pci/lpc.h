// The PCI-ISA (LPC) bridge function that legacy devices (COM ports, RTC, PM
// registers) sit behind, as bhyve's "lpc": Intel 82371SB PIIX3 ISA IDs
// (0x8086:0x7000), class 0x0601, usually at slot 31. It decodes nothing
// itself: the legacy devices are on the machine's port bus directly. Linux
// binds no driver to it and its PIIX3 quirks only touch config registers,
// which read back what was written.
#pragma once

#include "pci/pci_device.h"

namespace khyve {

class LpcBridge : public PciDevice {
public:
    LpcBridge();
};

}  // namespace khyve
