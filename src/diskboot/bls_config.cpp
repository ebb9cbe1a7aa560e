#include "diskboot/bls_config.h"

#include <fnmatch.h>

#include <algorithm>

#include "diskboot/text_lines.h"
#include "diskboot/version_compare.h"

namespace khyve::diskboot {

bool parse_bls_entry(std::string_view text, const std::string& file_name, BlsEntry& out, std::string* why) {
    out = {};
    out.entry.id = file_name;
    std::string title, arch, efi;
    for (const auto& line : config_lines(text)) {
        if (line.empty() || line[0] == '#') continue;
        std::string key, value;
        split_keyword(line, key, value);
        if (key == "title") title = value;
        else if (key == "version") out.version = value;
        else if (key == "machine-id") out.machine_id = value;
        else if (key == "sort-key") out.sort_key = value;
        else if (key == "linux") out.entry.kernel = value;
        else if (key == "initrd") {
            if (out.entry.initrds.size() < kMaxInitrds && !value.empty()) out.entry.initrds.push_back(value);
        } else if (key == "options") {
            // Several options lines concatenate, in order.
            if (!value.empty()) out.entry.cmdline += (out.entry.cmdline.empty() ? "" : " ") + value;
        } else if (key == "architecture") arch = lower(value);
        else if (key == "efi") efi = value;
    }
    out.entry.label = title.empty() ? file_name : title;
    if (!title.empty() && !out.version.empty()) out.entry.label = title + " (" + out.version + ")";
    auto reject = [&](const std::string& reason) {
        if (why) *why = file_name + ": " + reason;
        return false;
    };
    if (!arch.empty() && arch != "x64") return reject("architecture " + arch);
    if (out.entry.kernel.empty()) return reject(efi.empty() ? "no linux key" : "EFI program, not a Linux kernel");
    return true;
}

LoaderConf parse_loader_conf(std::string_view text) {
    LoaderConf c;
    for (const auto& line : config_lines(text)) {
        if (line.empty() || line[0] == '#') continue;
        std::string key, value;
        split_keyword(line, key, value);
        if (key == "default") {
            // @saved and @default name EFI variables we cannot see.
            if (!value.empty() && value[0] != '@') c.default_pattern = value;
        } else if (key == "timeout") {
            bool ok = !value.empty() && value.size() <= 6;
            for (char ch : value) ok = ok && ch >= '0' && ch <= '9';
            if (ok) c.timeout_seconds = std::stoi(value);
        }
    }
    return c;
}

namespace {

std::string strip_conf(const std::string& id) {
    return id.size() > 5 && id.compare(id.size() - 5, 5, ".conf") == 0 ? id.substr(0, id.size() - 5) : id;
}

// True when a goes before b in the menu.
bool menu_before(const BlsEntry& a, const BlsEntry& b) {
    bool ka = !a.sort_key.empty(), kb = !b.sort_key.empty();
    if (ka != kb) return ka;
    if (ka) {
        if (int c = a.sort_key.compare(b.sort_key)) return c < 0;
        if (int c = a.machine_id.compare(b.machine_id)) return c < 0;
        if (int c = version_compare(a.version, b.version)) return c > 0;
    }
    return version_compare(strip_conf(a.entry.id), strip_conf(b.entry.id)) > 0;
}

}  // namespace

ParsedConfig order_bls_entries(std::vector<BlsEntry> entries, const LoaderConf& loader) {
    std::stable_sort(entries.begin(), entries.end(), menu_before);
    ParsedConfig cfg;
    cfg.timeout_seconds = loader.timeout_seconds;
    for (auto& e : entries) cfg.entries.push_back(std::move(e.entry));
    if (!loader.default_pattern.empty()) {
        const char* pat = loader.default_pattern.c_str();
        for (size_t i = 0; i < cfg.entries.size(); ++i) {
            const std::string& id = cfg.entries[i].id;
            if (fnmatch(pat, id.c_str(), 0) == 0 || fnmatch(pat, strip_conf(id).c_str(), 0) == 0) {
                cfg.default_index = i;
                break;
            }
        }
    }
    return cfg;
}

}  // namespace khyve::diskboot
