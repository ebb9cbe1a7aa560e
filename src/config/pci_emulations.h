// The PCI emulation names bhyve knows, and which of them khyve provides.
// The parser and MachineConfig::validate share this table so `-s`, `-o` and
// `-k` reject the same names with the same words.
#pragma once

#include <string>
#include <string_view>

namespace khyve {

// Throws Error: "unknown pci emulation 'x'" or "pci emulation 'ahci-hd' is
// not supported by khyve (supported: ...)". uart is accepted (it becomes a
// COM port, see bhyve(8)).
void check_pci_emulation(std::string_view name);

// The key that takes the first, bare word of an `-s` conf string:
// "path" for virtio-blk, "backend" for virtio-net, "" when the device has none.
std::string_view pci_positional_key(std::string_view emulation);

// One line per supported emulation, for `bhyve -s help`.
std::string pci_emulation_list();

}  // namespace khyve
