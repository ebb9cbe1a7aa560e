#include "common/config_values.h"

#include <array>
#include <cctype>
#include <limits>
#include <string>

#include "common/size.h"

namespace khyve {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

}  // namespace

std::optional<bool> parse_bool_value(std::string_view text) {
    static constexpr std::array<std::string_view, 4> kTrue{"true", "yes", "on", "1"};
    static constexpr std::array<std::string_view, 4> kFalse{"false", "no", "off", "0"};
    for (auto t : kTrue)
        if (iequals(text, t)) return true;
    for (auto f : kFalse)
        if (iequals(text, f)) return false;
    return std::nullopt;
}

std::optional<uint64_t> parse_memsize(std::string_view text) {
    constexpr uint64_t kMiB = 1ull << 20;
    if (auto plain = parse_u64(text)) {
        // Old bhyve took -m in MiB; libvmmapi keeps that reading for any
        // value too small to be a byte count of real memory.
        if (*plain < kMiB) return *plain * kMiB;
        return *plain;
    }
    if (text.size() < 2) return std::nullopt;
    unsigned shift;
    switch (std::tolower(static_cast<unsigned char>(text.back()))) {
        case 'b': shift = 0; break;
        case 'k': shift = 10; break;
        case 'm': shift = 20; break;
        case 'g': shift = 30; break;
        case 't': shift = 40; break;
        case 'p': shift = 50; break;
        case 'e': shift = 60; break;
        default: return std::nullopt;
    }
    auto n = parse_u64(text.substr(0, text.size() - 1));
    if (!n) return std::nullopt;
    if (*n > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
    return *n << shift;
}

bool is_valid_uuid(std::string_view text) {
    if (text.size() != 36) return false;
    for (size_t i = 0; i < text.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (text[i] == '-')) return false;
        if (!dash && !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return true;
}

std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max) {
    if (text.empty() || text.size() > 20) return std::nullopt;
    uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        unsigned d = unsigned(c - '0');
        if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    if (v > max) return std::nullopt;
    return v;
}

}  // namespace khyve
