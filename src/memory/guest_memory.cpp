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
        // At the very end of a region only an empty range belongs to it; a
        // longer one may start the next region, which begins right there.
        if (off > r.size || (off == r.size && len > 0)) continue;
        if (len > r.size - off) return std::nullopt;  // no overflow: off <= size
        return std::span<uint8_t>(r.host + off, static_cast<size_t>(len));
    }
    return std::nullopt;
}

template <class Fn>
bool GuestMemory::walk(uint64_t gpa, uint64_t len, Fn&& fn) const {
    if (len == 0) return slice(gpa, 0).has_value();
    if (gpa + len < gpa) return false;  // wraps the address space
    uint64_t done = 0;
    while (done < len) {
        const uint64_t at = gpa + done;
        const MemoryRegion* hit = nullptr;
        for (const auto& r : regions_)
            if (at >= r.gpa && at - r.gpa < r.size) hit = &r;
        if (!hit) return false;  // a hole: nothing is copied
        const uint64_t off = at - hit->gpa;
        const uint64_t n = std::min(len - done, hit->size - off);
        fn(hit->host + off, done, n);
        done += n;
    }
    return true;
}

bool GuestMemory::read(uint64_t gpa, void* dst, uint64_t len) const {
    // Check the whole range first, so a failed read leaves dst alone.
    if (!walk(gpa, len, [](uint8_t*, uint64_t, uint64_t) {})) return false;
    auto* out = static_cast<uint8_t*>(dst);
    return walk(gpa, len, [out](uint8_t* host, uint64_t at, uint64_t n) { std::memcpy(out + at, host, n); });
}

bool GuestMemory::write(uint64_t gpa, const void* src, uint64_t len) const {
    // Check the whole range first, so a failed write changes no guest byte.
    if (!walk(gpa, len, [](uint8_t*, uint64_t, uint64_t) {})) return false;
    auto* in = static_cast<const uint8_t*>(src);
    return walk(gpa, len, [in](uint8_t* host, uint64_t at, uint64_t n) { std::memcpy(host, in + at, n); });
}

uint64_t GuestMemory::total_size() const {
    uint64_t t = 0;
    for (const auto& r : regions_) t += r.size;
    return t;
}

}  // namespace khyve
