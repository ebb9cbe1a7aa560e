// A vCPU exit as plain data, decoupled from struct kvm_run, so exit handling
// is a pure function that unit tests feed with fake exits.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "platform/exit_result.h"

struct kvm_run;

namespace khyve {

struct VcpuExit {
    enum class Kind {
        Io,             // port I/O
        Mmio,           // memory-mapped I/O outside RAM
        Hlt,            // HLT (only without the in-kernel irqchip)
        Shutdown,       // triple fault
        SystemEvent,    // PSCI-style event from KVM (shutdown / reset / crash)
        FailEntry,      // hardware refused VM entry
        InternalError,  // KVM could not emulate
        Interrupted,    // KVM_RUN returned EINTR (kicked)
        Debug,          // guest debug trap (gdb stub)
        Unknown,
    };
    Kind kind = Kind::Unknown;
    bool write = false;
    uint64_t addr = 0;         // port or guest physical address
    uint32_t size = 0;         // access width in bytes
    uint32_t count = 1;        // repetitions (string port I/O)
    std::span<uint8_t> data;   // count * size bytes; reads are filled in place
    uint32_t event = 0;        // KVM_SYSTEM_EVENT_* for SystemEvent
    uint64_t code = 0;         // raw exit reason, hardware failure reason or suberror
};

// Decodes the exit KVM left in `run`. The data span points into `run` so that
// a read's result reaches the guest when the vCPU re-enters.
VcpuExit decode_exit(kvm_run* run);


}  // namespace khyve
