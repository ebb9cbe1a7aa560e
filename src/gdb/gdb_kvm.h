// The KVM side of guest debugging, as pure functions: the kvm_guest_debug
// structure for a GuestDebug (control bits and DR7 encoding) and the decoding
// of a KVM_EXIT_DEBUG, so that both are unit-tested without /dev/kvm.
#pragma once

#include <linux/kvm.h>

#include "gdb/gdb_target.h"

namespace khyve::gdb {

// Flags beyond the basic ones that this host's KVM accepts: the result of
// check_extension(KVM_CAP_SET_GUEST_DEBUG2) (0 on old kernels: no BLOCKIRQ).
struct KvmDebugCaps {
    uint32_t guest_debug2 = 0;
};

// KVM_SET_GUEST_DEBUG argument for `d`. `inject` adds KVM_GUESTDBG_INJECT_BP
// or KVM_GUESTDBG_INJECT_DB (for DebugVerdict::Reinject of exception 3 or 1).
kvm_guest_debug make_kvm_guest_debug(const GuestDebug& d, KvmDebugCaps caps, uint32_t inject_exception = 0);

// DR7 value enabling the given slots (global-enable bits, RW and LEN fields).
uint64_t dr7_for(const std::array<std::optional<HwBreakpoint>, 4>& hw);

DebugExit decode_debug_exit(const kvm_run& run);

}  // namespace khyve::gdb
