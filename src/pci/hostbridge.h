// Host bridges (class 0x0600) with no BARs. Same IDs as bhyve, so guests and
// operators see what they know:
//   "hostbridge"      vendor 0x1275 (NetApp) device 0x1275
//   "amd_hostbridge"  vendor 0x1022 (AMD)    device 0x7432
#pragma once

#include <memory>

#include "pci/pci_device.h"
#include "platform/pci_emulation.h"

namespace khyve {

class HostBridge : public PciDevice {
public:
    enum class Flavour { kDefault, kAmd };
    explicit HostBridge(Flavour f = Flavour::kDefault);
};

// The -s entries (src/platform/pci_emulation.h): no options, slot 0:0:0 only.
extern const PciEmulation kHostBridgeEmulation;
extern const PciEmulation kAmdHostBridgeEmulation;

}  // namespace khyve
