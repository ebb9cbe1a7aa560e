// The PCI emulation table: one line per device, in `bhyve -s help` order.
// Each entry is defined in its device's file (src/platform/pci_emulation.h
// says what an entry holds); adding a device is its file plus a line here.
#include "platform/pci_emulation.h"

#include "pci/hostbridge.h"
#include "pci/lpc.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_net.h"
#include "virtio/virtio_rng.h"

namespace khyve {

std::span<const PciEmulation* const> pci_emulations() {
    static constexpr const PciEmulation* kTable[] = {
        &kHostBridgeEmulation,
        &kAmdHostBridgeEmulation,
        &kLpcEmulation,
        &kVirtioBlkEmulation,
        &kVirtioNetEmulation,
        &kVirtioConsoleEmulation,
        &kVirtioRngEmulation,
        &kUartEmulation,
    };
    return kTable;
}

}  // namespace khyve
