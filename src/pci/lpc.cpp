#include "pci/lpc.h"

namespace khyve {

namespace {
PciIds lpc_ids() {
    PciIds ids;
    ids.vendor = 0x8086;
    ids.device = 0x7000;
    ids.class_code = 0x06;  // bridge
    ids.subclass = 0x01;    // ISA
    ids.subsystem_vendor = 0x8086;
    ids.subsystem_id = 0x7000;
    return ids;
}
}  // namespace

LpcBridge::LpcBridge() : PciDevice(lpc_ids()) {
    // Chipset registers in 0x40-0xff (PIRQ routing, misc control) are
    // scratch: Linux's PIIX quirks read-modify-write some of them.
    for (unsigned o = pci::kCapStart; o < 0x100; o += 4) set_writable32(o, 0xffffffffu);
}

}  // namespace khyve
