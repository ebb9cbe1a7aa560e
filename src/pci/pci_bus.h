// PCI bus 0: the functions by (slot, function), firmware-style resource
// assignment, INTx routing, and the BusDevices that dispatch BAR accesses.
//
// The machine's Bus is immutable while vCPUs run, but the guest may move
// BARs. So the machine inserts three fixed windows (I/O ports, 32-bit MMIO,
// 64-bit MMIO); each window dispatches an access to the device whose BAR,
// as currently programmed and decoded, contains the whole access. The BAR
// map is rebuilt whenever a device's decode changes and read under a shared
// lock.
//
// Make it with std::make_shared (windows keep the bus alive).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <vector>

#include "bus/bus.h"
#include "pci/pci_device.h"
#include "platform/layout.h"

namespace khyve {

class InterruptController;

// One _PRT entry: device `slot`, pin (0 = INTA .. 3 = INTD) -> GSI.
struct PciIrqRoute {
    unsigned slot;
    unsigned pin;
    unsigned gsi;
};

struct PciWindows {
    uint64_t io_base = 0xc000;  // PCI I/O port window [io_base, io_end)
    uint64_t io_end = 0x10000;
    uint64_t mem32_base = layout::kPciMmio32Base;
    uint64_t mem32_end = layout::kPciMmio32End;
    uint64_t mem64_base = 0;  // 0: no 64-bit window
    uint64_t mem64_size = 0;
};

class PciBus : public PciDevice::Host, public std::enable_shared_from_this<PciBus> {
public:
    static constexpr unsigned kSlots = 32;
    static constexpr unsigned kFunctions = 8;
    static constexpr unsigned kFirstPciGsi = 16;
    static constexpr unsigned kPciGsis = 8;

    // irq may be null (no INTx delivery, e.g. in tests).
    PciBus(const PciWindows& windows, InterruptController* irq);
    ~PciBus() override;

    // Set-up: throws Error on a bad or taken address.
    void add(unsigned slot, unsigned function, std::shared_ptr<PciDevice> dev);
    PciDevice* find(unsigned slot, unsigned function) const;

    // Firmware's job, once after all add()s: checks function 0 exists where
    // other functions do and sets their multi-function bits, assigns every
    // BAR (I/O from io_base, memory from mem32_base; a 64-bit BAR goes to
    // the 64-bit window only if it does not fit below 4 GiB), enables decode,
    // and routes INTx: GSI = 16 + (slot + pin) % 8, written to Interrupt
    // Line. Throws Error if a window is too small.
    void assign_resources();
    // The _PRT for ACPI: one entry per (slot, pin) in use.
    std::vector<PciIrqRoute> irq_routes() const;

    // Config space by address (bus 0 only; anything else reads all ones).
    void config_read(unsigned bus, unsigned slot, unsigned function, unsigned offset,
                     std::span<uint8_t> data) const;
    void config_write(unsigned bus, unsigned slot, unsigned function, unsigned offset,
                      std::span<const uint8_t> data);

    // The windows to insert into the machine's buses:
    //   pio_bus.insert(w.io_base, w.io_end - w.io_base, bus->io_window(), "pci-io");
    //   mmio_bus.insert(w.mem32_base, w.mem32_end - w.mem32_base, bus->mem32_window(), "pci-mem32");
    //   mmio_bus.insert(w.mem64_base, w.mem64_size, bus->mem64_window(), "pci-mem64");
    const PciWindows& windows() const { return windows_; }
    std::shared_ptr<BusDevice> io_window();
    std::shared_ptr<BusDevice> mem32_window();
    std::shared_ptr<BusDevice> mem64_window();

    // Dispatch by absolute address; false if no decoded BAR holds the whole
    // access (reads then return all ones).
    bool bar_read(bool io, uint64_t addr, std::span<uint8_t> data) const;
    bool bar_write(bool io, uint64_t addr, std::span<const uint8_t> data) const;

    // PciDevice::Host
    void bars_changed(PciDevice& dev) override;
    void set_intx(PciDevice& dev, bool level) override;

private:
    struct MapEntry {
        bool io;
        uint64_t base;
        uint64_t size;
        PciDevice* dev;
        unsigned bar;
    };
    void rebuild_map();
    bool lookup(bool io, uint64_t addr, uint64_t len, MapEntry& out) const;

    PciWindows windows_;
    InterruptController* irq_;
    std::map<std::pair<unsigned, unsigned>, std::shared_ptr<PciDevice>> devices_;
    std::map<const PciDevice*, unsigned> gsi_;  // set by assign_resources

    mutable std::shared_mutex map_mu_;
    std::vector<MapEntry> map_;

    std::mutex intx_mu_;
    std::map<unsigned, std::set<const PciDevice*>> asserted_;  // gsi -> devices
};

}  // namespace khyve
