// Line splitting for hostile configuration files: bounded line length and
// line count, CR/LF tolerant, NUL bytes end a line's useful text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace khyve::diskboot {

inline constexpr size_t kMaxLineLength = 4096;
inline constexpr size_t kMaxLines = 65536;

// Lines of `text`, each trimmed of surrounding blanks; an over-long line is
// dropped entirely (half a kernel command line is worse than none) and
// counted in *dropped.
std::vector<std::string> config_lines(std::string_view text, size_t* dropped = nullptr);

std::string trim(std::string_view s);
std::string lower(std::string_view s);
// Splits "key rest" at the first run of blanks; rest is trimmed.
void split_keyword(const std::string& line, std::string& key, std::string& rest);

}  // namespace khyve::diskboot
