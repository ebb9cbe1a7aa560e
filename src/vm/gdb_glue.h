// The gdb stub (src/gdb) attached to a running machine: a GdbTarget over the
// vCPU threads and guest memory, and the VcpuObserver that holds vCPUs while
// gdb has the guest stopped and routes KVM_EXIT_DEBUG to the stub.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gdb/gdb_kvm.h"
#include "gdb/gdb_server.h"
#include "gdb/gdb_target.h"
#include "gdb/vcpu_gate.h"
#include "memory/guest_memory.h"
#include "vcpu/vcpu_thread.h"

namespace khyve {

class GdbGlue : public gdb::GdbTarget, public VcpuObserver {
public:
    // threads must outlive this object; call listen() before starting them.
    GdbGlue(std::vector<std::unique_ptr<VcpuThread>>& threads, const GuestMemory& mem,
            gdb::KvmDebugCaps caps);
    ~GdbGlue() override;

    void listen(const std::string& address, uint16_t port, std::function<void()> on_kill);
    bool wait_for_attach(std::chrono::milliseconds timeout) { return server_->wait_for_attach(timeout); }
    bool paused() const { return gate_.paused(); }
    void shutdown();

    // GdbTarget (server thread)
    unsigned vcpu_count() override { return static_cast<unsigned>(threads_.size()); }
    void request_pause() override { gate_.request_pause(); }
    void pause_all() override { gate_.pause_all(); }
    void resume(std::optional<unsigned> only) override { gate_.resume(only); }
    bool read_registers(unsigned vcpu, gdb::GdbRegs& out) override;
    bool write_registers(unsigned vcpu, const gdb::GdbRegs& in) override;
    std::optional<uint64_t> translate(unsigned vcpu, uint64_t gva) override;
    bool read_phys(uint64_t gpa, std::span<uint8_t> out) override { return mem_.read(gpa, out.data(), out.size()); }
    bool write_phys(uint64_t gpa, std::span<const uint8_t> in) override { return mem_.write(gpa, in.data(), in.size()); }
    bool set_guest_debug(unsigned vcpu, const gdb::GuestDebug& d) override;

    // VcpuObserver (vCPU threads)
    void before_run(unsigned vcpu, const std::function<void()>& serve) override { gate_.checkpoint(vcpu, serve); }
    void retired(unsigned vcpu) override { gate_.retire(vcpu); }
    void debug_exit(KvmVcpu& vcpu) override;
    void kicked() override { gate_.poke(); }

private:
    std::vector<std::unique_ptr<VcpuThread>>& threads_;
    const GuestMemory& mem_;
    gdb::KvmDebugCaps caps_;
    gdb::VcpuGate gate_;
    std::vector<gdb::GuestDebug> last_debug_;
    std::unique_ptr<gdb::GdbServer> server_;
};

}  // namespace khyve
