#include "diskboot/text_lines.h"

#include <cctype>

namespace khyve::diskboot {

namespace {
bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && blank(s[b])) ++b;
    while (e > b && blank(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

void split_keyword(const std::string& line, std::string& key, std::string& rest) {
    size_t i = 0;
    while (i < line.size() && !blank(line[i])) ++i;
    key = line.substr(0, i);
    rest = trim(std::string_view(line).substr(i));
}

std::vector<std::string> config_lines(std::string_view text, size_t* dropped) {
    std::vector<std::string> out;
    size_t drop = 0;
    size_t pos = 0;
    while (pos < text.size() && out.size() < kMaxLines) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.size() > kMaxLineLength) {
            ++drop;
            continue;
        }
        if (size_t z = line.find('\0'); z != std::string_view::npos) line = line.substr(0, z);
        out.push_back(trim(line));
    }
    if (dropped) *dropped = drop;
    return out;
}

}  // namespace khyve::diskboot
