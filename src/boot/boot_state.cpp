#include "boot/boot_state.h"

#include <array>
#include <cstdio>
#include <limits>

#include "common/error.h"

namespace khyve {
namespace {

struct Field {
    const char* key;
    uint64_t BootState::*u64;
    uint16_t BootState::*u16;
};

// One table drives both directions, so a field cannot be written but not read.
const std::array<Field, 11> kFields = {{
    {"rip", &BootState::rip, nullptr},
    {"rsi", &BootState::rsi, nullptr},
    {"rsp", &BootState::rsp, nullptr},
    {"cr0", &BootState::cr0, nullptr},
    {"cr3", &BootState::cr3, nullptr},
    {"cr4", &BootState::cr4, nullptr},
    {"efer", &BootState::efer, nullptr},
    {"gdt_base", &BootState::gdt_base, nullptr},
    {"gdt_limit", nullptr, &BootState::gdt_limit},
    {"code_selector", nullptr, &BootState::code_selector},
    {"data_selector", nullptr, &BootState::data_selector},
}};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool parse_hex(std::string_view s, uint64_t& out) {
    if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
    s.remove_prefix(2);
    if (s.size() > 16) return false;
    uint64_t v = 0;
    for (char c : s) {
        unsigned d;
        if (c >= '0' && c <= '9') d = unsigned(c - '0');
        else if (c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
        else return false;
        v = (v << 4) | d;
    }
    out = v;
    return true;
}

Error bad_line(size_t lineno, std::string_view line, const std::string& why) {
    return Error("boot state line " + std::to_string(lineno) + " \"" + std::string(line) + "\": " + why);
}

}  // namespace

std::string BootState::serialize() const {
    std::string out;
    char buf[64];
    for (const auto& f : kFields) {
        uint64_t v = f.u64 ? this->*f.u64 : this->*f.u16;
        std::snprintf(buf, sizeof buf, "%s=0x%llx\n", f.key, static_cast<unsigned long long>(v));
        out += buf;
    }
    return out;
}

BootState BootState::parse(std::string_view text) {
    BootState st;
    std::array<bool, kFields.size()> seen{};
    size_t lineno = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++lineno;
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#') continue;
        size_t eq = line.find('=');
        if (eq == std::string_view::npos) throw bad_line(lineno, line, "expected key=value");
        std::string_view key = trim(line.substr(0, eq));
        std::string_view val = trim(line.substr(eq + 1));
        size_t i = 0;
        while (i < kFields.size() && key != kFields[i].key) ++i;
        if (i == kFields.size()) throw bad_line(lineno, line, "unknown key");
        if (seen[i]) throw bad_line(lineno, line, "duplicate key");
        uint64_t v;
        if (!parse_hex(val, v)) throw bad_line(lineno, line, "value is not a 0x-prefixed 64-bit hex number");
        if (kFields[i].u16) {
            if (v > std::numeric_limits<uint16_t>::max())
                throw bad_line(lineno, line, "value does not fit in 16 bits");
            st.*kFields[i].u16 = static_cast<uint16_t>(v);
        } else {
            st.*kFields[i].u64 = v;
        }
        seen[i] = true;
    }
    for (size_t i = 0; i < kFields.size(); ++i)
        if (!seen[i]) throw Error(std::string("boot state: missing key \"") + kFields[i].key + "\"");
    return st;
}

}  // namespace khyve
