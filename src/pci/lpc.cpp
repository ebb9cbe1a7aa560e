#include "pci/lpc.h"

#include "common/error.h"

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

const PciEmulation kLpcEmulation{
    .name = "lpc",
    .summary = "LPC PCI-ISA bridge with COM1-COM4",
    .description = "The LPC PCI-ISA bridge, behind which the COM ports of -l live; on bus 0 only, and at most one.",
    .check_placement =
        [](const PciAddress& a) {
            if (a.bus != 0) throw Error("the LPC bridge can only be on bus 0, not at " + pci_address_text(a));
        },
    .make_pci = [](const EmulationArgs&) -> std::shared_ptr<PciDevice> { return std::make_shared<LpcBridge>(); },
};

const PciEmulation kUartEmulation{
    .name = "uart",
    .summary = "legacy form: becomes the next free LPC COM port",
    .description = "Not a PCI device in khyve: it becomes the next free LPC COM port, as described for -S.",
    .check_placement =
        [](const PciAddress& a) {
            throw Error("pci " + pci_address_text(a) + ": uart is provided only as an LPC COM port (-l com1,stdio)");
        },
};

}  // namespace khyve
