// Parsing of sizes and numbers as bhyve's tools accept them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace khyve {

// "256" (MiB when default_unit is 1 MiB), "256M", "1G", "512k", "4096B"...
// Suffixes K, M, G, T (either case) are binary multiples. nullopt on garbage
// or overflow.
std::optional<uint64_t> parse_size(std::string_view text, uint64_t default_unit);

// Plain unsigned integer in decimal, or hex with 0x. nullopt on garbage/overflow.
std::optional<uint64_t> parse_u64(std::string_view text);

}  // namespace khyve
