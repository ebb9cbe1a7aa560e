#include "vm/pci_devices.h"

#include "common/error.h"
#include "platform/pci_emulation.h"
#include "virtio/virtio_pci.h"

namespace khyve {

std::shared_ptr<PciDevice> make_pci_device(const PciDeviceConfig& cfg, const PciDeviceContext& ctx) {
    const PciEmulation& e = find_pci_emulation(cfg.device);
    validate_pci_options(e, cfg.addr, cfg.options);
    EmulationArgs args{cfg.options, cfg.addr, ctx.vm_name};
    if (e.make_pci) return e.make_pci(args);
    if (e.make_virtio)
        return std::make_shared<VirtioPci>(e.make_virtio(args), ctx.mem, &ctx.irq, &ctx.ioevents, ctx.on_failure);
    throw Error("pci emulation '" + cfg.device + "' is not a PCI function");
}

}  // namespace khyve
