// Registers the statistics of the machine's devices. The devices only keep
// counters (stats/counters.h); this is the one place that knows which device
// class has which, so the registry and the devices stay unaware of each other.
#pragma once

#include <string>

#include "stats/stats.h"

namespace khyve {

class PciDevice;
class Uart16550;

// The device label of a PCI function in statistics and trace probes:
// "EMULATION@SLOT:FUNCTION", as on bhyve's -s ("virtio-blk@2:0").
std::string pci_device_label(const std::string& emulation, unsigned slot, unsigned function);

// For a virtio function: names it `label` (trace probes) and registers its
// device counters and one "virtqueue" group per queue. Other functions have
// no counters and are left alone. `dev` must outlive the registry's use.
void register_pci_stats(StatsRegistry& stats, const std::string& label, PciDevice& dev);

// A COM port (`label` "com1"...).
void register_uart_stats(StatsRegistry& stats, const std::string& label, const Uart16550& uart);

}  // namespace khyve
