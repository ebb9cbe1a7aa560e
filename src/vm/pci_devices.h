// Builds the PCI function a `-s slot,emulation,conf` names, from its entry in
// the emulation table (src/vm/pci_emulations.cpp); virtio devices get the
// virtio-pci transport.
#pragma once

#include <memory>
#include <string>

#include "config/machine_config.h"
#include "memory/guest_memory.h"
#include "pci/pci_device.h"
#include "platform/failure.h"
#include "platform/interrupts.h"

namespace khyve {

struct PciDeviceContext {
    const GuestMemory& mem;
    InterruptController& irq;
    IoEventRegistry& ioevents;
    std::string vm_name;
    FailureSink on_failure;  // a device worker's error stops the machine
};

std::shared_ptr<PciDevice> make_pci_device(const PciDeviceConfig& cfg, const PciDeviceContext& ctx);

}  // namespace khyve
