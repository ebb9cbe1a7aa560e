#include "boot/boot_params.h"

#include <cassert>

#include "common/le_bytes.h"
#include "platform/layout.h"

namespace khyve::boot {

std::vector<E820Entry> e820_map(uint64_t lowmem, uint64_t highmem) {
    std::vector<E820Entry> m;
    m.push_back({0, layout::kEbdaStart, kE820Ram});
    m.push_back({layout::kEbdaStart, layout::kHighRamStart - layout::kEbdaStart, kE820Reserved});
    if (lowmem > layout::kHighRamStart)
        m.push_back({layout::kHighRamStart, lowmem - layout::kHighRamStart, kE820Ram});
    // Linux only trusts MMCONFIG when the MCFG area is reserved in e820.
    m.push_back({layout::kEcamBase, layout::kEcamSize, kE820Reserved});
    if (highmem) m.push_back({layout::kHighMemBase, highmem, kE820Ram});
    return m;
}

void put_e820(ZeroPage& zp, const std::vector<E820Entry>& map) {
    assert(map.size() <= bp::kE820Max);
    std::span<uint8_t> s(zp);
    for (size_t i = 0; i < map.size(); ++i) {
        size_t off = bp::kE820Table + i * 20;
        put_le<uint64_t>(s, off, map[i].addr);
        put_le<uint64_t>(s, off + 8, map[i].size);
        put_le<uint32_t>(s, off + 16, map[i].type);
    }
    zp[bp::kE820Entries] = static_cast<uint8_t>(map.size());
}

}  // namespace khyve::boot
