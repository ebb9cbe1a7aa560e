// Puts a vCPU into the state bhyveload recorded (boot/boot_state.h), and the
// local APIC into virtual-wire mode as firmware would leave it.
#pragma once

#include "boot/boot_state.h"
#include "kvm/kvm.h"

namespace khyve {

void apply_boot_state(KvmVcpu& vcpu, const BootState& state);
void setup_lapic_virtual_wire(KvmVcpu& vcpu);

}  // namespace khyve
