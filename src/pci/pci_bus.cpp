#include "pci/pci_bus.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/le_bytes.h"
#include "platform/interrupts.h"

namespace khyve {

namespace {

class BarWindow : public BusDevice {
public:
    BarWindow(std::shared_ptr<PciBus> bus, bool io, uint64_t base)
        : bus_(std::move(bus)), io_(io), base_(base) {}
    void read(uint64_t offset, std::span<uint8_t> data) override {
        bus_->bar_read(io_, base_ + offset, data);
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        bus_->bar_write(io_, base_ + offset, data);
    }

private:
    std::shared_ptr<PciBus> bus_;
    bool io_;
    uint64_t base_;
};

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

void write32(PciDevice& d, unsigned off, uint32_t v) {
    uint8_t b[4];
    put_le(b, 0, v);
    d.config_write(off, b);
}
uint16_t read16(PciDevice& d, unsigned off) {
    uint8_t b[2];
    d.config_read(off, b);
    return read_le<uint16_t>(b, 0);
}

}  // namespace

PciBus::PciBus(const PciWindows& windows, InterruptController* irq)
    : windows_(windows), irq_(irq) {}

PciBus::~PciBus() {
    for (auto& [addr, dev] : devices_) dev->attach(nullptr);
}

void PciBus::add(unsigned slot, unsigned function, std::shared_ptr<PciDevice> dev) {
    if (slot >= kSlots || function >= kFunctions) throw Error("PCI address out of range");
    if (!dev) throw Error("null PCI device");
    if (!devices_.emplace(std::pair{slot, function}, dev).second)
        throw Error("PCI slot " + std::to_string(slot) + ":" + std::to_string(function) +
                    " already in use");
    dev->attach(this);
}

PciDevice* PciBus::find(unsigned slot, unsigned function) const {
    auto it = devices_.find({slot, function});
    return it == devices_.end() ? nullptr : it->second.get();
}

void PciBus::assign_resources() {
    // Multi-function: function 0 must exist and carries the header bit.
    for (unsigned s = 0; s < kSlots; ++s) {
        bool others = false;
        for (unsigned f = 1; f < kFunctions; ++f) others |= find(s, f) != nullptr;
        if (!others) continue;
        PciDevice* f0 = find(s, 0);
        if (!f0) throw Error("PCI slot " + std::to_string(s) + " has functions but no function 0");
        f0->set_multifunction(true);
    }

    struct Want {
        PciDevice* dev;
        unsigned bar;
        BarType type;
        uint64_t size;
    };
    std::vector<Want> wants;
    for (auto& [addr, dev] : devices_)
        for (unsigned i = 0; i < pci::kNumBars; ++i) {
            const auto& b = dev->bar_info(i);
            if (b.size) wants.push_back({dev.get(), i, b.type, b.size});
        }
    // Largest first keeps natural alignment from wasting space.
    std::stable_sort(wants.begin(), wants.end(),
                     [](const Want& a, const Want& b) { return a.size > b.size; });

    uint64_t io = windows_.io_base, m32 = windows_.mem32_base, m64 = windows_.mem64_base;
    for (const auto& w : wants) {
        uint64_t addr = 0;
        if (w.type == BarType::kIo) {
            addr = align_up(io, w.size);
            if (addr + w.size > windows_.io_end) throw Error("PCI I/O window exhausted");
            io = addr + w.size;
        } else {
            addr = align_up(m32, w.size);
            if (addr + w.size <= windows_.mem32_end) {
                m32 = addr + w.size;
            } else if (w.type == BarType::kMem64 && windows_.mem64_size) {
                addr = align_up(m64, w.size);
                if (addr + w.size > windows_.mem64_base + windows_.mem64_size)
                    throw Error("PCI 64-bit MMIO window exhausted");
                m64 = addr + w.size;
            } else {
                throw Error("PCI 32-bit MMIO window exhausted");
            }
        }
        const unsigned reg = pci::kBar0 + 4 * w.bar;
        write32(*w.dev, reg, static_cast<uint32_t>(addr));
        if (w.type == BarType::kMem64) write32(*w.dev, reg + 4, static_cast<uint32_t>(addr >> 32));
    }

    for (auto& [addr, dev] : devices_) {
        bool has_io = false, has_mem = false;
        for (unsigned i = 0; i < pci::kNumBars; ++i) {
            const auto& b = dev->bar_info(i);
            if (!b.size) continue;
            (b.type == BarType::kIo ? has_io : has_mem) = true;
        }
        uint16_t cmd = read16(*dev, pci::kCommand);
        if (has_io) cmd |= pci::kCmdIo;
        if (has_mem) cmd |= pci::kCmdMemory;
        uint8_t c[2];
        put_le(c, 0, cmd);
        dev->config_write(pci::kCommand, c);

        const uint8_t pin = dev->interrupt_pin();
        if (pin) {
            const unsigned gsi = kFirstPciGsi + (addr.first + pin - 1) % kPciGsis;
            gsi_[dev.get()] = gsi;
            const uint8_t line = static_cast<uint8_t>(gsi);
            dev->config_write(pci::kInterruptLine, {&line, 1});
        }
    }
    rebuild_map();
}

std::vector<PciIrqRoute> PciBus::irq_routes() const {
    std::vector<PciIrqRoute> out;
    for (const auto& [addr, dev] : devices_) {
        const uint8_t pin = dev->interrupt_pin();
        if (!pin) continue;
        PciIrqRoute r{addr.first, pin - 1u, kFirstPciGsi + (addr.first + pin - 1u) % kPciGsis};
        bool dup = false;
        for (const auto& e : out) dup |= e.slot == r.slot && e.pin == r.pin;
        if (!dup) out.push_back(r);
    }
    return out;
}

void PciBus::config_read(unsigned bus, unsigned slot, unsigned function, unsigned offset,
                         std::span<uint8_t> data) const {
    PciDevice* d = bus == 0 ? find(slot, function) : nullptr;
    if (!d) {
        std::memset(data.data(), 0xff, data.size());
        return;
    }
    d->config_read(offset, data);
}

void PciBus::config_write(unsigned bus, unsigned slot, unsigned function, unsigned offset,
                          std::span<const uint8_t> data) {
    PciDevice* d = bus == 0 ? find(slot, function) : nullptr;
    if (d) d->config_write(offset, data);
}

std::shared_ptr<BusDevice> PciBus::io_window() {
    return std::make_shared<BarWindow>(shared_from_this(), true, windows_.io_base);
}
std::shared_ptr<BusDevice> PciBus::mem32_window() {
    return std::make_shared<BarWindow>(shared_from_this(), false, windows_.mem32_base);
}
std::shared_ptr<BusDevice> PciBus::mem64_window() {
    return std::make_shared<BarWindow>(shared_from_this(), false, windows_.mem64_base);
}

void PciBus::rebuild_map() {
    std::vector<MapEntry> m;
    for (auto& [addr, dev] : devices_)
        for (const auto& r : dev->decoded_bars()) m.push_back({r.io, r.base, r.size, dev.get(), r.bar});
    std::unique_lock lk(map_mu_);
    map_ = std::move(m);
}

void PciBus::bars_changed(PciDevice&) { rebuild_map(); }

bool PciBus::lookup(bool io, uint64_t addr, uint64_t len, MapEntry& out) const {
    std::shared_lock lk(map_mu_);
    // The guest may program overlapping BARs; the first match wins.
    for (const auto& e : map_) {
        if (e.io != io || addr < e.base) continue;
        const uint64_t off = addr - e.base;
        if (off >= e.size || len > e.size - off) continue;
        out = e;
        return true;
    }
    return false;
}

bool PciBus::bar_read(bool io, uint64_t addr, std::span<uint8_t> data) const {
    MapEntry e;
    if (!lookup(io, addr, data.size(), e)) {
        std::memset(data.data(), 0xff, data.size());
        return false;
    }
    e.dev->bar_read(e.bar, addr - e.base, data);
    return true;
}

bool PciBus::bar_write(bool io, uint64_t addr, std::span<const uint8_t> data) const {
    MapEntry e;
    if (!lookup(io, addr, data.size(), e)) return false;
    e.dev->bar_write(e.bar, addr - e.base, data);
    return true;
}

void PciBus::set_intx(PciDevice& dev, bool level) {
    std::lock_guard lk(intx_mu_);
    auto g = gsi_.find(&dev);
    if (g == gsi_.end()) return;
    // Several functions share each GSI: the line is the OR of their requests.
    auto& set = asserted_[g->second];
    const bool before = !set.empty();
    if (level)
        set.insert(&dev);
    else
        set.erase(&dev);
    const bool after = !set.empty();
    if (before != after && irq_) irq_->set_irq_line(g->second, after);
}

}  // namespace khyve
