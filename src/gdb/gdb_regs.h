// The x86-64 register file as gdb sees it: the values, the numbering used by
// 'p'/'P', the byte layout of 'g'/'G' and the target description (target.xml)
// that tells gdb both. One table drives all three so they cannot disagree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace khyve::gdb {

// All values little-endian, as the guest holds them.
struct GdbRegs {
    // rax rbx rcx rdx rsi rdi rbp rsp r8..r15 (gdb's order, not KVM's struct order)
    uint64_t gpr[16] = {};
    uint64_t rip = 0;
    uint32_t eflags = 0;
    uint32_t seg[6] = {};  // cs ss ds es fs gs selectors
    // x87/SSE: gdb's i386 core feature requires the x87 registers. Filled from
    // KVM_GET_FPU when fpu_valid; otherwise sent as unavailable ("xx").
    bool fpu_valid = false;
    uint8_t st[8][10] = {};
    uint32_t fctrl = 0, fstat = 0, ftag = 0, fiseg = 0, fioff = 0, foseg = 0, fooff = 0, fop = 0;
    uint8_t xmm[16][16] = {};
    uint32_t mxcsr = 0;
    uint64_t fs_base = 0, gs_base = 0, k_gs_base = 0;
    uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0, efer = 0;
};

enum GdbRegIndex : unsigned {
    kRegRax = 0, kRegRsp = 7, kRegRip = 16, kRegEflags = 17, kRegCs = 18,
    kRegSt0 = 24, kRegFctrl = 32, kRegXmm0 = 40, kRegMxcsr = 56,
    kRegFsBase = 57, kRegGsBase, kRegKGsBase, kRegCr0, kRegCr2, kRegCr3, kRegCr4, kRegCr8, kRegEfer,
    kRegCount
};

struct RegInfo {
    const char* name;
    unsigned bits;
    const char* type;
    size_t offset;  // into GdbRegs
    bool fpu;       // part of the x87/SSE state (fpu_valid)
};

// The register table, indexed by gdb register number.
std::span<const RegInfo> reg_table();

// Hex of one register, "xx.." when unavailable; nullopt for a bad number.
std::optional<std::string> reg_to_hex(const GdbRegs& r, unsigned regno);
// Sets one register from hex of its exact size. False for a bad number, bad
// hex or size, or an FPU register while the FPU state is unavailable.
bool reg_from_hex(GdbRegs& r, unsigned regno, std::string_view hex);

// The 'g' reply: every register in order.
std::string regs_to_hex(const GdbRegs& r);
// Applies a 'G' payload. False unless it covers every register exactly; 'x'
// bytes (unavailable) leave a register unchanged.
bool regs_from_hex(GdbRegs& r, std::string_view hex);

// The target description served through qXfer:features:read:target.xml.
const std::string& target_xml();

}  // namespace khyve::gdb
