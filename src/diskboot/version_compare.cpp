#include "diskboot/version_compare.h"

#include <cctype>

namespace khyve::diskboot {
namespace {

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }

}  // namespace

int version_compare(std::string_view a, std::string_view b) {
    size_t i = 0, j = 0;
    for (;;) {
        // Separators carry no weight, except the pre-release marker.
        while (i < a.size() && !is_alnum(a[i]) && a[i] != '~') ++i;
        while (j < b.size() && !is_alnum(b[j]) && b[j] != '~') ++j;
        bool ta = i < a.size() && a[i] == '~', tb = j < b.size() && b[j] == '~';
        if (ta || tb) {
            if (!tb) return -1;
            if (!ta) return 1;
            ++i, ++j;
            continue;
        }
        if (i == a.size() || j == b.size()) {
            if (i == a.size() && j == b.size()) return 0;
            return i == a.size() ? -1 : 1;
        }
        if (is_digit(a[i]) != is_digit(b[j])) return is_digit(a[i]) ? 1 : -1;
        if (is_digit(a[i])) {
            while (i < a.size() && a[i] == '0') ++i;
            while (j < b.size() && b[j] == '0') ++j;
            size_t si = i, sj = j;
            while (i < a.size() && is_digit(a[i])) ++i;
            while (j < b.size() && is_digit(b[j])) ++j;
            size_t la = i - si, lb = j - sj;
            if (la != lb) return la < lb ? -1 : 1;
            int c = a.substr(si, la).compare(b.substr(sj, lb));
            if (c) return c < 0 ? -1 : 1;
        } else {
            size_t si = i, sj = j;
            while (i < a.size() && is_alpha(a[i])) ++i;
            while (j < b.size() && is_alpha(b[j])) ++j;
            int c = a.substr(si, i - si).compare(b.substr(sj, j - sj));
            if (c) return c < 0 ? -1 : 1;
        }
    }
}

}  // namespace khyve::diskboot
