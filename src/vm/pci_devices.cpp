#include "vm/pci_devices.h"

#include "common/error.h"
#include "pci/hostbridge.h"
#include "pci/lpc.h"

namespace khyve {

std::shared_ptr<PciDevice> make_pci_device(const PciDeviceConfig& cfg, const PciDeviceContext&) {
    const std::string& e = cfg.device;
    if (e == "hostbridge") return std::make_shared<HostBridge>(HostBridge::Flavour::kDefault);
    if (e == "amd_hostbridge") return std::make_shared<HostBridge>(HostBridge::Flavour::kAmd);
    if (e == "lpc") return std::make_shared<LpcBridge>();
    throw Error("pci emulation '" + e + "' is not available in this build");
}

}  // namespace khyve
