// What the gdb stub needs from a machine. The machine (src/vm/machine.cpp)
// implements it; unit tests implement it with fakes.
//
// Threading:
//  - Everything here except request_pause() is called from the gdb server
//    thread only, and — except pause_all(), resume() and request_pause() —
//    only while every vCPU is paused (out of KVM_RUN), so implementations may
//    touch vCPU state without racing the guest.
//  - request_pause() is also called from a vCPU thread (the one reporting a
//    debug exit, through GdbStub::on_debug_exit) and must not block.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "gdb/gdb_regs.h"

namespace khyve::gdb {

// A debug-register slot. x86 watchpoints cover 1, 2, 4 or 8 aligned bytes.
struct HwBreakpoint {
    enum class Kind : uint8_t { Exec, Write, Access };
    uint64_t addr = 0;
    Kind kind = Kind::Exec;
    uint8_t len = 1;
    bool operator==(const HwBreakpoint&) const = default;
};

// The debug state one vCPU should run with (KVM_SET_GUEST_DEBUG).
struct GuestDebug {
    bool enabled = false;      // false: debugging off (control = 0)
    bool single_step = false;  // trap after one instruction, interrupts blocked
    std::array<std::optional<HwBreakpoint>, 4> hw{};
    bool operator==(const GuestDebug&) const = default;
};

class GdbTarget {
public:
    virtual ~GdbTarget() = default;

    virtual unsigned vcpu_count() = 0;

    // After it returns, no vCPU enters KVM_RUN until resume(); vCPUs inside
    // KVM_RUN are kicked. Never blocks; callable from any thread.
    virtual void request_pause() = 0;
    // request_pause(), then wait until every vCPU is out of KVM_RUN.
    virtual void pause_all() = 0;
    // Lets vCPUs run again: all of them, or only `only` (a single step: the
    // others stay paused). Returns at once; stops come back through
    // GdbStub::on_debug_exit.
    virtual void resume(std::optional<unsigned> only) = 0;

    virtual bool read_registers(unsigned vcpu, GdbRegs& out) = 0;
    virtual bool write_registers(unsigned vcpu, const GdbRegs& in) = 0;
    // Guest virtual -> guest physical through vCPU `vcpu`'s page tables
    // (KVM_TRANSLATE); nullopt when not mapped.
    virtual std::optional<uint64_t> translate(unsigned vcpu, uint64_t gva) = 0;
    virtual bool read_phys(uint64_t gpa, std::span<uint8_t> out) = 0;
    virtual bool write_phys(uint64_t gpa, std::span<const uint8_t> in) = 0;
    // KVM_SET_GUEST_DEBUG on one vCPU (see make_kvm_guest_debug()).
    virtual bool set_guest_debug(unsigned vcpu, const GuestDebug& d) = 0;
};

// A KVM_EXIT_DEBUG as the vCPU thread saw it (run->debug.arch).
struct DebugExit {
    uint32_t exception = 0;  // 1 (#DB: step or debug register) or 3 (#BP: int3)
    uint64_t pc = 0;         // linear address; for int3 the address of the int3 itself
    uint64_t dr6 = 0;
};

// What the vCPU thread does after reporting a debug exit.
enum class DebugVerdict {
    Stop,      // the debugger's: do not re-enter KVM_RUN until resumed (the stub already requested the pause)
    Reinject,  // the guest's own int3 / #DB: inject it into the guest and run on
};

}  // namespace khyve::gdb
