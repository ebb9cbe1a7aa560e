#include "vm/pci_devices.h"

#include "common/error.h"
#include "pci/hostbridge.h"
#include "pci/lpc.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_net.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtio_rng.h"

namespace khyve {

namespace {

std::shared_ptr<VirtioDevice> make_virtio(const PciDeviceConfig& cfg, const PciDeviceContext& ctx) {
    const std::string& e = cfg.device;
    if (e == "virtio-blk") return make_virtio_blk(cfg.options);
    if (e == "virtio-net") return make_virtio_net(cfg.options, ctx.vm_name, cfg.addr);
    if (e == "virtio-console") return make_virtio_console(cfg.options);
    if (e == "virtio-rnd") return std::make_shared<VirtioRng>();
    return nullptr;
}

}  // namespace

std::shared_ptr<PciDevice> make_pci_device(const PciDeviceConfig& cfg, const PciDeviceContext& ctx) {
    const std::string& e = cfg.device;
    if (e == "hostbridge") return std::make_shared<HostBridge>(HostBridge::Flavour::kDefault);
    if (e == "amd_hostbridge") return std::make_shared<HostBridge>(HostBridge::Flavour::kAmd);
    if (e == "lpc") return std::make_shared<LpcBridge>();
    if (auto dev = make_virtio(cfg, ctx))
        return std::make_shared<VirtioPci>(std::move(dev), ctx.mem, &ctx.irq, &ctx.ioevents);
    throw Error("pci emulation '" + e + "' is not available in this build");
}

}  // namespace khyve
