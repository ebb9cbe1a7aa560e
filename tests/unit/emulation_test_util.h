// Builds a virtio device the way the machine does: its emulation table entry
// validates the options, then its factory makes it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "platform/pci_emulation.h"
#include "virtio/virtio_device.h"

namespace khyve::test {

template <class T = VirtioDevice>
std::shared_ptr<T> make_emulated(std::string_view name, const DeviceOptions& options, PciAddress addr = {0, 2, 0},
                                 const std::string& vm_name = "vm") {
    const PciEmulation& e = find_pci_emulation(name);
    validate_pci_options(e, addr, options);
    return std::static_pointer_cast<T>(e.make_virtio(EmulationArgs{options, addr, vm_name}));
}

}  // namespace khyve::test
