#include "gdb/gdb_kvm.h"

#include <cstring>

namespace khyve::gdb {

namespace {

uint64_t len_bits(uint8_t len) {
    switch (len) {
        case 2: return 1;
        case 8: return 2;
        case 4: return 3;
        default: return 0;
    }
}

uint64_t rw_bits(HwBreakpoint::Kind k) {
    switch (k) {
        case HwBreakpoint::Kind::Write: return 1;
        case HwBreakpoint::Kind::Access: return 3;
        case HwBreakpoint::Kind::Exec: break;
    }
    return 0;
}

}  // namespace

uint64_t dr7_for(const std::array<std::optional<HwBreakpoint>, 4>& hw) {
    uint64_t dr7 = 0x400;  // bit 10 reads as one
    for (unsigned i = 0; i < 4; ++i) {
        if (!hw[i]) continue;
        dr7 |= 1ull << (2 * i + 1);  // G<i>: global, so guest task switches keep it
        uint64_t len = hw[i]->kind == HwBreakpoint::Kind::Exec ? 0 : len_bits(hw[i]->len);
        dr7 |= (rw_bits(hw[i]->kind) | len << 2) << (16 + 4 * i);
    }
    return dr7;
}

kvm_guest_debug make_kvm_guest_debug(const GuestDebug& d, KvmDebugCaps caps, uint32_t inject_exception) {
    kvm_guest_debug g;
    std::memset(&g, 0, sizeof g);
    if (!d.enabled) return g;
    g.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
    bool any_hw = false;
    for (unsigned i = 0; i < 4; ++i) {
        if (!d.hw[i]) continue;
        any_hw = true;
        g.arch.debugreg[i] = d.hw[i]->addr;
    }
    if (any_hw) {
        g.control |= KVM_GUESTDBG_USE_HW_BP;
        g.arch.debugreg[7] = dr7_for(d.hw);
    }
    if (d.single_step) {
        g.control |= KVM_GUESTDBG_SINGLESTEP;
        // Without it the step usually lands in whatever interrupt is pending.
        if (caps.guest_debug2 & KVM_GUESTDBG_BLOCKIRQ) g.control |= KVM_GUESTDBG_BLOCKIRQ;
    }
    if (inject_exception == 3) g.control |= KVM_GUESTDBG_INJECT_BP;
    else if (inject_exception == 1) g.control |= KVM_GUESTDBG_INJECT_DB;
    return g;
}

DebugExit decode_debug_exit(const kvm_run& run) {
    return {run.debug.arch.exception, run.debug.arch.pc, run.debug.arch.dr6};
}

}  // namespace khyve::gdb
