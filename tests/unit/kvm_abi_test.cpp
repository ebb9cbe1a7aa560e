#include "kvm/kvm_abi.h"

#include <gtest/gtest.h>

namespace khyve {
namespace {

// The numbers a C program computes from <linux/kvm.h>.
TEST(KvmAbi, IoctlNumbersMatchC) {
    EXPECT_EQ(kvm_abi::kGetSupportedCpuid, 0xc008ae05ul);
    EXPECT_EQ(kvm_abi::kSetCpuid2, 0x4008ae90ul);
    EXPECT_EQ(kvm_abi::kSetMsrs, 0x4008ae89ul);
    EXPECT_EQ(kvm_abi::kGetMsrs, 0xc008ae88ul);
    EXPECT_EQ(kvm_abi::kSetGsiRouting, 0x4008ae6aul);
}

TEST(KvmAbi, EntriesFollowAnEightByteHeader) {
    std::vector<kvm_cpuid_entry2> in(3);
    in[2].function = 0x1234;
    kvm_abi::FlexArg<kvm_cpuid_entry2> arg(in);
    auto* raw = static_cast<uint8_t*>(arg.arg());
    uint32_t count;
    std::memcpy(&count, raw, 4);
    EXPECT_EQ(count, 3u);
    kvm_cpuid_entry2 third;
    std::memcpy(&third, raw + 8 + 2 * sizeof(kvm_cpuid_entry2), sizeof third);
    EXPECT_EQ(third.function, 0x1234u);
    EXPECT_EQ(arg.to_vector().size(), 3u);
}

}  // namespace
}  // namespace khyve
