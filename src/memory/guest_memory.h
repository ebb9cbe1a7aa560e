// Guest physical memory. This is the only way any part of khyve reaches guest
// RAM: slice() hands out a host span only when [gpa, gpa+len) lies wholly
// inside one RAM region, with overflow-safe arithmetic. Nothing else turns a
// guest address into a host pointer.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

namespace khyve {

struct MemoryRegion {
    uint64_t gpa;     // guest physical base
    uint64_t size;    // bytes
    uint8_t* host;    // host mapping of the region (not owned)
};

class GuestMemory {
public:
    // Adds a RAM region. Throws khyve::Error if it overlaps another region,
    // wraps around the address space, or is empty.
    void add_region(uint64_t gpa, uint64_t size, uint8_t* host);

    const std::vector<MemoryRegion>& regions() const { return regions_; }

    // Host view of [gpa, gpa+len), or nullopt unless it lies wholly inside one
    // region (one span cannot cover two mappings, even adjacent ones: callers
    // that need such ranges use read/write). len == 0 is allowed when gpa is
    // inside (or at the end of) a region.
    std::optional<std::span<uint8_t>> slice(uint64_t gpa, uint64_t len) const;

    // Copies [gpa, gpa+len) out of or into guest RAM, across adjacent regions;
    // false (and nothing copied) when any byte of it is not RAM.
    bool read(uint64_t gpa, void* dst, uint64_t len) const;
    bool write(uint64_t gpa, const void* src, uint64_t len) const;

    template <class T>
    std::optional<T> read_obj(uint64_t gpa) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T v;
        if (!read(gpa, &v, sizeof v)) return std::nullopt;
        return v;
    }
    template <class T>
    bool write_obj(uint64_t gpa, const T& v) const {
        static_assert(std::is_trivially_copyable_v<T>);
        return write(gpa, &v, sizeof v);
    }

    // Total RAM in bytes.
    uint64_t total_size() const;

private:
    // fn(host, offset_in_range, n) over each region piece of the range;
    // false at the first byte that is not RAM.
    template <class Fn>
    bool walk(uint64_t gpa, uint64_t len, Fn&& fn) const;
    std::vector<MemoryRegion> regions_;  // sorted by gpa
};

}  // namespace khyve
