#include "pci/hostbridge.h"

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

}  // namespace khyve
