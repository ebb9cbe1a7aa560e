#include "config/vm_name.h"

#include <string>

#include "common/error.h"

namespace khyve {

void check_vm_name(std::string_view name) {
    if (name.empty()) throw Error("the VM name is empty");
    if (name.size() > kVmNameMax)
        throw Error("VM name '" + std::string(name) + "' is longer than " + std::to_string(kVmNameMax) +
                    " characters");
    if (name == "." || name == "..") throw Error("VM name '" + std::string(name) + "' is not allowed");
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == '-';
        if (!ok)
            throw Error("VM name '" + std::string(name) + "' has a character outside [A-Za-z0-9_.-]");
    }
}

}  // namespace khyve
