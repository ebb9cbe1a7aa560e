#include "diskboot/syslinux_config.h"

#include <optional>
#include <string>
#include <vector>

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

std::string first_word(const std::string& s) {
    std::string word, ignored;
    split_keyword(s, word, ignored);
    return word;
}

// What the file's lines say, before DEFAULT is resolved.
struct Script {
    std::vector<Label> labels;
    std::string default_cmd, ontimeout;
    std::optional<std::string> global_append;  // an APPEND before the first LABEL
};

// ---- tokenise: one line at a time into the Script ----

// Keywords that boot something other than a Linux kernel.
bool is_non_linux_keyword(const std::string& key) {
    return key == "localboot" || key == "com32" || key == "config" || key == "boot" || key == "bss" ||
           key == "pxe" || key == "fdimage" || key == "comboot";
}

// TIMEOUT is in tenths of a second (0 means wait for the user); nullopt if it
// is not a number of at most nine digits.
std::optional<int> timeout_seconds(const std::string& tenths) {
    if (tenths.empty() || tenths.size() > 9) return std::nullopt;
    for (char c : tenths)
        if (c < '0' || c > '9') return std::nullopt;
    return int((std::stoul(tenths) + 9) / 10);
}

void apply_menu(const std::string& rest, Label& cur) {
    std::string sub, arg;
    split_keyword(rest, sub, arg);
    sub = lower(sub);
    if (sub == "label") cur.menu_label = strip_hotkey_marks(arg);
    else if (sub == "default") cur.menu_default = true;
}

// Applies one non-comment line; false when the rest of the file is ignored.
bool apply_line(const std::string& line, Script& s, ParsedConfig& cfg) {
    std::string key, rest;
    split_keyword(line, key, rest);
    key = lower(key);
    Label* cur = s.labels.empty() ? nullptr : &s.labels.back();
    if (key == "label") {
        if (s.labels.size() >= kMaxEntries) {
            cfg.notes.push_back("more than " + std::to_string(kMaxEntries) + " labels; the rest ignored");
            return false;
        }
        s.labels.push_back({});
        s.labels.back().name = rest;
    } else if (key == "menu") {
        if (cur) apply_menu(rest, *cur);
    } else if (key == "kernel" || key == "linux") {
        if (cur) cur->kernel = first_word(rest);
    } else if (key == "initrd") {
        if (cur) cur->initrd_list = rest;
    } else if (key == "append") {
        std::string value = rest == "-" ? "" : rest;
        if (cur) cur->append = value;
        else s.global_append = value;
    } else if (key == "default") {
        s.default_cmd = rest;
    } else if (key == "ontimeout") {
        s.ontimeout = rest;
    } else if (key == "timeout") {
        if (auto seconds = timeout_seconds(rest)) cfg.timeout_seconds = *seconds;
    } else if (is_non_linux_keyword(key)) {
        if (cur) cur->not_linux = true;
    } else if (key == "include" || key == "menu.include") {
        cfg.notes.push_back("INCLUDE " + rest + " not followed");
    }
    return true;
}

Script tokenise(std::string_view text, ParsedConfig& cfg) {
    size_t dropped = 0;
    auto lines = config_lines(text, &dropped);
    if (dropped) cfg.notes.push_back(std::to_string(dropped) + " over-long line(s) ignored");
    Script s;
    for (const auto& line : lines) {
        if (line.empty() || line[0] == '#') continue;
        if (!apply_line(line, s, cfg)) break;
    }
    return s;
}

// ---- resolve the default label ----

// The label a DEFAULT or ONTIMEOUT command names: exact name first, then
// ignoring case.
std::optional<size_t> find_label(const std::vector<Label>& labels, const std::string& cmd) {
    std::string name = first_word(cmd);
    for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i].name == name) return i;
    for (size_t i = 0; i < labels.size(); ++i)
        if (lower(labels[i].name) == lower(name)) return i;
    return std::nullopt;
}

// MENU DEFAULT, else ONTIMEOUT, else DEFAULT. A DEFAULT that names no label
// is a bare kernel command line: it becomes a label of its own, put first.
std::optional<size_t> resolve_default(Script& s) {
    for (size_t i = 0; i < s.labels.size(); ++i)
        if (s.labels[i].menu_default) return i;
    if (!s.ontimeout.empty())
        if (auto i = find_label(s.labels, s.ontimeout)) return i;
    if (s.default_cmd.empty()) return std::nullopt;
    if (auto i = find_label(s.labels, s.default_cmd)) return i;
    if (s.labels.size() >= kMaxEntries) return std::nullopt;
    Label implicit;
    std::string options;
    split_keyword(s.default_cmd, implicit.kernel, options);
    if (!options.empty()) implicit.append = options;
    implicit.name = implicit.kernel;
    s.labels.insert(s.labels.begin(), implicit);
    return 0;
}

// ---- emit: the labels that boot Linux, as entries ----

bool boots_linux(const Label& l) {
    return !l.not_linux && !l.kernel.empty() && !is_module_or_image(l.kernel);
}

ConfigEntry to_entry(const Label& l, const std::optional<std::string>& global_append) {
    ConfigEntry e;
    e.id = l.name;
    e.label = l.menu_label.empty() ? l.name : l.menu_label;
    e.kernel = l.kernel;
    e.cmdline = l.append ? *l.append : global_append.value_or("");
    std::string from_append = take_initrd_option(e.cmdline);
    e.initrds = split_commas(l.initrd_list.empty() ? from_append : l.initrd_list);
    return e;
}

void emit(const Script& s, std::optional<size_t> default_label, ParsedConfig& cfg) {
    for (size_t i = 0; i < s.labels.size(); ++i) {
        const Label& l = s.labels[i];
        if (!boots_linux(l)) {
            if (!l.kernel.empty() || l.not_linux)
                cfg.notes.push_back("label " + l.name + " does not boot a Linux kernel");
            continue;
        }
        if (default_label == i) cfg.default_index = cfg.entries.size();
        cfg.entries.push_back(to_entry(l, s.global_append));
    }
}

}  // namespace

ParsedConfig parse_syslinux(std::string_view text) {
    ParsedConfig cfg;
    Script s = tokenise(text, cfg);
    std::optional<size_t> default_label = resolve_default(s);
    emit(s, default_label, cfg);
    return cfg;
}

}  // namespace khyve::diskboot
