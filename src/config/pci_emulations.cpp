#include "config/pci_emulations.h"

#include <array>

#include "common/error.h"

namespace khyve {
namespace {

struct Emulation {
    std::string_view name;
    std::string_view positional;
    std::string_view what;
};

constexpr std::array<Emulation, 8> kSupported{{
    {"hostbridge", "", "host bridge (slot 0:0)"},
    {"amd_hostbridge", "", "host bridge with AMD's vendor ID"},
    {"lpc", "", "LPC PCI-ISA bridge with COM1-COM4"},
    {"virtio-blk", "path", "virtio block device"},
    {"virtio-net", "backend", "virtio network device (tap backend)"},
    {"virtio-console", "", "virtio console ports on Unix sockets"},
    {"virtio-rnd", "", "virtio entropy device"},
    {"uart", "", "legacy form: becomes the next free LPC COM port"},
}};

// bhyve emulations an operator may type that khyve does not provide.
constexpr std::array<std::string_view, 14> kUnsupported{
    "passthru", "virtio-scsi", "virtio-9p", "virtio-input", "ahci", "ahci-cd", "ahci-hd",
    "e1000",    "fbuf",        "xhci",      "nvme",         "hda",  "virtio-gpu", "tpm"};

std::string supported_names() {
    std::string s;
    for (const auto& e : kSupported) {
        if (!s.empty()) s += ", ";
        s += e.name;
    }
    return s;
}

}  // namespace

void check_pci_emulation(std::string_view name) {
    for (const auto& e : kSupported)
        if (e.name == name) return;
    for (auto u : kUnsupported)
        if (u == name)
            throw Error("pci emulation '" + std::string(name) + "' is not supported by khyve (supported: " +
                        supported_names() + ")");
    throw Error("unknown pci emulation '" + std::string(name) + "' (supported: " + supported_names() + ")");
}

std::string_view pci_positional_key(std::string_view emulation) {
    for (const auto& e : kSupported)
        if (e.name == emulation) return e.positional;
    return {};
}

std::string pci_emulation_list() {
    std::string s;
    for (const auto& e : kSupported) {
        s += std::string(e.name);
        s.append(e.name.size() < 16 ? 16 - e.name.size() : 1, ' ');
        s += std::string(e.what) + "\n";
    }
    return s;
}

}  // namespace khyve
