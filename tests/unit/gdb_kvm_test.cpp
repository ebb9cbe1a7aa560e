#include "gdb/gdb_kvm.h"

#include <gtest/gtest.h>

namespace khyve::gdb {
namespace {

TEST(GdbKvm, DisabledIsAllZero) {
    auto g = make_kvm_guest_debug(GuestDebug{}, {});
    EXPECT_EQ(g.control, 0u);
    for (auto r : g.arch.debugreg) EXPECT_EQ(r, 0u);
}

TEST(GdbKvm, SoftwareBreakpointsAlwaysOn) {
    GuestDebug d;
    d.enabled = true;
    auto g = make_kvm_guest_debug(d, {});
    EXPECT_EQ(g.control, uint32_t(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP));
}

TEST(GdbKvm, SingleStepBlocksInterruptsWhenSupported) {
    GuestDebug d;
    d.enabled = true;
    d.single_step = true;
    EXPECT_EQ(make_kvm_guest_debug(d, {}).control & KVM_GUESTDBG_BLOCKIRQ, 0u);
    auto g = make_kvm_guest_debug(d, {KVM_GUESTDBG_BLOCKIRQ});
    EXPECT_TRUE(g.control & KVM_GUESTDBG_SINGLESTEP);
    EXPECT_TRUE(g.control & KVM_GUESTDBG_BLOCKIRQ);
}

TEST(GdbKvm, Dr7Encoding) {
    std::array<std::optional<HwBreakpoint>, 4> hw{};
    EXPECT_EQ(dr7_for(hw), 0x400u);
    hw[0] = HwBreakpoint{0x1000, HwBreakpoint::Kind::Exec, 1};
    EXPECT_EQ(dr7_for(hw), 0x402u);  // G0, RW0=00, LEN0=00
    hw[1] = HwBreakpoint{0x2000, HwBreakpoint::Kind::Write, 4};
    // G1 (bit 3); RW1=01 at bits 20-21, LEN1=11 at bits 22-23.
    EXPECT_EQ(dr7_for(hw), 0x40au | (0x1ull << 20) | (0x3ull << 22));
    hw[0].reset();
    hw[1].reset();
    hw[3] = HwBreakpoint{0x3000, HwBreakpoint::Kind::Access, 8};
    // G3 (bit 7); RW3=11 at bits 28-29, LEN3=10 at bits 30-31.
    EXPECT_EQ(dr7_for(hw), 0x480u | (0x3ull << 28) | (0x2ull << 30));
    hw[2] = HwBreakpoint{0x4000, HwBreakpoint::Kind::Write, 2};
    EXPECT_EQ(dr7_for(hw) & (0xfull << 24), (0x1ull << 24) | (0x1ull << 26));
}

TEST(GdbKvm, HardwareSlotsAndInjection) {
    GuestDebug d;
    d.enabled = true;
    d.hw[2] = HwBreakpoint{0xffffffff81000000ull, HwBreakpoint::Kind::Exec, 1};
    auto g = make_kvm_guest_debug(d, {}, 3);
    EXPECT_TRUE(g.control & KVM_GUESTDBG_USE_HW_BP);
    EXPECT_TRUE(g.control & KVM_GUESTDBG_INJECT_BP);
    EXPECT_FALSE(g.control & KVM_GUESTDBG_INJECT_DB);
    EXPECT_EQ(g.arch.debugreg[2], 0xffffffff81000000ull);
    EXPECT_EQ(g.arch.debugreg[7], 0x420u);
    EXPECT_TRUE(make_kvm_guest_debug(d, {}, 1).control & KVM_GUESTDBG_INJECT_DB);
}

TEST(GdbKvm, DecodesTheExit) {
    kvm_run run{};
    run.exit_reason = KVM_EXIT_DEBUG;
    run.debug.arch.exception = 3;
    run.debug.arch.pc = 0x1234;
    run.debug.arch.dr6 = 0xffff0ff0;
    auto e = decode_debug_exit(run);
    EXPECT_EQ(e.exception, 3u);
    EXPECT_EQ(e.pc, 0x1234u);
    EXPECT_EQ(e.dr6, 0xffff0ff0u);
}

}  // namespace
}  // namespace khyve::gdb
