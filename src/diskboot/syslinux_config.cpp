#include "diskboot/syslinux_config.h"

#include <optional>

#include "diskboot/text_lines.h"

namespace khyve::diskboot {
namespace {

struct Label {
    std::string name, menu_label, kernel, initrd_list;
    std::optional<std::string> append;
    bool menu_default = false;
    bool not_linux = false;
};

// syslinux picks the loader by extension; only these are Linux kernels.
bool is_module_or_image(const std::string& kernel) {
    auto dot = kernel.rfind('.');
    auto slash = kernel.rfind('/');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return false;
    std::string ext = lower(kernel.substr(dot + 1));
    return ext == "c32" || ext == "com" || ext == "cbt" || ext == "0" || ext == "bin" || ext == "bs" ||
           ext == "bss" || ext == "img";
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= s.size() && out.size() < kMaxInitrds) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        std::string part = trim(std::string_view(s).substr(i, j - i));
        if (!part.empty()) out.push_back(part);
        i = j + 1;
    }
    return out;
}

// Removes "initrd=..." words from an APPEND line (the kernel ignores them on
// x86; syslinux consumes them) and returns the list they named, if any.
std::string take_initrd_option(std::string& cmdline) {
    std::string found, kept;
    size_t i = 0;
    while (i < cmdline.size()) {
        while (i < cmdline.size() && cmdline[i] == ' ') ++i;
        size_t j = i;
        while (j < cmdline.size() && cmdline[j] != ' ') ++j;
        std::string word = cmdline.substr(i, j - i);
        if (word.rfind("initrd=", 0) == 0) {
            if (found.empty()) found = word.substr(7);
        } else if (!word.empty()) {
            kept += (kept.empty() ? "" : " ") + word;
        }
        i = j;
    }
    cmdline = kept;
    return found;
}

std::string strip_hotkey_marks(const std::string& s) {
    std::string out;
    for (char c : s)
        if (c != '^') out += c;
    return out;
}

}  // namespace

ParsedConfig parse_syslinux(std::string_view text) {
    ParsedConfig cfg;
    size_t dropped = 0;
    auto lines = config_lines(text, &dropped);
    if (dropped) cfg.notes.push_back(std::to_string(dropped) + " over-long line(s) ignored");

    std::vector<Label> labels;
    std::string default_cmd, ontimeout, global_append;
    bool have_global_append = false;
    for (const auto& line : lines) {
        if (line.empty() || line[0] == '#') continue;
        std::string key, rest;
        split_keyword(line, key, rest);
        key = lower(key);
        Label* cur = labels.empty() ? nullptr : &labels.back();
        if (key == "label") {
            if (labels.size() >= kMaxEntries) {
                cfg.notes.push_back("more than " + std::to_string(kMaxEntries) + " labels; the rest ignored");
                break;
            }
            labels.push_back({});
            labels.back().name = rest;
        } else if (key == "menu") {
            std::string sub, arg;
            split_keyword(rest, sub, arg);
            sub = lower(sub);
            if (sub == "label" && cur) cur->menu_label = strip_hotkey_marks(arg);
            else if (sub == "default" && cur) cur->menu_default = true;
        } else if (key == "kernel" || key == "linux") {
            std::string path, ignored;
            split_keyword(rest, path, ignored);
            if (cur) cur->kernel = path;
        } else if (key == "initrd") {
            if (cur) cur->initrd_list = rest;
        } else if (key == "append") {
            std::string value = rest == "-" ? "" : rest;
            if (cur) {
                cur->append = value;
            } else {
                global_append = value;
                have_global_append = true;
            }
        } else if (key == "default") {
            default_cmd = rest;
        } else if (key == "ontimeout") {
            ontimeout = rest;
        } else if (key == "timeout") {
            // Tenths of a second; 0 means wait for the user.
            unsigned long tenths = 0;
            bool ok = !rest.empty() && rest.size() <= 9;
            for (char c : rest) ok = ok && c >= '0' && c <= '9';
            if (ok) {
                tenths = std::stoul(rest);
                cfg.timeout_seconds = int((tenths + 9) / 10);
            }
        } else if (key == "localboot" || key == "com32" || key == "config" || key == "boot" || key == "bss" ||
                   key == "pxe" || key == "fdimage" || key == "comboot") {
            if (cur) cur->not_linux = true;
        } else if (key == "include" || key == "menu.include") {
            cfg.notes.push_back("INCLUDE " + rest + " not followed");
        }
    }

    // DEFAULT may also be a bare kernel command line rather than a label.
    auto find_label = [&](const std::string& cmd) -> std::optional<size_t> {
        std::string name, ignored;
        split_keyword(cmd, name, ignored);
        for (size_t i = 0; i < labels.size(); ++i)
            if (labels[i].name == name) return i;
        for (size_t i = 0; i < labels.size(); ++i)
            if (lower(labels[i].name) == lower(name)) return i;
        return std::nullopt;
    };
    std::optional<size_t> default_label;
    for (size_t i = 0; i < labels.size() && !default_label; ++i)
        if (labels[i].menu_default) default_label = i;
    if (!default_label && !ontimeout.empty()) default_label = find_label(ontimeout);
    if (!default_label && !default_cmd.empty()) {
        default_label = find_label(default_cmd);
        if (!default_label && labels.size() < kMaxEntries) {
            Label implicit;
            std::string options;
            split_keyword(default_cmd, implicit.kernel, options);
            if (!options.empty()) implicit.append = options;
            implicit.name = implicit.kernel;
            labels.insert(labels.begin(), implicit);
            default_label = 0;
        }
    }

    for (size_t i = 0; i < labels.size(); ++i) {
        Label& l = labels[i];
        if (l.not_linux || l.kernel.empty() || is_module_or_image(l.kernel)) {
            if (!l.kernel.empty() || l.not_linux)
                cfg.notes.push_back("label " + l.name + " does not boot a Linux kernel");
            continue;
        }
        ConfigEntry e;
        e.id = l.name;
        e.label = l.menu_label.empty() ? l.name : l.menu_label;
        e.kernel = l.kernel;
        e.cmdline = l.append ? *l.append : (have_global_append ? global_append : "");
        std::string from_append = take_initrd_option(e.cmdline);
        e.initrds = split_commas(l.initrd_list.empty() ? from_append : l.initrd_list);
        if (default_label && *default_label == i) cfg.default_index = cfg.entries.size();
        cfg.entries.push_back(std::move(e));
    }
    return cfg;
}

}  // namespace khyve::diskboot
