#include "vm/gdb_glue.h"

#include <cstring>

#include "common/error.h"

namespace khyve {

namespace {
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;
}

GdbGlue::GdbGlue(std::vector<std::unique_ptr<VcpuThread>>& threads, const GuestMemory& mem,
                 gdb::KvmDebugCaps caps)
    : threads_(threads),
      mem_(mem),
      caps_(caps),
      gate_(static_cast<unsigned>(threads.size()), [this](unsigned v) { threads_[v]->kick(); }),
      last_debug_(threads.size()) {}

GdbGlue::~GdbGlue() { shutdown(); }

void GdbGlue::listen(const std::string& address, uint16_t port, std::function<void()> on_kill) {
    server_ = std::make_unique<gdb::GdbServer>(*this, address, port, std::move(on_kill));
}

void GdbGlue::shutdown() {
    gate_.shutdown();
}

bool GdbGlue::read_registers(unsigned vcpu, gdb::GdbRegs& g) {
    if (vcpu >= threads_.size()) return false;
    bool ok = true;
    threads_[vcpu]->run_on_vcpu([&](KvmVcpu& v) {
        try {
            kvm_regs r = v.get_regs();
            kvm_sregs s = v.get_sregs();
            const uint64_t gpr[16] = {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp,
                                      r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
            std::memcpy(g.gpr, gpr, sizeof gpr);
            g.rip = r.rip;
            g.eflags = static_cast<uint32_t>(r.rflags);
            g.seg[0] = s.cs.selector;
            g.seg[1] = s.ss.selector;
            g.seg[2] = s.ds.selector;
            g.seg[3] = s.es.selector;
            g.seg[4] = s.fs.selector;
            g.seg[5] = s.gs.selector;
            g.fs_base = s.fs.base;
            g.gs_base = s.gs.base;
            g.cr0 = s.cr0;
            g.cr2 = s.cr2;
            g.cr3 = s.cr3;
            g.cr4 = s.cr4;
            g.cr8 = s.cr8;
            g.efer = s.efer;
            try {
                g.k_gs_base = v.get_msr(kMsrKernelGsBase);
            } catch (const Error&) {
                g.k_gs_base = 0;
            }
            kvm_fpu f = v.get_fpu();
            for (int i = 0; i < 8; ++i) std::memcpy(g.st[i], f.fpr[i], 10);
            g.fctrl = f.fcw;
            g.fstat = f.fsw;
            g.ftag = f.ftwx;
            g.fop = f.last_opcode;
            g.fioff = static_cast<uint32_t>(f.last_ip);
            g.fooff = static_cast<uint32_t>(f.last_dp);
            std::memcpy(g.xmm, f.xmm, sizeof g.xmm);
            g.mxcsr = f.mxcsr;
            g.fpu_valid = true;
        } catch (const Error&) {
            ok = false;
        }
    });
    return ok;
}

bool GdbGlue::write_registers(unsigned vcpu, const gdb::GdbRegs& g) {
    if (vcpu >= threads_.size()) return false;
    bool ok = true;
    threads_[vcpu]->run_on_vcpu([&](KvmVcpu& v) {
        try {
            kvm_regs r = v.get_regs();
            __u64* gpr[16] = {&r.rax, &r.rbx, &r.rcx, &r.rdx, &r.rsi, &r.rdi, &r.rbp, &r.rsp,
                                 &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
            for (int i = 0; i < 16; ++i) *gpr[i] = g.gpr[i];
            r.rip = g.rip;
            r.rflags = (r.rflags & ~0xffffffffull) | g.eflags;
            v.set_regs(r);
            if (g.fpu_valid) {
                kvm_fpu f = v.get_fpu();
                for (int i = 0; i < 8; ++i) std::memcpy(f.fpr[i], g.st[i], 10);
                f.fcw = static_cast<uint16_t>(g.fctrl);
                f.fsw = static_cast<uint16_t>(g.fstat);
                std::memcpy(f.xmm, g.xmm, sizeof f.xmm);
                f.mxcsr = g.mxcsr;
                v.set_fpu_state(f);
            }
        } catch (const Error&) {
            ok = false;
        }
    });
    return ok;
}

std::optional<uint64_t> GdbGlue::translate(unsigned vcpu, uint64_t gva) {
    if (vcpu >= threads_.size()) return std::nullopt;
    std::optional<uint64_t> gpa;
    threads_[vcpu]->run_on_vcpu([&](KvmVcpu& v) { gpa = v.translate(gva); });
    return gpa;
}

bool GdbGlue::set_guest_debug(unsigned vcpu, const gdb::GuestDebug& d) {
    if (vcpu >= threads_.size()) return false;
    bool ok = true;
    last_debug_[vcpu] = d;
    threads_[vcpu]->run_on_vcpu([&](KvmVcpu& v) {
        try {
            v.set_guest_debug(gdb::make_kvm_guest_debug(d, caps_));
        } catch (const Error&) {
            ok = false;
        }
    });
    return ok;
}

void GdbGlue::debug_exit(KvmVcpu& vcpu) {
    auto e = gdb::decode_debug_exit(*vcpu.run_struct());
    if (!server_) return;
    if (server_->on_debug_exit(vcpu.id(), e) == gdb::DebugVerdict::Reinject) {
        // The guest's own int3/#DB: hand it back to the guest, once.
        try {
            vcpu.set_guest_debug(gdb::make_kvm_guest_debug(last_debug_[vcpu.id()], caps_, e.exception));
        } catch (const Error&) {
        }
    }
}

}  // namespace khyve
