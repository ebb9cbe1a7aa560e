// The rule for VM names, shared by bhyve, bhyveload and bhyvectl: the name
// becomes a file name under KHYVE_VMM_DIR, so it is kept to a safe alphabet.
#pragma once

#include <string_view>

namespace khyve {

inline constexpr size_t kVmNameMax = 31;  // like bhyve's SPECNAMELEN-bound names

// Throws Error naming the problem: empty, longer than 31, "." or "..", or
// a character outside [A-Za-z0-9_.-].
void check_vm_name(std::string_view name);

}  // namespace khyve
