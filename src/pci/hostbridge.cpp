#include "pci/hostbridge.h"

#include "common/error.h"

namespace khyve {

namespace {
PciIds ids_for(HostBridge::Flavour f) {
    PciIds ids;
    if (f == HostBridge::Flavour::kAmd) {
        ids.vendor = 0x1022;
        ids.device = 0x7432;
    } else {
        ids.vendor = 0x1275;
        ids.device = 0x1275;
    }
    ids.class_code = 0x06;  // bridge
    ids.subclass = 0x00;    // host bridge
    ids.subsystem_vendor = ids.vendor;
    ids.subsystem_id = ids.device;
    return ids;
}
}  // namespace

HostBridge::HostBridge(Flavour f) : PciDevice(ids_for(f)) {}

namespace {

template <const char* Name>
void only_at_zero(const PciAddress& a) {
    if (!(a == PciAddress{}))
        throw Error(std::string(Name) + " must be at pci slot 0:0:0, not " + pci_address_text(a));
}
constexpr char kDefaultName[] = "hostbridge";
constexpr char kAmdName[] = "amd_hostbridge";

}  // namespace

const PciEmulation kHostBridgeEmulation{
    .name = kDefaultName,
    .summary = "host bridge (slot 0:0)",
    .description = "A host bridge; it can only be at slot 0:0:0.",
    .check_placement = only_at_zero<kDefaultName>,
    .make_pci = [](const EmulationArgs&) -> std::shared_ptr<PciDevice> {
        return std::make_shared<HostBridge>(HostBridge::Flavour::kDefault);
    },
};

const PciEmulation kAmdHostBridgeEmulation{
    .name = kAmdName,
    .summary = "host bridge with AMD's vendor ID",
    .description = "The same, with AMD's PCI vendor ID.",
    .check_placement = only_at_zero<kAmdName>,
    .make_pci = [](const EmulationArgs&) -> std::shared_ptr<PciDevice> {
        return std::make_shared<HostBridge>(HostBridge::Flavour::kAmd);
    },
};

}  // namespace khyve
