#include "common/size.h"

#include <cctype>
#include <limits>

namespace khyve {

std::optional<uint64_t> parse_u64(std::string_view text) {
    if (text.empty()) return std::nullopt;
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    }
    uint64_t v = 0;
    for (char c : text) {
        unsigned d;
        if (c >= '0' && c <= '9') d = unsigned(c - '0');
        else if (base == 16 && std::isxdigit(static_cast<unsigned char>(c)))
            d = unsigned(std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
        else return std::nullopt;
        if (v > (std::numeric_limits<uint64_t>::max() - d) / base) return std::nullopt;
        v = v * base + d;
    }
    return v;
}

std::optional<uint64_t> parse_size(std::string_view text, uint64_t default_unit) {
    if (text.empty()) return std::nullopt;
    uint64_t unit = default_unit;
    char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
    switch (last) {
        case 'B': unit = 1; break;
        case 'K': unit = 1ull << 10; break;
        case 'M': unit = 1ull << 20; break;
        case 'G': unit = 1ull << 30; break;
        case 'T': unit = 1ull << 40; break;
        default: break;
    }
    if (!std::isdigit(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    auto n = parse_u64(text);
    if (!n) return std::nullopt;
    if (*n != 0 && unit > std::numeric_limits<uint64_t>::max() / *n) return std::nullopt;
    return *n * unit;
}

}  // namespace khyve
