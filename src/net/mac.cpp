#include "net/mac.h"

#include <cstdio>

namespace khyve {

MacAddress derive_mac(std::string_view vm_name, unsigned slot, unsigned function) {
    std::string key = std::to_string(slot) + "-" + std::to_string(function) + "-";
    key.append(vm_name);
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
    return {kMacPrefix[0], kMacPrefix[1], kMacPrefix[2], uint8_t(h >> 40), uint8_t(h >> 32), uint8_t(h >> 24)};
}

std::optional<MacAddress> parse_mac(std::string_view t) {
    if (t.size() != 17) return std::nullopt;
    MacAddress m{};
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < 6; i++) {
        int hi = hex(t[3 * i]), lo = hex(t[3 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && t[3 * i + 2] != ':' && t[3 * i + 2] != '-') return std::nullopt;
        m[i] = uint8_t(hi << 4 | lo);
    }
    if (m[0] & 1) return std::nullopt;
    if (m == MacAddress{}) return std::nullopt;
    return m;
}

std::string format_mac(const MacAddress& m) {
    char b[18];
    std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return b;
}

}  // namespace khyve
