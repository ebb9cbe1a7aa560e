// The CPUID a vCPU sees: KVM's supported list, adjusted per vCPU (APIC ids,
// topology) and per machine (x2APIC on/off, hypervisor bit).
#pragma once

#include <linux/kvm.h>

#include <vector>

namespace khyve {

struct CpuidOptions {
    unsigned vcpu_id = 0;
    unsigned vcpu_count = 1;
    bool x2apic = true;
    // KVM emulates the local APIC's TSC-deadline mode but leaves the CPUID bit
    // to user space (KVM_CAP_TSC_DEADLINE_TIMER). With it the guest skips its
    // APIC timer calibration and arms timers with one MSR write.
    bool tsc_deadline = false;
};

std::vector<kvm_cpuid_entry2> vcpu_cpuid(std::vector<kvm_cpuid_entry2> supported,
                                         const CpuidOptions& opts);

}  // namespace khyve
