// How a running machine ends: the verdict every thread may reach (a device's
// power-off, a vCPU's triple fault, an error) and bhyve's exit status for it.
#pragma once

#include <string>

#include "common/error.h"

namespace khyve {

enum class ExitAction {
    Continue,
    Reset,        // guest asked for a reset: bhyve exits 0
    PowerOff,     // exits 1
    Halt,         // exits 2
    TripleFault,  // exits 3
    Error,        // exits 4
};

struct ExitResult {
    ExitAction action = ExitAction::Continue;
    std::string message;  // for Error (and logs)
};

inline int exit_status_for(ExitAction a) {
    switch (a) {
        case ExitAction::Reset: return kExitReset;
        case ExitAction::PowerOff: return kExitPowerOff;
        case ExitAction::Halt: return kExitHalt;
        case ExitAction::TripleFault: return kExitTripleFault;
        case ExitAction::Continue:
        case ExitAction::Error: break;
    }
    return kExitError;
}

}  // namespace khyve
