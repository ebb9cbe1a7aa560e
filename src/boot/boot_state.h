// The boot CPU state bhyveload leaves in the VM object for bhyve: the vCPU
// registers that jump straight into a kernel's 64-bit entry. It travels as a
// small text file ("key=0xhex" lines) so it can be inspected and so the two
// processes share no binary layout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace khyve {

struct BootState {
    uint64_t rip = 0, rsi = 0, rsp = 0;
    uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
    uint64_t gdt_base = 0;
    uint16_t gdt_limit = 0;
    uint16_t code_selector = 0, data_selector = 0;

    // One "key=0x<hex>" line per field, in declaration order.
    std::string serialize() const;

    // Accepts exactly the keys serialize() writes, each once, in any order;
    // blank lines and lines starting with '#' are ignored. Throws khyve::Error
    // naming the offending line (or the missing key).
    static BootState parse(std::string_view text);

    bool operator==(const BootState&) const = default;
};

}  // namespace khyve
