// Thin RAII wrappers over the KVM API: the system (/dev/kvm), one VM, one
// vCPU. They translate failures into khyve::Error with a line that says what
// to do; they know nothing about devices or guests.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/mapping.h"

namespace khyve {

class KvmSystem {
public:
    // Opens /dev/kvm (or $KHYVE_KVM_DEVICE) and checks the API version and
    // every capability khyve uses. Throws Error with advice on failure.
    static KvmSystem open();

    int fd() const { return fd_.get(); }
    int vcpu_mmap_size() const { return vcpu_mmap_size_; }
    int check_extension(long cap) const;
    // CPUID leaves KVM can virtualise on this host.
    std::vector<kvm_cpuid_entry2> supported_cpuid() const;
    // Whether the host KVM is PVM, which cannot run stock Linux kernels.
    static bool is_pvm();

private:
    explicit KvmSystem(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_;
    int vcpu_mmap_size_ = 0;
};

class KvmVm {
public:
    explicit KvmVm(const KvmSystem& sys);

    int fd() const { return fd_.get(); }
    // x86 set-up: TSS/identity-map addresses, in-kernel IRQ chip and PIT.
    void setup_x86_irqchip();
    void set_user_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host);
    void irq_line(unsigned gsi, bool level);
    void signal_msi(uint64_t address, uint32_t data);

private:
    Fd fd_;
};

class KvmVcpu {
public:
    KvmVcpu(const KvmSystem& sys, const KvmVm& vm, unsigned id);

    unsigned id() const { return id_; }
    int fd() const { return fd_.get(); }
    kvm_run* run_struct() const { return reinterpret_cast<kvm_run*>(run_.data()); }

    // One KVM_RUN. Returns 0, or -errno (EINTR when kicked by a signal).
    int run();

    kvm_regs get_regs() const;
    void set_regs(const kvm_regs& r);
    kvm_sregs get_sregs() const;
    void set_sregs(const kvm_sregs& s);
    void set_fpu(const kvm_fpu& f);
    void set_cpuid(const std::vector<kvm_cpuid_entry2>& entries);
    void set_msrs(const std::vector<kvm_msr_entry>& msrs);
    kvm_lapic_state get_lapic() const;
    void set_lapic(const kvm_lapic_state& s);
    kvm_mp_state get_mp_state() const;
    kvm_fpu get_fpu() const;
    void set_fpu_state(const kvm_fpu& f) { set_fpu(f); }
    uint64_t get_msr(uint32_t index) const;
    void set_msr(uint32_t index, uint64_t value);
    // Guest-virtual to guest-physical through the vCPU's page tables (KVM_TRANSLATE).
    std::optional<uint64_t> translate(uint64_t gva) const;
    void set_guest_debug(const kvm_guest_debug& d);
    // KVM's binary statistics file descriptor for this vCPU (-1 if unsupported).
    int stats_fd() const;

private:
    unsigned id_;
    Fd fd_;
    Mapping run_;
};

}  // namespace khyve
