// parse_vm_conf (the VM object's vm.conf) on arbitrary text: Error, or
// memory sizes that bhyveload itself could have written (non-zero lowmem,
// 4 KiB multiples, lowmem at most 3 GiB, no wrap in lowmem + highmem), which
// written out as bhyveload does parse back to the same sizes.
#include "common/error.h"
#include "platform/layout.h"
#include "vm/vm_object.h"

using namespace khyve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    VmConf c;
    try {
        c = parse_vm_conf(text, "vm.conf");
    } catch (const Error&) {
        return 0;
    }
    if (c.lowmem == 0 || c.lowmem % 4096 || c.highmem % 4096 || c.lowmem > layout::kLowMemLimit ||
        c.lowmem + c.highmem < c.lowmem)
        __builtin_trap();
    VmConf again = parse_vm_conf("lowmem=" + std::to_string(c.lowmem) + "\nhighmem=" +
                                 std::to_string(c.highmem) + "\n", "vm.conf");  // must not throw
    if (again.lowmem != c.lowmem || again.highmem != c.highmem) __builtin_trap();
    return 0;
}
