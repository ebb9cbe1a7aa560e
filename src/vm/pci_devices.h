// Builds the PCI device a `-s slot,emulation,conf` names. The one place that
// maps emulation names to device classes.
#pragma once

#include <memory>
#include <string>

#include "config/machine_config.h"
#include "memory/guest_memory.h"
#include "pci/pci_device.h"
#include "platform/interrupts.h"

namespace khyve {

struct PciDeviceContext {
    const GuestMemory& mem;
    InterruptController& irq;
    IoEventRegistry& ioevents;
    std::string vm_name;
};

std::shared_ptr<PciDevice> make_pci_device(const PciDeviceConfig& cfg, const PciDeviceContext& ctx);

}  // namespace khyve
