#include "memory/guest_memory.h"

#include <algorithm>

#include "common/error.h"

namespace khyve {

void GuestMemory::add_region(uint64_t gpa, uint64_t size, uint8_t* host) {
    if (size == 0) throw Error("guest memory region is empty");
    if (gpa + size < gpa) throw Error("guest memory region wraps the address space");
    for (const auto& r : regions_) {
        if (gpa < r.gpa + r.size && r.gpa < gpa + size)
            throw Error("guest memory regions overlap");
    }
    regions_.push_back({gpa, size, host});
    std::sort(regions_.begin(), regions_.end(),
              [](const MemoryRegion& a, const MemoryRegion& b) { return a.gpa < b.gpa; });
}

std::optional<std::span<uint8_t>> GuestMemory::slice(uint64_t gpa, uint64_t len) const {
    for (const auto& r : regions_) {
        if (gpa < r.gpa) continue;
        uint64_t off = gpa - r.gpa;
        if (off > r.size) continue;
        if (len > r.size - off) return std::nullopt;  // no overflow: off <= size
        return std::span<uint8_t>(r.host + off, static_cast<size_t>(len));
    }
    return std::nullopt;
}

bool GuestMemory::read(uint64_t gpa, void* dst, uint64_t len) const {
    auto s = slice(gpa, len);
    if (!s) return false;
    if (len) std::memcpy(dst, s->data(), len);
    return true;
}

bool GuestMemory::write(uint64_t gpa, const void* src, uint64_t len) const {
    auto s = slice(gpa, len);
    if (!s) return false;
    if (len) std::memcpy(s->data(), src, len);
    return true;
}

uint64_t GuestMemory::total_size() const {
    uint64_t t = 0;
    for (const auto& r : regions_) t += r.size;
    return t;
}

}  // namespace khyve
