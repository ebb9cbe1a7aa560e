#include "platform/pci_emulation.h"

#include <array>

#include "common/config_values.h"
#include "common/error.h"

namespace khyve {

namespace {

// bhyve emulations an operator may type that khyve does not provide.
constexpr std::array<std::string_view, 14> kUnsupported{
    "passthru", "virtio-scsi", "virtio-9p", "virtio-input", "ahci", "ahci-cd", "ahci-hd",
    "e1000",    "fbuf",        "xhci",      "nvme",         "hda",  "virtio-gpu", "tpm"};

std::string supported_names() {
    std::string s;
    for (const auto* e : pci_emulations()) {
        if (!s.empty()) s += ", ";
        s += e->name;
    }
    return s;
}

std::string option_names(const PciEmulation& e) {
    std::string s;
    for (const auto& o : e.options) {
        if (!s.empty()) s += ", ";
        s += o.name;
    }
    return s.empty() ? "none" : s;
}

}  // namespace

const std::string* EmulationArgs::get(std::string_view key) const {
    auto it = options.find(std::string(key));
    return it == options.end() ? nullptr : &it->second;
}

bool EmulationArgs::flag(std::string_view key, bool fallback) const {
    const std::string* v = get(key);
    if (!v) return fallback;
    if (v->empty()) return true;
    return parse_bool_value(*v).value_or(fallback);
}

const PciEmulation& find_pci_emulation(std::string_view name) {
    for (const auto* e : pci_emulations())
        if (e->name == name) return *e;
    for (auto u : kUnsupported)
        if (u == name)
            throw Error("pci emulation '" + std::string(name) + "' is not supported by khyve (supported: " +
                        supported_names() + ")");
    throw Error("unknown pci emulation '" + std::string(name) + "' (supported: " + supported_names() + ")");
}

void check_bool_option(std::string_view key, const std::string& value) {
    if (!value.empty() && !parse_bool_value(value))
        throw Error("invalid boolean for " + std::string(key) + ": '" + value + "'");
}

void validate_pci_options(const PciEmulation& e, const PciAddress& addr, const DeviceOptions& options) {
    const std::string at = std::string(e.name) + " at " + pci_address_text(addr);
    if (e.check_placement) e.check_placement(addr);
    for (const auto& [key, value] : options) {
        const EmulationOption* opt = nullptr;
        for (const auto& o : e.options)
            if (o.name == key) opt = &o;
        if (!opt) throw Error(at + ": unknown option '" + key + "' (options: " + option_names(e) + ")");
        if (opt->check) {
            try {
                opt->check(key, value);
            } catch (const Error& err) {
                throw Error(at + ": " + err.what());
            }
        }
    }
    for (const auto& o : e.options) {
        if (o.required.empty()) continue;
        auto it = options.find(std::string(o.name));
        if (it == options.end() || it->second.empty()) throw Error(at + " needs " + std::string(o.required));
    }
}

std::string pci_emulation_help() {
    std::string s;
    for (const auto* e : pci_emulations()) {
        s += std::string(e->name);
        s.append(e->name.size() < 16 ? 16 - e->name.size() : 1, ' ');
        s += std::string(e->summary) + "\n";
        for (const auto& o : e->options) {
            std::string head = "  " + std::string(o.name);
            if (o.name == e->positional) head += " (first word)";
            s += head;
            s.append(head.size() < 24 ? 24 - head.size() : 1, ' ');
            s += std::string(o.type) + (o.required.empty() ? "" : ", required") + "\n";
        }
    }
    return s;
}

}  // namespace khyve
