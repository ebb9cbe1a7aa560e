// A boot entry as a configuration file states it, before its paths are
// checked against the filesystem.
#pragma once

#include <string>
#include <vector>

namespace khyve::diskboot {

inline constexpr size_t kMaxEntries = 256;
inline constexpr size_t kMaxInitrds = 8;

struct ConfigEntry {
    std::string id;       // syslinux LABEL name, BLS file name
    std::string label;    // what a menu would show
    std::string kernel;
    std::vector<std::string> initrds;  // loaded back to back, in order
    std::string cmdline;
};

struct ParsedConfig {
    std::vector<ConfigEntry> entries;
    size_t default_index = 0;
    int timeout_seconds = -1;  // -1: the file does not say
    std::vector<std::string> notes;  // what was ignored, for diagnostics
};

}  // namespace khyve::diskboot
