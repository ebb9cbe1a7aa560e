#include "sandbox/run_as.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "common/config_values.h"
#include "common/error.h"

namespace khyve {

namespace {

// 2^32-1 is (uid_t)-1, "no change" to setresuid: never a real id.
constexpr uint64_t kMaxId = 0xfffffffe;

}  // namespace

RunAs parse_run_as(const std::string& user, const std::string& chroot, const std::string& passwd_text) {
    RunAs r;
    if (!chroot.empty() && chroot.front() != '/')
        throw Error("khyve.chroot: '" + chroot + "' is not an absolute path");
    r.chroot = chroot;
    if (user.empty()) return r;
    r.change_ids = true;
    if (user.find_first_not_of("0123456789:") == std::string::npos) {
        auto colon = user.find(':');
        auto uid = parse_decimal(user.substr(0, colon), kMaxId);
        auto gid = colon == std::string::npos ? uid : parse_decimal(user.substr(colon + 1), kMaxId);
        if (!uid || !gid) throw Error("khyve.user: '" + user + "' is not UID[:GID] or a user name");
        r.uid = uid_t(*uid);
        r.gid = gid_t(*gid);
    } else {
        std::istringstream in(passwd_text);
        std::string line;
        bool found = false;
        while (!found && std::getline(in, line)) {
            // name:password:uid:gid:gecos:home:shell
            std::string f[4];
            std::istringstream fields(line);
            for (auto& x : f) std::getline(fields, x, ':');
            if (f[0] != user) continue;
            auto uid = parse_decimal(f[2], kMaxId);
            auto gid = parse_decimal(f[3], kMaxId);
            if (!uid || !gid) throw Error("khyve.user: the passwd entry of '" + user + "' has no valid uid and gid");
            r.uid = uid_t(*uid);
            r.gid = gid_t(*gid);
            found = true;
        }
        if (!found) throw Error("khyve.user: no user '" + user + "' in /etc/passwd (or give UID[:GID])");
    }
    if (r.uid == 0) throw Error("khyve.user: '" + user + "' is root (uid 0): nothing would be dropped");
    return r;
}

RunAs resolve_run_as(const std::string& user, const std::string& chroot) {
    std::string passwd;
    if (!user.empty() && user.find_first_not_of("0123456789:") != std::string::npos) {
        std::ifstream in("/etc/passwd");
        std::ostringstream all;
        all << in.rdbuf();
        passwd = all.str();
    }
    return parse_run_as(user, chroot, passwd);
}

void become(const RunAs& r) {
    if (!r.chroot.empty()) {
        if (::syscall(SYS_chroot, r.chroot.c_str()) != 0) throw sys_error("khyve.chroot: chroot " + r.chroot);
        if (::chdir("/") != 0) throw sys_error("khyve.chroot: chdir");
    }
    if (!r.change_ids) return;
    const gid_t groups[1] = {r.gid};
    if (::syscall(SYS_setgroups, 1, groups) != 0) throw sys_error("khyve.user: setgroups");
    if (::syscall(SYS_setresgid, r.gid, r.gid, r.gid) != 0) throw sys_error("khyve.user: setresgid");
    if (::syscall(SYS_setresuid, r.uid, r.uid, r.uid) != 0) throw sys_error("khyve.user: setresuid");
    // No way back: a thread that could regain uid 0 has dropped nothing.
    if (::syscall(SYS_setresuid, 0, 0, 0) == 0) throw Error("khyve.user: uid 0 could be regained after the drop");
}

}  // namespace khyve
