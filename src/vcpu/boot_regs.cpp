#include "vcpu/boot_regs.h"

#include <cstring>

#include "boot/long_mode.h"

namespace khyve {

namespace {

kvm_segment to_kvm(const boot::SegmentSetup& s) {
    kvm_segment k{};
    k.base = s.base;
    k.limit = s.limit;
    k.selector = s.selector;
    k.type = s.type;
    k.present = s.present;
    k.dpl = s.dpl;
    k.db = s.db;
    k.s = s.s;
    k.l = s.l;
    k.g = s.g;
    k.avl = s.avl;
    return k;
}

// LVT registers in the local APIC page.
constexpr unsigned kLvtLint0 = 0x350;
constexpr unsigned kLvtLint1 = 0x360;
constexpr uint32_t kDeliveryExtInt = 0x7u << 8;
constexpr uint32_t kDeliveryNmi = 0x4u << 8;

uint32_t get_reg(const kvm_lapic_state& s, unsigned off) {
    uint32_t v;
    std::memcpy(&v, s.regs + off, 4);
    return v;
}
void set_reg(kvm_lapic_state& s, unsigned off, uint32_t v) { std::memcpy(s.regs + off, &v, 4); }

}  // namespace

void apply_boot_state(KvmVcpu& vcpu, const BootState& st) {
    auto segs = boot::boot_segments(st);  // throws on a foreign state
    kvm_sregs s = vcpu.get_sregs();
    s.cs = to_kvm(segs.code);
    s.ds = s.es = s.fs = s.gs = s.ss = to_kvm(segs.data);
    s.gdt.base = st.gdt_base;
    s.gdt.limit = st.gdt_limit;
    s.cr0 = st.cr0;
    s.cr3 = st.cr3;
    s.cr4 = st.cr4;
    s.efer = st.efer;
    vcpu.set_sregs(s);

    kvm_regs r{};
    r.rip = st.rip;
    r.rsi = st.rsi;
    r.rsp = st.rsp;
    r.rflags = boot::kRflags;
    vcpu.set_regs(r);

    kvm_fpu f{};
    f.fcw = 0x37f;
    f.mxcsr = 0x1f80;
    vcpu.set_fpu(f);
}

void setup_lapic_virtual_wire(KvmVcpu& vcpu) {
    kvm_lapic_state s = vcpu.get_lapic();
    set_reg(s, kLvtLint0, (get_reg(s, kLvtLint0) & ~0x700u) | kDeliveryExtInt);
    set_reg(s, kLvtLint1, (get_reg(s, kLvtLint1) & ~0x700u) | kDeliveryNmi);
    vcpu.set_lapic(s);
}

}  // namespace khyve
