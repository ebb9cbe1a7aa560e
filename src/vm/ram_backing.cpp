#include "vm/ram_backing.h"

#include <sys/mount.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

namespace khyve::ram_backing {

namespace {

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

}  // namespace

bool mount_wanted() {
    const char* v = std::getenv("KHYVE_VMM_HUGE");
    return !(v && std::string_view(v) == "0");
}

bool mount_huge(const std::string& dir) {
    if (!mount_wanted()) return false;
    // within_size: RAM files (sized up front) get 2 MiB pages, the few-byte
    // files beside them do not each pin one. size: the default (half of the
    // host's RAM) is what devtmpfs gives /dev/vmm; allow the whole RAM.
    // Nothing in a VM object is run or a device node.
    return ::mount(kSource, dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   "huge=within_size,mode=0700,size=100%") == 0;
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

void unmount(const std::string& dir) {
    // Detach: files inside may still be open.
    if (is_own_mount(dir)) ::umount2(dir.c_str(), MNT_DETACH);
}

}  // namespace khyve::ram_backing
