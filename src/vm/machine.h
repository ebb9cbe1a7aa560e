// One running machine: KVM VM, guest memory from the VM object, legacy
// devices, PCI, ACPI tables, vCPU threads and the control channel, assembled
// from a MachineConfig. run() returns bhyve's exit status.
#pragma once

#include <memory>

#include "config/machine_config.h"
#include "vm/vm_object.h"

namespace khyve {

class KvmSystem;

class Machine {
public:
    Machine(const KvmSystem& kvm, const MachineConfig& cfg, VmObject vm);
    ~Machine();
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    // Runs the guest until it resets, powers off, halts, triple-faults or
    // fails; returns the exit status (0..4). SIGTERM/SIGINT/SIGHUP must be
    // blocked in the calling thread before construction (bhyve_main does).
    int run();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace khyve
