#include "kvm/cpuid.h"

#include <cstdint>

namespace khyve {

namespace {
constexpr uint32_t kEcxX2apic = 1u << 21;
constexpr uint32_t kEcxTscDeadline = 1u << 24;
constexpr uint32_t kEcxHypervisor = 1u << 31;
constexpr uint32_t kEdxHtt = 1u << 28;
}  // namespace

std::vector<kvm_cpuid_entry2> vcpu_cpuid(std::vector<kvm_cpuid_entry2> cpuid,
                                         const CpuidOptions& opts) {
    for (auto& e : cpuid) {
        switch (e.function) {
            case 1:
                // Initial APIC id and logical processor count (EBX 31:24, 23:16).
                e.ebx = (e.ebx & 0x0000ffffu) | (opts.vcpu_id << 24) |
                        ((opts.vcpu_count & 0xff) << 16);
                e.ecx |= kEcxHypervisor;
                if (opts.x2apic) e.ecx |= kEcxX2apic;
                else e.ecx &= ~kEcxX2apic;
                if (opts.tsc_deadline) e.ecx |= kEcxTscDeadline;
                else e.ecx &= ~kEcxTscDeadline;
                if (opts.vcpu_count > 1) e.edx |= kEdxHtt;
                break;
            case 0xb:
            case 0x1f:
                // Extended topology: one thread per core, all cores in one package.
                e.edx = opts.vcpu_id;
                if (e.index == 0) {
                    e.eax = 0;
                    e.ebx = 1;
                    e.ecx = (1u << 8) | 0;
                } else if (e.index == 1) {
                    unsigned shift = 0;
                    while ((1u << shift) < opts.vcpu_count) ++shift;
                    e.eax = shift;
                    e.ebx = opts.vcpu_count;
                    e.ecx = (2u << 8) | 1;
                } else {
                    e.eax = e.ebx = 0;
                    e.ecx = e.index;
                }
                break;
            default: break;
        }
    }
    return cpuid;
}

}  // namespace khyve
