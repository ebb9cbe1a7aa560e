#include "kvm/cpuid.h"

#include <gtest/gtest.h>

namespace khyve {
namespace {

TEST(Cpuid, ApicIdAndX2apicBit) {
    std::vector<kvm_cpuid_entry2> in(2);
    in[0].function = 1;
    in[0].ebx = 0xff00abcd;
    in[0].ecx = 1u << 21;
    in[1].function = 0xb;
    in[1].index = 1;
    auto out = vcpu_cpuid(in, {.vcpu_id = 3, .vcpu_count = 4, .x2apic = false});
    EXPECT_EQ(out[0].ebx >> 24, 3u);
    EXPECT_EQ((out[0].ebx >> 16) & 0xff, 4u);
    EXPECT_EQ(out[0].ebx & 0xffff, 0xabcdu);
    EXPECT_EQ(out[0].ecx & (1u << 21), 0u);
    EXPECT_NE(out[0].ecx & (1u << 31), 0u);
    EXPECT_EQ(out[1].edx, 3u);
    EXPECT_EQ(out[1].eax, 2u);  // 4 cpus: 2 bits of core id
    auto on = vcpu_cpuid(in, {.vcpu_id = 0, .vcpu_count = 1, .x2apic = true});
    EXPECT_NE(on[0].ecx & (1u << 21), 0u);
}

TEST(Cpuid, TscDeadlineBitFollowsTheOption) {
    std::vector<kvm_cpuid_entry2> in(1);
    in[0].function = 1;
    auto on = vcpu_cpuid(in, {.tsc_deadline = true});
    EXPECT_NE(on[0].ecx & (1u << 24), 0u);
    in[0].ecx = 1u << 24;  // never passed on unless asked
    auto off = vcpu_cpuid(in, {.tsc_deadline = false});
    EXPECT_EQ(off[0].ecx & (1u << 24), 0u);
}

}  // namespace
}  // namespace khyve
