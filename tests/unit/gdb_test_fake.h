// A fake machine for the gdb stub tests: registers per vCPU, a small guest
// RAM and a page map from guest-virtual to guest-physical pages.
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "gdb/gdb_target.h"

namespace khyve::gdb::test {

class FakeTarget : public GdbTarget {
public:
    static constexpr uint64_t kPage = 4096;

    explicit FakeTarget(unsigned vcpus = 2, size_t ram_pages = 16)
        : regs(vcpus), debug(vcpus), ram(ram_pages * kPage) {
        for (unsigned v = 0; v < vcpus; ++v) {
            for (unsigned i = 0; i < 16; ++i) regs[v].gpr[i] = 0x1000 * (v + 1) + i;
            regs[v].rip = 0xffffffff81000000ull + v;
            regs[v].eflags = 0x202;
            regs[v].cr3 = 0x5000;
        }
        for (size_t i = 0; i < ram.size(); ++i) ram[i] = uint8_t(i * 7 + 3);
    }

    // Maps the virtual page containing gva to the physical page containing gpa.
    void map(uint64_t gva, uint64_t gpa) { pages[gva / kPage] = gpa / kPage; }

    unsigned vcpu_count() override { return unsigned(regs.size()); }
    void request_pause() override {
        std::lock_guard lk(mu);
        ++pause_requests;
        paused = true;
    }
    void pause_all() override {
        std::lock_guard lk(mu);
        ++pause_alls;
        paused = true;
    }
    void resume(std::optional<unsigned> only) override {
        std::lock_guard lk(mu);
        resumes.push_back(only);
        paused = false;
    }
    bool read_registers(unsigned vcpu, GdbRegs& out) override {
        if (vcpu >= regs.size()) return false;
        out = regs[vcpu];
        return true;
    }
    bool write_registers(unsigned vcpu, const GdbRegs& in) override {
        if (vcpu >= regs.size()) return false;
        regs[vcpu] = in;
        return true;
    }
    std::optional<uint64_t> translate(unsigned vcpu, uint64_t gva) override {
        if (vcpu >= regs.size()) return std::nullopt;
        auto it = pages.find(gva / kPage);
        if (it == pages.end()) return std::nullopt;
        return it->second * kPage + gva % kPage;
    }
    bool read_phys(uint64_t gpa, std::span<uint8_t> out) override {
        if (gpa > ram.size() || out.size() > ram.size() - gpa) return false;
        std::copy(ram.begin() + long(gpa), ram.begin() + long(gpa + out.size()), out.begin());
        return true;
    }
    bool write_phys(uint64_t gpa, std::span<const uint8_t> in) override {
        if (gpa > ram.size() || in.size() > ram.size() - gpa) return false;
        std::copy(in.begin(), in.end(), ram.begin() + long(gpa));
        ++phys_writes;
        return true;
    }
    bool set_guest_debug(unsigned vcpu, const GuestDebug& d) override {
        if (vcpu >= debug.size()) return false;
        debug[vcpu] = d;
        ++debug_sets;
        return true;
    }

    std::mutex mu;
    std::vector<GdbRegs> regs;
    std::vector<GuestDebug> debug;
    std::vector<uint8_t> ram;
    std::map<uint64_t, uint64_t> pages;
    std::vector<std::optional<unsigned>> resumes;
    int pause_requests = 0, pause_alls = 0, phys_writes = 0, debug_sets = 0;
    bool paused = false;
};

}  // namespace khyve::gdb::test
