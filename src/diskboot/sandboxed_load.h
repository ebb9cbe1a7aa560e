// bhyveload -d parses a disk the guest wrote (partition tables, ext4 through
// libext2fs, boot configurations) as root, on every guest reboot in vmrun.sh.
// So the parsing runs in a child process that can do nothing else: it sees
// only the image (its root directory is its own /proc/self/fd, so "/N" is the
// image's fd N and nothing else can be named), holds no capabilities, runs
// under a seccomp filter (sandbox kind Loader) with rlimits on memory, CPU
// time, processes and core dumps, and hands back the kernel, the initrd and the
// command line through a pipe. The parent checks what comes back before
// loading it; a crafted image can at worst fail the load with one line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "diskboot/disk_boot.h"

namespace khyve::diskboot {

// An AddressSanitizer build reserves terabytes of shadow address space, so no
// RLIMIT_AS fits it: there the child runs without the memory limit (the plain
// build, which is what ships, always has it).
#if defined(KHYVE_SANITIZER_BUILD)
inline constexpr bool kLoaderMemoryLimited = false;
#else
inline constexpr bool kLoaderMemoryLimited = true;
#endif

struct LoaderLimits {
    uint64_t memory = 3ull << 30;      // RLIMIT_AS of the child
    unsigned cpu_seconds = 120;        // RLIMIT_CPU
    uint64_t max_kernel = 256ull << 20;
    uint64_t max_initrd = 1ull << 30;
    uint64_t max_cmdline = 64 * 1024;
};

// Opens `image` read-only, forks the sandboxed child and runs
// `parse(path_in_child)` there; the child may use stdin/stdout (the loader
// prompt) and reads the image only as `path_in_child`. Returns what the child
// sent after checking it against `limits`; throws Error with the child's own
// message (naming `image`, not the path inside the sandbox) or with what
// went wrong with the child ("the disk parser was killed by signal 31").
LoadedBoot load_sandboxed(const std::string& image, const std::function<LoadedBoot(const std::string&)>& parse,
                          const LoaderLimits& limits = {});

}  // namespace khyve::diskboot
