// Where a PCI function sits: bus, slot (device) and function, as bhyve's -s
// names it.
#pragma once

#include <compare>
#include <string>

namespace khyve {

struct PciAddress {
    unsigned bus = 0, slot = 0, function = 0;
    auto operator<=>(const PciAddress&) const = default;
};

// "bus:slot:function", as in error messages ("0:2:0").
inline std::string pci_address_text(const PciAddress& a) {
    return std::to_string(a.bus) + ":" + std::to_string(a.slot) + ":" + std::to_string(a.function);
}

}  // namespace khyve
