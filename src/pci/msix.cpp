#include "pci/msix.h"

#include "common/error.h"
#include "common/le_bytes.h"
#include "pci/pci_device.h"
#include "platform/interrupts.h"

namespace khyve {

Msix::Msix(unsigned vectors, InterruptController* irq) : entries_(vectors) {
    if (vectors == 0 || vectors > kMaxVectors) throw Error("bad MSI-X vector count");
    routes_.resize(vectors);
    if (irq)
        for (auto& r : routes_) r = irq->create_msi_route();
    for (unsigned v = 0; v < vectors; ++v) sync_route_locked(v);
}

Msix::~Msix() = default;

std::array<uint8_t, Msix::kCapSize> Msix::capability(unsigned bar, uint32_t table_offset,
                                                     uint32_t pba_offset) const {
    std::array<uint8_t, kCapSize> c{};
    c[0] = pci::kCapIdMsix;
    const uint16_t control = static_cast<uint16_t>(vectors() - 1);  // table size, N-1
    put_le(c, 2, control);
    const uint32_t table = (table_offset & ~7u) | (bar & 7);
    const uint32_t pba = (pba_offset & ~7u) | (bar & 7);
    put_le(c, 4, table);
    put_le(c, 8, pba);
    return c;
}

bool Msix::masked_locked(const Entry& e) const {
    return !enabled_ || function_mask_ || (e.control & 1);
}

void Msix::sync_route_locked(unsigned v) {
    Entry& e = entries_[v];
    const bool masked = masked_locked(e);
    if (routes_[v]) routes_[v]->update(e.address, e.data, masked);
    if (!masked && e.pending) {
        e.pending = false;
        if (routes_[v]) routes_[v]->trigger();
    }
}

void Msix::control_written(uint16_t control) {
    std::lock_guard lk(mu_);
    const bool en = control & kControlEnable, fm = control & kControlMask;
    if (en == enabled_ && fm == function_mask_) return;
    enabled_ = en;
    function_mask_ = fm;
    for (unsigned v = 0; v < vectors(); ++v) sync_route_locked(v);
}

bool Msix::enabled() const {
    std::lock_guard lk(mu_);
    return enabled_;
}

void Msix::table_read(uint64_t offset, std::span<uint8_t> data) const {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i < data.size(); ++i) {
        const uint64_t o = offset + i;
        const uint64_t v = o / 16;
        if (v >= entries_.size()) {
            data[i] = 0xff;
            continue;
        }
        const Entry& e = entries_[v];
        uint8_t raw[16];
        put_le(raw, 0, e.address);
        put_le(raw, 8, e.data);
        put_le(raw, 12, e.control);
        data[i] = raw[o % 16];
    }
}

void Msix::table_write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lk(mu_);
    uint64_t last = ~0ull;
    for (size_t i = 0; i < data.size(); ++i) {
        const uint64_t o = offset + i;
        const uint64_t v = o / 16;
        if (v >= entries_.size()) break;
        Entry& e = entries_[v];
        uint8_t raw[16];
        put_le(raw, 0, e.address);
        put_le(raw, 8, e.data);
        put_le(raw, 12, e.control);
        raw[o % 16] = data[i];
        e.address = read_le<uint64_t>(raw, 0);
        e.data = read_le<uint32_t>(raw, 8);
        e.control = read_le<uint32_t>(raw, 12) & 1;  // only the mask bit exists
        if (v != last) {
            if (last != ~0ull) sync_route_locked(static_cast<unsigned>(last));
            last = v;
        }
    }
    if (last != ~0ull) sync_route_locked(static_cast<unsigned>(last));
}

void Msix::pba_read(uint64_t offset, std::span<uint8_t> data) const {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i < data.size(); ++i) {
        uint8_t b = 0;
        for (unsigned bit = 0; bit < 8; ++bit) {
            const uint64_t v = (offset + i) * 8 + bit;
            if (v < entries_.size() && entries_[v].pending) b |= 1u << bit;
        }
        data[i] = b;
    }
}

bool Msix::notify(unsigned vector) {
    std::lock_guard lk(mu_);
    if (!enabled_ || vector >= entries_.size()) return false;
    Entry& e = entries_[vector];
    if (masked_locked(e)) {
        e.pending = true;
        return true;
    }
    if (routes_[vector]) routes_[vector]->trigger();
    return true;
}

}  // namespace khyve
