// The commands of the control protocol (docs/CONTROL.md): what a request
// asks of the machine and the reply it gets. The machine answers through
// ControlTarget, so the protocol is tested without a VM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <linux/kvm.h>
#include <nlohmann/json.hpp>

#include "stats/stats.h"

namespace khyve {

class ControlTarget {
public:
    virtual ~ControlTarget() = default;
    struct Status {
        std::string name;
        unsigned vcpus = 0;
        uint64_t lowmem = 0, highmem = 0;
    };
    virtual Status status() = 0;
    virtual std::vector<StatsGroup> collect_stats() = 0;
    // Throws Error if there is no such vCPU.
    virtual void read_regs(unsigned vcpu, kvm_regs& regs, kvm_sregs& sregs) = 0;
    virtual void power_off(const char* why) = 0;  // the ACPI power button first, with -A
    virtual void destroy() = 0;                   // stop now with status 4
};

// Answers one validated request (it has a string "command"); throws Error on
// a bad argument or an unknown command, which ControlServer turns into an
// error reply.
nlohmann::json handle_control_command(ControlTarget& target, const nlohmann::json& request);

}  // namespace khyve
