// Errors on the set-up path travel as khyve::Error exceptions and are caught
// once, at the tool boundary (src/tools/*_main.cpp), which prints one line and
// exits with status 4. Code on the guest path (devices, virtqueues) never
// throws on guest input: it returns a status instead.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace khyve {

// bhyve's exit statuses.
enum ExitStatus : int {
    kExitReset = 0,
    kExitPowerOff = 1,
    kExitHalt = 2,
    kExitTripleFault = 3,
    kExitError = 4,
};

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Error carrying the text of errno: "what: strerror(errno)".
inline Error sys_error(const std::string& what, int err = errno) {
    return Error(what + ": " + std::strerror(err));
}

}  // namespace khyve
