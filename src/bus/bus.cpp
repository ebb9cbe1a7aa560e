#include "bus/bus.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"

namespace khyve {

void Bus::insert(uint64_t base, uint64_t len, std::shared_ptr<BusDevice> dev, std::string name) {
    if (len == 0 || base + len < base) throw Error("bus range for " + name + " is empty or wraps");
    for (const auto& e : entries_) {
        if (base < e.base + e.len && e.base < base + len)
            throw Error("bus range for " + name + " overlaps " + e.name);
    }
    entries_.push_back({base, len, std::move(dev), std::move(name)});
    std::sort(entries_.begin(), entries_.end(),
              [](const Entry& a, const Entry& b) { return a.base < b.base; });
}

const Bus::Entry* Bus::find(uint64_t addr, uint64_t size) const {
    // Last entry whose base <= addr.
    auto it = std::upper_bound(entries_.begin(), entries_.end(), addr,
                               [](uint64_t a, const Entry& e) { return a < e.base; });
    if (it == entries_.begin()) return nullptr;
    --it;
    uint64_t off = addr - it->base;
    if (off >= it->len || size > it->len - off) return nullptr;
    return &*it;
}

bool Bus::read(uint64_t addr, std::span<uint8_t> data) const {
    const Entry* e = find(addr, data.size());
    if (!e) {
        std::memset(data.data(), 0xff, data.size());
        return false;
    }
    e->dev->read(addr - e->base, data);
    return true;
}

bool Bus::write(uint64_t addr, std::span<const uint8_t> data) const {
    const Entry* e = find(addr, data.size());
    if (!e) return false;
    e->dev->write(addr - e->base, data);
    return true;
}

}  // namespace khyve
