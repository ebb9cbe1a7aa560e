#include "vm/device_stats.h"

#include "devices/uart16550.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_net.h"
#include "virtio/virtio_pci.h"

namespace khyve {

std::string pci_device_label(const std::string& emulation, unsigned slot, unsigned function) {
    return emulation + "@" + std::to_string(slot) + ":" + std::to_string(function);
}

void register_pci_stats(StatsRegistry& stats, const std::string& label, PciDevice& dev) {
    auto* v = dynamic_cast<VirtioPci*>(&dev);
    if (!v) return;
    v->set_name(label);
    VirtioDevice& d = v->device();
    if (auto* blk = dynamic_cast<VirtioBlk*>(&d)) {
        stats.add([label, blk](std::vector<StatsGroup>& out) {
            StatsGroup g{"virtio-blk", {{"device", label}}, {}};
            append_samples(g.samples, blk->counters());
            out.push_back(std::move(g));
        });
    } else if (auto* net = dynamic_cast<VirtioNet*>(&d)) {
        stats.add([label, net](std::vector<StatsGroup>& out) {
            StatsGroup g{"virtio-net", {{"device", label}}, {}};
            append_samples(g.samples, net->counters());
            out.push_back(std::move(g));
        });
    } else {
        // No counters of its own, but listed, so its queues have a home.
        std::string type = label.substr(0, label.find('@'));
        stats.add([label, type](std::vector<StatsGroup>& out) { out.push_back({type, {{"device", label}}, {}}); });
    }
    stats.add([label, v](std::vector<StatsGroup>& out) {
        for (unsigned i = 0; i < v->num_queues(); ++i) {
            StatsGroup g{"virtqueue", {{"device", label}, {"queue", std::to_string(i)}}, {}};
            append_samples(g.samples, v->queue_counters(i));
            out.push_back(std::move(g));
        }
    });
}

void register_uart_stats(StatsRegistry& stats, const std::string& label, const Uart16550& uart) {
    stats.add([label, &uart](std::vector<StatsGroup>& out) {
        StatsGroup g{"uart", {{"device", label}}, {}};
        append_samples(g.samples, uart.counters());
        out.push_back(std::move(g));
    });
}

}  // namespace khyve
