#include "vcpu/exit.h"

#include <linux/kvm.h>

#include "common/error.h"

namespace khyve {

VcpuExit decode_exit(kvm_run* run) {
    VcpuExit e;
    e.code = run->exit_reason;
    switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            e.kind = VcpuExit::Kind::Io;
            e.write = run->io.direction == KVM_EXIT_IO_OUT;
            e.addr = run->io.port;
            e.size = run->io.size;
            e.count = run->io.count;
            auto* base = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
            e.data = std::span<uint8_t>(base, size_t(e.size) * e.count);
            break;
        }
        case KVM_EXIT_MMIO:
            e.kind = VcpuExit::Kind::Mmio;
            e.write = run->mmio.is_write;
            e.addr = run->mmio.phys_addr;
            e.size = run->mmio.len > 8 ? 8 : run->mmio.len;
            e.data = std::span<uint8_t>(run->mmio.data, e.size);
            break;
        case KVM_EXIT_HLT: e.kind = VcpuExit::Kind::Hlt; break;
        case KVM_EXIT_SHUTDOWN: e.kind = VcpuExit::Kind::Shutdown; break;
        case KVM_EXIT_SYSTEM_EVENT:
            e.kind = VcpuExit::Kind::SystemEvent;
            e.event = run->system_event.type;
            break;
        case KVM_EXIT_FAIL_ENTRY:
            e.kind = VcpuExit::Kind::FailEntry;
            e.code = run->fail_entry.hardware_entry_failure_reason;
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            e.kind = VcpuExit::Kind::InternalError;
            e.code = run->internal.suberror;
            break;
        case KVM_EXIT_INTR: e.kind = VcpuExit::Kind::Interrupted; break;
        case KVM_EXIT_DEBUG: e.kind = VcpuExit::Kind::Debug; break;
        default: e.kind = VcpuExit::Kind::Unknown; break;
    }
    return e;
}

}  // namespace khyve
