// The PCI emulations bhyve's -s names, one entry per device, as bhyve's
// pci_devemu: its name, the option the first bare word of a conf string sets,
// every option with its help and check, and the factory. The command line
// (-s, -s help), MachineConfig::validate, the machine's device set-up and the
// man pages (scripts/update-man.sh) all read this one table; a device file
// defines its entry, src/vm/pci_emulations.cpp lists the entries.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "platform/pci_address.h"

namespace khyve {

class PciDevice;
class VirtioDevice;

using DeviceOptions = std::map<std::string, std::string>;

struct EmulationOption {
    std::string_view name = {};
    std::string_view type = {};     // "bool", "string", "integer": for the manuals
    std::string_view help = {};  // one or two sentences, plain text
    // Throws Error with the reason ("invalid mtu '20' (68-65535)"); nullptr
    // accepts any string. Bools use check_bool_option.
    void (*check)(std::string_view key, const std::string& value) = nullptr;
    // Non-empty: the option is required, and this names what is missing
    // ("a path (-s SLOT,virtio-blk,/path/to/image)").
    std::string_view required = {};
};

// What a factory gets: options already validated against its entry.
struct EmulationArgs {
    const DeviceOptions& options;
    PciAddress addr;
    const std::string& vm_name;

    const std::string* get(std::string_view key) const;
    // A validated bool option: absent is `fallback`, "" (a bare `-o` key) is true.
    bool flag(std::string_view key, bool fallback = false) const;
};

struct PciEmulation {
    std::string_view name = {};
    std::string_view summary = {};      // one line for `bhyve -s help`
    std::string_view description = {};  // the manual's paragraph, plain text
    std::string_view positional = {};   // key the first bare word of -s conf sets, or ""
    std::span<const EmulationOption> options = {};
    // Where the function may sit; throws Error with the full message.
    void (*check_placement)(const PciAddress& addr) = nullptr;
    // Exactly one factory is set: a plain PCI function, or a virtio device
    // that the machine puts behind the virtio-pci transport. Neither: the
    // name is accepted on the command line only (uart, which becomes an LPC
    // COM port) and check_placement refuses it as a PCI function.
    std::shared_ptr<PciDevice> (*make_pci)(const EmulationArgs&) = nullptr;
    std::shared_ptr<VirtioDevice> (*make_virtio)(const EmulationArgs&) = nullptr;
};

// The table (src/vm/pci_emulations.cpp), in `bhyve -s help` order.
std::span<const PciEmulation* const> pci_emulations();

// The entry, or throws Error: "unknown pci emulation 'x' (supported: ...)" or
// "pci emulation 'ahci-hd' is not supported by khyve (supported: ...)".
const PciEmulation& find_pci_emulation(std::string_view name);

// Checks a device's options against its entry: unknown options, required
// ones, each value. Throws Error naming the device ("virtio-net at 0:2:0:
// invalid mtu '20' (68-65535)").
void validate_pci_options(const PciEmulation& e, const PciAddress& addr, const DeviceOptions& options);

// Common value checks for entries.
void check_bool_option(std::string_view key, const std::string& value);

// `bhyve -s help`: one line per emulation, then its options.
std::string pci_emulation_help();

}  // namespace khyve
