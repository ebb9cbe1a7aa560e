// Version ordering for kernel file names and Boot Loader Specification
// entries, in the spirit of systemd's strverscmp_improved(): digit runs
// compare numerically, letter runs alphabetically, punctuation separates,
// '~' sorts before anything (pre-releases), and a longer version with the
// same prefix is newer.
#pragma once

#include <string_view>

namespace khyve::diskboot {

// <0, 0, >0 as a is older than, equal to, newer than b.
int version_compare(std::string_view a, std::string_view b);

}  // namespace khyve::diskboot
