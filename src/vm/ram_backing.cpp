#include "vm/ram_backing.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

namespace khyve::ram_backing {

namespace {

constexpr uint64_t kHugePage = 2ull << 20;
constexpr const char* kSource = "khyve-vm";  // tells our mounts from the user's

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            out += char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string options(uint64_t ram_bytes) {
    // within_size: the RAM file (sized up front) gets 2 MiB pages, the
    // few-byte files beside it do not each pin one.
    return "huge=within_size,mode=0700,nr_inodes=64,size=" + std::to_string(mount_size(ram_bytes));
}

}  // namespace

bool mount_wanted() {
    const char* v = std::getenv("KHYVE_VMM_HUGE");
    return !(v && std::string_view(v) == "0");
}

uint64_t mount_size(uint64_t ram_bytes) {
    // The files beside mem (vm.conf, boot, lock, their .new copies) fit in
    // the slack; a full huge page of it also covers a RAM size that is not a
    // multiple of 2 MiB.
    return (ram_bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
}

bool mount_huge(const std::string& dir, uint64_t ram_bytes) {
    if (!mount_wanted()) return false;
    // MS_NOSUID|MS_NODEV|MS_NOEXEC: nothing in a VM object is run or a device.
    return ::mount(kSource, dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   options(ram_bytes).c_str()) == 0;
}

bool is_own_mount(const std::string& dir) {
    char real[PATH_MAX];
    if (!::realpath(dir.c_str(), real)) return false;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    bool own = false;
    // The last entry for a mount point is the one on top.
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, devno, root, point, field;
        f >> id >> parent >> devno >> root >> point;
        if (unescape(point) != real) continue;
        while (f >> field && field != "-") {
        }
        std::string fstype, source;
        f >> fstype >> source;
        own = fstype == "tmpfs" && source == kSource;
    }
    return own;
}

bool resize(const std::string& dir, uint64_t ram_bytes) {
    return ::mount(kSource, dir.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   options(ram_bytes).c_str()) == 0;
}

void unmount(const std::string& dir) {
    // Detach: the caller may still hold the lock file open inside it.
    if (is_own_mount(dir)) ::umount2(dir.c_str(), MNT_DETACH);
}

}  // namespace khyve::ram_backing
