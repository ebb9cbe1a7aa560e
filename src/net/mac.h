// Ethernet addresses for virtio-net.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace khyve {

using MacAddress = std::array<uint8_t, 6>;

// bhyve's prefix: 58:9c:fc is the FreeBSD Foundation's OUI, which bhyve uses
// for every generated address; khyve keeps it so a guest sees the same kind
// of address under both.
inline constexpr uint8_t kMacPrefix[3] = {0x58, 0x9c, 0xfc};

// The default address of the NIC at PCI slot:function of VM `vm_name`:
// the prefix, then 24 bits of a hash (FNV-1a 64) of "slot-function-name".
// Stable across runs, distinct per VM and slot (barring hash collisions).
MacAddress derive_mac(std::string_view vm_name, unsigned slot, unsigned function);

// "xx:xx:xx:xx:xx:xx" (':' or '-'). nullopt if malformed, multicast
// (group bit set) or all zeros: such addresses cannot be a NIC's.
std::optional<MacAddress> parse_mac(std::string_view text);

std::string format_mac(const MacAddress& mac);

}  // namespace khyve
