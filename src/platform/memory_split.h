// How bhyve's -m/-M become low memory (below 3 GiB) and high memory (at 4 GiB).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "platform/layout.h"

namespace khyve {

struct MemorySplit {
    uint64_t lowmem;
    uint64_t highmem;
    bool operator==(const MemorySplit&) const = default;
};

// With -M the two sizes are given; without it, whatever exceeds the 3 GiB
// low-memory limit moves above 4 GiB.
inline MemorySplit split_memory(uint64_t memory, std::optional<uint64_t> highmem) {
    if (highmem) return {memory, *highmem};
    if (memory <= layout::kLowMemLimit) return {memory, 0};
    return {layout::kLowMemLimit, memory - layout::kLowMemLimit};
}

}  // namespace khyve
