// Parsing of configuration values as bhyve interprets them. Shared by the
// command-line parser (which names the flag in its errors) and ConfigTree
// (which names the key).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace khyve {

// true/false, yes/no, on/off, 1/0, in any case. nullopt otherwise.
std::optional<bool> parse_bool_value(std::string_view text);

// bhyve's memory-size rules (libvmmapi's vm_parse_memsize): a plain number
// below 1 MiB counts MiB ("256" is 256 MiB), a plain number from 1 MiB up
// counts bytes; otherwise one suffix b/k/m/g/t/p/e (either case) scales by
// powers of 1024. Decimal or 0x hex. nullopt on garbage or overflow.
std::optional<uint64_t> parse_memsize(std::string_view text);

// 8-4-4-4-12 hexadecimal digits, as bhyve's -U takes.
bool is_valid_uuid(std::string_view text);

// Decimal only, no sign, no suffix; nullopt on garbage or above max.
std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max);

}  // namespace khyve
