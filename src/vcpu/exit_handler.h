// Turns one vCPU exit into device accesses and a verdict. Holds no state of
// its own beyond its configuration, so tests drive it with fake exits.
#pragma once

#include "bus/bus.h"
#include "vcpu/exit.h"

namespace khyve {

struct ExitHandlerOptions {
    bool strict_io = false;  // -e: an access no device claims stops the VM
};

class ExitHandler {
public:
    ExitHandler(const Bus& pio, const Bus& mmio, ExitHandlerOptions opts)
        : pio_(pio), mmio_(mmio), opts_(opts) {}

    ExitResult handle(VcpuExit& e) const;

private:
    ExitResult access(const Bus& bus, VcpuExit& e, const char* space) const;
    const Bus& pio_;
    const Bus& mmio_;
    ExitHandlerOptions opts_;
};

}  // namespace khyve
