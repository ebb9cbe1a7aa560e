#include "pci/pci_device.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/le_bytes.h"

namespace khyve {

namespace {
bool power_of_two(uint64_t v) { return v && !(v & (v - 1)); }
bool overlaps(unsigned off, unsigned len, unsigned reg, unsigned reg_len) {
    return off < reg + reg_len && reg < off + len;
}
}  // namespace

PciDevice::PciDevice(const PciIds& ids) {
    put_le<uint16_t>(cfg_, pci::kVendorId, ids.vendor);
    put_le<uint16_t>(cfg_, pci::kDeviceId, ids.device);
    cfg_[pci::kRevision] = ids.revision;
    cfg_[pci::kProgIf] = ids.prog_if;
    cfg_[pci::kSubclass] = ids.subclass;
    cfg_[pci::kClass] = ids.class_code;
    put_le<uint16_t>(cfg_, pci::kSubsystemVendor, ids.subsystem_vendor);
    put_le<uint16_t>(cfg_, pci::kSubsystemId, ids.subsystem_id);
    // Writable: command (I/O, memory, bus master, parity, SERR, INTx disable),
    // cache line size, latency timer, interrupt line. Status bits are RW1C for
    // errors we never raise, so writes there change nothing.
    set_writable16(pci::kCommand, pci::kCmdIo | pci::kCmdMemory | pci::kCmdBusMaster |
                                      pci::kCmdParity | pci::kCmdSerr | pci::kCmdIntxDisable);
    wmask_[pci::kCacheLineSize] = 0xff;
    wmask_[pci::kLatencyTimer] = 0xff;
    wmask_[pci::kInterruptLine] = 0xff;
}

void PciDevice::set_writable(unsigned offset, std::span<const uint8_t> mask) {
    if (offset > kConfigSize || mask.size() > kConfigSize - offset)
        throw Error("PCI config mask out of range");
    std::lock_guard lk(mu_);
    std::memcpy(&wmask_[offset], mask.data(), mask.size());
}
void PciDevice::set_writable16(unsigned offset, uint16_t mask) {
    uint8_t m[2];
    put_le(m, 0, mask);
    set_writable(offset, m);
}
void PciDevice::set_writable32(unsigned offset, uint32_t mask) {
    uint8_t m[4];
    put_le(m, 0, mask);
    set_writable(offset, m);
}

uint8_t PciDevice::cfg8(unsigned o) const {
    std::lock_guard lk(mu_);
    return o < kConfigSize ? cfg_[o] : 0xff;
}
uint16_t PciDevice::cfg16(unsigned o) const {
    std::lock_guard lk(mu_);
    uint16_t v = 0xffff;
    if (o + 2 <= kConfigSize) v = read_le<uint16_t>(cfg_, o);
    return v;
}
uint32_t PciDevice::cfg32(unsigned o) const {
    std::lock_guard lk(mu_);
    uint32_t v = ~0u;
    if (o + 4 <= kConfigSize) v = read_le<uint32_t>(cfg_, o);
    return v;
}
void PciDevice::set_cfg8(unsigned o, uint8_t v) {
    std::lock_guard lk(mu_);
    if (o < kConfigSize) cfg_[o] = v;
}
void PciDevice::set_cfg16(unsigned o, uint16_t v) {
    std::lock_guard lk(mu_);
    if (o + 2 <= kConfigSize) put_le(cfg_, o, v);
}
void PciDevice::set_cfg32(unsigned o, uint32_t v) {
    std::lock_guard lk(mu_);
    if (o + 4 <= kConfigSize) put_le(cfg_, o, v);
}

void PciDevice::add_bar(unsigned index, BarType type, uint64_t size, bool prefetchable) {
    const unsigned slots = type == BarType::kMem64 ? 2 : 1;
    if (index + slots > pci::kNumBars) throw Error("PCI BAR index out of range");
    for (unsigned i = index; i < index + slots; ++i)
        if (bars_[i].size) throw Error("PCI BAR already in use");
    if (index > 0 && bars_[index - 1].type == BarType::kMem64 && bars_[index - 1].size)
        throw Error("PCI BAR is the upper half of a 64-bit BAR");
    const uint64_t min = type == BarType::kIo ? 4 : 16;
    if (!power_of_two(size) || size < min) throw Error("PCI BAR size must be a power of two");
    if (type == BarType::kIo && size > 256) throw Error("PCI I/O BAR too large");
    if (type == BarType::kMem32 && size > (1ull << 31)) throw Error("PCI mem32 BAR too large");

    bars_[index] = {type, size, prefetchable};
    const unsigned reg = pci::kBar0 + 4 * index;
    switch (type) {
        case BarType::kIo:
            set_cfg32(reg, 0x1);
            set_writable32(reg, static_cast<uint32_t>(~(size - 1)) & 0xfffc);
            break;
        case BarType::kMem32:
            set_cfg32(reg, prefetchable ? 0x8 : 0x0);
            set_writable32(reg, static_cast<uint32_t>(~(size - 1)) & 0xfffffff0u);
            break;
        case BarType::kMem64:
            set_cfg32(reg, 0x4 | (prefetchable ? 0x8 : 0x0));
            set_writable32(reg, static_cast<uint32_t>(~(size - 1)) & 0xfffffff0u);
            set_cfg32(reg + 4, 0);
            set_writable32(reg + 4, static_cast<uint32_t>(~(size - 1) >> 32));
            break;
    }
}

void PciDevice::set_interrupt_pin(uint8_t pin) {
    if (pin > 4) throw Error("PCI interrupt pin out of range");
    set_cfg8(pci::kInterruptPin, pin);
}
uint8_t PciDevice::interrupt_pin() const { return cfg8(pci::kInterruptPin); }

void PciDevice::set_multifunction(bool on) {
    std::lock_guard lk(mu_);
    if (on)
        cfg_[pci::kHeaderType] |= pci::kHeaderMultiFunction;
    else
        cfg_[pci::kHeaderType] &= ~pci::kHeaderMultiFunction;
}

unsigned PciDevice::add_capability(std::span<const uint8_t> body) {
    if (body.size() < 2) throw Error("PCI capability too short");
    std::lock_guard lk(mu_);
    const unsigned off = (next_cap_ + 3) & ~3u;
    if (off + body.size() > 256) throw Error("PCI capability list full");
    std::memcpy(&cfg_[off], body.data(), body.size());
    cfg_[off + 1] = 0;
    if (last_cap_)
        cfg_[last_cap_ + 1] = static_cast<uint8_t>(off);
    else
        cfg_[pci::kCapPtr] = static_cast<uint8_t>(off);
    cfg_[pci::kStatus] |= pci::kStatusCapList;
    last_cap_ = off;
    next_cap_ = off + static_cast<unsigned>(body.size());
    return off;
}

uint64_t PciDevice::bar_address_locked(unsigned i) const {
    const auto& b = bars_[i];
    if (!b.size) return 0;
    const uint32_t lo = read_le<uint32_t>(cfg_, pci::kBar0 + 4 * i);
    switch (b.type) {
        case BarType::kIo: return lo & ~3u;
        case BarType::kMem32: return lo & ~0xfu;
        case BarType::kMem64: {
            const uint32_t hi = read_le<uint32_t>(cfg_, pci::kBar0 + 4 * i + 4);
            return (uint64_t{hi} << 32) | (lo & ~0xfu);
        }
    }
    return 0;
}

uint64_t PciDevice::bar_address(unsigned i) const {
    if (i >= pci::kNumBars) return 0;
    std::lock_guard lk(mu_);
    return bar_address_locked(i);
}

std::vector<BarRange> PciDevice::decoded_bars_locked() const {
    std::vector<BarRange> out;
    const uint16_t cmd = read_le<uint16_t>(cfg_, pci::kCommand);
    for (unsigned i = 0; i < pci::kNumBars; ++i) {
        const auto& b = bars_[i];
        if (!b.size) continue;
        const bool io = b.type == BarType::kIo;
        if (!(cmd & (io ? pci::kCmdIo : pci::kCmdMemory))) continue;
        const uint64_t base = bar_address_locked(i);
        // Address 0 is "unassigned"; a range past the end of its space is
        // a sizing leftover, not a decode.
        if (base == 0 || base + b.size < base) continue;
        if (io && base + b.size > 0x10000) continue;
        out.push_back({i, io, base, b.size});
    }
    return out;
}

std::vector<BarRange> PciDevice::decoded_bars() const {
    std::lock_guard lk(mu_);
    return decoded_bars_locked();
}

void PciDevice::config_read(unsigned offset, std::span<uint8_t> data) {
    config_reading(offset, static_cast<unsigned>(data.size()));
    std::lock_guard lk(mu_);
    for (size_t i = 0; i < data.size(); ++i) {
        const size_t o = size_t{offset} + i;
        data[i] = o < kConfigSize ? cfg_[o] : 0xff;
    }
}

void PciDevice::config_write(unsigned offset, std::span<const uint8_t> data) {
    std::lock_guard wl(write_mu_);
    std::vector<BarRange> before, after;
    const unsigned len = static_cast<unsigned>(data.size());
    {
        std::lock_guard lk(mu_);
        before = decoded_bars_locked();
        for (size_t i = 0; i < data.size(); ++i) {
            const size_t o = size_t{offset} + i;
            if (o >= kConfigSize) break;
            cfg_[o] = static_cast<uint8_t>((cfg_[o] & ~wmask_[o]) | (data[i] & wmask_[o]));
        }
        after = decoded_bars_locked();
    }
    if (overlaps(offset, len, pci::kCommand, 2)) {
        std::lock_guard il(intx_mu_);
        update_intx();
    }
    for (unsigned i = 0; i < pci::kNumBars; ++i) {
        BarRange b{i, false, 0, 0}, a{i, false, 0, 0};
        for (const auto& r : before)
            if (r.bar == i) b = r;
        for (const auto& r : after)
            if (r.bar == i) a = r;
        if (b.base != a.base || b.size != a.size) bar_moved(i, b, a);
    }
    if (before.size() != after.size() ||
        !std::equal(before.begin(), before.end(), after.begin(),
                    [](const BarRange& x, const BarRange& y) {
                        return x.bar == y.bar && x.base == y.base && x.size == y.size;
                    })) {
        if (host_) host_->bars_changed(*this);
    }
    config_written(offset, len);
}

void PciDevice::update_intx() {
    bool line;
    {
        std::lock_guard lk(mu_);
        const uint16_t cmd = read_le<uint16_t>(cfg_, pci::kCommand);
        // Interrupt Status reflects the device's request even when disabled.
        if (intx_requested_)
            cfg_[pci::kStatus] |= pci::kStatusIntx;
        else
            cfg_[pci::kStatus] &= ~pci::kStatusIntx;
        line = intx_requested_ && cfg_[pci::kInterruptPin] != 0 && !(cmd & pci::kCmdIntxDisable);
        if (line == intx_line_) return;
        intx_line_ = line;
    }
    if (host_) host_->set_intx(*this, line);
}

void PciDevice::set_intx(bool level) {
    std::lock_guard il(intx_mu_);
    {
        std::lock_guard lk(mu_);
        intx_requested_ = level;
    }
    update_intx();
}

void PciDevice::bar_read(unsigned, uint64_t, std::span<uint8_t> data) {
    std::memset(data.data(), 0xff, data.size());
}
void PciDevice::bar_write(unsigned, uint64_t, std::span<const uint8_t>) {}

}  // namespace khyve
