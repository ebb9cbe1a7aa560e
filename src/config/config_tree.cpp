#include "config/config_tree.h"

#include <cctype>
#include <fstream>

#include "common/error.h"
#include "common/config_values.h"

namespace khyve {
namespace {

// Deep enough for any sane chain of references, shallow enough to stop loops.
constexpr int kMaxExpansionDepth = 16;

bool starts_with_node(std::string_view key, std::string_view node) {
    return key.size() > node.size() && key.substr(0, node.size()) == node && key[node.size()] == '.';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

}  // namespace

void ConfigTree::check_key(std::string_view key) {
    if (key.empty()) throw Error("empty configuration key");
    size_t start = 0;
    while (true) {
        size_t dot = key.find('.', start);
        std::string_view comp = key.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (comp.empty())
            throw Error("invalid configuration key '" + std::string(key) + "': empty component");
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    for (char c : key) {
        auto u = static_cast<unsigned char>(c);
        if (std::isspace(u) || std::iscntrl(u) || c == '=' || c == '%' || c == '#')
            throw Error("invalid configuration key '" + std::string(key) + "': bad character");
    }
}

void ConfigTree::set(std::string_view key, std::string_view value) {
    check_key(key);
    // An ancestor that is a leaf would have to become a node.
    for (size_t dot = key.find('.'); dot != std::string_view::npos; dot = key.find('.', dot + 1)) {
        std::string_view parent = key.substr(0, dot);
        if (values_.count(parent))
            throw Error("configuration key '" + std::string(key) + "' conflicts with the value of '" +
                        std::string(parent) + "'");
    }
    // A node with children cannot take a value.
    std::string node_prefix = std::string(key) + ".";
    auto it = values_.lower_bound(node_prefix);
    if (it != values_.end() && starts_with_node(it->first, key))
        throw Error("configuration key '" + std::string(key) + "' is a node (it has '" + it->first +
                    "')");
    values_.insert_or_assign(std::string(key), std::string(value));
}

void ConfigTree::unset(std::string_view key) {
    auto it = values_.find(key);
    if (it != values_.end()) values_.erase(it);
}

bool ConfigTree::has(std::string_view key) const { return values_.find(key) != values_.end(); }

bool ConfigTree::has_node(std::string_view node) const {
    if (has(node)) return true;
    auto it = values_.lower_bound(std::string(node) + ".");
    return it != values_.end() && starts_with_node(it->first, node);
}

std::optional<std::string> ConfigTree::get_raw(std::string_view key) const {
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::string> ConfigTree::get(std::string_view key) const {
    auto raw = get_raw(key);
    if (!raw) return std::nullopt;
    return expand(key, *raw, 0);
}

std::string ConfigTree::get(std::string_view key, std::string_view fallback) const {
    auto v = get(key);
    return v ? *v : std::string(fallback);
}

std::string ConfigTree::expand(std::string_view key, const std::string& raw, int depth) const {
    if (raw.find('%') == std::string::npos) return raw;
    if (depth >= kMaxExpansionDepth)
        throw Error("configuration key '" + std::string(key) + "': %(...) references loop");
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '%' || i + 1 == raw.size()) {
            out += raw[i];
        } else if (raw[i + 1] == '%') {
            out += '%';
            ++i;
        } else if (raw[i + 1] == '(') {
            size_t close = raw.find(')', i + 2);
            if (close == std::string::npos)
                throw Error("configuration key '" + std::string(key) + "': unterminated %(");
            std::string var = raw.substr(i + 2, close - i - 2);
            auto ref = get_raw(var);
            if (!ref)
                throw Error("configuration key '" + std::string(key) + "' refers to undefined '" + var +
                            "'");
            out += expand(key, *ref, depth + 1);
            i = close;
        } else {
            out += raw[i];
        }
    }
    return out;
}

std::optional<bool> ConfigTree::get_bool(std::string_view key) const {
    auto v = get(key);
    if (!v) return std::nullopt;
    auto b = parse_bool_value(*v);
    if (!b)
        throw Error("invalid boolean for " + std::string(key) + ": '" + *v +
                    "' (use true/false, yes/no, on/off, 1/0)");
    return b;
}

bool ConfigTree::get_bool(std::string_view key, bool fallback) const {
    auto b = get_bool(key);
    return b ? *b : fallback;
}

std::optional<uint64_t> ConfigTree::get_size(std::string_view key) const {
    auto v = get(key);
    if (!v) return std::nullopt;
    auto n = parse_memsize(*v);
    if (!n) throw Error("invalid size for " + std::string(key) + ": '" + *v + "'");
    return n;
}

uint64_t ConfigTree::get_size(std::string_view key, uint64_t fallback) const {
    auto n = get_size(key);
    return n ? *n : fallback;
}

uint64_t ConfigTree::get_uint(std::string_view key, uint64_t fallback, uint64_t min, uint64_t max) const {
    auto v = get(key);
    if (!v) return fallback;
    auto n = parse_decimal(*v, max);
    if (!n || *n < min)
        throw Error("invalid value for " + std::string(key) + ": '" + *v + "' (expected " +
                    std::to_string(min) + ".." + std::to_string(max) + ")");
    return *n;
}

std::vector<std::string> ConfigTree::children(std::string_view node) const {
    std::vector<std::string> out;
    std::string prefix = node.empty() ? std::string() : std::string(node) + ".";
    for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
        std::string_view k = it->first;
        if (k.substr(0, prefix.size()) != prefix) break;
        std::string_view rest = k.substr(prefix.size());
        std::string name(rest.substr(0, rest.find('.')));
        if (out.empty() || out.back() != name) out.push_back(std::move(name));
    }
    return out;
}

std::map<std::string, std::string> ConfigTree::leaves_under(std::string_view node) const {
    std::map<std::string, std::string> out;
    std::string prefix = std::string(node) + ".";
    for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
        if (!starts_with_node(it->first, node)) break;
        out.emplace(it->first.substr(prefix.size()), expand(it->first, it->second, 0));
    }
    return out;
}

std::vector<std::string> ConfigTree::keys() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_) out.push_back(k);
    return out;
}

std::string ConfigTree::dump() const {
    std::string out;
    for (const auto& [k, v] : values_) out += k + "=" + v + "\n";
    return out;
}

void ConfigTree::set_option(std::string_view text) {
    size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size())
        throw Error("invalid configuration option '" + std::string(text) + "' (expected key=value)");
    set(text.substr(0, eq), text.substr(eq + 1));
}

void ConfigTree::load_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw sys_error("cannot read configuration file " + path);
    std::string line;
    for (unsigned lineno = 1; std::getline(in, line); ++lineno) {
        std::string_view l = trim(line);
        if (l.empty() || l.front() == '#') continue;
        try {
            set_option(l);
        } catch (const Error& e) {
            throw Error(path + ":" + std::to_string(lineno) + ": " + e.what());
        }
    }
    if (in.bad()) throw sys_error("error reading configuration file " + path);
}

}  // namespace khyve
