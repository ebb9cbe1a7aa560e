// bhyve -k files: ConfigTree::load_file on arbitrary contents (through a
// memfd, no temp files), then the tree's readers: dump() must load back to
// the same entries, and MachineConfig::from_tree may only throw Error.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "common/error.h"
#include "common/fd.h"
#include "config/config_tree.h"
#include "config/machine_config.h"

using namespace khyve;

namespace {

std::string memfd_path(const uint8_t* data, size_t size, Fd& keep) {
    keep.reset(::memfd_create("khyve-fuzz-config", MFD_CLOEXEC));
    if (!keep.valid()) __builtin_trap();
    size_t off = 0;
    while (off < size) {
        ssize_t n = ::write(keep.get(), data + off, size - off);
        if (n <= 0) __builtin_trap();
        off += size_t(n);
    }
    return "/proc/self/fd/" + std::to_string(keep.get());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 64 * 1024) return 0;
    Fd file;
    ConfigTree tree;
    try {
        tree.load_file(memfd_path(data, size, file));
    } catch (const Error&) {
        return 0;
    }
    const std::string dumped = tree.dump();
    Fd file2;
    ConfigTree again;
    again.load_file(memfd_path(reinterpret_cast<const uint8_t*>(dumped.data()), dumped.size(), file2));
    if (again.entries() != tree.entries()) __builtin_trap();
    try {
        (void)tree.children("");
        (void)tree.leaves_under("pci");
        (void)MachineConfig::from_tree(tree);
    } catch (const Error&) {
    }
    return 0;
}
