// bhyve's configuration model (bhyve_config(5)): a tree of dotted keys whose
// leaves hold strings. Command-line flags, `-o key=value` and `-k file` only
// write keys; MachineConfig::from_tree and the devices read them back. A key
// is either a leaf (has a value) or an inner node (has children), never both.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace khyve {

class ConfigTree {
public:
    // Throws Error if the key is malformed (empty component, blank, '=')
    // or would turn a leaf into a node or a node into a leaf.
    void set(std::string_view key, std::string_view value);
    void set_bool(std::string_view key, bool value) { set(key, value ? "true" : "false"); }
    void unset(std::string_view key);

    bool has(std::string_view key) const;        // a leaf with that name
    bool has_node(std::string_view node) const;  // a leaf at or under node

    // Values with %(var) references expanded ("%%" is a literal '%').
    // Throws Error on a reference to an undefined key or a reference loop.
    std::optional<std::string> get(std::string_view key) const;
    std::string get(std::string_view key, std::string_view fallback) const;
    std::optional<std::string> get_raw(std::string_view key) const;

    // Typed readers: absent key -> fallback; malformed value -> Error naming the key.
    std::optional<bool> get_bool(std::string_view key) const;
    bool get_bool(std::string_view key, bool fallback) const;
    std::optional<uint64_t> get_size(std::string_view key) const;  // bhyve memsize rules
    uint64_t get_size(std::string_view key, uint64_t fallback) const;
    uint64_t get_uint(std::string_view key, uint64_t fallback, uint64_t min, uint64_t max) const;

    // Names of the immediate children of node, sorted as strings; "" lists
    // the top level. children("pci") gives the bus numbers, and so on.
    std::vector<std::string> children(std::string_view node) const;
    // Every leaf under node, keyed relative to it ("path", "port.1.path"), expanded.
    std::map<std::string, std::string> leaves_under(std::string_view node) const;
    // Every leaf's full key, sorted.
    std::vector<std::string> keys() const;

    const std::map<std::string, std::string, std::less<>>& entries() const { return values_; }
    // key=value lines, sorted; a valid `-k` file (bhyve's config.dump).
    std::string dump() const;

    // "key=value" as given to -o. Throws Error quoting the text.
    void set_option(std::string_view key_equals_value);
    // bhyve's -k file: key=value lines, '#' comments, blank lines ignored.
    // Errors say "file:line: ...".
    void load_file(const std::string& path);

    static void check_key(std::string_view key);  // throws Error

private:
    std::string expand(std::string_view key, const std::string& raw, int depth) const;

    std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace khyve
